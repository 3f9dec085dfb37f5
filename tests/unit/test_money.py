from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.domain.errors import InvalidAmount, UnknownCurrency
from wallet.domain.money import EXPONENTS, Money, format_minor, minor_units, parse_money


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.34 EUR", Money(1234, "EUR")),
        ("12 EUR", Money(1200, "EUR")),
        ("500 JPY", Money(500, "JPY")),
        ("1.234 KWD", Money(1234, "KWD")),
        ("0.00000001 BTC", Money(1, "BTC")),
        ("1 ETH", Money(10**18, "ETH")),
        ("2.5 USDT", Money(2_500_000, "USDT")),
    ],
)
def test_parse_uses_currency_exponent(text: str, expected: Money) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    ("text", "error", "fragment"),
    [
        ("12.345 EUR", InvalidAmount, "more than 2 decimal places"),
        ("1.5 JPY", InvalidAmount, "more than 0 decimal places"),
        ("-5 EUR", InvalidAmount, "must not be negative"),
        ("5 XYZ", UnknownCurrency, "unknown currency"),
        ("abc EUR", InvalidAmount, "not a decimal"),
        ("NaN EUR", InvalidAmount, "not a finite"),
        ("12.34", InvalidAmount, "expected"),
    ],
)
def test_parse_errors_are_clear(text: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        parse_money(text)


def test_negative_allowed_only_when_asked() -> None:
    assert parse_money("-5 EUR", allow_negative=True) == Money(-500, "EUR")


def test_floats_are_refused_everywhere() -> None:
    with pytest.raises(InvalidAmount, match="floats"):
        minor_units(12.34, "EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount, match="integer minor units"):
        Money(12.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money(True, "EUR")  # type: ignore[arg-type]


def test_arithmetic_refuses_mixed_currencies() -> None:
    assert Money(5, "EUR") + Money(7, "EUR") == Money(12, "EUR")
    with pytest.raises(InvalidAmount, match="cannot mix"):
        Money(5, "EUR") + Money(5, "USD")


@given(st.sampled_from(sorted(EXPONENTS)), st.integers(min_value=-(2**63 - 1), max_value=2**63 - 1))
def test_format_then_parse_round_trips(currency: str, amount: int) -> None:
    text = f"{format_minor(amount, currency)} {currency}"
    assert parse_money(text, allow_negative=True) == Money(amount, currency)
    assert "E" not in text.split(maxsplit=1)[0]  # never scientific notation


@given(st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=0, max_value=10**9))
def test_three_places_only_parse_for_three_place_currencies(value: Decimal) -> None:
    exact_cents = value == value.quantize(Decimal("0.01"))
    if exact_cents:
        assert minor_units(str(value), "EUR") == int(value * 100)
    else:
        with pytest.raises(InvalidAmount):
            minor_units(str(value), "EUR")
    assert minor_units(str(value), "KWD") == int(value * 1000)


def test_amounts_beyond_64_bits_are_refused() -> None:
    with pytest.raises(InvalidAmount, match="64-bit"):
        parse_money("10 ETH")
    assert parse_money("9 ETH") == Money(9 * 10**18, "ETH")
    with pytest.raises(InvalidAmount, match="64-bit"):
        Money(2**63, "EUR")
