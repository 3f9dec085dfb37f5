"""Match the wallet's clearing-account entries against one provider's settlement lines.

Both sides are reduced to records keyed by (operation, payment or withdrawal id):
one pass over the ledger, one over the report, then one pass over the keys. Dicts
only, so a run is O(n) in ledger transactions plus report lines (~1M payments).

The cut-off: records at or before ``as_of`` are in scope. A record in
``(as_of, as_of + timing_tolerance]`` is only used as the counterpart of an in-scope
record on the other side (a *timing* break: it will match at the next cut-off);
anything later is ignored, so its in-scope counterpart shows as missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from wallet.domain.ledger import AccountType, Transaction, TxnKind, house
from wallet.domain.payments.commands import payment_of_key
from wallet.domain.reconciliation.model import (
    Amounts,
    Break,
    BreakKind,
    CurrencySettlement,
    ReconciliationReport,
    SettlementLine,
)

# Which ledger transactions carry which settlement operation (see service/handlers).
OPERATION_OF: dict[TxnKind, str] = {
    TxnKind.DEPOSIT: "payment",
    TxnKind.REFUND: "refund",
    TxnKind.CHARGEBACK: "chargeback",
    TxnKind.PAYOUT: "payout",
    TxnKind.WITHDRAWAL_PAID: "payout",
    TxnKind.PAYOUT_RETURNED: "payout_return",
}
OPERATIONS = frozenset(OPERATION_OF.values())
_OPERATION_OF_PREFIX = {k.value: op for k, op in OPERATION_OF.items()}  # ids start "<kind>:"
_KEYED_BY_PAYMENT = frozenset({"payment", "refund", "chargeback"})  # reference "<provider>:<id>"
MANY_PER_ID = frozenset({"refund"})  # partial refunds: several legitimate lines per payment

Key = tuple[str, str]  # (operation, payment or withdrawal id)


class _Rec(NamedTuple):
    """One side's record of one operation (a tuple: a million of them stay cheap)."""

    at: float
    ident: str  # wallet transaction id or provider ref
    reference: str
    gross: int
    fee: int
    net: int
    currency: str


Slot = _Rec | list[_Rec]  # one record in the common case, a list only when there are more


def _add(index: dict[Key, Slot], key: Key, rec: _Rec) -> None:
    slot = index.get(key)
    if slot is None:
        index[key] = rec
    elif isinstance(slot, list):
        slot.append(rec)
    else:
        index[key] = [slot, rec]


def _as_list(slot: Slot | None) -> list[_Rec]:
    if slot is None:
        return []
    return slot if isinstance(slot, list) else [slot]


class _Run:
    """The mutable state of one reconciliation; :func:`reconcile` is its only user."""

    def __init__(self, provider: str, as_of: float, tolerance: float) -> None:
        if tolerance < 0:
            raise ValueError("timing_tolerance must be >= 0")
        self.provider = provider
        self.as_of = as_of
        self.tolerance = tolerance
        self.horizon = as_of + tolerance
        self.head = f"{provider}:"
        self.clearing_prefix = f"{AccountType.PROVIDER_CLEARING.value}:{provider}:"
        self.fees_prefix = house(AccountType.FEES, "X")[:-1]
        self.wallet: dict[Key, Slot] = {}
        self.report: dict[Key, Slot] = {}
        self.movement: dict[str, int] = {}
        self.provider_net: dict[str, int] = {}
        self.breaks: list[Break] = []
        self.matched = 0

    # --- the ledger side ------------------------------------------------------------------

    def add_txn(self, txn: Transaction, reversals: list[tuple[Transaction, _Rec]]) -> None:
        if txn.created_at > self.horizon:
            return
        clearing: dict[str, int] = {}
        fee = 0
        clearing_prefix, fees_prefix = self.clearing_prefix, self.fees_prefix
        for p in txn.postings:
            account = p.account
            if account.startswith(clearing_prefix):
                clearing[p.currency] = clearing.get(p.currency, 0) + p.amount
            elif account.startswith(fees_prefix):
                fee -= p.amount
        if not clearing:
            return  # not this provider's money
        in_scope = txn.created_at <= self.as_of
        if in_scope:
            for ccy, amount in clearing.items():
                self.movement[ccy] = self.movement.get(ccy, 0) + amount
        op = OPERATION_OF.get(txn.kind)
        if len(clearing) != 1 or (op is None and txn.kind is not TxnKind.REVERSAL):
            if in_scope:
                self._unrecognised(txn, clearing, f"{txn.kind.value} moves the clearing account")
            return
        (ccy, moved), = clearing.items()
        rec = _Rec(txn.created_at, txn.id, txn.reference or "", -moved + fee, fee, -moved, ccy)
        if op is None:  # a reversal: cancels its original once everything is indexed
            if in_scope:
                reversals.append((txn, rec))
            return
        _add(self.wallet, (op, self._wallet_id(txn.id, txn.reference, op)), rec)

    def _wallet_id(self, txn_id: str, reference: str | None, op: str) -> str:
        """Deposits, refunds and chargebacks carry ``<provider>:<payment id>``, withdrawals
        their id; the transaction id is the fallback (``deposit:<provider>:<id>``)."""
        ref = reference or ""
        if op in _KEYED_BY_PAYMENT:
            if ref.startswith(self.head):
                return ref[len(self.head):]
            parts = txn_id.split(":", 2)
            return parts[2] if len(parts) == 3 else txn_id
        return ref or txn_id.split(":", 1)[-1]

    def cancel(self, reversal: Transaction, rec: _Rec) -> None:
        """A reversal and its in-scope original cancel out (a reorged crypto credit); one
        whose original is not found or is not its mirror image cannot be explained."""
        original_id = reversal.reverses or ""
        op = _OPERATION_OF_PREFIX.get(original_id.split(":", 1)[0])
        if op is not None:
            key = (op, self._wallet_id(original_id, reversal.reference, op))
            recs = _as_list(self.wallet.get(key))
            for i, orig in enumerate(recs):
                if orig.ident == original_id and orig.at <= self.as_of and orig.net == -rec.net:
                    rest = recs[:i] + recs[i + 1:]
                    if rest:
                        self.wallet[key] = rest
                    else:
                        del self.wallet[key]
                    return
        self._unrecognised(reversal, {rec.currency: -rec.net}, f"reversal of {original_id or '?'}")

    def _unrecognised(self, txn: Transaction, clearing: dict[str, int], note: str) -> None:
        ccy = next(iter(clearing))
        self.breaks.append(Break(
            BreakKind.UNRECOGNISED, self.provider, txn.kind.value, txn.reference or "",
            txn.reference or "", (txn.id,), (),
            Amounts(-clearing[ccy], 0, -clearing[ccy], ccy, txn.created_at),
            None, dict(clearing.items()), note))

    # --- the provider side ----------------------------------------------------------------

    def add_line(self, line: SettlementLine) -> None:
        if line.at > self.horizon:
            return
        if line.at <= self.as_of:
            self.provider_net[line.currency] = self.provider_net.get(line.currency, 0) + line.net
        rec = _Rec(line.at, line.provider_ref, line.reference, line.gross, line.fee, line.net,
                   line.currency)
        if line.kind not in OPERATIONS:
            if line.at <= self.as_of:
                self.breaks.append(Break(
                    BreakKind.UNRECOGNISED, self.provider, line.kind, line.reference,
                    line.reference, (), (line.provider_ref,), None, _amounts(rec),
                    {line.currency: line.net}, f"unknown line kind {line.kind!r}"))
            return
        _add(self.report, (line.kind, self._provider_id(line.kind, line.reference)), rec)

    def _provider_id(self, op: str, ref: str) -> str:
        """The wallet's id for a provider reference. Some dialects (globex, chainpay) only
        know the per-attempt key ``<id>-a<n>``: an exact id the wallet knows wins, else the
        attempt suffix is stripped (so a missing credit still names the payment)."""
        w = self.wallet
        if (op, ref) in w or ("payment", ref) in w or ("payout", ref) in w:
            return ref
        return payment_of_key(ref)

    # --- matching -------------------------------------------------------------------------

    def match(self) -> None:
        report = self.report
        as_of = self.as_of
        for key, ws in self.wallet.items():
            ps = report.pop(key, None)
            if (type(ws) is _Rec and type(ps) is _Rec and ws.at <= as_of and ps.at <= as_of
                    and ws.gross == ps.gross and ws.fee == ps.fee and ws.net == ps.net
                    and ws.currency == ps.currency):
                self.matched += 1  # the fast path: one record each side, equal, in scope
                continue
            self._match_key(key, _as_list(ws), _as_list(ps))
        for key, ps in report.items():
            self._match_key(key, [], _as_list(ps))

    def _match_key(self, key: Key, ws: list[_Rec], ps: list[_Rec]) -> None:
        as_of = self.as_of
        w_in = [r for r in ws if r.at <= as_of]
        p_in = [r for r in ps if r.at <= as_of]
        w_late = [r for r in ws if r.at > as_of]
        p_late = [r for r in ps if r.at > as_of]
        pairs, w_left, p_left = _pair(w_in, p_in)
        late_w, w_left, _ = _pair(w_left, p_late)
        late_p, _, p_left = _pair(w_late, p_left)
        pairs += late_w + late_p
        for w, p in pairs:
            self._compare(key, w, p)
        one = key[0] not in MANY_PER_ID
        self._surplus(key, w_left, {_dup_key(w, one) for w, _ in pairs}, wallet_side=True, one=one)
        self._surplus(key, p_left, {_dup_key(p, one) for _, p in pairs}, wallet_side=False, one=one)

    def _compare(self, key: Key, w: _Rec, p: _Rec) -> None:
        if w.gross != p.gross or w.currency != p.currency:
            kind, note = BreakKind.AMOUNT_MISMATCH, ""
        elif w.fee != p.fee:
            kind, note = BreakKind.FEE_MISMATCH, ""
        elif w.net != p.net:
            kind, note = BreakKind.AMOUNT_MISMATCH, "provider net != gross - fee"
        elif w.at > self.as_of or p.at > self.as_of:
            kind, note = BreakKind.TIMING, ""
        else:
            self.matched += 1
            return
        late = "wallet" if w.at > self.as_of else "provider" if p.at > self.as_of else ""
        if late:
            note = f"{note}; " * bool(note) + f"{late} record after the cut-off"
        self._break(kind, key, [w], [p], note)

    def _surplus(self, key: Key, left: list[_Rec], seen: set[object], *, wallet_side: bool,
                 one: bool) -> None:
        """Unpaired in-scope records: the first of its kind is missing on the other side,
        a further one with the same id (same amount, for refunds) is a duplicate."""
        missing = BreakKind.MISSING_AT_PROVIDER if wallet_side else BreakKind.MISSING_IN_WALLET
        dup = BreakKind.DUPLICATE_IN_WALLET if wallet_side else BreakKind.DUPLICATE_AT_PROVIDER
        for r in sorted(left):
            k = _dup_key(r, one)
            kind = dup if k in seen else missing
            seen.add(k)
            self._break(kind, key, [r] if wallet_side else [], [] if wallet_side else [r], "")

    def _break(self, kind: BreakKind, key: Key, ws: list[_Rec], ps: list[_Rec], note: str) -> None:
        delta: dict[str, int] = {}
        for r in ps:
            if r.at <= self.as_of:
                delta[r.currency] = delta.get(r.currency, 0) + r.net
        for r in ws:
            if r.at <= self.as_of:
                delta[r.currency] = delta.get(r.currency, 0) - r.net
        ref = ps[0].reference if ps else ws[0].reference
        self.breaks.append(Break(
            kind, self.provider, key[0], key[1], ref, tuple(r.ident for r in ws),
            tuple(r.ident for r in ps), _amounts(ws[0]) if ws else None,
            _amounts(ps[0]) if ps else None, delta, note))

    def result(self) -> ReconciliationReport:
        explained: dict[str, int] = {}
        for b in self.breaks:
            for ccy, d in b.delta.items():
                explained[ccy] = explained.get(ccy, 0) + d
        currencies = sorted(self.movement.keys() | self.provider_net.keys() | explained.keys())
        settlement = {c: CurrencySettlement(c, self.provider_net.get(c, 0), self.movement.get(c, 0),
                                            explained.get(c, 0)) for c in currencies}
        order = {k: i for i, k in enumerate(BreakKind)}
        breaks = sorted(self.breaks, key=lambda b: (order[b.kind], b.payment_id, b.operation))
        return ReconciliationReport(self.provider, self.as_of, self.tolerance, self.matched, tuple(breaks),
                                    settlement)


def _dup_key(r: _Rec, one: bool) -> object:
    return True if one else (r.gross, r.currency)


def _amounts(r: _Rec) -> Amounts:
    return Amounts(r.gross, r.fee, r.net, r.currency, r.at)


def _pair(ws: list[_Rec], ps: list[_Rec]) -> tuple[list[tuple[_Rec, _Rec]], list[_Rec], list[_Rec]]:
    """Pair records: equal gross and currency first, then what is left in time order (those
    pairs become amount mismatches). Returns the pairs and both sides' leftovers."""
    if not ws or not ps:
        return [], ws, ps
    pairs: list[tuple[_Rec, _Rec]] = []
    left_p = sorted(ps)
    left_w: list[_Rec] = []
    for w in sorted(ws):
        j = next((i for i, p in enumerate(left_p) if p.gross == w.gross and p.currency == w.currency),
                 None)
        if j is None:
            left_w.append(w)
        else:
            pairs.append((w, left_p.pop(j)))
    n = min(len(left_w), len(left_p))
    pairs += zip(left_w[:n], left_p[:n], strict=True)
    return pairs, left_w[n:], left_p[n:]


def reconcile(provider: str, ledger: Iterable[Transaction], report: Iterable[SettlementLine], *,
              as_of: float, timing_tolerance: float) -> ReconciliationReport:
    """Compare the wallet's ledger with ``provider``'s settlement report as of ``as_of``.

    ``ledger`` may hold every transaction of the wallet: only those that move
    ``provider_clearing:<provider>:*`` take part. Per payment / refund / chargeback /
    payout / payout return the result is matched or one break per unpaired or differing
    record, and per currency the net settlement difference with the part the breaks
    explain (the rest, ``unexplained``, must be zero).
    """
    run = _Run(provider, as_of, timing_tolerance)
    reversals: list[tuple[Transaction, _Rec]] = []
    for txn in ledger:
        run.add_txn(txn, reversals)
    for txn, rec in reversals:
        run.cancel(txn, rec)
    for line in report:
        run.add_line(line)
    run.match()
    return run.result()
