"""Hypothesis values for fuzzing the HTTP APIs: any JSON, and per field kind the values a
strict schema must refuse (a lax one would coerce some of them and let money move)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

from wallet.domain.money import EXPONENTS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
wrong_shape = (
    st.booleans()
    | st.floats(allow_nan=False)
    | st.lists(json_values, max_size=3)
    | st.dictionaries(st.text(max_size=5), json_values, max_size=3)
)
_bad_id = st.sampled_from(["", "a:b", "x" * 201, "nul\x00", "tab\there"]) | st.integers()
_coercible = st.sampled_from([True, "100", 100.0, "1e2", " 100", [100]])  # a lax schema would take these
BAD: dict[str, st.SearchStrategy[Any]] = {
    "amount": _coercible
    | st.integers(max_value=0)
    | st.integers(min_value=2**63, max_value=2**80)
    | st.text(max_size=8)
    | st.none(),
    "fee": _coercible
    | st.integers(max_value=-1)
    | st.integers(min_value=2**63, max_value=2**80)
    | st.text(max_size=8)
    | st.none(),
    "id": _bad_id | st.none(),
    "opt_id": _bad_id,
    "currency": st.none() | st.integers() | st.text(max_size=6).filter(lambda s: s not in EXPONENTS),
    "text": st.none() | st.integers() | st.sampled_from(["", "x" * 501, "bell\x07"]),
    "rate": st.none()
    | st.integers()
    | st.text(max_size=12).filter(
        lambda s: not re.fullmatch(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,18})?", s) or s.strip("0.") == ""
    ),
    "mult": _coercible
    | st.integers(min_value=201)
    | st.integers(max_value=-1)
    | st.text(max_size=4)
    | st.none(),
}
