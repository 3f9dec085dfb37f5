"""Cascading: whether a failed attempt should be retried on another provider.

The decline taxonomy (which codes are worth another acquirer) lives with the
gateway; this module only applies the bounds every cascade must respect:
never the same provider twice for one payment, never more than
``max_attempts``, never after a hard decline or a success.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from wallet.domain.routing.base import Candidate, Outcome, RouteRequest, eligible
from wallet.domain.routing.params import positive_int


@dataclass(frozen=True, slots=True)
class Retry:
    """The next attempt's request (None: stop) and why."""

    request: RouteRequest | None
    reason: str

    @property
    def retry(self) -> bool:
        return self.request is not None


def next_attempt(request: RouteRequest, provider: str, outcome: Outcome, *, decline_retryable: bool,
                 max_attempts: int, error_retryable: bool = True,
                 candidates: Sequence[Candidate] | None = None) -> Retry:
    """Decide on a retry after ``provider`` answered ``outcome`` for ``request``.

    ``decline_retryable`` is the gateway's verdict on this soft decline's code
    (e.g. "do not honor" yes, "insufficient funds" usually no). Errors retry
    unless ``error_retryable`` is False: pass False when the provider may have
    processed the payment (a timeout, a lost response) until its status is
    known, or the customer may be charged twice. With ``candidates``, a retry
    is refused when no other eligible provider is left.
    """
    positive_int("max_attempts", max_attempts)
    if outcome is Outcome.SUCCESS:
        return Retry(None, f"{provider} approved on attempt {request.attempt}")
    if outcome is Outcome.HARD_DECLINE:
        return Retry(None, f"{provider} hard decline: final, no cascade")
    if outcome is Outcome.SOFT_DECLINE and not decline_retryable:
        return Retry(None, f"{provider} soft decline not retryable elsewhere")
    if outcome is Outcome.ERROR and not error_retryable:
        return Retry(None, f"{provider} error may have been processed: no cascade until its status is known")
    what = outcome.value.replace("_", " ")
    if request.attempt >= max_attempts:
        return Retry(None, f"{provider} {what}: attempt {request.attempt} of {max_attempts}, "
                           "giving up")
    nxt = replace(request, attempt=request.attempt + 1, tried=request.tried | {provider})
    if candidates is not None:
        left = eligible(nxt, candidates)
        if not left:
            return Retry(None, f"{provider} {what}: no other eligible provider left")
        names = ", ".join(c.name for c in left)
        return Retry(nxt, f"{provider} {what}: cascade to attempt {nxt.attempt} among {names}")
    return Retry(nxt, f"{provider} {what}: cascade to attempt {nxt.attempt}, excluding "
                      f"{', '.join(sorted(nxt.tried))}")
