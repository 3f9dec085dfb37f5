"""Property: a malformed body to any money endpoint is a 422 problem and changes nothing.

Each example starts from a valid body (so a lax schema would let it through and
move money) and breaks it in at least one way: a missing field, an unknown
field, a value of the wrong type or range, a non-object body, or raw bytes.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.integration.api_harness import ADMIN, HUB88, OPERATOR, START, Api, build_store, serve_api
from tests.integration.fuzz_values import BAD, json_values, wrong_shape
from wallet.service.clock import ManualClock
from wallet.service.wallet import Wallet

# path, credential, valid body, {field: kind}, required fields
ENDPOINTS: list[tuple[str, str, dict[str, Any], dict[str, str], set[str]]] = [
    (
        "/v1/deposits",
        OPERATOR,
        {"player_id": "p1", "provider": "acme", "payment_id": "new", "amount": 100, "currency": "EUR"},
        {
            "player_id": "id",
            "provider": "id",
            "payment_id": "id",
            "amount": "amount",
            "currency": "currency",
            "fee": "fee",
        },
        {"player_id", "provider", "payment_id", "amount", "currency"},
    ),
    (
        "/v1/players/p1/withdrawals",
        OPERATOR,
        {"withdrawal_id": "new", "amount": 100, "currency": "EUR", "provider": "bank"},
        {"withdrawal_id": "id", "amount": "amount", "currency": "currency", "provider": "id"},
        {"withdrawal_id", "amount", "currency", "provider"},
    ),
    ("/v1/withdrawals/w1/complete", OPERATOR, {"fee": 1}, {"fee": "fee"}, set()),
    ("/v1/withdrawals/w1/release", OPERATOR, {"reason": "x"}, {"reason": "text"}, set()),
    ("/v1/withdrawals/w2/return", OPERATOR, {"reason": "x"}, {"reason": "text"}, set()),
    (
        "/v1/players/p1/payouts",
        OPERATOR,
        {"withdrawal_id": "new", "amount": 100, "currency": "EUR", "provider": "bank", "fee": 0},
        {"withdrawal_id": "id", "amount": "amount", "currency": "currency", "provider": "id", "fee": "fee"},
        {"withdrawal_id", "amount", "currency", "provider"},
    ),
    (
        "/v1/players/p1/bonuses",
        OPERATOR,
        {"bonus_id": "new", "amount": 100, "currency": "EUR", "wagering_multiplier": 5},
        {"bonus_id": "id", "amount": "amount", "currency": "currency", "wagering_multiplier": "mult"},
        {"bonus_id", "amount", "currency"},
    ),
    (
        "/v1/chargebacks",
        OPERATOR,
        {"provider": "acme", "payment_id": "pay-p1-10000", "amount": 100, "fee": 0, "reason": "fraud"},
        {"provider": "id", "payment_id": "id", "amount": "amount", "fee": "fee", "reason": "text"},
        {"provider", "payment_id", "amount"},
    ),
    (
        "/v1/refunds",
        OPERATOR,
        {"provider": "acme", "payment_id": "pay-p1-10000", "refund_id": "new", "amount": 100},
        {"provider": "id", "payment_id": "id", "refund_id": "id", "amount": "amount"},
        {"provider", "payment_id", "refund_id", "amount"},
    ),
    (
        "/v1/players/p1/conversions",
        OPERATOR,
        {"conversion_id": "new", "from_currency": "EUR", "to_currency": "USD", "amount": 100, "rate": "1.1"},
        {
            "conversion_id": "id",
            "from_currency": "currency",
            "to_currency": "currency",
            "amount": "amount",
            "rate": "rate",
        },
        {"conversion_id", "from_currency", "to_currency", "amount", "rate"},
    ),
    (
        "/v1/transactions/deposit:acme:pay-p1-10000/reversal",
        ADMIN,
        {"reason": "x"},
        {"reason": "text"},
        {"reason"},
    ),
    (
        "/v1/game/bet",
        HUB88,
        {"player": "p1", "transaction_uuid": "new", "round": "r", "amount": 100, "currency": "EUR"},
        {
            "player": "id",
            "transaction_uuid": "id",
            "round": "id",
            "amount": "amount",
            "currency": "currency",
            "game_code": "opt_id",
            "request_uuid": "opt_id",
        },
        {"player", "transaction_uuid", "round", "amount", "currency"},
    ),
    (
        "/v1/game/win",
        HUB88,
        {
            "player": "p1",
            "transaction_uuid": "new",
            "reference_transaction_uuid": "b1",
            "round": "r",
            "amount": 100,
            "currency": "EUR",
        },
        {
            "player": "id",
            "transaction_uuid": "id",
            "reference_transaction_uuid": "id",
            "round": "id",
            "amount": "fee",
            "currency": "currency",
        },
        {"player", "transaction_uuid", "reference_transaction_uuid", "round", "amount", "currency"},
    ),
    (
        "/v1/game/rollback",
        HUB88,
        {"player": "p1", "transaction_uuid": "new", "reference_transaction_uuid": "b1"},
        {"player": "id", "transaction_uuid": "id", "reference_transaction_uuid": "id", "round": "opt_id"},
        {"player", "transaction_uuid", "reference_transaction_uuid"},
    ),
]



@st.composite
def malformed(draw: st.DrawFn) -> tuple[str, str, bytes]:
    path, cred, valid, kinds, required = draw(st.sampled_from(ENDPOINTS))
    how = draw(
        st.sampled_from(
            ["drop", "extra", "wrong", "shape", "bytes"] if required else ["extra", "wrong", "shape", "bytes"]
        )
    )
    body: Any = dict(valid)
    if how == "drop":
        for name in draw(st.sets(st.sampled_from(sorted(required)), min_size=1)):
            body.pop(name)
    elif how == "extra":
        name = draw(
            st.sampled_from(["balance", "status", "aggregator", "id", "transaction_id"])
            | st.text(min_size=1, max_size=12).filter(lambda s: s not in kinds)
        )
        body[name] = draw(json_values)
    elif how == "wrong":  # mostly one field, so the rest of the body stays valid
        for name in draw(st.sets(st.sampled_from(sorted(kinds)), min_size=1, max_size=2)):
            body[name] = draw(BAD[kinds[name]] | wrong_shape)
    elif how == "shape":
        body = draw(json_values.filter(lambda v: not isinstance(v, dict)))
    if how == "bytes":
        raw = draw(st.binary(max_size=64))
        with contextlib.suppress(ValueError):
            assume(not isinstance(json.loads(raw), dict))
    else:
        raw = json.dumps(body).encode()
    if not required:  # an optional body may be absent: no body and JSON null mean "defaults"
        with contextlib.suppress(ValueError):
            assume(raw.strip() and json.loads(raw) is not None)
    return path, cred, raw


def _prepare(api: Api) -> None:
    api.funded()
    api.ok("POST", "/v1/players/p1/currencies", {"currency": "USD"}, key=None)
    wd = {"amount": 100, "currency": "EUR", "provider": "bank"}
    api.ok("POST", "/v1/players/p1/withdrawals", {"withdrawal_id": "w1", **wd})
    api.ok("POST", "/v1/players/p1/withdrawals", {"withdrawal_id": "w2", **wd})
    api.ok("POST", "/v1/withdrawals/w2/complete")
    api.ok(
        "POST",
        "/v1/game/bet",
        {"player": "p1", "transaction_uuid": "b1", "round": "r", "amount": 100, "currency": "EUR"},
        as_=HUB88,
        key=None,
    )


@contextmanager
def prepared(kind: str, request: pytest.FixtureRequest, tmp: pytest.TempPathFactory) -> Iterator[Api]:
    store = build_store(kind, request, tmp)
    clock = ManualClock(START)
    try:
        with serve_api(Wallet(store, clock), clock) as api:
            _prepare(api)
            yield api
    finally:
        store.close()


SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much]
KINDS = [("memory", 500), ("sqlite", 80), pytest.param("postgres", 80, marks=pytest.mark.postgres)]


@pytest.mark.parametrize(("kind", "examples"), KINDS)
def test_malformed_money_requests_never_5xx_and_never_move_money(
    kind: str, examples: int, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with prepared(kind, request, tmp_path_factory) as api:
        before = api.snapshot()
        counter = iter(range(10**9))

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=SLOW_OK)
        @given(case=malformed())
        def check(case: tuple[str, str, bytes]) -> None:
            path, cred, raw = case
            headers = {
                "Authorization": f"Bearer {cred}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"fuzz-{next(counter)}",
            }
            r = api.client.post(path, content=raw, headers=headers)
            assert r.status_code in (413, 422), (path, raw, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert api.snapshot() == before, (path, raw, r.text)

        check()


ODD_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/players/{0}", None),
    ("GET", "/v1/players/{0}/balances/{1}", None),
    ("GET", "/v1/players/{0}/transactions?after={1}&limit={1}", None),
    ("GET", "/v1/transactions/{0}", None),
    (
        "POST",
        "/v1/players/{0}/withdrawals",
        {"withdrawal_id": "odd", "amount": 1, "currency": "EUR", "provider": "bank"},
    ),
    ("POST", "/v1/withdrawals/{0}/release", None),
    ("POST", "/v1/transactions/{0}/reversal", {"reason": "odd"}),
    ("POST", "/v1/players/{0}/lock", {"reason": "odd"}),
]
_segment = st.text(min_size=1, max_size=300) | st.sampled_from(["p1", "\x00", "a:b", "..", "%", "9" * 30])


@pytest.mark.parametrize(("kind", "examples"), KINDS)
def test_odd_path_and_query_values_never_5xx(
    kind: str, examples: int, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with prepared(kind, request, tmp_path_factory) as api:

        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=SLOW_OK)
        @given(route=st.sampled_from(ODD_ROUTES), a=_segment, b=_segment, idem=_segment)
        def check(route: tuple[str, str, dict[str, Any] | None], a: str, b: str, idem: str) -> None:
            method, template, body = route
            path = template.format(quote(a, safe=""), quote(b, safe=""))
            headers = {
                "Authorization": f"Bearer {ADMIN}",
                "Idempotency-Key": re.sub(r"[\x00-\x1f\x7f]", "", idem).encode() or b"k",
            }
            r = api.client.request(method, path, json=body, headers=headers)
            assert r.status_code < 500, (method, path, r.status_code, r.text)
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")

        check()
