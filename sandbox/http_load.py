"""A lean closed-loop HTTP/1.1 client for benchmarks: ``users`` keep-alive connections,
each sending its next request as soon as it has read the previous answer.

``pgbench`` is a small C client. Locust's ``FastHttpUser`` spends about 0.2 ms of CPU
per request, which on a 2-core machine shared with the server and the database is a
sixth of the machine, so a bench that drives the wallet only with Locust charges the
wallet for its load generator. This client costs about 0.06 ms per request (one
pre-formatted request, one read of the head and the declared body); ``sandbox bench``
reports the wallet under it and under Locust, side by side.

Only what the wallet's bet route answers is understood: ``Content-Length`` bodies on
a connection that stays open. Anything else is a broken benchmark and raises.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

Request = Callable[[int], bytes]  # the n-th request of the run, as bytes on the wire


@dataclass(frozen=True)
class Load:
    seconds: float
    latencies_ms: list[float]  # one per answered request, in no particular order
    failures: int  # answers with a status other than 200

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds


def bet_requests(players: int, api_key: str, *, host: str = "127.0.0.1") -> Request:
    """``POST /v1/game/bet`` of 1 EUR cent by player ``b{n % players}``, each with a new
    transaction id (the same requests as ``loadtests/bench_bets.py``)."""
    prefix = uuid.uuid4().hex[:10]
    head = (f"POST /v1/game/bet HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {api_key}\r\nContent-Length: ").encode()

    def request(n: int) -> bytes:
        txn = f"{prefix}-{n}"
        body = json.dumps({"player": f"b{n % players}", "transaction_uuid": txn, "round": txn,
                           "amount": 100, "currency": "EUR"}, separators=(",", ":")).encode()
        return head + str(len(body)).encode() + b"\r\n\r\n" + body

    return request


def run(host: str, port: int, request: Request, *, users: int, seconds: float) -> Load:
    """Drive ``host:port`` for ``seconds`` from ``users`` connections (blocks)."""
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] brings it, except where it does not build
        return asyncio.run(_run(host, port, request, users, seconds))
    return uvloop.run(_run(host, port, request, users, seconds))


async def _run(host: str, port: int, request: Request, users: int, seconds: float) -> Load:
    numbers = itertools.count()
    latencies: list[float] = []
    began = time.perf_counter()
    stop = began + seconds
    failures = await asyncio.gather(
        *(_connection(host, port, request, numbers, stop, latencies) for _ in range(users)))
    return Load(time.perf_counter() - began, latencies, sum(failures))


async def _connection(host: str, port: int, request: Request, numbers: itertools.count[int],
                      stop: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    failures = 0
    try:
        while (sent := time.perf_counter()) < stop:
            writer.write(request(next(numbers)))
            head = await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(_content_length(head))
            latencies.append((time.perf_counter() - sent) * 1000)
            failures += head[9:12] != b"200"
    finally:
        writer.close()
    return failures


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError(f"an answer without Content-Length: {head[:200]!r}")
