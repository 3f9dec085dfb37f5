"""Deliberately broken wallets and gateways: the checker is trusted only if it catches them.

Each variant is the reference with one well-known production bug put back in,
written the way it appears in real code (a handler that credits on every
notification, a retry that mints a new key, ...). ``tests/e2e`` shows every
variant is caught by at least one scenario while the reference passes them all.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sandbox.engine.sim import SimClock
from wallet.domain.commands import Command, CreditDeposit, RequestWithdrawal, ReverseTransaction, RollbackBet
from wallet.domain.errors import DomainError, InsufficientFunds
from wallet.domain.game import game_txn_id
from wallet.domain.ledger import AccountType, Transaction, TxnKind, transfer
from wallet.domain.payments import events as e
from wallet.domain.payments.commands import CallProvider
from wallet.domain.payments.flow import deposit_txn_id
from wallet.domain.payments.model import DEPOSIT, Policy
from wallet.domain.routing import Candidate, Strategy
from wallet.domain.withdrawals import Withdrawal, WithdrawalStatus
from wallet.service.clock import Clock
from wallet.service.controls import Controls
from wallet.service.gateway import Gateway, Step
from wallet.service.handlers.common import acc
from wallet.service.unit_of_work import Store, UnitOfWork
from wallet.service.wallet import Wallet

VARIANTS: dict[str, str] = {
    "reference": "the reference wallet and gateway",
    "no_webhook_dedupe": "every copy of a 'succeeded' notification credits again",
    "credit_on_pending": "a 'pending' answer is credited at once",
    "late_failure_uncredits": "a 'failed' after 'succeeded' reverses the credit",
    "reorg_ignored": "chain reorgs and invalidations are dropped",
    "retry_without_idempotency_key": "a timed-out call is re-sent with a new key",
    "rollback_before_bet_ignored": "a rollback for an unknown bet is acknowledged but not remembered",
    "non_atomic_withdrawal_hold": "the funds check and the hold are two steps, bets run in between",
}
# The library scenario that exposes each broken variant, and the check it fails there
# (tests/e2e/test_scenarios.py proves every pair; the failure notebook plots them).
CAUGHT_BY: dict[str, tuple[str, str]] = {
    "no_webhook_dedupe": ("duplicate_webhook_storm", "no_credit_without_settlement"),
    "credit_on_pending": ("lost_webhooks_polling", "no_credit_without_settlement"),
    "late_failure_uncredits": ("out_of_order_webhooks", "settled_deposits_credited"),
    "reorg_ignored": ("crypto_reorg", "no_credit_without_settlement"),
    "retry_without_idempotency_key": ("slow_psp_timeouts", "settled_deposits_credited"),
    "rollback_before_bet_ignored": ("rollback_before_bet", "no_bet_after_its_rollback"),
    "non_atomic_withdrawal_hold": ("withdrawals_racing_bets", "no_forbidden_negative_balance"),
}


class _Variant(Gateway):
    """Hooks for the broken variants; the reference gateway has none of them."""

    def _quietly(self, cmd: Command) -> None:
        """The bug's own wallet call; a refusal is ignored, as the buggy code would."""
        with contextlib.suppress(DomainError):
            self.wallet.execute(cmd)

    def _peek(self, reference: str) -> Any:
        with self.store.unit_of_work(read_only=True) as uow:
            return self._find(uow, reference)


class NoWebhookDedupe(_Variant):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._copies: Counter[str] = Counter()

    def webhook(self, event: e.WebhookReceived) -> Step:
        self._copies[event.event_id] += 1
        n = self._copies[event.event_id]
        p = self._peek(event.reference)
        if n > 1 and event.type in e.WH_SUCCEEDED and p is not None and p.kind == DEPOSIT:
            self._quietly(CreditDeposit(p.player_id, event.provider, f"{p.id}~copy{n}",
                                              p.amount, p.currency))
        return super().webhook(event)


class CreditOnPending(_Variant):
    def handle(self, payment_id: str, event: e.Event) -> Step:
        if isinstance(event, e.ProviderReplied) and event.outcome == e.PENDING:
            p = self.payment(payment_id)
            if p.kind == DEPOSIT and not p.credited:
                self._quietly(CreditDeposit(p.player_id, p.provider or "", p.id, p.amount,
                                                  p.currency))
        return super().handle(payment_id, event)


class LateFailureUncredits(_Variant):
    def webhook(self, event: e.WebhookReceived) -> Step:
        p = self._peek(event.reference)
        if event.type in e.WH_FAILED and p is not None and p.credited and not p.ever_reversed:
            self._quietly(ReverseTransaction(deposit_txn_id(p.credit_provider or "", p.id),
                                                   "provider said failed"))
        return super().webhook(event)


class ReorgIgnored(_Variant):
    def webhook(self, event: e.WebhookReceived) -> Step:
        if event.type in (e.WH_REORGED, e.WH_INVALID):
            return Step(None, duplicate=True)
        return super().webhook(event)


class RetryWithoutKey(_Variant):
    def handle(self, payment_id: str, event: e.Event) -> Step:
        if isinstance(event, e.ProviderTimedOut):
            p = self.payment(payment_id)
            if p.kind == DEPOSIT and p.attempt == event.attempt and p.provider:
                retry = CallProvider(p.id, p.provider, p.attempt, f"{p.id}-retry-{self.wallet.clock.now()}")
                return Step(p, [retry])  # "just try again": a brand-new key, a second charge
        return super().handle(payment_id, event)


class Deferring(_Variant):
    """A variant that finishes work later in virtual time and hands the step to the shell."""

    executor: Callable[[Step], None] | None = None


class NonAtomicHold(Deferring):
    """Reads the balance, then writes the hold 2 s later without looking again."""

    def payout(self, withdrawal_id: str, player_id: str, amount: int, currency: str, method: str,
               provider: str) -> Step:
        if self.wallet.balance(player_id, currency)["available"] < amount:
            raise InsufficientFunds("not enough to withdraw", field="amount")
        clock = self.wallet.clock
        assert isinstance(clock, SimClock)
        env = clock.env

        def later() -> Any:
            yield env.timeout(2.0)
            step = super(NonAtomicHold, self).payout(withdrawal_id, player_id, amount, currency,
                                                     method, provider)
            if self.executor is not None:
                self.executor(step)

        env.process(later())
        return Step(None, duplicate=True)


class UncheckedHoldWallet(Wallet):
    """The second half of the non-atomic hold: writes without checking the funds."""

    def apply(self, uow: UnitOfWork, cmd: Command, now: float, *, actor: str = "system",
              request_id: str | None = None) -> dict[str, Any]:
        if not isinstance(cmd, RequestWithdrawal):
            return super().apply(uow, cmd, now, actor=actor, request_id=request_id)
        cash = acc(AccountType.PLAYER_CASH, cmd.player_id, cmd.currency)
        hold = acc(AccountType.WITHDRAWAL_HOLD, cmd.player_id, cmd.currency)
        uow.lock_player(cmd.player_id)
        uow.post(Transaction(f"withdrawal_hold:{cmd.withdrawal_id}", TxnKind.WITHDRAWAL_HOLD,
                             transfer(cash, hold, cmd.amount, cmd.currency), now, cmd.player_id,
                             reference=cmd.withdrawal_id))
        uow.save_withdrawal(Withdrawal(cmd.withdrawal_id, cmd.player_id, cmd.currency, cmd.amount,
                                       cmd.provider, WithdrawalStatus.HELD, now, now))
        return {"withdrawal_id": cmd.withdrawal_id}


class ForgetfulRollbackWallet(Wallet):
    def apply(self, uow: UnitOfWork, cmd: Command, now: float, *, actor: str = "system",
              request_id: str | None = None) -> dict[str, Any]:
        if isinstance(cmd, RollbackBet) and uow.get_game_txn(
                game_txn_id(cmd.aggregator, cmd.bet_transaction_id)) is None:
            return {"player_id": cmd.player_id, "transaction_id": None, "tombstone": True}
        return super().apply(uow, cmd, now, actor=actor, request_id=request_id)


_GATEWAYS: dict[str, type[Gateway]] = {
    "no_webhook_dedupe": NoWebhookDedupe, "credit_on_pending": CreditOnPending,
    "late_failure_uncredits": LateFailureUncredits, "reorg_ignored": ReorgIgnored,
    "retry_without_idempotency_key": RetryWithoutKey, "non_atomic_withdrawal_hold": NonAtomicHold,
}
_WALLETS: dict[str, type[Wallet]] = {
    "rollback_before_bet_ignored": ForgetfulRollbackWallet,
    "non_atomic_withdrawal_hold": UncheckedHoldWallet,
}


def build(variant: str, store: Store, clock: Clock, candidates: Sequence[Candidate],
          strategy: Strategy, *, seed: int, policy: Policy, controls: Controls) -> Gateway:
    """The gateway (and its wallet) of ``variant`` on ``store``."""
    wallet = _WALLETS.get(variant, Wallet)(store, clock)
    cls = _GATEWAYS.get(variant, Gateway)
    return cls(wallet, candidates, strategy, seed=seed, policy=policy, controls=controls)
