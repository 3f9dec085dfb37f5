"""One client per provider dialect; ``client_for`` picks it by provider name."""

from __future__ import annotations

from typing import Any

from wallet.adapters.providers.acme import AcmeClient
from wallet.adapters.providers.base import Card, PaymentRequest, ProviderClient, Reply
from wallet.adapters.providers.chainpay import ChainpayClient
from wallet.adapters.providers.globex import GlobexClient
from wallet.adapters.providers.openbank import OpenbankClient
from wallet.adapters.providers.paywave import PaywaveClient
from wallet.domain.payments.declines import dialect_of

CLIENTS: dict[str, type[ProviderClient]] = {
    "acme": AcmeClient, "globex": GlobexClient, "paywave": PaywaveClient,
    "openbank": OpenbankClient, "chainpay": ChainpayClient,
}


def client_for(provider: str, base_url: str, **kw: Any) -> ProviderClient:
    """``chainpay-btc`` gets the chainpay client, ``acme-eu`` the acme one."""
    return CLIENTS[dialect_of(provider)](provider, base_url, **kw)


__all__ = ["CLIENTS", "Card", "PaymentRequest", "ProviderClient", "Reply", "client_for"]
