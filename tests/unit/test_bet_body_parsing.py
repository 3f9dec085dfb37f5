"""The bet hot path parses bodies with ``BetIn.model_validate_json``; the FastAPI route
parses JSON first and validates the result. For any body, the hot path must accept only
what the route accepts, with the same values, or it would answer bets the route refuses."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from wallet.api.schemas import BetIn

SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
           | st.sampled_from(["p1", "b-1", "EUR", "eur", "100", " 1", "r:1", "1e3"]))
VALUES = SCALARS | st.lists(SCALARS, max_size=2) | st.dictionaries(st.text(max_size=3), SCALARS, max_size=2)
GOOD = {"player": "p1", "transaction_uuid": "t1", "round": "r1", "amount": 100, "currency": "EUR"}
FIELDS = [*GOOD, "game_code", "request_uuid", "extra"]


def parse(validate: Any, raw: Any) -> BetIn | None:
    try:
        return validate(raw)
    except ValidationError:
        return None


@settings(suppress_health_check=[HealthCheck.too_slow])  # a loaded machine is no failure here
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4), st.booleans())
def test_json_mode_accepts_exactly_what_the_route_accepts(changes: dict[str, Any], drop: bool) -> None:
    body = {**GOOD, **changes}
    if drop and changes:
        body.pop(next(iter(changes)))
    raw = json.dumps(body)
    hot = parse(BetIn.model_validate_json, raw)
    route = parse(BetIn.model_validate, json.loads(raw))
    assert hot == route
