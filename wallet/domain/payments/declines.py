"""One decline taxonomy, and per provider dialect a data table into it.

Routing decisions are made from the canonical entry, never from a provider's
own code: whether to cascade to another provider (``retryable``), whether a
stronger authentication could turn it around (``step_up``), and what to tell
the player. A new provider is a new table, not new ``if`` branches (the
"error-to-decision map" Hyperswitch uses for retries).

Unknown codes map to :data:`UNKNOWN_DECLINE` (hard, not retryable: retrying an
unknown refusal elsewhere risks hammering a card the issuer flagged) and are
reported by the state machine as an ``unknown_decline_code`` anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SOFT: Final = "soft"  # the player may succeed later or with a change (amount, method)
HARD: Final = "hard"  # this credential will not work
FRAUD: Final = "fraud"  # never retry anywhere; feed fraud controls
TECHNICAL: Final = "technical"  # the provider or issuer failed, not the player


@dataclass(frozen=True, slots=True)
class Decline:
    code: str
    category: str
    retryable: bool  # worth trying on ANOTHER provider (cascade)
    step_up: bool  # 3-D Secure / strong authentication could turn it around
    message: str  # safe to show the player: says nothing an attacker could use


def _d(code: str, category: str, retryable: bool, step_up: bool, message: str) -> Decline:
    return Decline(code, category, retryable, step_up, message)


_TRY_OTHER = "Your payment was declined. Please try another payment method."
_CONTACT_BANK = "Your payment was declined. Please contact your bank or use another method."

TAXONOMY: Final[dict[str, Decline]] = {d.code: d for d in (
    _d("insufficient_funds", SOFT, False, False,
       "Insufficient funds. Try a smaller amount or another payment method."),
    _d("amount_limit_exceeded", SOFT, False, False,
       "The amount exceeds your card's limit. Try a smaller amount."),
    # Generic issuer refusal: another acquirer (different country / routing) often passes it.
    _d("do_not_honor", SOFT, True, False, _CONTACT_BANK),
    _d("referral", SOFT, False, False, _CONTACT_BANK),
    _d("restricted_region", SOFT, True, False, _TRY_OTHER),
    _d("unsupported_method", SOFT, True, False, _TRY_OTHER),
    _d("authentication_required", SOFT, False, True,
       "Your bank asks you to confirm this payment. Please try again."),
    _d("consent_declined", SOFT, False, False, "The payment was not approved in your bank app."),
    _d("expired", SOFT, False, False, "The payment was not completed in time."),
    _d("underpaid", SOFT, False, False, "Less than the amount due arrived."),
    _d("three_ds_failed", HARD, False, False,
       "We could not verify your card. Please try again or use another method."),
    _d("expired_card", HARD, False, False, "Your card has expired."),
    _d("incorrect_cvc", HARD, False, False, "The security code is incorrect."),
    _d("invalid_card", HARD, False, False, "The card details are incorrect."),
    _d("gambling_mcc_blocked", HARD, False, False,
       "Your card issuer does not allow gambling payments. Please use another method."),
    _d("blocked_card", HARD, False, False, _CONTACT_BANK),
    _d("account_closed", HARD, False, False, "The receiving account is closed."),
    _d("name_mismatch", HARD, False, False, "The account holder name does not match."),
    _d("blocked_by_controls", FRAUD, False, False,
       "This payment cannot be processed. Please contact support."),
    _d("suspected_fraud", FRAUD, False, False, _CONTACT_BANK),
    _d("lost_card", FRAUD, False, False, _CONTACT_BANK),
    _d("stolen_card", FRAUD, False, False, _CONTACT_BANK),
    _d("double_spend", FRAUD, False, False, "The transaction was invalidated on the chain."),
    _d("processing_error", TECHNICAL, True, False, _TRY_OTHER),
    _d("issuer_unavailable", TECHNICAL, True, False, _TRY_OTHER),
    _d("provider_unavailable", TECHNICAL, True, False, _TRY_OTHER),  # nothing was processed
    _d("reorged_out", TECHNICAL, False, False, "The transaction was dropped from the chain."),
    _d("unknown", HARD, False, False, _TRY_OTHER),
)}
UNKNOWN_DECLINE: Final = TAXONOMY["unknown"]

# --- per dialect: the provider's code -> canonical code. Lookups lower-case the raw code. ---

_IDENTITY = {code: code for code in TAXONOMY if code != "unknown"}

ACME: Final[dict[str, str]] = {  # Stripe-like decline_code values
    **_IDENTITY,
    "card_declined": "do_not_honor", "generic_decline": "do_not_honor",
    "fraudulent": "suspected_fraud", "merchant_blacklist": "suspected_fraud",
    "pickup_card": "stolen_card", "restricted_card": "blocked_card",
    "card_not_supported": "unsupported_method", "currency_not_supported": "unsupported_method",
    "card_velocity_exceeded": "amount_limit_exceeded", "withdrawal_count_limit_exceeded":
    "amount_limit_exceeded", "call_issuer": "referral", "issuer_not_available":
    "issuer_unavailable", "try_again_later": "issuer_unavailable", "invalid_cvc":
    "incorrect_cvc", "incorrect_number": "invalid_card", "invalid_number": "invalid_card",
    "authentication_required": "authentication_required",
    "transaction_not_allowed": "gambling_mcc_blocked",
}

GLOBEX: Final[dict[str, str]] = {  # ISO 8583 response codes (field 39) as the acquirer sends them
    "01": "referral", "02": "referral", "04": "stolen_card", "05": "do_not_honor",
    "07": "stolen_card", "12": "do_not_honor", "14": "invalid_card", "41": "lost_card",
    "43": "stolen_card", "51": "insufficient_funds", "54": "expired_card",
    "55": "incorrect_cvc", "57": "gambling_mcc_blocked", "58": "unsupported_method",
    "59": "suspected_fraud", "61": "amount_limit_exceeded", "62": "restricted_region",
    "65": "authentication_required", "1a": "authentication_required", "78": "blocked_card",
    "91": "issuer_unavailable", "96": "processing_error", "n7": "incorrect_cvc",
    "r3": "three_ds_failed",
}

PAYWAVE: Final[dict[str, str]] = {  # Adyen-like refusalReason texts, plus the canonical codes
    **_IDENTITY,
    "refused": "do_not_honor", "declined non generic": "do_not_honor",
    "not enough balance": "insufficient_funds", "blocked card": "blocked_card",
    "expired card": "expired_card", "cvc declined": "incorrect_cvc", "fraud": "suspected_fraud",
    "issuer suspected fraud": "suspected_fraud", "acquirer error": "processing_error",
    "issuer unavailable": "issuer_unavailable", "authentication required":
    "authentication_required", "3d not authenticated": "three_ds_failed",
    "restricted card": "restricted_region", "transaction not permitted": "unsupported_method",
    "withdrawal amount exceeded": "amount_limit_exceeded", "cancelled": "expired",
    "shopper cancelled": "consent_declined",
}

OPENBANK: Final[dict[str, str]] = {  # upper-case reasons and ISO 20022 status reason codes
    **_IDENTITY,
    "am04": "insufficient_funds", "ac04": "account_closed", "ac06": "blocked_card",
    "ac01": "name_mismatch", "be01": "name_mismatch", "ag01": "unsupported_method",
    "am02": "amount_limit_exceeded", "ms02": "consent_declined", "ms03": "do_not_honor",
    "ff01": "processing_error", "rejected": "do_not_honor", "user_cancelled": "consent_declined",
}

CHAINPAY: Final[dict[str, str]] = {  # BTCPay invoice exceptions and invalid reasons
    **_IDENTITY,
    "invalid": "double_spend", "paidpartial": "underpaid", "paid_partial": "underpaid",
    "marked": "processing_error",
}

TABLES: Final[dict[str, dict[str, str]]] = {
    "acme": ACME, "globex": GLOBEX, "paywave": PAYWAVE, "openbank": OPENBANK,
    "chainpay": CHAINPAY,
}


@dataclass(frozen=True, slots=True)
class Classified:
    decline: Decline
    raw: str
    known: bool


def dialect_of(provider: str) -> str:
    """``chainpay-btc`` speaks chainpay; a profile may add ``acme-eu`` without code."""
    return provider.split("-", 1)[0]


def classify(dialect: str, raw: str | None) -> Classified:
    """The canonical decline for a provider code; unknown codes get the safe default."""
    raw = raw or ""
    code = TABLES.get(dialect_of(dialect), _IDENTITY).get(raw.strip().lower())
    if code is None:
        return Classified(UNKNOWN_DECLINE, raw, False)
    return Classified(TAXONOMY[code], raw, True)


def canonical(code: str | None) -> Decline:
    """The entry for a canonical code (what events carry); unknown codes -> safe default."""
    return TAXONOMY.get(code or "unknown", UNKNOWN_DECLINE)
