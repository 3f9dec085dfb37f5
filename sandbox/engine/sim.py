"""The SimPy shell: the gateway service and the mock providers' behaviour models in virtual time.

The live shell (``wallet.adapters.live_gateway``) sends a ``CallProvider`` over HTTP
to a mock app, which asks a :class:`ProviderRuntime` for a decision and renders it
in its dialect. Here the same runtime decides, and the same decision becomes the
same canonical events without the HTTP in between: the reply after the decided
latency (or a timeout at the client's limit), every planned webhook delivery at
its planned instant, duplicates and reorderings included. Timers are SimPy
timeouts that call ``Gateway.fire``. No payment rule lives here.
"""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import simpy

from mocks.models.runtime import ProviderRuntime
from mocks.models.types import (
    APPROVED,
    DECLINED,
    FAULT_STATUS,
    RESPONSE_LOST,
    CardInfo,
    Decision,
    Planned,
)
from mocks.models.types import PaymentRequest as MockRequest
from wallet.adapters.providers.base import RETRY_STATUSES, backoff_s
from wallet.domain.errors import DomainError
from wallet.domain.payments import events as e
from wallet.domain.payments.commands import CallProvider, InquireStatus, ScheduleTimeout
from wallet.domain.payments.model import PAYOUT, Payment
from wallet.service.gateway import Gateway, Step


@contextmanager
def relaxed_gc(gen0: int = 200_000) -> Iterator[None]:
    """A run keeps every payment, posting and journal entry alive, so the default collector
    rescans a growing heap ever more often (a 20k-payment run went 1.6x slower per payment
    than a 5k one). Collect young objects rarely and leave the old ones alone meanwhile; on
    the way out collect everything once, or a sweep's runs pile up in one process."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(gen0, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
        gc.collect()


class SimClock:
    """The wallet's clock reads SimPy's: every posting is stamped in virtual seconds."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def now(self) -> float:
        return float(self.env.now)


@dataclass
class Instrument:
    card: CardInfo | None = None


@dataclass
class SimShell:
    env: simpy.Environment
    gateway: Gateway
    runtimes: Mapping[str, ProviderRuntime]
    client_timeout_s: float = 30.0
    max_retries: int = 2
    instruments: dict[str, Instrument] = field(default_factory=dict)
    deliveries: int = 0
    calls: list[tuple[str, float, float, str]] = field(default_factory=list)  # provider, start, end, result
    errors: list[str] = field(default_factory=list)
    _planned: set[str] = field(default_factory=set)  # provider refs whose webhooks are planned

    # --- entry points (the workload calls these) ----------------------------------------------

    def deposit(self, payment_id: str, player_id: str, amount: int, currency: str, method: str,
                *, country: str = "", card: CardInfo | None = None) -> Step:
        step = self.gateway.deposit(payment_id, player_id, amount, currency, method,
                                    country=country, bin=card.bin if card else "")
        self.instruments[payment_id] = Instrument(card)
        self.execute(step)
        return step

    def payout(self, withdrawal_id: str, player_id: str, amount: int, currency: str, method: str,
               provider: str) -> Step:
        step = self.gateway.payout(withdrawal_id, player_id, amount, currency, method, provider)
        self.execute(step)
        return step

    def execute(self, step: Step) -> None:
        """Start a process for each command that takes time; the rest is in the journal. A
        request's fields never change, so the step's own snapshot of the payment builds it."""
        for cmd in step.commands:
            if isinstance(cmd, CallProvider):
                self.env.process(self._call(cmd, step.payment))
            elif isinstance(cmd, InquireStatus):
                self.env.process(self._inquire(cmd, step.payment))
            elif isinstance(cmd, ScheduleTimeout):
                self.env.process(self._timer(cmd))

    # --- processes ----------------------------------------------------------------------------

    def _apply(self, payment_id: str, event: e.Event) -> None:
        try:
            self.execute(self.gateway.handle(payment_id, event))
        except DomainError as err:  # the gateway refused the event itself: a shell-level fact
            self.errors.append(f"{payment_id}: {type(event).__name__}: {err.code}")

    def _timer(self, cmd: ScheduleTimeout) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(max(cmd.at - self.env.now, 0.0))
        self.execute(self.gateway.fire(cmd.payment_id))

    def _request(self, p: Payment, key: str) -> MockRequest:
        """What every dialect client sends: the payment id as the reference (globex's
        ``order_id``, chainpay's ``metadata.paymentId``), the attempt's key."""
        inst = self.instruments.get(p.id) or Instrument()
        return MockRequest(p.id, key, p.player_id, p.amount, p.currency, p.method, "sim",
                           "payout" if p.kind == PAYOUT else "deposit", p.country, inst.card)

    def _decide(self, runtime: ProviderRuntime, req: MockRequest) -> Generator[
            simpy.Event, Any, Decision | None]:
        """Call with the dialect client's retry rule: a 429 / 503 answer is retried with the
        same key after its back-off. None: refused as in flight (409), the answer unknown."""
        decision: Decision | None = None
        for retry in range(self.max_retries + 1):
            if retry:
                yield self.env.timeout(backoff_s(retry))
            try:
                decision = runtime.handle(req, float(self.env.now))
            except DomainError:  # 409 in flight, 422 reused: the answer is unknown
                return None
            if decision.processed and decision.provider_ref not in self._planned:
                self._planned.add(decision.provider_ref)  # a replay does not re-send webhooks
                self._plan(runtime.name, decision.webhooks)
            if retry == self.max_retries or _status(decision) not in RETRY_STATUSES:
                break
            yield self.env.timeout(decision.latency)  # the refusal arrives, then the back-off
        return decision

    def _call(self, cmd: CallProvider, p: Payment | None) -> Generator[simpy.Event, Any, None]:
        runtime = self.runtimes.get(cmd.provider)
        if runtime is None:
            self._apply(cmd.payment_id, e.ProviderFailed(cmd.attempt, "no_client"))
            return
        p = p or self.gateway.payment(cmd.payment_id)
        start = float(self.env.now)
        decision = yield from self._decide(runtime, self._request(p, cmd.idempotency_key))
        event = yield from self._answer(cmd.attempt, decision)
        self.calls.append((cmd.provider, start, float(self.env.now), type(event).__name__))
        self._apply(cmd.payment_id, event)

    def _answer(self, attempt: int, decision: Decision | None) -> Generator[simpy.Event, Any, e.Event]:
        """The client's conclusion, when it reaches it: at its timeout, or with the answer."""
        if decision is not None and decision.latency >= self.client_timeout_s:
            yield self.env.timeout(self.client_timeout_s)
            return e.ProviderTimedOut(attempt)
        if decision is not None:
            yield self.env.timeout(decision.latency)
        return client_event(decision, attempt)

    def _inquire(self, cmd: InquireStatus, p: Payment | None) -> Generator[simpy.Event, Any, None]:
        runtime = self.runtimes.get(cmd.provider)
        if runtime is None:
            return
        if cmd.provider_ref is None:  # replay the call with the same key
            p = p or self.gateway.payment(cmd.payment_id)
            decision = yield from self._decide(runtime, self._request(p, cmd.idempotency_key))
            # a replay whose first answer is out comes back at once (the provider's cache),
            # and says what the first answer said, as the live client's inquiry reads it
            reply = client_event(decision, cmd.attempt)
            polled = (e.StatusPolled(reply.outcome, reply.provider_ref, reply.decline_code,
                                     reply.raw_code, cmd.attempt)
                      if isinstance(reply, e.ProviderReplied)
                      else e.StatusPolled(e.UNKNOWN, attempt=cmd.attempt))
        else:
            yield self.env.timeout(runtime.profile.compiled.latency(0.5))
            decision = runtime.records.get(cmd.provider_ref)
            polled = (status(decision, float(self.env.now), cmd.attempt) if decision is not None
                      else e.StatusPolled(e.NOT_FOUND, cmd.provider_ref, attempt=cmd.attempt))
        self._apply(cmd.payment_id, polled)

    def _plan(self, provider: str, planned: tuple[Planned, ...]) -> None:
        for item in planned:
            self.env.process(self._deliver(provider, item))

    def _deliver(self, provider: str, item: Planned) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(max(item.deliver_at - self.env.now, 0.0))
        ev = item.event
        self.deliveries += 1
        self.execute(self.gateway.webhook(e.WebhookReceived(
            ev.type, ev.id, ev.provider_ref, provider, ev.reference, ev.sequence,
            {**ev.data, "raw_code": ev.data["decline_code"]} if ev.data.get("decline_code")
            else dict(ev.data))))


def client_event(d: Decision | None, attempt: int) -> e.Event:
    """What the dialect client makes of a decision (its fault map, ``providers/base.py``):
    an answer still refused after the retries failed; a lost answer, or a 409 while the
    first call runs (None), is an unknown outcome; anything else is the reply."""
    if d is None or d.fault in RESPONSE_LOST:
        return e.ProviderTimedOut(attempt)
    status = _status(d)
    if status in RETRY_STATUSES:
        return e.ProviderFailed(attempt, f"http_{status}")
    return replied(d, attempt)


def _status(d: Decision) -> int:
    """The HTTP status the call was refused with (429, 503), or 0: answered or lost."""
    return FAULT_STATUS.get(d.fault, 0) if d.fault else 0


def replied(d: Decision, attempt: int) -> e.ProviderReplied:
    """The canonical reply a dialect client would have parsed from this decision."""
    x = d.extra
    return e.ProviderReplied(attempt, d.outcome, d.provider_ref,
                             d.decline_code if d.outcome == DECLINED else None,
                             d.decline_code if d.outcome == DECLINED else None,
                             confirmations_required=x.get("confirmations_required"),
                             amount_due=x.get("due"))


def status(d: Decision, now: float, attempt: int = 0) -> e.StatusPolled:
    outcome = d.outcome_at(now)
    if outcome not in (APPROVED, DECLINED, e.PENDING, e.EXPIRED):
        outcome = e.UNKNOWN
    code = d.decline_code if outcome == DECLINED else None
    return e.StatusPolled(outcome, d.provider_ref, code, code, attempt)


__all__ = ["SimClock", "SimShell", "client_event", "replied", "status"]
