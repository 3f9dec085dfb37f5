"""Domain errors, each with a stable machine-readable ``code``.

The API maps codes to HTTP statuses; the CLI prints the message with the field.
Every error is raised before anything is written, so bad input changes nothing.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class UnknownCurrency(InvalidInput):
    code = "unknown_currency"


class NotFound(DomainError):
    code = "not_found"


class PlayerNotFound(NotFound):
    code = "player_not_found"


class AccountNotFound(NotFound):
    code = "account_not_found"


class TransactionNotFound(NotFound):
    code = "transaction_not_found"


class Conflict(DomainError):
    """The request is well formed but the current state refuses it."""

    code = "conflict"


class AlreadyExists(Conflict):
    code = "already_exists"


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class PlayerLocked(Conflict):
    code = "player_locked"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class BetRolledBack(Conflict):
    """A bet arrived after a rollback for its id: the aggregator already gave up on it."""

    code = "bet_rolled_back"


class UnbalancedTransaction(DomainError):
    code = "unbalanced_transaction"


class IdempotencyKeyReused(DomainError):
    """Same key, different payload (IETF Idempotency-Key draft: 422)."""

    code = "idempotency_key_reused"


class IdempotencyInFlight(DomainError):
    """Same key while the first request is still running (IETF draft: 409)."""

    code = "idempotency_in_flight"
