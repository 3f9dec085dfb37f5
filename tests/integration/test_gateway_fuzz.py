"""Malformed or refusable gateway intents (deposit and payout bodies) against a live stack
(real mock servers, the wallet and gateway under uvicorn): never a 5xx, every refusal a
problem+json 4xx with a machine-readable code, and afterwards the payments, the gateway's
journal, the ledger and the audit chain are exactly as before. The refusals include the
gateway's own (an unknown player, provider or currency, a payout the player cannot afford,
a payment id reused with another body), not only the schema's."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.integration.fuzz_values import BAD, json_values
from tests.integration.gateway_harness import CARD, OPERATOR, Stack, profile, stack
from wallet.adapters.memory import MemoryStore

LOST = {"webhooks": {"loss_probability": 1.0}}  # no webhook in flight while the fuzzer compares states
DEPOSIT = {"payment_id": "fz-new", "player_id": "p1", "amount": 2500, "currency": "EUR",
           "method": "card", "country": "DE", "card": CARD}
PAYOUT = {"withdrawal_id": "fz-w-new", "player_id": "p1", "amount": 100, "currency": "EUR",
          "method": "bank", "provider": "openbank", "party_name": "Jo Player",
          "iban": "DE89370400440532013000"}
_bad_method = st.none() | st.integers() | st.text(max_size=8).filter(
    lambda s: s not in ("card", "ewallet", "bank", "crypto"))
_bad_text = st.none() | st.integers() | st.sampled_from(["x" * 141, "bell\x07", "nul\x00"])
_bad_card = (st.none() | st.integers() | st.text(max_size=5) | st.lists(json_values, max_size=2)
             | st.fixed_dictionaries({"number": st.sampled_from(
                 ["", "4111", "4" * 20, "4111 1111 1111 1111", "411111111111111x", 4111111111111111])})
             | st.fixed_dictionaries({"number": st.just(CARD["number"]),
                                      "cvc": st.sampled_from(["", "12", "12345", 123])}))
# field -> what the gateway must refuse there; the semantic ones pass the schema
WRONG: dict[str, st.SearchStrategy[Any]] = {
    "payment_id": BAD["id"] | st.just("fz-existing"),  # exists, with another amount
    "withdrawal_id": BAD["id"],
    "player_id": BAD["id"] | st.just("nobody"),
    "amount": BAD["amount"],
    "currency": BAD["currency"] | st.just("USD"),  # the player has no USD account
    "method": _bad_method,
    "country": st.integers() | st.sampled_from(["de", "DEU", "", "D1"]),  # None: not given, valid
    "provider": BAD["opt_id"] | st.just("nope"),
    "card": _bad_card,
    "party_name": _bad_text,
    "iban": _bad_text | st.sampled_from(["de89 3704", "x" * 35]),
}
MISFIT = {"/v1/gateway/deposits": "openbank", "/v1/gateway/payouts": "acme"}  # wrong method


@st.composite
def refusable(draw: st.DrawFn) -> tuple[str, bytes]:
    path, valid = draw(st.sampled_from([("/v1/gateway/deposits", DEPOSIT),
                                        ("/v1/gateway/payouts", PAYOUT)]))
    body: Any = dict(valid)
    how = draw(st.sampled_from(["wrong", "wrong", "wrong", "drop", "extra", "shape", "bytes",
                                "unaffordable", "misfit"]))
    if how == "wrong":
        for name in draw(st.sets(st.sampled_from(sorted(set(WRONG) & set(body) | {"provider"})),
                                 min_size=1, max_size=2)):
            body[name] = draw(WRONG[name])
    elif how == "misfit":  # a valid body pinned to a provider that does not take its method
        body["provider"] = MISFIT[path]
    elif how == "drop":
        required = {"player_id", "amount", "currency", "method"} | (
            {"payment_id"} if "payment_id" in body else {"withdrawal_id", "provider"})
        for name in draw(st.sets(st.sampled_from(sorted(required)), min_size=1)):
            body.pop(name)
    elif how == "extra":
        body[draw(st.sampled_from(["state", "credited", "fee", "balance"]))] = draw(json_values)
    elif how == "shape":
        body = draw(json_values.filter(lambda v: not isinstance(v, dict)))
    elif how == "unaffordable":
        path, body = "/v1/gateway/payouts", {**PAYOUT, "amount": draw(st.integers(10_001, 2**62))}
    if how == "bytes":
        raw = draw(st.binary(max_size=64))
        with contextlib.suppress(ValueError):
            assume(not isinstance(json.loads(raw), dict))
        return path, raw
    return path, json.dumps(body).encode()


def snapshot(s: Stack) -> tuple[Any, ...]:
    gateway = s.live.gateway
    return (sorted((p.id, p.state.value, p.version) for p in gateway.payments()),
            len(gateway.journal()), s.balances(), len(s.wallet.audit_log()))


def test_refusable_intents_never_5xx_and_change_nothing():
    pf = profile(acme={"kind": "card", "approval_rate": 0.0, "three_ds": {"challenge_probability": 0},
                       **LOST},
                 openbank={"kind": "bank", **LOST})
    with stack(MemoryStore(), pf) as s:
        s.fund(10_000)
        assert s.deposit("fz-existing", amount=1234).json()["state"] == "failed"  # declined: final
        before = snapshot(s)

        @settings(max_examples=150, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        @given(case=refusable())
        def check(case: tuple[str, bytes]) -> None:
            path, raw = case
            r = s.http.post(path, content=raw, headers={**OPERATOR, "Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (path, raw, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json"), r.text
            assert r.json()["code"], r.text
            assert snapshot(s) == before, (path, raw, r.text)

        check()
        s.assert_invariants()
