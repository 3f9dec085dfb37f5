"""The decline taxonomy: every code the mocks can send maps somewhere known; unknown is safe."""

from __future__ import annotations

import pytest

from mocks.apps.globex import REASON
from mocks.models.profile import DECLINE_CODES
from wallet.domain.payments.declines import (
    FRAUD,
    HARD,
    SOFT,
    TABLES,
    TAXONOMY,
    TECHNICAL,
    UNKNOWN_DECLINE,
    classify,
)


def test_every_table_targets_a_canonical_code():
    for dialect, table in TABLES.items():
        assert set(table.values()) <= set(TAXONOMY), dialect
        assert all(k == k.lower() for k in table), dialect


@pytest.mark.parametrize("dialect", ["acme", "paywave", "openbank", "chainpay"])
def test_every_mock_decline_code_is_known(dialect):
    for code in DECLINE_CODES:
        c = classify(dialect, code.upper() if dialect == "openbank" else code)
        assert c.known and c.decline.code == code, (dialect, code)


def test_globex_iso_codes_map_to_the_mock_meaning():
    for canonical_code, (iso, _) in REASON.items():
        assert classify("globex", iso).decline.code == canonical_code


@pytest.mark.parametrize(("dialect", "raw", "category", "retryable"), [
    ("globex", "51", SOFT, False), ("globex", "05", SOFT, True), ("globex", "59", FRAUD, False),
    ("globex", "96", TECHNICAL, True), ("globex", "54", HARD, False),
    ("paywave", "Not enough balance", SOFT, False), ("acme", "fraudulent", FRAUD, False),
    ("openbank", "AM04", SOFT, False), ("chainpay-btc", "double_spend", FRAUD, False),
])
def test_category_and_retry_decision(dialect, raw, category, retryable):
    d = classify(dialect, raw).decline
    assert (d.category, d.retryable) == (category, retryable)


def test_unknown_codes_are_hard_not_retryable_and_reported_as_unknown():
    c = classify("globex", "Z9")
    assert not c.known and c.decline is UNKNOWN_DECLINE and c.raw == "Z9"
    assert (c.decline.category, c.decline.retryable) == (HARD, False)
    assert classify("nobody", "do_not_honor").known is not False  # identity for unknown dialects
    assert classify("acme", None).decline is UNKNOWN_DECLINE


def test_step_up_is_offered_only_where_authentication_could_help():
    assert {d.code for d in TAXONOMY.values() if d.step_up} == {"authentication_required"}
    assert classify("globex", "1A").decline.step_up
