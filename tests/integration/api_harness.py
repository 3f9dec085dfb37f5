"""A wallet API in-process for the test_api_* modules: one app per test, any store.

Memory always; SQLite (and PostgreSQL, marked) once ``wallet.adapters.sql``
exists, skipped until then. Requests go through ``TestClient`` (httpx under the
hood), so the whole ASGI stack runs: middleware, auth, validation, handlers.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from wallet.api.app import create_app
from wallet.api.settings import Settings
from wallet.service.clock import ManualClock
from wallet.service.wallet import Wallet

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's httpx deprecation notice
    from fastapi.testclient import TestClient

ADMIN = "dev-admin-key-INSECURE"
OPERATOR = "dev-operator-key-INSECURE"
HUB88 = "dev-hub88-key-INSECURE"
STORES = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START = 1_700_000_000.0


def build_store(kind: str, request: pytest.FixtureRequest, tmp: pytest.TempPathFactory) -> Any:
    if kind != "memory":
        sql = pytest.importorskip("wallet.adapters.sql", reason="the SQL store is not written yet")
        if not hasattr(sql, "SqlStore"):
            pytest.skip("the SQL store is not finished yet")
    from tests.conftest import make_store

    return make_store(kind, request, tmp)


@dataclass
class Api:
    client: TestClient
    wallet: Wallet
    clock: ManualClock
    _keys: int = 0

    def key(self) -> str:
        self._keys += 1
        return f"key-{self._keys}"

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        as_: str | None = OPERATOR,
        key: str | None = "auto",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        h = dict(headers or {})
        if as_ is not None:
            h["Authorization"] = f"Bearer {as_}"
        if key == "auto":
            key = self.key() if method == "POST" else None
        if key is not None:
            h["Idempotency-Key"] = key
        return self.client.request(method, path, json=body, headers=h)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.call("POST", path, body, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.call("GET", path, **kw)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        r = self.call(method, path, body, **kw)
        assert r.status_code < 300, (r.status_code, r.text)
        return r.json()

    # shortcuts through the API ----------------------------------------------------
    def open_player(self, pid: str = "p1", currency: str = "EUR") -> None:
        self.ok("POST", "/v1/players", {"player_id": pid, "currency": currency})

    def deposit(
        self, pid: str = "p1", amount: int = 10_000, currency: str = "EUR", payment_id: str | None = None
    ) -> dict[str, Any]:
        body = {
            "player_id": pid,
            "provider": "acme",
            "payment_id": payment_id or f"pay-{pid}-{amount}",
            "amount": amount,
            "currency": currency,
        }
        return self.ok("POST", "/v1/deposits", body)

    def funded(self, pid: str = "p1", amount: int = 10_000, currency: str = "EUR") -> None:
        self.open_player(pid, currency)
        self.deposit(pid, amount, currency)

    def token(self, pid: str = "p1", ttl: int | None = None) -> str:
        body = {"ttl_seconds": ttl} if ttl else None
        return self.ok("POST", f"/v1/players/{pid}/tokens", body, key=None)["token"]

    # direct reads, bypassing the API ----------------------------------------------------
    def balance(self, pid: str = "p1", currency: str = "EUR") -> dict[str, Any]:
        return self.wallet.balance(pid, currency)

    def snapshot(self) -> tuple[dict[str, int], int, int]:
        """Every stored balance, the number of transactions and of audit entries."""
        with self.wallet.store.unit_of_work() as uow:
            return (
                dict(uow.stored_balances()),
                len(list(uow.all_transactions())),
                len(list(uow.audit_entries())),
            )

    def clean(self) -> None:
        assert self.wallet.ledger_violations() == []
        assert self.wallet.verify_audit() == []


@contextmanager
def serve_api(wallet: Wallet, clock: ManualClock, settings: Settings | None = None) -> Iterator[Api]:
    app = create_app(settings or Settings(database_url="memory://"), wallet=wallet)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, wallet, clock)


def api_fixture(request: pytest.FixtureRequest, tmp: pytest.TempPathFactory) -> Iterator[Api]:
    store = build_store(request.param, request, tmp)
    clock = ManualClock(START)
    try:
        with serve_api(Wallet(store, clock), clock) as api:
            yield api
    finally:
        store.close()


def assert_problem(r: httpx.Response, status: int, code: str, field: str | None = "any") -> dict[str, Any]:
    """RFC 9457 shape plus our code and field."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert {"type", "title", "status", "detail", "code", "field"} <= body.keys()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"].endswith(code)
    if field != "any":
        assert body["field"] == field, body
    return body
