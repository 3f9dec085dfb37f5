"""The gateway's payment state machine, sans I/O (events in, commands out).

    from wallet.domain.payments import start, transition, DepositRequested, ProviderReplied
    payment, commands = start(DepositRequested("dep-1", "u1", 2500, "EUR", "card", "acme"), now)
    payment, commands = transition(payment, ProviderReplied(1, "approved", "pay_1"), now)

Standard library and ``wallet.domain`` only; both shells (SimPy, live HTTP) drive it.
"""

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
    payment_of_key,
)
from wallet.domain.payments.declines import TAXONOMY, Classified, Decline, canonical, classify
from wallet.domain.payments.events import (
    ChargebackReceived,
    ConfirmationSeen,
    ControlsDecided,
    DepositRequested,
    Event,
    Expired,
    PayoutRequested,
    PayoutReturned,
    ProviderFailed,
    ProviderReplied,
    ProviderTimedOut,
    RefundConfirmed,
    Reorged,
    Routed,
    StatusPolled,
    WebhookReceived,
)
from wallet.domain.payments.flow import deposit_txn_id
from wallet.domain.payments.machine import start, transition
from wallet.domain.payments.model import DEFAULT_POLICY, Payment, Policy
from wallet.domain.payments.states import LEGAL, State

__all__ = [
    "DEFAULT_POLICY", "LEGAL", "TAXONOMY", "CallProvider", "ChargebackReceived", "Classified",
    "ConfirmationSeen", "ControlsDecided", "Decline", "DepositRequested", "Event", "Expired",
    "FlagAnomaly", "GatewayCommand", "InquireStatus", "MarkFailed", "Payment", "PayoutRequested",
    "PayoutReturned", "Policy", "PostToLedger", "ProviderFailed", "ProviderReplied",
    "ProviderTimedOut", "RefundConfirmed", "Reorged", "RouteNext", "Routed", "ScheduleTimeout",
    "State", "StatusPolled", "WebhookReceived", "attempt_key", "canonical", "classify",
    "deposit_txn_id", "payment_of_key", "start", "transition",
]
