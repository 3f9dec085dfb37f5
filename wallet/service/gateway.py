"""The gateway service: the payment state machine wired to the wallet, the router and a store.

Each call is one unit of work: lock the payment, feed it events, answer the
machine's ``RouteNext`` with the router, post its ``PostToLedger`` commands through
the wallet, append the journal, keep the timers, and, for a webhook, remember the
provider's event id in the wallet's idempotency table. All of it commits together
or not at all, so a duplicate webhook can never credit twice, even when two copies
race on two workers. What is left (call a provider, ask for a status, wait) goes
back to the shell as commands: the SimPy shell turns them into virtual-time
events, the live shell into HTTP calls. Neither shell holds a payment rule.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from wallet.domain import errors
from wallet.domain.commands import CompleteWithdrawal, CreditDeposit, RequestWithdrawal, check_id
from wallet.domain.idempotency import IdempotencyRecord
from wallet.domain.money import exponent, positive
from wallet.domain.payments import events as e
from wallet.domain.payments.commands import (
    CallProvider,
    FlagAnomaly,
    GatewayCommand,
    MarkFailed,
    PostToLedger,
    RouteNext,
    ScheduleTimeout,
    payment_of_key,
)
from wallet.domain.payments.declines import FRAUD, HARD, TECHNICAL, canonical
from wallet.domain.payments.journal import JournalEntry, entry
from wallet.domain.payments.machine import start, transition
from wallet.domain.payments.model import DEFAULT_POLICY, DEPOSIT, Payment, Policy
from wallet.domain.payments.states import FINAL
from wallet.domain.players import Player
from wallet.domain.routing import Candidate, Decision, Outcome, RouteRequest, Strategy
from wallet.service.controls import Controls, DefaultControls
from wallet.service.unit_of_work import RetryableStoreError, UnitOfWork
from wallet.service.wallet import Wallet

METHODS: Final = frozenset({"card", "ewallet", "bank", "crypto"})
INBOX_SCOPE: Final = "webhook:"
# Longest provider retry window we know (Adyen-style: up to 30 days) plus margin.
INBOX_RETENTION_S: Final = 35 * 86_400.0
CALL_TIMER: Final = "call:"  # a provider call that never reported back (the shell died)
LEDGER_REFUSED: Final = "ledger_refused"
UNKNOWN_PAYMENT: Final = "unknown_payment"


@dataclass(slots=True)
class Step:
    """What one gateway call did: the payment afterwards (None: an orphan webhook) and the
    commands the shell must carry out (CallProvider, InquireStatus, ScheduleTimeout,
    MarkFailed, FlagAnomaly)."""

    payment: Payment | None
    commands: list[GatewayCommand] = field(default_factory=list)
    duplicate: bool = False  # nothing was applied: a replayed request or webhook


class _Refused(Exception):
    def __init__(self, index: int, error: errors.DomainError) -> None:
        self.index, self.error = index, error


@dataclass(slots=True)
class _Work:
    """One unit's scratch: journal entries, ledger commands, and commands for the shell."""

    now: float
    skip: dict[int, errors.DomainError]
    entries: list[JournalEntry] = field(default_factory=list)
    ledger: list[PostToLedger] = field(default_factory=list)
    shell: list[GatewayCommand] = field(default_factory=list)


class Gateway:
    def __init__(self, wallet: Wallet, candidates: Sequence[Candidate], strategy: Strategy, *,
                 seed: int = 0, policy: Policy = DEFAULT_POLICY, controls: Controls | None = None,
                 call_timeout_s: float = 60.0, max_attempts: int = 8) -> None:
        self.wallet = wallet
        self.store = wallet.store
        self.candidates = list(candidates)
        self._by_name = {c.name: c for c in self.candidates}
        self.strategy = strategy
        self.seed = seed
        self.policy = policy
        self.controls = controls or DefaultControls()
        self.call_timeout_s = call_timeout_s
        self.max_attempts = max_attempts

    # --- requests ---------------------------------------------------------------------------

    def deposit(self, payment_id: str, player_id: str, amount: int, currency: str, method: str,
                *, country: str = "", bin: str = "", provider: str | None = None) -> Step:
        """Start a deposit; the same request again replays (changes nothing)."""
        event = e.DepositRequested(payment_id, player_id, amount, currency, method, provider,
                                   None, country, bin)
        self._check_request(event, provider)

        def run(uow: UnitOfWork, w: _Work) -> Step:
            if (existing := uow.get_payment(payment_id)) is not None:
                return self._replayed(existing, event)
            player = self._player(uow, player_id, currency)
            p = self._start(uow, event, w)
            decision, reason = self.controls.deposit(p, player)
            self._feed(uow, p, e.ControlsDecided(decision, reason), w)
            return self._finish(uow, p, w)

        return self._unit(run)

    def payout(self, withdrawal_id: str, player_id: str, amount: int, currency: str, method: str,
               provider: str) -> Step:
        """Hold the funds (refused with nothing changed if the player cannot afford it), then
        start the payout, in one transaction."""
        event = e.PayoutRequested(withdrawal_id, player_id, amount, currency, method, provider, None)
        self._check_request(event, provider)

        def run(uow: UnitOfWork, w: _Work) -> Step:
            if (existing := uow.get_payment(withdrawal_id)) is not None:
                return self._replayed(existing, event)
            player = self._player(uow, player_id, currency)
            self.wallet.apply(uow, RequestWithdrawal(player_id, withdrawal_id, amount, currency,
                                                     provider), w.now, actor="gateway")
            p = self._start(uow, event, w)
            decision, reason = self.controls.payout(p, player)
            self._feed(uow, p, e.ControlsDecided(decision, reason), w)
            return self._finish(uow, p, w)

        return self._unit(run)

    # --- what happens next ------------------------------------------------------------------

    def handle(self, payment_id: str, event: e.Event) -> Step:
        """Feed one event (a provider's reply, a status, a controls decision, a dispute)."""
        def run(uow: UnitOfWork, w: _Work) -> Step:
            p = self._locked(uow, payment_id)
            self._feed(uow, p, event, w)
            return self._finish(uow, p, w)

        return self._unit(run)

    def webhook(self, event: e.WebhookReceived) -> Step:
        """A verified webhook. Its event id is stored in the same transaction as its effect,
        so a duplicate (even a concurrent one) is answered without being applied again."""
        scope = INBOX_SCOPE + event.provider

        def run(uow: UnitOfWork, w: _Work) -> Step:
            if event.event_id and uow.get_idempotency(scope, event.event_id) is not None:
                return Step(None, duplicate=True)
            p = self._find(uow, event.reference)
            if p is None:  # recorded and acknowledged: a retry would not find it either
                orphan = FlagAnomaly(event.reference or event.provider_ref, UNKNOWN_PAYMENT,
                                     f"{event.type} from {event.provider}")
                uow.add_journal([entry(orphan.payment_id, 0, w.now, event, "", "", [orphan])])
                step = Step(None, [orphan])
            else:
                self._feed(uow, p, event, w)
                step = self._finish(uow, p, w)
            if event.event_id:
                outcome = {"ok": {"payment_id": p.id if p else None}}
                uow.add_idempotency(IdempotencyRecord(scope, event.event_id, event.type, outcome,
                                                      w.now))
            return step

        return self._unit(run)

    def fire(self, payment_id: str) -> Step:
        """Feed every timer of the payment that is due. A timer that no longer applies is
        ignored by the machine, so firing twice (two sweepers) is harmless."""
        def run(uow: UnitOfWork, w: _Work) -> Step:
            p = self._locked(uow, payment_id)
            due = sorted(t for t in p.timers if t[0] <= w.now)
            if not due:  # already handled (a reply beat its call timer): nothing to write
                return Step(p)
            p.timers = [t for t in p.timers if t[0] > w.now]
            for _, kind in due:
                if kind.startswith(CALL_TIMER):
                    self._feed(uow, p, e.ProviderTimedOut(int(kind[len(CALL_TIMER):])), w)
                else:
                    self._feed(uow, p, e.Expired(kind), w)
            return self._finish(uow, p, w)

        return self._unit(run)

    def due(self, limit: int = 100) -> list[str]:
        with self.store.unit_of_work(read_only=True) as uow:
            return uow.due_payments(self.wallet.clock.now(), limit)

    def purge_inbox(self, retention_s: float = INBOX_RETENTION_S) -> int:
        """Forget webhook event ids older than the providers' retry windows."""
        with self.store.unit_of_work() as uow:
            n = uow.purge_idempotency(INBOX_SCOPE, self.wallet.clock.now() - retention_s)
            uow.commit()
        return n

    # --- reads ------------------------------------------------------------------------------

    def payment(self, payment_id: str) -> Payment:
        with self.store.unit_of_work(read_only=True) as uow:
            p = uow.get_payment(payment_id)
        if p is None:
            raise errors.NotFound(f"payment {payment_id} not found", field="payment_id")
        return p

    def journal(self, payment_id: str | None = None) -> list[JournalEntry]:
        with self.store.unit_of_work(read_only=True) as uow:
            return uow.journal(payment_id)

    def payments(self) -> list[Payment]:
        with self.store.unit_of_work(read_only=True) as uow:
            return list(uow.all_payments())

    def fee(self, provider: str, amount: int, currency: str) -> int:
        """The contracted fee (the candidate's schedule); reconciliation checks it against
        the provider's settlement report."""
        c = self._by_name.get(provider)
        return c.fee_for(amount, currency) if c else 0

    # --- the unit of work -------------------------------------------------------------------

    def _unit(self, run: Callable[[UnitOfWork, _Work], Step]) -> Step:
        """Run ``run`` atomically; retry lost races; on a ledger refusal roll everything back
        and run again without that posting, recording it as an anomaly (never lose the event)."""
        skip: dict[int, errors.DomainError] = {}
        for _ in range(self.max_attempts):
            w = _Work(self.wallet.clock.now(), skip)
            try:
                with self.store.unit_of_work() as uow:
                    step = run(uow, w)
                    uow.commit()
                    return step
            except RetryableStoreError:
                continue
            except _Refused as refused:
                skip[refused.index] = refused.error
        raise RetryableStoreError(f"payment still conflicting after {self.max_attempts} attempts")

    def _check_request(self, ev: e.DepositRequested | e.PayoutRequested, provider: str | None) -> None:
        """Malformed input is refused before anything is stored."""
        positive(ev.amount)
        exponent(ev.currency)
        if ev.method not in METHODS:
            raise errors.InvalidInput(f"method must be one of {sorted(METHODS)}", field="method")
        if provider is not None:
            c = self._by_name.get(provider)
            if c is None:
                raise errors.InvalidInput(f"unknown provider {provider!r}", field="provider")
            if ev.method not in c.methods or (isinstance(ev, e.DepositRequested)
                                              and ev.currency not in c.currencies):
                raise errors.InvalidInput(f"provider {provider!r} does not take {ev.method} "
                                          f"payments in {ev.currency}", field="provider")
        check_id(ev.payment_id, "payment_id")
        check_id(ev.player_id, "player_id")

    @staticmethod
    def _player(uow: UnitOfWork, player_id: str, currency: str) -> Player:
        player = uow.get_player(player_id)
        if player is None:
            raise errors.PlayerNotFound(f"player {player_id} not found", field="player_id")
        if currency not in player.currencies:
            raise errors.InvalidInput(f"player has no {currency} account", field="currency")
        return player

    @staticmethod
    def _replayed(p: Payment, ev: e.DepositRequested | e.PayoutRequested) -> Step:
        if (p.player_id, p.amount, p.currency, p.method) != (ev.player_id, ev.amount, ev.currency,
                                                             ev.method):
            raise errors.IdempotencyKeyReused(
                f"payment {p.id} exists with a different request", field="payment_id")
        return Step(p, duplicate=True)

    @staticmethod
    def _locked(uow: UnitOfWork, payment_id: str) -> Payment:
        p = uow.get_payment(payment_id, lock=True)
        if p is None:
            raise errors.NotFound(f"payment {payment_id} not found", field="payment_id")
        return p

    @staticmethod
    def _find(uow: UnitOfWork, reference: str) -> Payment | None:
        """Dialects echo our payment id, or the per-attempt key (``<id>-a<n>``)."""
        if not reference:
            return None
        p = uow.get_payment(reference, lock=True)
        if p is None and (pid := payment_of_key(reference)) != reference:
            p = uow.get_payment(pid, lock=True)
        return p

    def _start(self, uow: UnitOfWork, ev: e.DepositRequested | e.PayoutRequested,
               w: _Work) -> Payment:
        p, cmds = start(ev, w.now, self.policy)
        self._after(uow, p, ev, "", cmds, w)
        return p

    def _feed(self, uow: UnitOfWork, p: Payment, event: e.Event, w: _Work,
              **extra: Any) -> None:
        before = p.state.value
        _, cmds = transition(p, event, w.now, self.policy)
        self._after(uow, p, event, before, cmds, w, **extra)

    def _after(self, uow: UnitOfWork, p: Payment, event: e.Event, before: str,
               cmds: list[GatewayCommand], w: _Work, **extra: Any) -> None:
        w.entries.append(entry(p.id, p.version, w.now, event, before, p.state.value, cmds, **extra))
        self._observe(p, cmds, w.now)
        routes: list[RouteNext] = []
        for c in cmds:
            if isinstance(c, PostToLedger):
                w.ledger.append(c)
            elif isinstance(c, RouteNext):
                routes.append(c)
            else:
                if isinstance(c, ScheduleTimeout):
                    p.timers.append((c.at, c.kind))
                elif isinstance(c, CallProvider):
                    p.timers.append((w.now + self.call_timeout_s, f"{CALL_TIMER}{c.attempt}"))
                w.shell.append(c)
        for r in routes:
            decision = self._route(p, r, w.now)
            self._feed(uow, p, e.Routed(decision.provider), w, reason=decision.reason,
                       strategy=decision.strategy, explored=decision.explored)

    def _route(self, p: Payment, r: RouteNext, now: float) -> Decision:
        request = RouteRequest(p.id, p.amount, p.currency, p.method, p.country, p.bin,
                               attempt=p.attempt + 1, tried=frozenset(r.exclude))
        rng = random.Random(f"{self.seed}:route:{p.id}:{p.attempt + 1}")
        return self.strategy.choose(request, self.candidates, rng, now)

    def _observe(self, p: Payment, cmds: Iterable[GatewayCommand], now: float) -> None:
        """Tell the router how the current attempt ended, once, when the machine decides it:
        a credit, a cascade after a decline, or a failure. Learning only from what it saw."""
        if p.kind != DEPOSIT or not p.attempt or p.reported >= p.attempt:
            return
        outcome: Outcome | None = None
        for c in cmds:
            if isinstance(c, PostToLedger) and isinstance(c.command, CreditDeposit):
                outcome = Outcome.SUCCESS if c.command.provider == p.provider else None
            elif (isinstance(c, RouteNext) and c.reason != "initial") or isinstance(c, MarkFailed):
                category = canonical(c.reason).category
                outcome = (Outcome.ERROR if category == TECHNICAL else
                           Outcome.HARD_DECLINE if category in (HARD, FRAUD) else
                           Outcome.SOFT_DECLINE)
        if outcome is not None and p.provider:
            p.reported = p.attempt
            request = RouteRequest(p.id, p.amount, p.currency, p.method, p.country, p.bin,
                                   attempt=p.attempt, tried=frozenset(p.tried[:-1]))
            self.strategy.observe(p.provider, request, outcome, now)

    def _finish(self, uow: UnitOfWork, p: Payment, w: _Work) -> Step:
        """Post the ledger commands (fees from the contract), then save payment and journal."""
        for i, post in enumerate(w.ledger):
            cmd = self._with_fee(post.command, p)
            if i in w.skip:
                err = w.skip[i]
                flag = FlagAnomaly(p.id, LEDGER_REFUSED, f"{cmd.action}: {err.code}: {err.message}")
                w.shell.append(flag)
                last = w.entries[-1]
                w.entries[-1] = replace(last, anomalies=(*last.anomalies, (flag.kind, flag.detail)))
                continue
            try:
                self.wallet.apply(uow, cmd, w.now, actor="gateway", request_id=p.id)
            except errors.DomainError as err:
                raise _Refused(i, err) from err
        if p.state in FINAL:
            p.timers.clear()  # the machine would ignore them: spare the sweeper
        uow.save_payment(p)
        uow.add_journal(w.entries)
        return Step(p.copy(), w.shell)

    def _with_fee(self, cmd: Any, p: Payment) -> Any:
        if isinstance(cmd, CreditDeposit) and not cmd.fee:
            return replace(cmd, fee=self.fee(cmd.provider, cmd.amount, cmd.currency))
        if isinstance(cmd, CompleteWithdrawal) and not cmd.fee:
            return replace(cmd, fee=self.fee(p.provider or "", p.amount, p.currency))
        return cmd

