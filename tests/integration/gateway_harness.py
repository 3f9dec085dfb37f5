"""A live stack for gateway tests: the real mock servers and the real wallet + gateway, each
under uvicorn on a loopback port, webhooks travelling over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from mocks.apps.base import dumps
from mocks.apps.server import build_root
from mocks.apps.signing import sign_standard
from mocks.models import ProfileFile
from mocks.models.common import event, provider_ref
from tests.integration.mock_harness import QUIET
from tests.live import serve
from wallet.adapters.live_gateway import LiveGateway
from wallet.api.app import create_app
from wallet.api.gateway_config import GatewayConfig
from wallet.api.settings import Settings
from wallet.domain.commands import CreditDeposit, OpenPlayer
from wallet.domain.payments.commands import attempt_key
from wallet.domain.payments.model import Payment, Policy
from wallet.service.unit_of_work import Store
from wallet.service.wallet import Wallet

OPERATOR = {"X-API-Key": "dev-operator-key-INSECURE"}
TIME_SCALE = 1000.0  # mock model seconds per wall second: a 1 s webhook delay takes 1 ms
# Wall-clock policy for tests: poll after 0.3 s, then every 0.5 s; 20 s deadlines.
FAST = Policy(poll_delays=(0.3, 0.5), deadline_s=(), default_deadline_s=20.0)
CARD = {"number": "4111111111111111", "holder_name": "Jo Player"}
CARD_PROVIDERS = ("acme", "globex")
# No refund or chargeback planned days ahead: it would keep a delivery pending (see quiet()).
NO_DISPUTES = {"disputes": {"chargeback_probability": 0, "refund_probability": 0}}


def profile(**providers: dict[str, Any]) -> ProfileFile:
    """A profile file of QUIET providers (no random faults, no disputes) with the given
    overrides (``chainpay_btc`` names ``chainpay-btc``)."""
    return ProfileFile.model_validate(
        {"seed": 7, "providers": {name.replace("_", "-"): {**QUIET, **NO_DISPUTES, **over}
                                  for name, over in providers.items()}})


def secret(provider: str) -> str:
    """The provider's webhook secret as the wallet is configured with it (gateway.yaml)."""
    return GatewayConfig.load().providers[provider].webhook_secret


def mock_ref(provider: str, payment_id: str, attempt: int = 1, prefix: str = "pay") -> str:
    """The provider reference the mock will give an attempt (it is a hash of the key)."""
    return provider_ref(prefix, provider, attempt_key(payment_id, attempt))


def mock_event_id(ref: str, type_: str, sequence: int) -> str:
    """The id of an event the mock planned for ``ref`` (stable across retries)."""
    return event(ref, type_, "", sequence, 0.0).id


def acme_webhook(event_id: str, type_: str, ref: str, reference: str, sequence: int,
                 *, created: float | None = None, timestamp: float | None = None,
                 key: str | None = None, **data: Any) -> tuple[bytes, dict[str, str]]:
    """A Standard Webhooks delivery exactly as the acme mock signs it: the body says when
    the event was ``created``, the signature when it was sent (``timestamp``)."""
    status = {"payment.succeeded": "succeeded", "payment.failed": "declined"}.get(type_, type_)
    ts = time.time() if timestamp is None else timestamp
    body = dumps({"id": event_id, "type": type_, "created": int(ts if created is None else created),
                  "data": {"id": ref, "reference": reference, "status": status,
                           "sequence": sequence, **data}})
    return body, sign_standard(key or secret("acme"), event_id, body, ts)


@dataclass
class Stack:
    wallet_url: str
    mocks_url: str
    live: LiveGateway
    wallet: Wallet
    http: httpx.Client

    # --- the wallet's API -----------------------------------------------------------------
    def deposit(self, payment_id: str, amount: int = 2500, **extra: Any) -> httpx.Response:
        body = {"payment_id": payment_id, "player_id": "p1", "amount": amount, "currency": "EUR",
                "method": "card", "card": CARD, "country": "DE", **extra}
        return self.http.post("/v1/gateway/deposits", json=body, headers=OPERATOR)

    def payout(self, withdrawal_id: str, amount: int, provider: str = "openbank",
               **extra: Any) -> httpx.Response:
        body = {"withdrawal_id": withdrawal_id, "player_id": "p1", "amount": amount,
                "currency": "EUR", "method": "bank", "provider": provider,
                "party_name": "Jo Player", "iban": "DE89370400440532013000", **extra}
        return self.http.post("/v1/gateway/payouts", json=body, headers=OPERATOR)

    def payment(self, payment_id: str) -> dict[str, Any]:
        return self.http.get(f"/v1/gateway/payments/{payment_id}", headers=OPERATOR).json()

    def journal(self, payment_id: str) -> list[dict[str, Any]]:
        return self.http.get(f"/v1/gateway/payments/{payment_id}/journal", headers=OPERATOR).json()

    def balances(self, player_id: str = "p1") -> dict[str, Any]:
        r = self.http.get(f"/v1/players/{player_id}/balances/EUR", headers=OPERATOR)
        r.raise_for_status()
        return r.json()

    def balance(self, player_id: str = "p1") -> int:
        return self.balances(player_id)["available"]

    def player(self, player_id: str = "p1") -> dict[str, Any]:
        return self.http.get(f"/v1/players/{player_id}", headers=OPERATOR).json()

    def post_webhook(self, provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(f"/v1/webhooks/{provider}", content=body, headers=headers)

    def fund(self, amount: int, player_id: str = "p1", provider: str = "openbank") -> None:
        """Cash for a payout, credited as a settled deposit straight through the wallet."""
        self.wallet.execute(CreditDeposit(player_id, provider, f"fund-{player_id}-{time.time_ns()}",
                                          amount, "EUR"))

    # --- the gateway's own records (in-process reads) -------------------------------------
    def stored(self, payment_id: str) -> Payment:
        return self.live.gateway.payment(payment_id)

    def ref(self, payment_id: str) -> str:
        ref = self.stored(payment_id).provider_ref
        assert ref, f"{payment_id} has no provider reference yet"
        return ref

    # --- the mocks' control API -----------------------------------------------------------
    def control(self, provider: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = httpx.post(f"{self.mocks_url}/{provider}/_control/{path}", json=body or {}, timeout=5)
        r.raise_for_status()
        return r.json()

    def stop(self, provider: str, path: str) -> Any:
        """End a control window (``outage``, ``duplicate-storm``)."""
        r = httpx.delete(f"{self.mocks_url}/{provider}/_control/{path}", timeout=5)
        r.raise_for_status()
        return r.json()

    def inspect(self, provider: str, path: str) -> Any:
        r = httpx.get(f"{self.mocks_url}/{provider}/_control/{path}", timeout=5)
        r.raise_for_status()
        return r.json()

    def deliveries(self, provider: str) -> list[dict[str, Any]]:
        return self.inspect(provider, "deliveries")

    def processed(self, provider: str) -> dict[str, int]:
        """The provider's own count of payments it acted on, by outcome as of now."""
        return self.inspect(provider, "records")["by_outcome"]

    def quiet(self, *providers: str, timeout: float = 10.0) -> None:
        """Wait until the mocks have delivered every webhook they planned so far, and the
        wallet has finished the follow-up work those deliveries started."""
        def idle() -> bool:
            return all(self.inspect(p, "health")["pending_deliveries"] == 0 for p in providers)
        self.wait(idle, timeout)
        self.wait(lambda: not self.live._tasks, timeout)

    def wait(self, until: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            time.sleep(0.02)

    def wait_state(self, payment_id: str, state: str, timeout: float = 10.0) -> dict[str, Any]:
        self.wait(lambda: self.payment(payment_id)["state"] == state, timeout)
        return self.payment(payment_id)

    def assert_invariants(self) -> None:
        assert self.wallet.ledger_violations() == []
        assert self.wallet.verify_audit() == []


@contextlib.contextmanager
def stack(store: Store, pf: ProfileFile, *, policy: Policy = FAST, strategy: str = "static",
          timeout_s: float = 5.0, players: tuple[str, ...] = ("p1",),
          time_scale: float = TIME_SCALE) -> Iterator[Stack]:
    wallet = Wallet(store)
    for pid in players:
        wallet.execute(OpenPlayer(pid, "EUR"))

    async def backoff(seconds: float) -> None:
        """The provider clients' retry backoff, run on the mocks' time scale."""
        await asyncio.sleep(seconds / time_scale)

    with serve(build_root(pf, time_scale=time_scale)) as mocks_url:
        config = GatewayConfig.load()
        providers = {name: {**p.model_dump(), "base_url": f"{mocks_url}/{name}",
                            "timeout_s": timeout_s}
                     for name, p in config.providers.items() if name in pf.providers}
        config = GatewayConfig.model_validate({**config.model_dump(), "providers": providers,
                                               "routing": {"strategy": strategy}})
        live = config.build(wallet, policy=policy)
        for client in live.clients.values():
            client._sleep = backoff
        app = create_app(Settings(database_url="memory://", sweep_interval_s=0.05),
                         wallet=wallet, gateway=live)
        with serve(app) as wallet_url:
            live.callback_base_url = wallet_url
            with httpx.Client(base_url=wallet_url, timeout=30) as http:
                yield Stack(wallet_url, mocks_url, live, wallet, http)
