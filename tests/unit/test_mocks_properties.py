"""Rules that hold for every input (Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocks.models import (
    MODELS,
    TERMINAL_EVENTS,
    CardInfo,
    FaultProfile,
    KycRequest,
    PaymentRequest,
    ProviderRuntime,
)
from sandbox.randomness import Dice
from wallet.domain.errors import IdempotencyInFlight, IdempotencyKeyReused

KINDS = ["card", "ewallet", "bank", "crypto"]
ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
probability = st.floats(0, 1)
currencies = st.sampled_from(["EUR", "USD"])


@st.composite
def payment(draw: st.DrawFn, kind: str | None = None) -> PaymentRequest:
    kind = kind or draw(st.sampled_from(KINDS))
    card = None
    if kind == "card":
        card = CardInfo(draw(st.sampled_from(["400000", "411111", "552000"])),
                        draw(st.sampled_from(["0002", "9995", "3155", "1111", "4242"])),
                        funding=draw(st.sampled_from(["debit", "credit"])),
                        holder_name=draw(st.sampled_from(["", "Jo Doe", "DECLINED"])))
    return PaymentRequest(draw(ids), draw(ids), draw(ids), draw(st.integers(1, 10**7)),
                          draw(currencies), kind,
                          operation=draw(st.sampled_from(["deposit", "deposit", "payout"])),
                          country=draw(st.sampled_from(["DE", "GB", "MT"])), card=card)


@st.composite
def profile(draw: st.DrawFn, kind: str, loss: bool = False) -> FaultProfile:
    return FaultProfile.model_validate({
        "kind": kind, "approval_rate": draw(probability),
        "timeout": {"probability": draw(st.floats(0, 0.2))},
        "errors": {"http_5xx": draw(st.floats(0, 0.2)), "http_429": draw(st.floats(0, 0.2)),
                   "reset": draw(st.floats(0, 0.1)), "empty": 0.0, "malformed": 0.0},
        "webhooks": {"duplicate_probability": draw(probability),
                     "duplicate_count": draw(st.integers(0, 4)),
                     "reorder_probability": draw(probability),
                     "loss_probability": draw(probability) if loss else 0.0},
        "windows": [{"start": 0, "end": draw(st.floats(0, 100)), "kind": "duplicate_storm"}],
        "chain": {"confirmations_required": draw(st.integers(0, 6)),
                  "reorg_probability": draw(probability),
                  "double_spend_probability": draw(st.floats(0, 0.3))},
    })


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**32), now=st.floats(0, 1e6))
def test_decision_is_a_function_of_its_key(kind, data, seed, now):
    req = data.draw(payment(kind))
    prof = data.draw(profile(kind))
    first = MODELS[kind](req, Dice(seed), now, prof, provider="acme")
    again = MODELS[kind](req, Dice(seed), now, prof, provider="acme")
    assert first == again
    other = data.draw(payment(kind))
    # deciding something else in between changes nothing (keyed dice, no shared stream)
    MODELS[kind](other, Dice(seed), now, prof, provider="acme")
    assert MODELS[kind](req, Dice(seed), now, prof, provider="acme") == first


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_plans_never_lose_the_final_state_without_loss(kind, data, seed):
    req = data.draw(payment(kind))
    d = MODELS[kind](req, Dice(seed), 1.0, data.draw(profile(kind)), provider="p")
    if not d.processed:
        assert d.webhooks == () and d.events == ()
        return
    planned = {p.event.id for p in d.webhooks}
    assert planned == {ev.id for ev in d.events}  # every event delivered at least once
    final = next(ev for ev in d.events if ev.id == d.final_event_id)
    assert final.type in TERMINAL_EVENTS and final.created_at == d.final_at
    assert all(p.deliver_at >= p.event.created_at for p in d.webhooks)
    assert list(d.webhooks) == sorted(d.webhooks, key=lambda p: p.deliver_at)


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**32))
def test_only_loss_can_drop_events(data, seed):
    req = data.draw(payment("card"))
    d = MODELS["card"](req, Dice(seed), 1.0, data.draw(profile("card", loss=True)), provider="p")
    assert {p.event.id for p in d.webhooks} <= {ev.id for ev in d.events}


@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**32), gap=st.floats(0, 1e5))
def test_repeated_key_returns_the_first_decision(data, seed, gap):
    kind = data.draw(st.sampled_from(KINDS))
    rt = ProviderRuntime("acme", data.draw(profile(kind)), Dice(seed))
    req = data.draw(payment(kind))
    first = rt.handle(req, 10.0)
    if not first.processed:
        return  # nothing stored: a retry is a new attempt (tested elsewhere)
    later = 10.0 + first.latency + gap
    assert rt.handle(req, later) is first
    with pytest.raises(IdempotencyKeyReused):
        rt.handle(PaymentRequest(req.reference, req.idempotency_key, req.user_id, req.amount + 1,
                                 req.currency, req.method, operation=req.operation,
                                 country=req.country, card=req.card), later)


def test_same_key_while_in_flight_is_409_and_retry_after_5xx_is_fresh():
    prof = FaultProfile(fail_first_n=1)
    rt = ProviderRuntime("acme", prof, Dice(1))
    req = PaymentRequest("r1", "k1", "u1", 1000, "EUR", "card", card=CardInfo("411111", "1111"))
    failed = rt.handle(req, 0.0)
    assert failed.fault == "http_5xx" and not failed.processed
    second = rt.handle(req, 1.0)
    assert second.processed and second is not failed
    with pytest.raises(IdempotencyInFlight):
        rt.handle(req, 1.0 + second.latency / 2)
    assert rt.handle(req, 1.0 + second.latency) is second


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), age=st.integers(0, 17))
def test_kyc_never_approves_a_minor(seed, age):
    prof = FaultProfile(kind="kyc")
    d = MODELS["kyc"](KycRequest("r", "k", "u", "DE", age), Dice(seed), 0.0, prof, provider="k")
    assert not d.processed or (d.final_outcome == "declined" and d.decline_code == "underage")
