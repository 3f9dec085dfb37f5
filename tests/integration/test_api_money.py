"""Money routes over HTTP: each happy path, plus the refusals a caller must see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api_harness import ADMIN, STORES, Api, api_fixture, assert_problem

WD = {"withdrawal_id": "w1", "amount": 3_000, "currency": "EUR", "provider": "bank"}


@pytest.fixture(params=STORES)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(request, tmp_path_factory)


def test_deposit_credits_cash_and_fee_is_separate(api: Api) -> None:
    api.open_player()
    r = api.post(
        "/v1/deposits",
        {
            "player_id": "p1",
            "provider": "acme",
            "payment_id": "x",
            "amount": 10_000,
            "currency": "EUR",
            "fee": 290,
        },
    )
    assert r.status_code == 201
    body = r.json()
    assert body["transaction_id"] == "deposit:acme:x"
    assert body["balance"]["available"] == 10_000
    assert api.balance()["available"] == 10_000
    api.clean()


def test_withdrawal_hold_then_complete(api: Api) -> None:
    api.funded()
    held = api.post("/v1/players/p1/withdrawals", WD)
    assert held.status_code == 201
    assert held.json()["status"] == "held"
    assert held.json()["balance"]["available"] == 7_000
    assert held.json()["balance"]["pending"] == 3_000
    paid = api.ok("POST", "/v1/withdrawals/w1/complete", {"fee": 50})
    assert paid["status"] == "paid"
    assert paid["balance"]["pending"] == 0
    assert api.balance()["total"] == 7_000
    api.clean()


def test_withdrawal_release_returns_the_hold(api: Api) -> None:
    api.funded()
    api.ok("POST", "/v1/players/p1/withdrawals", WD)
    released = api.ok("POST", "/v1/withdrawals/w1/release", {"reason": "declined by bank"})
    assert released["status"] == "released"
    assert api.balance()["available"] == 10_000


def test_paid_withdrawal_returned_by_the_bank(api: Api) -> None:
    api.funded()
    api.ok("POST", "/v1/players/p1/withdrawals", WD)
    api.ok("POST", "/v1/withdrawals/w1/complete")
    returned = api.ok("POST", "/v1/withdrawals/w1/return")
    assert returned["status"] == "returned"
    assert api.balance()["available"] == 10_000
    api.clean()


def test_illegal_withdrawal_transition_is_409(api: Api) -> None:
    api.funded()
    api.ok("POST", "/v1/players/p1/withdrawals", WD)
    api.ok("POST", "/v1/withdrawals/w1/release")
    assert_problem(api.post("/v1/withdrawals/w1/complete"), 409, "illegal_transition")
    assert_problem(api.post("/v1/withdrawals/nope/complete"), 404, "transaction_not_found")


def test_withdrawal_over_balance_is_409_and_changes_nothing(api: Api) -> None:
    api.funded()
    before = api.snapshot()
    assert_problem(
        api.post("/v1/players/p1/withdrawals", {**WD, "amount": 10_001}), 409, "insufficient_funds", "amount"
    )
    assert api.snapshot()[:2] == before[:2]


def test_instant_payout(api: Api) -> None:
    api.funded()
    r = api.post("/v1/players/p1/payouts", {**WD, "fee": 10})
    assert r.status_code == 201
    assert r.json()["status"] == "paid"
    assert api.balance()["available"] == 7_000
    api.clean()


def test_bonus_grant(api: Api) -> None:
    api.funded()
    r = api.post(
        "/v1/players/p1/bonuses",
        {"bonus_id": "b1", "amount": 500, "currency": "EUR", "wagering_multiplier": 10},
    )
    assert r.status_code == 201
    assert r.json()["wagering_required"] == 5_000
    assert api.balance()["bonus"] == 500


def test_chargeback_locks_and_creates_receivable_then_write_off(api: Api) -> None:
    api.funded(amount=1_000)
    api.ok("POST", "/v1/players/p1/payouts", {**WD, "amount": 600})
    cb = api.post(
        "/v1/chargebacks",
        {"provider": "acme", "payment_id": "pay-p1-1000", "amount": 1_000, "reason": "fraud"},
    )
    assert cb.status_code == 201
    assert cb.json()["receivable_created"] == 600
    assert api.ok("GET", "/v1/players/p1")["status"] == "locked"
    off = api.post("/v1/players/p1/write-offs", {"write_off_id": "wo1", "currency": "EUR"}, as_=ADMIN)
    assert off.status_code == 201
    assert off.json()["written_off"] == 600
    assert api.balance()["receivable"] == 0
    api.clean()


def test_refund_and_refund_beyond_deposit(api: Api) -> None:
    api.funded(amount=1_000)
    r = api.post(
        "/v1/refunds", {"provider": "acme", "payment_id": "pay-p1-1000", "refund_id": "r1", "amount": 400}
    )
    assert r.status_code == 201
    assert api.balance()["available"] == 600
    too_much = {"provider": "acme", "payment_id": "pay-p1-1000", "refund_id": "r2", "amount": 601}
    assert_problem(api.post("/v1/refunds", too_much), 422, "invalid_input", "amount")


def test_fx_conversion(api: Api) -> None:
    api.funded()
    api.ok("POST", "/v1/players/p1/currencies", {"currency": "JPY"}, key=None)
    r = api.post(
        "/v1/players/p1/conversions",
        {
            "conversion_id": "c1",
            "from_currency": "EUR",
            "to_currency": "JPY",
            "amount": 1_000,
            "rate": "161.5",
        },
    )
    assert r.status_code == 201
    assert r.json()["converted"] == 1_615  # 10.00 EUR -> 1615 JPY (no minor unit)
    assert api.balance(currency="JPY")["available"] == 1_615
    api.clean()


@pytest.mark.parametrize("rate", ["1e999999999", "1e99999", "NaN", "-1", "0", "1,5", 1.5, 2])
def test_fx_rate_must_be_a_bounded_decimal_string(api: Api, rate: object) -> None:
    api.funded()
    api.ok("POST", "/v1/players/p1/currencies", {"currency": "USD"}, key=None)
    before = api.snapshot()
    r = api.post(
        "/v1/players/p1/conversions",
        {"conversion_id": "c1", "from_currency": "EUR", "to_currency": "USD", "amount": 1_000, "rate": rate},
    )
    assert r.status_code == 422
    assert r.json()["field"] == "rate"  # refused by the schema or, for "0", by the command
    assert api.snapshot() == before


def test_admin_reversal_posts_the_mirror(api: Api) -> None:
    api.funded()
    r = api.post("/v1/transactions/deposit:acme:pay-p1-10000/reversal", {"reason": "duplicate"}, as_=ADMIN)
    assert r.status_code == 201
    assert r.json()["transaction_id"] == "reversal:deposit:acme:pay-p1-10000"
    assert api.balance()["available"] == 0
    again = api.post("/v1/transactions/deposit:acme:pay-p1-10000/reversal", {"reason": "again"}, as_=ADMIN)
    assert_problem(again, 409, "already_exists")
    api.clean()


def test_reversal_cannot_push_a_repaid_receivable_positive(api: Api) -> None:
    api.funded(amount=1_000)
    api.ok("POST", "/v1/players/p1/payouts", {**WD, "amount": 1_000})
    api.ok("POST", "/v1/chargebacks", {"provider": "acme", "payment_id": "pay-p1-1000", "amount": 1_000})
    api.deposit(amount=1_000, payment_id="repay")  # repays the receivable
    r = api.post(
        "/v1/transactions/chargeback:acme:pay-p1-1000/reversal", {"reason": "won dispute"}, as_=ADMIN
    )
    assert_problem(r, 409, "conflict")
    api.clean()


def test_admin_checks_report_a_clean_ledger(api: Api) -> None:
    api.funded()
    audit = api.ok("GET", "/v1/admin/audit/verify", as_=ADMIN)
    assert audit == {"ok": True, "entries": 2, "breaks": []}
    assert api.ok("GET", "/v1/admin/ledger/check", as_=ADMIN) == {"ok": True, "violations": []}
