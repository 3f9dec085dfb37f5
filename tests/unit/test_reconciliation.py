"""Reconciliation of the wallet's ledger against a provider's settlement report.

Datasets are built the way production builds them: the wallet side through the real
``Wallet`` handlers (MemoryStore, a manual clock), the provider side as the settlement
lines the provider would report for the same operations. Breaks are then planted by
editing one side, and exactly the planted break must come back.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocks.models import CardInfo, FaultProfile, PaymentRequest, ProviderRuntime
from mocks.models.records import Line
from mocks.models.types import APPROVED
from sandbox.randomness import Dice
from wallet.adapters.memory import MemoryStore
from wallet.domain import commands as c
from wallet.domain.ledger import Transaction
from wallet.domain.payments import attempt_key
from wallet.domain.reconciliation import SettlementLine, reconcile
from wallet.service.clock import ManualClock
from wallet.service.wallet import Wallet

DAY = 86_400.0
AS_OF = 30 * DAY
TOL = 600.0


def from_mock(line: Line) -> SettlementLine:
    """The adapter the wallet never needs: the mocks' record type -> the domain's input type."""
    return SettlementLine(line.at, line.kind, line.provider_ref, line.reference, line.currency,
                          line.gross, line.fee, line.net, line.reason)


# --- building consistent datasets -----------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """One player's money at one provider: a deposit, then maybe a refund or a chargeback,
    maybe a payout (instant or held-then-paid) that may come back."""

    currency: str
    amount: int
    fee: int
    dispute: str  # none | refund | chargeback
    refund_share: float
    payout_share: float
    two_step: bool
    returned: bool
    start: float


stories = st.builds(
    Story,
    currency=st.sampled_from(["EUR", "GBP"]),
    amount=st.integers(100, 500_000),
    fee=st.integers(0, 2_000),
    dispute=st.sampled_from(["none", "none", "refund", "chargeback"]),
    refund_share=st.floats(0.01, 1.0),
    payout_share=st.floats(0.0, 1.0),
    two_step=st.booleans(),
    returned=st.booleans(),
    start=st.floats(0.0, AS_OF - 5 * DAY),
)


@dataclass
class Dataset:
    provider: str
    wallet: Wallet
    clock: ManualClock
    lines: list[SettlementLine] = field(default_factory=list)
    ledger: list[Transaction] = field(default_factory=list)

    def run(self, at: float, cmd: c.Command) -> None:
        self.clock.t = at
        self.wallet.execute(cmd)

    def line(self, at: float, kind: str, ref: str, pid: str, ccy: str, gross: int, fee: int) -> None:
        self.lines.append(SettlementLine(at, kind, f"psp_{kind}_{pid}", ref, ccy, gross, fee, gross - fee))

    def snapshot(self) -> Dataset:
        with self.wallet.store.unit_of_work() as uow:
            self.ledger = list(uow.all_transactions())
        return self


def build(story_list: list[Story], provider: str = "acme", attempt_keys: bool = False) -> Dataset:
    """Wallet postings via the real handlers; provider lines as that provider would report.
    ``attempt_keys``: the provider knows each payment by its attempt key (globex, chainpay)."""
    clock = ManualClock()
    ds = Dataset(provider, Wallet(MemoryStore(), clock), clock)
    for i, s in enumerate(story_list):
        player, pid, wid = f"p{i}", f"dep-{i}", f"wd-{i}"
        ref = attempt_key(pid, 1) if attempt_keys else pid
        wref = attempt_key(wid, 1) if attempt_keys else wid
        t = s.start
        ds.run(t, c.OpenPlayer(player, s.currency))
        ds.line(t, "payment", ref, pid, s.currency, s.amount, s.fee)
        ds.run(t + 1.0, c.CreditDeposit(player, provider, pid, s.amount, s.currency, fee=s.fee))
        left = s.amount
        if s.dispute == "chargeback":
            ds.line(t + DAY, "chargeback", ref, pid, s.currency, -s.amount, 1500)
            ds.run(t + DAY + 1, c.Chargeback(provider, pid, s.amount, fee=1500))
            continue  # the player is locked: no payout
        if s.dispute == "refund":
            refund = max(1, int(s.amount * s.refund_share))
            left -= refund
            ds.line(t + DAY, "refund", ref, pid, s.currency, -refund, 0)
            ds.run(t + DAY + 1, c.Refund(provider, pid, f"rf-{i}", refund))
        payout = int(left * s.payout_share)
        if payout <= 0:
            continue
        ds.line(t + 2 * DAY, "payout", wref, wid, s.currency, -payout, 50)
        if s.two_step:
            ds.run(t + 2 * DAY - 60, c.RequestWithdrawal(player, wid, payout, s.currency, provider))
            ds.run(t + 2 * DAY + 1, c.CompleteWithdrawal(wid, fee=50))
        else:
            ds.run(t + 2 * DAY + 1, c.InstantPayout(player, wid, payout, s.currency, provider, fee=50))
        if s.returned:
            ds.line(t + 3 * DAY, "payout_return", wref, wid, s.currency, payout, 0)
            ds.run(t + 3 * DAY + 1, c.ReturnPayout(wid))
    # Another provider's money in the same ledger must not disturb this one's reconciliation.
    ds.run(10.0, c.OpenPlayer("noise", "EUR"))
    ds.run(11.0, c.CreditDeposit("noise", "elsewhere", "dep-noise", 777, "EUR", fee=7))
    return ds.snapshot()


def run(ds: Dataset, ledger: list[Transaction] | None = None,
        lines: list[SettlementLine] | None = None, as_of: float = AS_OF):
    return reconcile(ds.provider, ds.ledger if ledger is None else ledger,
                     ds.lines if lines is None else lines, as_of=as_of, timing_tolerance=TOL)


def only_break(report) -> tuple[str, str, str]:
    assert len(report.breaks) == 1, report.to_markdown()
    b = report.breaks[0]
    return b.kind.value, b.operation, b.payment_id


def settles_exactly(report) -> None:
    """The breaks always explain the whole net settlement difference."""
    for s in report.settlement.values():
        assert s.unexplained == 0, report.to_dict()


FIXED = [Story("EUR", 10_000, 275, "none", 0.5, 0.5, False, False, 100.0),
         Story("EUR", 20_000, 525, "refund", 0.25, 0.5, True, True, 200.0),
         Story("GBP", 5_000, 120, "chargeback", 0.5, 0.5, False, False, 300.0),
         Story("EUR", 7_000, 0, "none", 0.5, 1.0, True, False, 400.0)]


# --- clean runs ---------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stories, min_size=1, max_size=12), st.booleans())
def test_a_consistent_dataset_reconciles_clean(story_list, attempt_keys):
    ds = build(story_list, attempt_keys=attempt_keys)
    report = run(ds)
    assert report.breaks == () and report.clean
    assert report.matched == len(ds.lines)
    for s in report.settlement.values():
        assert s.difference == 0 and s.provider_net == s.wallet_net


def test_fixed_dataset_counts_and_settlement():
    ds = build(FIXED)
    report = run(ds)
    assert report.clean
    assert report.counts["matched"] == len(ds.lines) == 10
    assert set(report.settlement) == {"EUR", "GBP"}  # the other provider's deposit is not here
    eur = sum(ln.net for ln in ds.lines if ln.currency == "EUR")
    assert report.settlement["EUR"].provider_net == eur == report.settlement["EUR"].wallet_net


# --- each break kind, planted alone ------------------------------------------------------------


def test_dropped_credit_is_missing_in_wallet():
    ds = build(FIXED)
    ledger = [t for t in ds.ledger if t.id != "deposit:acme:dep-0"]
    report = run(ds, ledger=ledger)
    assert only_break(report) == ("missing_in_wallet", "payment", "dep-0")
    b = report.breaks[0]
    assert b.provider_refs == ("psp_payment_dep-0",) and b.wallet is None
    assert b.at_provider is not None and b.at_provider.gross == 10_000
    assert report.settlement["EUR"].difference == 10_000 - 275 and not report.clean
    settles_exactly(report)


def test_credit_without_settlement_is_missing_at_provider():
    ds = build(FIXED)
    ds.run(500.0, c.CreditDeposit("p0", "acme", "made-up", 4_000, "EUR", fee=100))
    report = run(ds.snapshot())
    assert only_break(report) == ("missing_at_provider", "payment", "made-up")
    assert report.breaks[0].wallet_txn_ids == ("deposit:acme:made-up",)
    assert report.settlement["EUR"].difference == -(4_000 - 100)
    settles_exactly(report)


def test_changed_amount_is_an_amount_mismatch():
    ds = build(FIXED)
    lines = [dataclasses.replace(ln, gross=ln.gross + 1, net=ln.net + 1)
             if ln.kind == "refund" else ln for ln in ds.lines]
    report = run(ds, lines=lines)
    assert only_break(report) == ("amount_mismatch", "refund", "dep-1")
    b = report.breaks[0]
    assert b.wallet and b.at_provider and b.at_provider.gross - b.wallet.gross == 1
    assert b.wallet_txn_ids == ("refund:acme:rf-1",)
    settles_exactly(report)


def test_changed_fee_is_a_fee_mismatch():
    ds = build(FIXED)
    lines = [dataclasses.replace(ln, fee=ln.fee + 10, net=ln.net - 10)
             if ln.kind == "chargeback" else ln for ln in ds.lines]
    report = run(ds, lines=lines)
    assert only_break(report) == ("fee_mismatch", "chargeback", "dep-2")
    assert report.settlement["GBP"].difference == -10
    settles_exactly(report)


def test_duplicated_provider_line_is_a_duplicate_at_provider():
    ds = build(FIXED)
    report = run(ds, lines=[*ds.lines, ds.lines[0]])
    assert only_break(report) == ("duplicate_at_provider", "payment", "dep-0")


def test_duplicated_wallet_credit_is_a_duplicate_in_wallet():
    ds = build(FIXED)
    dep = next(t for t in ds.ledger if t.id == "deposit:acme:dep-3")
    report = run(ds, ledger=[*ds.ledger, dataclasses.replace(dep, id="deposit:acme:dep-3#again")])
    assert only_break(report) == ("duplicate_in_wallet", "payment", "dep-3")
    assert report.breaks[0].wallet_txn_ids == ("deposit:acme:dep-3#again",)
    settles_exactly(report)


@pytest.mark.parametrize(("side", "shift", "expected"), [
    ("wallet", TOL / 2, "timing"), ("provider", TOL / 2, "timing"),
    ("wallet", 2 * TOL, "missing_in_wallet"), ("provider", 2 * TOL, "missing_at_provider")])
def test_a_record_across_the_cut_off_is_timing_within_tolerance_else_missing(side, shift, expected):
    """Settled at the provider at 23:59, credited at 00:01: a timing difference, not a break
    anyone chases; credited a day later it is missing at the cut-off."""
    ds = build(FIXED)
    as_of = 1_000.0  # dep-0 settles at 100 s, is credited at 101 s
    ledger, lines = ds.ledger, ds.lines
    if side == "wallet":
        ledger = [dataclasses.replace(t, created_at=as_of + shift) if t.id == "deposit:acme:dep-0"
                  else t for t in ds.ledger]
    else:
        lines = [dataclasses.replace(ln, at=as_of + shift) if ln.provider_ref == "psp_payment_dep-0"
                 else ln for ln in ds.lines]
    report = run(ds, ledger=ledger, lines=lines, as_of=as_of)
    assert only_break(report) == (expected, "payment", "dep-0")
    assert report.clean is (expected == "timing")
    settles_exactly(report)


# --- the property: any single planted break is found, alone ---------------------------------

PLANTS = ["drop_wallet", "drop_line", "amount", "fee", "dup_line", "dup_wallet",
          "late_wallet", "late_line", "gone_wallet", "gone_line"]


def _operation(line: SettlementLine) -> tuple[str, str]:
    return line.kind, line.reference.removesuffix("-a1")


def _txn_for(ds: Dataset, op: str, pid: str) -> Transaction:
    kinds = {"payment": {"deposit"}, "refund": {"refund"}, "chargeback": {"chargeback"},
             "payout": {"payout", "withdrawal_paid"}, "payout_return": {"payout_returned"}}[op]
    ref = pid if op.startswith("payout") else f"{ds.provider}:{pid}"
    return next(t for t in ds.ledger if t.kind.value in kinds and t.reference == ref)


def plant(ds: Dataset, how: str, i: int) -> tuple[list, list, float, tuple[str, str, str]]:
    line = ds.lines[i]
    op, pid = _operation(line)
    txn = _txn_for(ds, op, pid)
    ledger, lines, as_of = list(ds.ledger), list(ds.lines), AS_OF

    def swap_line(new: SettlementLine) -> list[SettlementLine]:
        return [new if x is line else x for x in lines]

    if how == "drop_wallet":
        return [t for t in ledger if t is not txn], lines, as_of, ("missing_in_wallet", op, pid)
    if how == "drop_line":
        return ledger, [x for x in lines if x is not line], as_of, ("missing_at_provider", op, pid)
    if how == "amount":
        new = dataclasses.replace(line, gross=line.gross - 3, net=line.net - 3)
        return ledger, swap_line(new), as_of, ("amount_mismatch", op, pid)
    if how == "fee":
        new = dataclasses.replace(line, fee=line.fee + 3, net=line.net - 3)
        return ledger, swap_line(new), as_of, ("fee_mismatch", op, pid)
    if how == "dup_line":
        return ledger, [*lines, line], as_of, ("duplicate_at_provider", op, pid)
    if how == "dup_wallet":
        return [*ledger, dataclasses.replace(txn, id=txn.id + "#2")], lines, as_of, \
            ("duplicate_in_wallet", op, pid)
    # Move the cut-off to just after this operation and push one side across it. Other
    # operations are kept only when both of their records fall before the new cut-off.
    as_of = max(txn.created_at, line.at) + 0.5
    late = as_of + (TOL / 2 if how.startswith("late") else 2 * TOL)
    keep_l, drop_t = [], set()
    for x in lines:
        if x is line:
            continue
        other = _txn_for(ds, *_operation(x))
        if x.at <= as_of and other.created_at <= as_of:
            keep_l.append(x)
        else:
            drop_t.add(other.id)
    keep_t = [t for t in ledger if t.id not in drop_t and t is not txn]
    if how.endswith("wallet"):
        kind = "timing" if how.startswith("late") else "missing_in_wallet"
        return [*keep_t, dataclasses.replace(txn, created_at=late)], [*keep_l, line], as_of, \
            (kind, op, pid)
    kind = "timing" if how.startswith("late") else "missing_at_provider"
    return [*keep_t, txn], [*keep_l, dataclasses.replace(line, at=late)], as_of, (kind, op, pid)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(stories, min_size=1, max_size=8), st.booleans(), st.sampled_from(PLANTS),
       st.integers(0, 10_000))
def test_any_single_planted_break_is_reported_alone(story_list, attempt_keys, how, pick):
    ds = build(story_list, attempt_keys=attempt_keys)
    ledger, lines, as_of, expected = plant(ds, how, pick % len(ds.lines))
    report = reconcile("acme", ledger, lines, as_of=as_of, timing_tolerance=TOL)
    assert only_break(report) == expected
    settles_exactly(report)
    json.dumps(report.to_dict())


# --- references, reversals, and odd lines --------------------------------------------------------


def test_attempt_keys_map_back_but_an_exact_id_wins():
    """globex knows ``dep-0-a1``; a wallet payment literally named ``x-a2`` stays itself."""
    ds = build(FIXED[:1], attempt_keys=True)
    ds.run(50.0, c.CreditDeposit("p0", "acme", "x-a2", 1_000, "EUR"))
    ds.line(49.0, "payment", "x-a2", "x", "EUR", 1_000, 0)
    report = run(ds.snapshot())
    assert report.clean and report.matched == len(ds.lines)
    lines = [x for x in ds.lines if x.reference != "dep-0-a1"]
    assert only_break(run(ds, ledger=[t for t in ds.ledger if t.id != "deposit:acme:dep-0"],
                          lines=ds.lines)) == ("missing_in_wallet", "payment", "dep-0")
    assert only_break(run(ds, lines=lines)) == ("missing_at_provider", "payment", "dep-0")


def test_a_reversed_credit_the_provider_never_settled_is_not_a_break():
    """A crypto deposit re-orged out after the credit: the wallet reversed it, the provider
    has no line. Nothing is owed either way."""
    ds = build(FIXED[:1])
    ds.run(60.0, c.CreditDeposit("p0", "acme", "reorged", 3_000, "EUR", fee=30))
    ds.run(70.0, c.ReverseTransaction("deposit:acme:reorged", "reorg"))
    report = run(ds.snapshot())
    assert report.clean and report.breaks == ()
    orphan = [t for t in ds.ledger if t.id != "deposit:acme:reorged"]
    only = only_break(run(ds, ledger=orphan))
    assert only[0] == "unrecognised"


def test_partial_refunds_match_one_by_one():
    ds = build(FIXED[:1])
    for n, amount in enumerate((1_000, 2_500)):
        ds.line(5_000.0 + n, "refund", "dep-0", f"dep-0-{n}", "EUR", -amount, 0)
        ds.run(5_001.0 + n, c.Refund("acme", "dep-0", f"rf-x{n}", amount))
    ds.snapshot()
    assert run(ds).clean
    one_missing = [t for t in ds.ledger if t.id != "refund:acme:rf-x1"]
    assert only_break(run(ds, ledger=one_missing)) == ("missing_in_wallet", "refund", "dep-0")


def test_unknown_line_kind_is_unrecognised_and_explained():
    ds = build(FIXED[:1])
    odd = SettlementLine(500.0, "adjustment", "adj_1", "", "EUR", -99, 0, -99, "reserve")
    report = run(ds, lines=[*ds.lines, odd])
    assert only_break(report) == ("unrecognised", "adjustment", "")
    settles_exactly(report)


def test_report_renders_for_results_and_for_people():
    ds = build(FIXED)
    ledger = [t for t in ds.ledger if t.id != "payout:wd-0"]
    report = run(ds, ledger=ledger)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["clean"] is False and data["counts"]["missing_in_wallet"] == 1
    assert data["breaks"][0]["provider_refs"] == ["psp_payout_wd-0"]
    md = report.to_markdown()
    assert "missing_in_wallet" in md and "wd-0" in md and "| EUR |" in md
    assert report.to_dict(max_breaks=0)["breaks_omitted"] == 1


def test_negative_tolerance_is_refused():
    with pytest.raises(ValueError, match="timing_tolerance"):
        reconcile("acme", [], [], as_of=0.0, timing_tolerance=-1)


# --- end to end: the real mock provider and the real wallet ----------------------------------

QUIET = {"errors": {"http_5xx": 0, "http_429": 0, "reset": 0, "empty": 0, "malformed": 0},
         "timeout": {"probability": 0}}


def _mock_run(provider: str, attempt_keys: bool, n: int = 300) -> tuple[ProviderRuntime, float]:
    profile = FaultProfile.model_validate({
        **QUIET, "approval_rate": 0.7, "three_ds": {"challenge_probability": 0.3},
        "disputes": {"refund_probability": 0.05, "chargeback_probability": 0.05}})
    rt = ProviderRuntime(provider, profile, Dice(20240601))
    for i in range(n):
        pid = f"dep-{i}"
        key = attempt_key(pid, 1)
        rt.handle(PaymentRequest(key if attempt_keys else pid, key, f"u{i % 25}",
                                 1_000 + 37 * i, "EUR", "card", card=CardInfo("411111", "1111")),
                  now=i * 30.0)
    return rt, 120 * DAY


def _mirror(rt: ProviderRuntime, lines: list[Line], skip: str | None = None) -> list[Transaction]:
    """What a correct gateway does with the provider's outcomes: credit each settled payment
    with the provider's fee, book its refund or chargeback, all a second after the provider."""
    clock = ManualClock()
    wallet = Wallet(MemoryStore(), clock)
    for u in range(25):
        wallet.execute(c.OpenPlayer(f"u{u}", "EUR"))
    for ln in lines:
        d = rt.records.get(ln.provider_ref)
        assert d is not None and d.final_outcome == APPROVED
        pid = d.idempotency_key.removesuffix("-a1")
        clock.t = ln.at + 1.0
        if pid == skip:
            continue
        if ln.kind == "payment":
            wallet.execute(c.CreditDeposit(f"u{int(pid[4:]) % 25}", rt.name, pid, ln.gross,
                                           ln.currency, fee=ln.fee))
        elif ln.kind == "refund":
            wallet.execute(c.Refund(rt.name, pid, f"rf-{pid}", -ln.gross))
        elif ln.kind == "chargeback":
            wallet.execute(c.Chargeback(rt.name, pid, -ln.gross, fee=ln.fee))
    with wallet.store.unit_of_work() as uow:
        return list(uow.all_transactions())


@pytest.mark.parametrize(("provider", "attempt_keys"), [("acme", False), ("globex", True)])
def test_end_to_end_with_the_mock_provider_and_the_wallet(provider, attempt_keys):
    rt, now = _mock_run(provider, attempt_keys)
    mock_lines = rt.records.lines(now)
    kinds = {ln.kind for ln in mock_lines}
    assert {"payment", "refund", "chargeback"} <= kinds  # the run exercises every deposit line
    lines = [from_mock(ln) for ln in mock_lines]

    report = reconcile(provider, _mirror(rt, mock_lines), lines, as_of=now, timing_tolerance=TOL)
    assert report.clean and report.breaks == (), report.to_markdown()
    assert report.matched == len(lines)
    assert report.settlement["EUR"].provider_net == rt.records.settlement(now)["totals"]["EUR"]["net"]

    disputed = {ln.provider_ref for ln in mock_lines if ln.kind != "payment"}
    victim = next(ln for ln in mock_lines if ln.kind == "payment" and ln.provider_ref not in disputed)
    skip = victim.reference.removesuffix("-a1")
    report = reconcile(provider, _mirror(rt, mock_lines, skip=skip), lines, as_of=now,
                       timing_tolerance=TOL)
    assert only_break(report) == ("missing_in_wallet", "payment", skip)
    assert report.breaks[0].provider_refs == (victim.provider_ref,)
    assert report.settlement["EUR"].difference == victim.net
    settles_exactly(report)
