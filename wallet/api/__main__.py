"""``python -m wallet.api``: serve the wallet API with settings from WALLET_* variables."""

from __future__ import annotations

from wallet.api.app import serve

if __name__ == "__main__":
    serve()
