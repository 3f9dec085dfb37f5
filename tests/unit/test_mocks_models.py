"""Kind-specific behaviour of the provider models, records and profiles."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from mocks.models import (
    CardInfo,
    FaultProfile,
    KycRequest,
    PaymentRequest,
    ProviderRuntime,
    load_profile_file,
    next_attempt_at,
)
from mocks.models.crypto import quote
from mocks.models.kyc import decide as kyc_decide
from sandbox.randomness import Dice

QUIET = {"errors": {"http_5xx": 0, "http_429": 0, "reset": 0, "empty": 0, "malformed": 0},
         "timeout": {"probability": 0}}


def card_req(ref: str, bin_: str = "411111", last4: str = "1111", holder: str = "") -> PaymentRequest:
    return PaymentRequest(ref, ref, "u1", 1000, "EUR", "card",
                          card=CardInfo(bin_, last4, holder_name=holder))


@pytest.mark.parametrize(("last4", "code"), [
    ("0002", "do_not_honor"), ("9995", "insufficient_funds"), ("9987", "lost_card"),
    ("9979", "stolen_card"), ("0069", "expired_card"), ("0127", "incorrect_cvc"),
    ("0119", "processing_error")])
def test_magic_test_cards_decline_with_their_code(last4, code):
    rt = ProviderRuntime("acme", FaultProfile.model_validate({**QUIET, "approval_rate": 1.0}),
                         Dice(1))
    for i in range(20):
        d = rt.handle(card_req(f"m{last4}{i}", "400000", last4), 0.0)
        assert (d.final_outcome, d.decline_code) == ("declined", code)


def test_holder_name_trigger_and_forced_3ds():
    rt = ProviderRuntime("acme", FaultProfile.model_validate({**QUIET, "approval_rate": 1.0}),
                         Dice(1))
    assert rt.handle(card_req("h1", holder="block_card"), 0.0).decline_code == "blocked_card"
    d = rt.handle(card_req("h2", "400000", "3155"), 0.0)
    assert d.outcome == "pending" and d.final_outcome == "approved"
    assert [ev.type for ev in d.events] == ["payment.requires_action", "payment.succeeded"]
    assert d.outcome_at(d.final_at - 1e-6) == "pending" and d.outcome_at(d.final_at) == "approved"


def test_provider_name_is_in_the_key_so_psps_disagree_on_the_same_card():
    dice = Dice(3)
    prof = FaultProfile.model_validate({**QUIET, "approval_rate": 0.5})
    a = ProviderRuntime("acme", prof, dice)
    g = ProviderRuntime("globex", prof, dice)
    outcomes = Counter((a.handle(card_req(f"x{i}"), 0).final_outcome,
                        g.handle(card_req(f"x{i}"), 0).final_outcome) for i in range(2000))
    assert outcomes[("approved", "declined")] > 300 and outcomes[("declined", "approved")] > 300


@pytest.mark.parametrize(("asset", "block", "kind", "need"), [
    ("BTC", 600.0, "exponential", 2), ("ETH", 12.0, "fixed", 12), ("USDT", 3.0, "fixed", 19)])
def test_crypto_settles_after_required_confirmations(asset, block, kind, need):
    prof = FaultProfile.model_validate({**QUIET, "kind": "crypto", "chain": {
        "asset": asset, "block_time_s": block, "block_time_kind": kind,
        "confirmations_required": need, "rate": {"EUR": "2000"}, "abandon_probability": 0,
        "late_probability": 0, "underpay_probability": 0, "overpay_probability": 0,
        "reorg_probability": 0, "double_spend_probability": 0}})
    rt = ProviderRuntime("chain", prof, Dice(9))
    gaps = []
    for i in range(300):
        d = rt.handle(PaymentRequest(f"c{i}", f"c{i}", "u", 10_000, "EUR", "crypto"), 0.0)
        seen = next(ev for ev in d.events if ev.type == "invoice.payment_seen")
        conf1 = next(ev for ev in d.events if ev.type == "invoice.confirmed")
        assert d.final_outcome == "approved" and d.events[-1].type == "invoice.settled"
        gaps.append((d.final_at - conf1.created_at) / (need - 1))
        assert conf1.created_at >= seen.created_at
    mean_gap = sum(gaps) / len(gaps)
    assert abs(mean_gap - block) < 0.15 * block


def test_crypto_reorg_after_one_confirmation_reverses_a_settled_invoice():
    prof = FaultProfile.model_validate({**QUIET, "kind": "crypto", "chain": {
        "confirmations_required": 1, "reorg_probability": 1.0, "reorg_reinclude_probability": 0,
        "abandon_probability": 0, "double_spend_probability": 0}})
    d = ProviderRuntime("btc", prof, Dice(2)).handle(
        PaymentRequest("r", "k", "u", 5000, "EUR", "crypto"), 0.0)
    assert [ev.type for ev in d.events] == ["invoice.payment_seen", "invoice.settled",
                                            "invoice.reorged", "invoice.invalid"]
    assert (d.final_outcome, d.decline_code) == ("declined", "reorged_out")


def test_crypto_quote_late_under_and_over_payment():
    assert quote(6000_00, "EUR", "BTC", {"EUR": "60000"}) == (10_000_000, 60000)
    assert quote(1, "EUR", "BTC", {"EUR": "60000"})[0] == 17  # rounded up
    base = {**QUIET, "kind": "crypto", "chain": {"abandon_probability": 0, "reorg_probability": 0,
                                                 "double_spend_probability": 0}}
    for knob, code, exc in (("late_probability", None, "paid_late"),
                            ("underpay_probability", "underpaid", "paid_partial"),
                            ("overpay_probability", None, "paid_over")):
        prof = FaultProfile.model_validate({**base, "chain": {**base["chain"], knob: 1.0,
                                                              "underpay_probability": 0.0}
                                            if knob != "underpay_probability"
                                            else {**base["chain"], knob: 1.0}})
        d = ProviderRuntime("btc", prof, Dice(4)).handle(
            PaymentRequest("r", "k", "u", 5000, "EUR", "crypto"), 0.0)
        assert d.decline_code == code and d.events[-1].data["exception"] == exc


def test_kyc_geolocation_and_review():
    prof = FaultProfile.model_validate({**QUIET, "kind": "kyc", "kyc": {"ip_mismatch": "review"}})
    dice = Dice(5)
    d = kyc_decide(KycRequest("r1", "k1", "u", "US", 30), dice, 0.0, prof, provider="kyc")
    assert d.decline_code == "geo_blocked"
    d = kyc_decide(KycRequest("r2", "k2", "u", "DE", 30, ip_country="MT"), dice, 0.0, prof,
                   provider="kyc")
    assert [ev.type for ev in d.events][:2] == ["kyc.pending", "kyc.review"]
    assert d.final_at > d.events[1].created_at


def test_bank_payouts_settle_fast_and_some_return_days_later():
    prof = FaultProfile.model_validate({**QUIET, "kind": "bank", "approval_rate": 1.0,
                                        "bank": {"payout_return_probability": 0.5}})
    rt = ProviderRuntime("ob", prof, Dice(8))
    ds = [rt.handle(PaymentRequest(f"p{i}", f"p{i}", "u", 700, "EUR", "bank",
                                   operation="payout"), 0.0) for i in range(400)]
    returned = [d for d in ds if d.returned_at is not None]
    assert 140 < len(returned) < 260
    assert all(d.returned_at - d.final_at >= 86400 for d in returned)
    assert {d.return_reason for d in returned} == {"account_closed", "name_mismatch"}
    assert all(d.final_at - d.received_at < 120 for d in ds)


def test_records_settlement_report_over_time():
    prof = FaultProfile.model_validate({
        **QUIET, "approval_rate": 1.0, "three_ds": {"challenge_probability": 0},
        "fees": {"percent": "2.9", "fixed": {"EUR": "0.25"}},
        "disputes": {"refund_probability": 0, "chargeback_probability": 1.0,
                     "chargeback_delay_days": {"kind": "fixed", "value": 30},
                     "chargeback_fee": {"EUR": "15.00"}}})
    rt = ProviderRuntime("acme", prof, Dice(1))
    d = rt.handle(card_req("s1"), 0.0)
    day1 = rt.records.settlement(86400)
    assert day1["lines"] == [{"at": d.final_at, "kind": "payment", "provider_ref": d.provider_ref,
                              "reference": "s1", "currency": "EUR", "gross": 1000, "fee": 54,
                              "net": 946, "reason": None}]  # 29 + 25
    day40 = rt.records.settlement(40 * 86400)
    assert day40["totals"]["EUR"] == {"gross": 0, "fee": 54 + 1500, "net": -1554, "count": 2}
    assert rt.records.refundable(d.provider_ref, 40 * 86400) == 0


def test_unprocessed_calls_leave_no_record():
    rt = ProviderRuntime("acme", FaultProfile(fail_first_n=5), Dice(1))
    for _ in range(5):
        rt.handle(card_req("n1"), 0.0)
    assert rt.records.decisions() == []


def test_profiles_reject_typos_and_bad_mixes_and_patch_deeply():
    with pytest.raises(ValidationError):
        FaultProfile.model_validate({"aproval_rate": 0.5})
    with pytest.raises(ValidationError):
        FaultProfile.model_validate({"decline_mix": {"bogus": 1.0}})
    with pytest.raises(ValidationError):
        FaultProfile.model_validate({"errors": {"http_5xx": 0.9, "http_429": 0.2}})
    p = FaultProfile().patched({"webhooks": {"duplicate_probability": 0.5}})
    assert p.webhooks.duplicate_probability == 0.5
    assert p.webhooks.retry_schedule == "standard_webhooks"
    assert p.compiled.dup_p == 0.5


def test_default_profile_file_loads_every_provider():
    pf = load_profile_file("mocks/profiles/default.yaml")
    profiles = pf.profiles()
    assert {p.kind for p in profiles.values()} == {"card", "ewallet", "bank", "crypto", "kyc"}
    assert profiles["acme"].approval_rate != profiles["globex"].approval_rate


def test_retry_schedule_helper():
    schedule = (0, 5, 300)
    assert next_attempt_at(schedule, 1, 100.0) == 105.0
    assert next_attempt_at(schedule, 3, 100.0) is None
