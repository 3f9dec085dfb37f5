"""problem+json everywhere, strict bodies that change nothing, and the operational endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api_harness import ADMIN, STORES, Api, api_fixture, assert_problem

DEPOSIT = {"player_id": "p1", "provider": "acme", "payment_id": "d1", "amount": 500, "currency": "EUR"}


@pytest.fixture(params=STORES)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(request, tmp_path_factory)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"balance": 1_000_000}, "balance"),
        ({"status": "locked"}, "status"),
        ({"transaction_id": "forged"}, "transaction_id"),
    ],
)
def test_unknown_or_read_only_fields_are_refused_and_change_nothing(
    api: Api, extra: dict, field: str
) -> None:
    api.open_player()
    before = api.snapshot()
    body = assert_problem(api.post("/v1/deposits", {**DEPOSIT, **extra}), 422, "invalid_request", field)
    assert body["errors"][0]["type"] == "extra_forbidden"
    assert api.snapshot() == before  # no balance change, no audit entry
    assert api.balance()["total"] == 0


@pytest.mark.parametrize("amount", [5.0, 5.5, "500", True, None, [500], {"v": 500}, 0, -5, 2**63])
def test_amount_must_be_a_positive_integer(api: Api, amount: object) -> None:
    api.open_player()
    before = api.snapshot()
    assert_problem(api.post("/v1/deposits", {**DEPOSIT, "amount": amount}), 422, "invalid_request", "amount")
    assert api.snapshot() == before


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("player_id", "a:b", "invalid_request"),
        ("player_id", "", "invalid_request"),
        ("player_id", "x" * 201, "invalid_request"),
        ("payment_id", "nul\x00byte", "invalid_request"),
        ("currency", "eur", "invalid_request"),
        ("currency", "XYZ", "unknown_currency"),
    ],
)
def test_ids_and_currencies_are_checked(api: Api, field: str, value: str, code: str) -> None:
    api.open_player()
    before = api.snapshot()
    assert_problem(api.post("/v1/deposits", {**DEPOSIT, field: value}), 422, code, field)
    assert api.snapshot() == before


def test_missing_field_names_it(api: Api) -> None:
    body = {k: v for k, v in DEPOSIT.items() if k != "payment_id"}
    problem = assert_problem(api.post("/v1/deposits", body), 422, "invalid_request", "payment_id")
    assert "payment_id" in problem["detail"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"null", b""])
def test_malformed_bodies_are_422_problems(api: Api, raw: bytes) -> None:
    r = api.client.post(
        "/v1/deposits",
        content=raw,
        headers={
            "Authorization": f"Bearer {ADMIN}",
            "Idempotency-Key": "k",
            "Content-Type": "application/json",
        },
    )
    assert_problem(r, 422, "invalid_request")


def test_domain_errors_map_to_statuses(api: Api) -> None:
    assert_problem(api.post("/v1/deposits", DEPOSIT), 404, "player_not_found", "player_id")
    api.open_player()
    assert_problem(
        api.post(
            "/v1/players/p1/payouts", {"withdrawal_id": "w", "amount": 1, "currency": "EUR", "provider": "b"}
        ),
        409,
        "insufficient_funds",
        "amount",
    )


def test_unknown_route_and_method_are_problems(api: Api) -> None:
    assert_problem(api.get("/v1/nothing-here"), 404, "route_not_found")
    assert_problem(api.call("DELETE", "/v1/deposits"), 405, "method_not_allowed")


def test_oversized_body_is_413(api: Api) -> None:
    r = api.post("/v1/deposits", {**DEPOSIT, "payment_id": "x" * 70_000})
    assert_problem(r, 413, "body_too_large")


def test_game_problems_carry_a_hub88_status(api: Api) -> None:
    from tests.integration.api_harness import HUB88

    api.open_player()
    bet = {"player": "p1", "transaction_uuid": "t1", "round": "r1", "amount": 100, "currency": "EUR"}
    body = assert_problem(api.post("/v1/game/bet", bet, as_=HUB88, key=None), 409, "insufficient_funds")
    assert body["game_status"] == "RS_ERROR_NOT_ENOUGH_MONEY"


def test_request_id_is_echoed_or_made(api: Api) -> None:
    r = api.get("/healthz", as_=None, headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = api.get("/healthz", as_=None, headers={"X-Request-Id": "bad id\twith tab"})
    assert r.headers["x-request-id"] != "bad id\twith tab"
    assert len(r.headers["x-request-id"]) == 32


def test_request_id_reaches_the_audit_log(api: Api) -> None:
    api.open_player()
    api.post("/v1/deposits", DEPOSIT, headers={"X-Request-Id": "trace-42"})
    entry = next(e for e in api.wallet.audit_log() if e.action == "CreditDeposit")
    assert entry.request_id == "trace-42"
    assert entry.actor == "key:dev-operator"


def test_healthz_and_docs(api: Api) -> None:
    assert api.get("/healthz", as_=None).json() == {"status": "ok"}
    assert api.get("/docs", as_=None).status_code == 200
    spec = api.get("/openapi.json", as_=None).json()
    assert "/v1/game/bet" in spec["paths"]


def test_metrics_count_requests_by_route_and_operations_by_outcome(api: Api) -> None:
    api.open_player()
    api.post("/v1/deposits", DEPOSIT)
    api.post(
        "/v1/players/p1/payouts", {"withdrawal_id": "w", "amount": 10**6, "currency": "EUR", "provider": "b"}
    )
    api.get("/v1/players/p1")
    text = api.get("/metrics", as_=None).text
    assert 'wallet_http_requests_total{method="POST",route="/v1/deposits",status="201"} 1.0' in text
    assert 'route="/v1/players/{player_id}",status="200"' in text
    assert "wallet_http_request_duration_seconds_bucket" in text
    assert 'wallet_operations_total{command="CreditDeposit",outcome="ok"} 1.0' in text
    assert 'wallet_operations_total{command="InstantPayout",outcome="insufficient_funds"} 1.0' in text
    assert "p1" not in text.replace("/v1/players/{player_id}", "")  # no per-player series
