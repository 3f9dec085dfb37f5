"""The bet hot path reads the caller's credential from the raw ASGI headers; the route reads
it through FastAPI's security dependencies (``wallet.api.auth.principal``). For any
headers, both must pick the same credential, or the hot path could act for another key
than the route would (a client sending two keys, or an empty one first)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from wallet.api import auth
from wallet.api.hot_bets import _credential

NAMES = st.sampled_from([b"x-api-key", b"authorization", b"content-type"])
VALUES = st.sampled_from([b"", b" ", b"k1", b"k2", b"Bearer k3", b"bearer k4", b"BEARER  k5 ",
                          b"Bearer", b"Bearer ", b"Basic k6", b"Bearerk7", b" Bearer k8",
                          b"Bearer k9 k10", b"Bearer \xe9"])


def route_credential(headers: list[tuple[bytes, bytes]]) -> str | None:
    """What ``principal`` hands to ``authenticate`` for these headers."""
    seen: list[str | None] = []
    app = SimpleNamespace(state=SimpleNamespace(auth=SimpleNamespace(authenticate=seen.append)))
    request = Request({"type": "http", "headers": headers, "app": app})

    async def resolve() -> None:
        await auth.principal(request, await auth._api_key(request), await auth._bearer(request))

    asyncio.run(resolve())
    return seen[0]


@given(st.lists(st.tuples(NAMES, VALUES), max_size=4))
def test_the_hot_path_reads_the_credential_the_route_reads(headers: list[tuple[bytes, bytes]]) -> None:
    assert _credential(headers) == route_credential(headers)


def test_examples_the_two_readings_once_disagreed_on() -> None:
    """The first header of a name counts, as Starlette's ``headers.get`` has it."""
    assert _credential([(b"x-api-key", b""), (b"x-api-key", b"k2")]) is None
    assert _credential([(b"authorization", b"Bearer k1"), (b"authorization", b"Basic x")]) == "k1"
    assert _credential([(b"authorization", b"Bearer k1"), (b"x-api-key", b"k2")]) == "k2"
