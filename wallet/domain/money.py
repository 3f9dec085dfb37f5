"""Money as integer minor units with the currency's own exponent.

Floats never enter: amounts are ``int`` minor units, and text is parsed with
``decimal`` and refused when it has more digits than the currency allows
("12.345 EUR" is an error, not a rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from wallet.domain.errors import InvalidAmount, UnknownCurrency

# ISO 4217 exponents for the currencies a casino typically settles in, plus crypto
# assets at their on-chain precision (BTC satoshi 8, ETH wei 18, USDT 6).
EXPONENTS: Final[dict[str, int]] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "RON": 2,
    "BRL": 2,
    "MXN": 2,
    "INR": 2,
    "TRY": 2,
    "ZAR": 2,
    "NGN": 2,
    "CNY": 2,
    "HKD": 2,
    "SGD": 2,
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "VND": 0,
    "KWD": 3,
    "BHD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
    "BTC": 8,
    "ETH": 18,
    "USDT": 6,
    "TRX": 6,
}
CRYPTO: Final[frozenset[str]] = frozenset({"BTC", "ETH", "USDT", "TRX"})

# Every store must hold amounts exactly, and SQLite integers are signed 64-bit.
# (That caps one ETH posting at ~9.22 ETH in wei; a 128-bit ledger is the way past it.)
MAX_UNITS: Final[int] = 2**63 - 1


def _in_range(units: int, field: str) -> int:
    if not -MAX_UNITS <= units <= MAX_UNITS:
        raise InvalidAmount(f"{field} {units} is outside the ledger's signed 64-bit range", field=field)
    return units


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(f"unknown currency {currency!r}", field="currency") from None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units. Arithmetic only between the same currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:  # bool and float are refused alike
            raise InvalidAmount(
                f"amount must be integer minor units, got {type(self.amount).__name__}",
                field="amount",
            )
        _in_range(self.amount, "amount")
        exponent(self.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidAmount(f"cannot mix {self.currency} and {other.currency}", field="currency")

    def __str__(self) -> str:
        return f"{format_minor(self.amount, self.currency)} {self.currency}"


def minor_units(value: str | int | Decimal, currency: str, *, allow_negative: bool = False) -> int:
    """Convert a major-unit decimal ("12.34", Decimal, or whole int) to minor units.

    Refuses floats (they cannot represent cents exactly), non-numbers, more
    fractional digits than the currency has, and negatives unless allowed.
    """
    exp = exponent(currency)
    if isinstance(value, (bool, float)):
        raise InvalidAmount("floats are not accepted for money; pass a decimal string", field="amount")
    try:
        dec = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidAmount(f"not a decimal amount: {value!r}", field="amount") from None
    if not dec.is_finite():
        raise InvalidAmount(f"not a finite amount: {value!r}", field="amount")
    sign, digits, dec_exp = dec.as_tuple()
    assert isinstance(dec_exp, int)  # finite, checked above
    shift = dec_exp + exp  # exact integer arithmetic: no decimal context rounding
    mantissa = int("".join(map(str, digits)) or "0")
    if shift < 0:
        mantissa, rest = divmod(mantissa, 10**-shift)
        if rest:
            raise InvalidAmount(
                f"{value} has more than {exp} decimal places, the precision of {currency}",
                field="amount",
            )
    else:
        mantissa *= 10**shift
    units = _in_range(-mantissa if sign else mantissa, "amount")
    if units < 0 and not allow_negative:
        raise InvalidAmount(f"amount must not be negative, got {value}", field="amount")
    return units


def parse_money(text: str, *, allow_negative: bool = False) -> Money:
    """Parse "12.34 EUR" (amount, space, ISO code)."""
    parts = text.split() if isinstance(text, str) else []
    if len(parts) != 2:
        raise InvalidAmount(f"expected '<amount> <CURRENCY>', got {text!r}", field="amount")
    amount, currency = parts
    return Money(minor_units(amount, currency, allow_negative=allow_negative), currency)


def format_minor(amount: int, currency: str) -> str:
    """Render minor units as an exact major-unit decimal string ("1234" EUR -> "12.34")."""
    exp = exponent(currency)
    whole, frac = divmod(abs(amount), 10**exp)
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole}.{frac:0{exp}d}" if exp else f"{sign}{whole}"


def positive(amount: int, field: str = "amount") -> int:
    """Validate a strictly positive integer minor-unit amount."""
    if type(amount) is not int:
        raise InvalidAmount(f"{field} must be integer minor units", field=field)
    if amount <= 0:
        raise InvalidAmount(f"{field} must be positive, got {amount}", field=field)
    return _in_range(amount, field)
