"""Parameter checks for strategy constructors: every error names the parameter.

Configurations come from YAML scenarios and notebooks, so a typo or a
probability of 5 (meaning 5%) must fail loudly at construction, not skew a run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from wallet.domain.errors import InvalidInput

# RouteRequest fields a learner may keep separate statistics for (Juspay's "levels").
SEGMENT_FIELDS = ("method", "currency", "country", "bin", "attempt")


class InvalidRoutingConfig(InvalidInput, ValueError):
    """A strategy, rule or candidate was configured wrongly; ``field`` names the parameter."""

    code = "invalid_routing_config"


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRoutingConfig(f"{name} must be a finite number, got {value!r}", field=name)
    return float(value)


def probability(name: str, value: object, *, open_top: bool = False) -> float:
    """A number in [0, 1] (or [0, 1) with ``open_top``)."""
    v = _number(name, value)
    if not 0.0 <= v <= 1.0 or (open_top and v == 1.0):
        top = "1)" if open_top else "1]"
        raise InvalidRoutingConfig(f"{name} must be in [0, {top}, got {value!r} (a share, not a percent)",
                                   field=name)
    return v


def discount(name: str, value: object) -> float:
    """A discount factor in (0, 1]; 1 means no forgetting."""
    v = _number(name, value)
    if not 0.0 < v <= 1.0:
        raise InvalidRoutingConfig(f"{name} must be in (0, 1], got {value!r}", field=name)
    return v


def positive(name: str, value: object) -> float:
    v = _number(name, value)
    if v <= 0:
        raise InvalidRoutingConfig(f"{name} must be > 0, got {value!r}", field=name)
    return v


def non_negative(name: str, value: object) -> float:
    v = _number(name, value)
    if v < 0:
        raise InvalidRoutingConfig(f"{name} must be >= 0, got {value!r}", field=name)
    return v


def positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRoutingConfig(f"{name} must be an int >= 1, got {value!r}", field=name)
    return value


def strings(name: str, value: object) -> tuple[str, ...]:
    """A string or a collection of non-empty strings, as a tuple in the given order."""
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, Iterable) or not all(isinstance(i, str) and i for i in items):
        raise InvalidRoutingConfig(f"{name} must be a string or a collection of non-empty strings, "
                                   f"got {value!r}", field=name)
    return tuple(items)


def segment_fields(name: str, value: object) -> tuple[str, ...]:
    """Request fields to keep separate statistics for, e.g. ``("method", "currency")``."""
    fields = (value,) if isinstance(value, str) else value
    if not isinstance(fields, tuple | list) or not all(f in SEGMENT_FIELDS for f in fields):
        known = ", ".join(SEGMENT_FIELDS)
        raise InvalidRoutingConfig(f"{name} must list fields among {known}, got {value!r}", field=name)
    return tuple(fields)
