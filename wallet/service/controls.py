"""The controls seam: KYC, AML and fraud decide before a provider is ever called.

A control answers ``(decision, reason)`` with a decision from
``wallet.domain.payments.events``: allow, review (wait for an operator's
``ControlsDecided``), block, or step_up (ask the provider for 3-D Secure). The
defaults here are deliberately simple; a compliance module replaces them by
implementing :class:`Controls`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from wallet.domain.payments.events import ALLOW, BLOCK, REVIEW
from wallet.domain.payments.model import Payment
from wallet.domain.players import Player

Verdict = tuple[str, str]

# EU AMLD: casinos run customer due diligence on transactions of EUR 2,000 or more
# (Directive (EU) 2015/849, art. 11(d)); the default holds such payouts for review.
PAYOUT_REVIEW_AT: Mapping[str, int] = {"EUR": 200_000, "USD": 200_000, "GBP": 200_000}


class Controls(Protocol):
    def deposit(self, payment: Payment, player: Player) -> Verdict: ...

    def payout(self, payment: Payment, player: Player) -> Verdict: ...


class DefaultControls:
    """Block a locked player (a chargeback is open); hold large payouts for review."""

    def __init__(self, payout_review_at: Mapping[str, int] = PAYOUT_REVIEW_AT) -> None:
        self.payout_review_at = dict(payout_review_at)

    def deposit(self, payment: Payment, player: Player) -> Verdict:
        if player.locked:
            return BLOCK, "blocked_by_controls"
        return ALLOW, ""

    def payout(self, payment: Payment, player: Player) -> Verdict:
        if player.locked:
            return BLOCK, "blocked_by_controls"
        limit = self.payout_review_at.get(payment.currency)
        if limit is not None and payment.amount >= limit:
            return REVIEW, f"payout of {payment.amount} {payment.currency} at or above {limit}"
        return ALLOW, ""
