"""``Command.payload`` is hashed into every audit entry and idempotency fingerprint, so its
shortcut for flat commands must give exactly what ``dataclasses.asdict`` gives, for every
command type and any values it accepts."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing

from hypothesis import assume, given
from hypothesis import strategies as st

from wallet.domain import commands as c
from wallet.domain.audit import canonical
from wallet.domain.errors import InvalidInput

COMMANDS = sorted(c.Command.__subclasses__(), key=lambda cls: cls.__name__)
IDS = st.text(st.characters(codec="ascii", categories=["L", "N", "P"], exclude_characters=":"),
              min_size=1, max_size=12)


def value_for(name: str, hint: typing.Any) -> st.SearchStrategy[typing.Any]:
    if isinstance(hint, types.UnionType):  # X | None
        base = next(h for h in typing.get_args(hint) if h is not type(None))
        return st.none() | value_for(name, base)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(0 if name == "fee" else 1, 10**15)
    if name.endswith("currency"):
        return st.sampled_from(["EUR", "USD", "JPY", "BTC"])
    if name == "rate":
        return st.sampled_from(["1", "0.92", "151.3"])
    return IDS


def command(cls: type[c.Command]) -> st.SearchStrategy[c.Command]:
    hints = typing.get_type_hints(cls)
    return st.fixed_dictionaries(
        {f.name: value_for(f.name, hints[f.name]) for f in dataclasses.fields(cls)}
    ).map(lambda kw: _build(cls, kw))


def _build(cls: type[c.Command], kw: dict[str, typing.Any]) -> c.Command | None:
    try:
        return cls(**kw)
    except InvalidInput:  # a combination the command refuses (e.g. the same currency twice)
        return None


@given(st.sampled_from(COMMANDS).flatmap(command))
def test_payload_is_asdict_for_every_command(cmd: c.Command | None) -> None:
    assume(cmd is not None)
    assert cmd is not None
    assert cmd.payload() == dataclasses.asdict(cmd)
    assert canonical(cmd.payload()) == canonical(dataclasses.asdict(cmd))


def test_every_command_type_is_covered() -> None:
    assert len(COMMANDS) >= 19
    assert c.OpenPlayer in COMMANDS and c.PlaceBet in COMMANDS  # the enum field and the hot path
