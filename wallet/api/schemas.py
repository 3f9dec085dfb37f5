"""Request and response bodies.

Requests are strict: unknown or read-only fields (``balance``) are refused with
``extra="forbid"``, amounts are ``StrictInt`` minor units (a float, a bool or a
numeric string is an error, never a rounding), ids may not hold ':' or control
characters (the ledger builds account ids with ':'; databases choke on NUL).
Amounts are capped at 2**63-1 so every value fits a signed 64-bit column.
Responses mirror the service layer's results and may carry extra keys.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from wallet.domain.players import Funding

MAX_AMOUNT = 2**63 - 1
ID_PATTERN = r"^[^:\x00-\x1f\x7f]+$"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"

Id = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200, pattern=ID_PATTERN)]
Text = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=500, pattern=TEXT_PATTERN)]
Currency = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{3,5}$")]
Amount = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT, description="integer minor units")]
NonNegative = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT, description="integer minor units")]
Rate = Annotated[str, StringConstraints(strict=True, pattern=r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,18})?$")]

PlayerIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=ID_PATTERN)]
CurrencyPath = Annotated[str, Path(pattern=r"^[A-Z]{3,5}$")]
WithdrawalIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=ID_PATTERN)]
PaymentIdPath = Annotated[str, Path(min_length=1, max_length=200, pattern=ID_PATTERN)]
TxnIdPath = Annotated[str, Path(min_length=1, max_length=450, pattern=TEXT_PATTERN)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- players --------------------------------------------------------------------------


class OpenPlayerIn(Body):
    player_id: Id
    currency: Currency
    country: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{2}$")] | None = None
    funding: Funding = Funding.CASH_FIRST


class OpenCurrencyIn(Body):
    currency: Currency


class LockIn(Body):
    reason: Text


class TokenIn(Body):
    ttl_seconds: Annotated[StrictInt, Field(ge=1, le=86_400)] | None = None


# --- money ----------------------------------------------------------------------------


class DepositIn(Body):
    player_id: Id
    provider: Id
    payment_id: Id
    amount: Amount
    currency: Currency
    fee: NonNegative = 0


class WithdrawalIn(Body):
    withdrawal_id: Id
    amount: Amount
    currency: Currency
    provider: Id


class PayoutIn(WithdrawalIn):
    fee: NonNegative = 0


class CompleteIn(Body):
    fee: NonNegative = 0


class ReleaseIn(Body):
    reason: Text = "payout_failed"


class ReturnIn(Body):
    reason: Text = "returned"


class BonusIn(Body):
    bonus_id: Id
    amount: Amount
    currency: Currency
    wagering_multiplier: Annotated[StrictInt, Field(ge=0, le=200)] = 30


class ChargebackIn(Body):
    provider: Id
    payment_id: Id
    amount: Amount
    fee: NonNegative = 0
    reason: Text = "fraud"


class RefundIn(Body):
    provider: Id
    payment_id: Id
    refund_id: Id
    amount: Amount


class ConversionIn(Body):
    conversion_id: Id
    from_currency: Currency
    to_currency: Currency
    amount: Amount
    rate: Rate = Field(description="units of to_currency per unit of from_currency, decimal string")


class ReversalIn(Body):
    reason: Text


class WriteOffIn(Body):
    write_off_id: Id
    currency: Currency


# --- game wallet (Hub88-style) --------------------------------------------------------------


class GameBalanceIn(Body):
    player: Id
    currency: Currency
    request_uuid: Id | None = None


class BetIn(Body):
    player: Id
    transaction_uuid: Id
    round: Id
    amount: Amount
    currency: Currency
    game_code: Id | None = None
    request_uuid: Id | None = None


class WinIn(Body):
    player: Id
    transaction_uuid: Id
    reference_transaction_uuid: Id
    round: Id
    amount: NonNegative = Field(description="0 closes a losing round")
    currency: Currency
    game_code: Id | None = None
    request_uuid: Id | None = None


class RollbackIn(Body):
    player: Id
    transaction_uuid: Id
    reference_transaction_uuid: Id
    round: Id | None = None
    currency: Currency | None = None
    game_code: Id | None = None
    request_uuid: Id | None = None


# --- responses ---------------------------------------------------------------------------------


class BalanceOut(BaseModel):
    currency: str
    available: int
    bonus: int
    pending: int
    receivable: int
    total: int


class OperationOut(BaseModel):
    """The service layer's answer; operation-specific keys ride along."""

    model_config = ConfigDict(extra="allow")

    player_id: str | None = None
    transaction_id: str | None = None
    balance: BalanceOut | None = None


class PlayerOut(BaseModel):
    id: str
    currencies: list[str]
    status: str
    lock_reason: str | None
    funding: str
    country: str | None
    created_at: float


class BalancesOut(BaseModel):
    player_id: str
    balances: list[BalanceOut]


class PostingOut(BaseModel):
    account: str
    amount: int
    currency: str


class TransactionOut(BaseModel):
    id: str
    kind: str
    created_at: float
    player_id: str | None
    reference: str | None
    reverses: str | None
    meta: dict[str, Any]
    postings: list[PostingOut]


class HistoryOut(BaseModel):
    items: list[TransactionOut]
    next: int | None = Field(description="pass as ?after= for the next page; null on the last")


class TokenOut(BaseModel):
    token: str
    player_id: str
    expires_at: int


class GameOut(BaseModel):
    status: str = "RS_OK"
    player: str
    currency: str
    balance: int = Field(description="playable: cash + bonus, minor units")
    cash: int
    bonus: int
    transaction_uuid: str | None = None
    transaction_id: str | None = Field(default=None, description="the wallet's ledger id")
    request_uuid: str | None = None


class AuditOut(BaseModel):
    ok: bool
    entries: int
    breaks: list[dict[str, Any]]


class LedgerOut(BaseModel):
    ok: bool
    violations: list[dict[str, Any]]


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is sent (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="stable machine-readable code: branch on this")
    field: str | None = Field(description="the offending field or header, when there is one")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries so /docs shows problem+json instead of FastAPI's default 422 shape."""
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {s: {"model": Problem, "content": {"application/problem+json": ref}} for s in statuses}


# --- gateway ----------------------------------------------------------------------------

Country = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{2}$")]
Method = Annotated[str, StringConstraints(strict=True, pattern=r"^(card|ewallet|bank|crypto)$")]


class CardIn(Body):
    """Sandbox test cards only; the number goes to the provider and is never stored."""

    number: Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9]{12,19}$")]
    exp_month: Annotated[StrictInt, Field(ge=1, le=12)] = 12
    exp_year: Annotated[StrictInt, Field(ge=2000, le=2100)] = 2030
    cvc: Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9]{3,4}$")] = "123"
    holder_name: Annotated[str, StringConstraints(max_length=100, pattern=TEXT_PATTERN)] = ""


class DepositIntentIn(Body):
    payment_id: Id
    player_id: Id
    amount: Amount
    currency: Currency
    method: Method
    country: Country | None = None
    provider: Id | None = None  # pin a provider; None lets the router choose
    card: CardIn | None = None


class PayoutIntentIn(Body):
    withdrawal_id: Id
    player_id: Id
    amount: Amount
    currency: Currency
    method: Method
    provider: Id
    party_name: Annotated[str, StringConstraints(max_length=140, pattern=TEXT_PATTERN)] = ""
    iban: Annotated[str, StringConstraints(max_length=34, pattern=r"^[A-Z0-9]*$")] = ""


class ControlsIn(Body):
    decision: Annotated[str, StringConstraints(pattern=r"^(allow|review|block|step_up)$")]
    reason: Annotated[str, StringConstraints(max_length=200, pattern=TEXT_PATTERN)] = ""


class PaymentOut(BaseModel):
    payment_id: str
    kind: str
    player_id: str
    state: str
    amount: int
    currency: str
    method: str
    provider: str | None
    attempt: int
    tried: list[str]
    credited: int
    last_decline: str | None
    duplicate: bool = False


class JournalOut(BaseModel):
    seq: int
    at: float
    event: str
    state_from: str
    state_to: str
    detail: dict[str, Any]
    commands: list[str]
    anomalies: list[list[str]]
