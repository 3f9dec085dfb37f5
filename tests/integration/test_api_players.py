"""Players over HTTP: open, read, currencies, locks, balances, history, one transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api_harness import ADMIN, STORES, Api, api_fixture, assert_problem


@pytest.fixture(params=STORES)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(request, tmp_path_factory)


def test_open_player_returns_201_and_zero_balance(api: Api) -> None:
    r = api.post("/v1/players", {"player_id": "p1", "currency": "EUR", "country": "MT"})
    assert r.status_code == 201
    assert r.json()["balance"] == {
        "currency": "EUR",
        "available": 0,
        "bonus": 0,
        "pending": 0,
        "receivable": 0,
        "total": 0,
    }
    got = api.ok("GET", "/v1/players/p1")
    assert got["currencies"] == ["EUR"]
    assert got["country"] == "MT"
    assert got["status"] == "active"
    assert got["funding"] == "cash_first"


def test_open_player_twice_is_a_conflict(api: Api) -> None:
    api.open_player()
    assert_problem(api.post("/v1/players", {"player_id": "p1", "currency": "EUR"}), 409, "already_exists")


def test_unknown_player_is_404(api: Api) -> None:
    assert_problem(api.get("/v1/players/ghost"), 404, "player_not_found", "player_id")
    assert_problem(api.get("/v1/players/ghost/balances"), 404, "player_not_found")


def test_open_currency_and_list_balances(api: Api) -> None:
    api.funded()
    r = api.post("/v1/players/p1/currencies", {"currency": "USD"})
    assert r.status_code == 201
    balances = api.ok("GET", "/v1/players/p1/balances")["balances"]
    assert [(b["currency"], b["available"]) for b in balances] == [("EUR", 10_000), ("USD", 0)]
    assert api.ok("GET", "/v1/players/p1/balances/EUR")["available"] == 10_000
    assert_problem(api.post("/v1/players/p1/currencies", {"currency": "USD"}), 409, "already_exists")


def test_balance_in_a_currency_the_player_lacks_is_422(api: Api) -> None:
    api.open_player()
    assert_problem(api.get("/v1/players/p1/balances/USD"), 422, "invalid_input", "currency")


def test_history_is_cursor_paginated(api: Api) -> None:
    api.open_player()
    for i in range(5):
        api.deposit(amount=100 + i)
    first = api.ok("GET", "/v1/players/p1/transactions?limit=2")
    assert len(first["items"]) == 2
    assert first["next"] is not None
    seen = [t["id"] for t in first["items"]]
    cursor = first["next"]
    while cursor is not None:
        page = api.ok("GET", f"/v1/players/p1/transactions?limit=2&after={cursor}")
        seen += [t["id"] for t in page["items"]]
        cursor = page["next"]
    assert seen == [f"deposit:acme:pay-p1-{100 + i}" for i in range(5)]
    assert_problem(api.get("/v1/players/p1/transactions?limit=0"), 422, "invalid_request", "limit")
    assert_problem(api.get("/v1/players/p1/transactions?after=-1"), 422, "invalid_request", "after")


def test_single_transaction_shows_its_postings(api: Api) -> None:
    api.funded()
    txn = api.ok("GET", "/v1/transactions/deposit:acme:pay-p1-10000")
    assert txn["kind"] == "deposit"
    assert txn["player_id"] == "p1"
    assert sorted((p["account"], p["amount"]) for p in txn["postings"]) == [
        ("player_cash:p1:EUR", 10_000),
        ("provider_clearing:acme:EUR", -10_000),
    ]
    assert_problem(api.get("/v1/transactions/nope"), 404, "transaction_not_found")


def test_lock_blocks_withdrawals_and_unlock_restores(api: Api) -> None:
    api.funded()
    r = api.post("/v1/players/p1/lock", {"reason": "kyc review"}, as_=ADMIN)
    assert r.status_code == 200
    assert r.json()["status"] == "locked"
    assert api.ok("GET", "/v1/players/p1")["lock_reason"] == "kyc review"
    wd = {"withdrawal_id": "w1", "amount": 100, "currency": "EUR", "provider": "bank"}
    assert_problem(api.post("/v1/players/p1/withdrawals", wd), 409, "player_locked")
    assert api.post("/v1/players/p1/unlock", as_=ADMIN).json()["status"] == "active"
    assert api.post("/v1/players/p1/withdrawals", {**wd, "withdrawal_id": "w2"}).status_code == 201


def test_player_token_reads_own_data(api: Api) -> None:
    api.funded()
    token = api.token()
    assert api.ok("GET", "/v1/players/p1", as_=token)["id"] == "p1"
    assert api.ok("GET", "/v1/players/p1/balances/EUR", as_=token)["available"] == 10_000
    assert len(api.ok("GET", "/v1/players/p1/transactions", as_=token)["items"]) == 1
    assert api.ok("GET", "/v1/transactions/deposit:acme:pay-p1-10000", as_=token)["player_id"] == "p1"


def test_token_for_unknown_player_is_404(api: Api) -> None:
    assert_problem(api.post("/v1/players/ghost/tokens", key=None), 404, "player_not_found")
