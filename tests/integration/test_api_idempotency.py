"""Idempotency-Key over HTTP (IETF draft): required, replayed, refused when reused, scoped per client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.api_harness import ADMIN, OPERATOR, STORES, Api, api_fixture, assert_problem

MONEY_ROUTES = [
    (
        "/v1/deposits",
        {"player_id": "p1", "provider": "acme", "payment_id": "n", "amount": 1, "currency": "EUR"},
    ),
    (
        "/v1/players/p1/withdrawals",
        {"withdrawal_id": "w", "amount": 1, "currency": "EUR", "provider": "bank"},
    ),
    ("/v1/withdrawals/w1/complete", None),
    ("/v1/withdrawals/w1/release", None),
    ("/v1/withdrawals/w1/return", None),
    ("/v1/players/p1/payouts", {"withdrawal_id": "w", "amount": 1, "currency": "EUR", "provider": "bank"}),
    ("/v1/players/p1/bonuses", {"bonus_id": "b", "amount": 1, "currency": "EUR"}),
    ("/v1/chargebacks", {"provider": "acme", "payment_id": "pay-p1-10000", "amount": 1}),
    ("/v1/refunds", {"provider": "acme", "payment_id": "pay-p1-10000", "refund_id": "r", "amount": 1}),
    (
        "/v1/players/p1/conversions",
        {"conversion_id": "c", "from_currency": "EUR", "to_currency": "USD", "amount": 100, "rate": "1.1"},
    ),
    ("/v1/transactions/deposit:acme:pay-p1-10000/reversal", {"reason": "x"}),
    ("/v1/players/p1/write-offs", {"write_off_id": "w", "currency": "EUR"}),
]
DEPOSIT = {"player_id": "p1", "provider": "acme", "payment_id": "d1", "amount": 500, "currency": "EUR"}


@pytest.fixture(params=STORES)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(request, tmp_path_factory)


@pytest.fixture
def funded(api: Api) -> Api:
    api.funded()
    api.ok("POST", "/v1/players/p1/currencies", {"currency": "USD"}, key=None)
    api.ok(
        "POST",
        "/v1/players/p1/withdrawals",
        {"withdrawal_id": "w1", "amount": 10, "currency": "EUR", "provider": "bank"},
    )
    return api


@pytest.mark.parametrize(("path", "body"), MONEY_ROUTES)
@pytest.mark.parametrize("key", [None, ""])
def test_money_routes_require_a_key_and_change_nothing_without(
    funded: Api, path: str, body: dict | None, key: str | None
) -> None:
    before = funded.snapshot()
    r = funded.post(
        path, body, as_=ADMIN, key=None, headers=None if key is None else {"Idempotency-Key": key}
    )
    assert_problem(r, 400, "idempotency_key_missing", "Idempotency-Key")
    assert funded.snapshot() == before


def test_same_key_same_payload_replays_the_first_answer(api: Api) -> None:
    api.open_player()
    first = api.post("/v1/deposits", DEPOSIT, key="k1")
    after_first = api.snapshot()
    second = api.post("/v1/deposits", DEPOSIT, key="k1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert api.snapshot() == after_first  # no second posting, no second audit entry
    assert api.balance()["available"] == 500


def test_same_key_other_payload_is_422(api: Api) -> None:
    api.open_player()
    api.ok("POST", "/v1/deposits", DEPOSIT, key="k1")
    before = api.snapshot()
    r = api.post("/v1/deposits", {**DEPOSIT, "amount": 501}, key="k1")
    assert_problem(r, 422, "idempotency_key_reused", "Idempotency-Key")
    assert api.snapshot() == before


def test_a_refusal_is_replayed_too(api: Api) -> None:
    api.open_player()
    body = {"withdrawal_id": "w1", "amount": 100, "currency": "EUR", "provider": "bank"}
    first = api.post("/v1/players/p1/withdrawals", body, key="wk")
    assert_problem(first, 409, "insufficient_funds")
    api.deposit(amount=1_000)
    again = api.post("/v1/players/p1/withdrawals", body, key="wk")
    assert again.status_code == 409
    assert again.json() == first.json()
    assert api.post("/v1/players/p1/withdrawals", body, key="wk2").status_code == 201


def test_invalid_input_is_not_remembered(api: Api) -> None:
    """Stripe: nothing is stored when validation failed, so the key stays usable."""
    api.open_player()
    assert_problem(api.post("/v1/deposits", {**DEPOSIT, "currency": "USD"}, key="k"), 422, "invalid_input")
    assert api.post("/v1/deposits", DEPOSIT, key="k").status_code == 201


def test_keys_are_scoped_to_the_client(api: Api) -> None:
    api.open_player()
    a = api.post("/v1/deposits", DEPOSIT, key="shared", as_=OPERATOR)
    b = api.post("/v1/deposits", {**DEPOSIT, "payment_id": "d2"}, key="shared", as_=ADMIN)
    assert (a.status_code, b.status_code) == (201, 201)
    assert api.balance()["available"] == 1_000


def test_overlong_key_is_refused(api: Api) -> None:
    api.open_player()
    assert_problem(api.post("/v1/deposits", DEPOSIT, key="k" * 256), 422, "invalid_input", "Idempotency-Key")
    assert api.balance()["available"] == 0


def test_concurrent_duplicates_post_once(api: Api) -> None:
    api.open_player()

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.client.app)
        headers = {"Authorization": f"Bearer {OPERATOR}", "Idempotency-Key": "race"}
        async with httpx.AsyncClient(transport=transport, base_url="http://wallet") as client:
            return await asyncio.gather(
                *(client.post("/v1/deposits", json=DEPOSIT, headers=headers) for _ in range(16))
            )

    responses = asyncio.run(burst())
    ok = [r for r in responses if r.status_code == 201]
    assert ok
    assert all(r.status_code in (201, 409) for r in responses)
    assert all(r.json() == ok[0].json() for r in ok)
    assert api.balance()["available"] == 500
    api.clean()
