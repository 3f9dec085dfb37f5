"""Moves every payment kind shares: the guarded state change, the provider call, the credit
gate, declines and cascading, failure, the polling chain.

Helpers append to ``out`` (the transition's command list) instead of returning
lists: one allocation per transition, not one per helper.
"""

from __future__ import annotations

from collections.abc import Callable

from wallet.domain.commands import Command as WalletCommand
from wallet.domain.commands import CreditDeposit, ReverseTransaction
from wallet.domain.errors import InvalidInput
from wallet.domain.payments import commands as k
from wallet.domain.payments.commands import (
    CallProvider,
    FlagAnomaly,
    GatewayCommand,
    InquireStatus,
    MarkFailed,
    PostToLedger,
    RouteNext,
    ScheduleTimeout,
    attempt_key,
)
from wallet.domain.payments.declines import TAXONOMY, Decline, canonical
from wallet.domain.payments.events import POLL
from wallet.domain.payments.model import PAYOUT, Payment, Policy
from wallet.domain.payments.states import UNDECIDED, State, allowed

S = State
Out = list[GatewayCommand]
FINAL_POLL_LEAD_S = 60.0  # the last poll: this long (at most a tenth of the wait) before the deadline


def flag(p: Payment, out: Out, kind: str, detail: str) -> None:
    out.append(FlagAnomaly(p.id, kind, detail))


def move(p: Payment, new: State, out: Out) -> bool:
    """The only way a state changes: through the LEGAL table, else flagged and refused."""
    if allowed(p.state, new):
        p.state = new
        return True
    flag(p, out, k.ILLEGAL_TRANSITION, f"{p.state.value} -> {new.value}")
    return False


def post(p: Payment, out: Out, make: Callable[..., WalletCommand], *args: object) -> bool:
    """Build a wallet command and post it; one the wallet would refuse as malformed (a bad
    id, a non-positive amount) is reported instead of raised, so the event is not lost."""
    try:
        cmd = make(*args)
    except InvalidInput as exc:
        flag(p, out, k.ILLEGAL_TRANSITION, f"cannot post {make.__name__}: {exc.message}")
        return False
    out.append(PostToLedger(p.id, cmd))
    return True


def deposit_txn_id(provider: str, payment_id: str) -> str:
    """The wallet's id for a credited deposit (``CreditDeposit`` handler's convention)."""
    return f"deposit:{provider}:{payment_id}"


def call(p: Payment, provider: str, out: Out) -> None:
    """A new attempt at ``provider``: a fresh idempotency key, never a provider tried before."""
    p.attempt += 1
    p.provider = provider
    p.tried.append(provider)
    p.provider_ref = None
    p.seq = 0
    p.polls = 0
    p.awaiting_route = False
    p.state = S.SENT if p.kind == PAYOUT else S.AUTHORIZING
    out.append(CallProvider(p.id, provider, p.attempt, attempt_key(p.id, p.attempt), p.step_up))


def attempt_of(p: Payment, provider: str, ref: str) -> int:
    """Which attempt an event belongs to (0: a provider or ref we never called).
    Providers are never called twice for one payment, so the provider names the attempt."""
    if not provider and ref:
        provider = p.refs.get(ref, "")
    if not provider:
        return p.attempt
    tried = p.tried
    if provider == p.provider and tried:
        return p.attempt
    for i, name in enumerate(tried):
        if name == provider:
            return i + 1
    return 0


def provider_of(p: Payment, attempt: int) -> str:
    return p.tried[attempt - 1] if 0 < attempt <= len(p.tried) else (p.provider or "")


def note_ref(p: Payment, attempt: int, ref: str) -> None:
    if ref:
        p.refs[ref] = provider_of(p, attempt)
        if attempt == p.attempt:
            p.provider_ref = ref


def schedule_poll(p: Payment, now: float, policy: Policy, out: Out) -> None:
    """Next link of the polling chain (webhooks get lost). The chain never skips the deadline:
    a link that would land past it becomes one last poll a minute before it."""
    at = now + policy.poll_delay(p.polls)
    p.polls += 1
    last_call = p.deadline_at - min(FINAL_POLL_LEAD_S, (p.deadline_at - p.created_at) / 10)
    if p.deadline_at and at >= last_call:
        if now >= last_call:
            return  # this was the last poll
        at = last_call
    out.append(ScheduleTimeout(p.id, at, POLL))


def inquire(p: Payment, out: Out) -> None:
    out.append(InquireStatus(p.id, p.provider or "", p.provider_ref,
                             attempt_key(p.id, p.attempt), p.attempt))


def settle(p: Payment, provider: str, amount: int, out: Out, source: str) -> None:
    """The credit gate: the only place a CreditDeposit is emitted, at most once per payment,
    and only because a provider said the money settled (``source`` names the evidence)."""
    if p.ever_reversed:
        flag(p, out, k.SETTLED_AFTER_REVERSAL, f"{provider} {source}")
        return
    if p.credited:
        if provider != p.credit_provider:
            flag(p, out, k.DOUBLE_SETTLEMENT,
                 f"{provider} settled after {p.credit_provider} was credited ({source})")
        return
    try:
        cmd = CreditDeposit(p.player_id, provider, p.id, amount, p.currency)
    except InvalidInput as exc:  # never lose the event: report and keep the state
        flag(p, out, k.ILLEGAL_TRANSITION, f"cannot credit: {exc.message}")
        return
    previous = p.state
    if not move(p, S.SUCCEEDED, out):
        return
    if previous is S.FAILED:
        flag(p, out, k.SETTLED_AFTER_FAILURE, f"{provider} {source} after failure")
    elif previous is S.EXPIRED and not p.paid_late:
        flag(p, out, k.PAID_AFTER_EXPIRY, f"{provider} {source} after expiry")
    p.credited = amount
    p.credit_provider = provider
    out.append(PostToLedger(p.id, cmd))


def reverse_credit(p: Payment, out: Out, reason: str) -> None:
    """Credited, then the chain took it back: mirror the credit, never silently."""
    if not move(p, S.REVERSED, out):
        return
    p.ever_reversed = True
    post(p, out, ReverseTransaction, deposit_txn_id(p.credit_provider or "", p.id), reason, True)
    flag(p, out, k.REORG_AFTER_CREDIT, f"{reason}; credited {p.credited} reversed")


def fail(p: Payment, decline: Decline, out: Out) -> None:
    if move(p, S.FAILED, out):
        p.last_decline = p.last_decline or decline.code  # a controls block has no provider's
        out.append(MarkFailed(p.id, decline.code, decline.message))


def declined(p: Payment, attempt: int, code: str | None, raw: str | None, policy: Policy,
             out: Out, source: str) -> None:
    """A refusal. Current attempt: cascade when the taxonomy says another provider may pass
    it (bounded, never the same provider twice), else fail. Anything else: no money moves."""
    decline = canonical(code)
    if code not in TAXONOMY:
        flag(p, out, k.UNKNOWN_DECLINE_CODE, f"{provider_of(p, attempt)}: {raw or code!r}")
    state = p.state
    if p.credited:  # only the credited attempt's own refusal contradicts the credit
        if provider_of(p, attempt) == p.credit_provider:
            flag(p, out, k.CONFLICTING_OUTCOME,
                 f"{decline.code} ({source}, attempt {attempt}) after settlement; credit kept")
        return
    if attempt != p.attempt or p.awaiting_route or state not in UNDECIDED:
        return  # the decline we already acted on, re-told (reply + webhook + poll)
    p.last_decline = decline.code
    if decline.retryable and p.attempt < policy.max_attempts:
        move(p, S.AUTHORIZING, out)
        p.awaiting_route = True
        out.append(RouteNext(p.id, tuple(p.tried), decline.code))
    else:
        fail(p, decline, out)


def expire(p: Payment, out: Out, reason: str) -> None:
    if p.state in UNDECIDED and move(p, S.EXPIRED, out):
        out.append(MarkFailed(p.id, reason, canonical("expired").message))

