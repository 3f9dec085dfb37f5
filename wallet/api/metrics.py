"""Prometheus metrics and the request id, in one pure-ASGI middleware.

Each app owns its registry, so tests can build many apps in one process.
Requests are labelled by route template (``/v1/players/{player_id}``), never by
the raw path, which would give one time series per player.

Several worker processes (``sandbox serve --workers N``) each count only their own
requests, and a scrape reaches one of them at random. With PROMETHEUS_MULTIPROC_DIR set
(the serve command sets it to a fresh folder) prometheus-client keeps every worker's
values in files there, and ``/metrics`` answers with the sum over all workers
(``MultiProcessCollector``); a worker that exits marks itself dead.
"""

from __future__ import annotations

import atexit
import os
import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_marked_for_exit: set[int] = set()


def multiprocess_mode() -> bool:
    """prometheus-client decides this from the environment when it is imported."""
    return bool(os.environ.get(MULTIPROC_ENV))


def _mark_dead_at_exit() -> None:
    pid = os.getpid()
    if pid not in _marked_for_exit:
        _marked_for_exit.add(pid)
        atexit.register(multiprocess.mark_process_dead, pid)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        own: CollectorRegistry | None = self.registry
        if multiprocess_mode():  # values live in the shared folder; scrapes read them all
            multiprocess.MultiProcessCollector(self.registry)
            own = None
            _mark_dead_at_exit()
        self.requests = Counter(
            "wallet_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "wallet_http_request_duration_seconds",
            "HTTP request latency by route and status",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=own,
        )
        self.operations = Counter(
            "wallet_operations",
            "Wallet commands by command and outcome (ok or the error code)",
            ["command", "outcome"],
            registry=own,
        )
        self.hot_bets = Counter(
            "wallet_hot_bets",
            "Bets by what the hot path did: answered, or passed to the route (declined: the "
            "unit of work's case; skipped: not a plain well-formed bet; error: the database failed)",
            ["result"],
            registry=own,
        )
        self.hot_bet_batch = Histogram(
            "wallet_hot_bet_batch_size",
            "Bets per database call on the hot path: more than one when bets arrive faster than "
            "its calls return, and share a commit",
            buckets=(1, 2, 4, 8, 16, 32),
            registry=own,
        )
        self.db_connections = Gauge(
            "wallet_db_connections_max",
            "PostgreSQL connections the server may open: each live worker's cap (store pool and "
            "bet hot path), summed; compare with the server's max_connections",
            registry=own,
            multiprocess_mode="livesum",
        )

        self.provider_calls = Histogram(
            "gateway_provider_call_duration_seconds",
            "Gateway calls to providers by provider, call and result (the event it became)",
            ["provider", "call", "result"],
            buckets=_BUCKETS,
            registry=own,
        )
        self.webhooks = Counter(
            "gateway_webhooks",
            "Provider webhooks by provider and result (applied, duplicate, rejected)",
            ["provider", "result"],
            registry=own,
        )
        self.gateway_events = Counter(
            "gateway_outcomes",
            "Payments failed (by reason) and anomalies flagged (by kind)",
            ["what", "kind"],
            registry=own,
        )

    def operation(self, command: str, outcome: str) -> None:
        self.operations.labels(command, outcome).inc()

    # the live gateway's observer ------------------------------------------------------------
    def call(self, provider: str, call: str, result: str, seconds: float) -> None:
        self.provider_calls.labels(provider, call, result).observe(seconds)

    def webhook(self, provider: str, result: str) -> None:
        self.webhooks.labels(provider, result).inc()

    def outcome(self, what: str, kind: str) -> None:
        self.gateway_events.labels(what, kind).inc()


class ObservabilityMiddleware:
    """Sets ``request.state.request_id`` (from X-Request-Id when sane), echoes it,
    refuses oversized bodies (declared or streamed) as problem+json, and records
    count and latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID_OK.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:  # raised inside the route: the handlers answer it
                raise HTTPException(413, f"body over {self.max_body} bytes")
            return message

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if _too_big(headers.get(b"content-length"), self.max_body):
                await _send_too_big(send_wrapper, self.max_body)
                return
            await self.app(scope, limited_receive, send_wrapper)
        finally:
            route = _route_label(scope)
            labels = (scope["method"], route, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)


def _route_label(scope: Scope) -> str:
    """The matched template with its router prefix. Routers may report the template
    without their prefix, so the prefix is taken from the real path (path parameters
    never contain '/', so the segment counts line up)."""
    template: Any = getattr(scope.get("route"), "path", None)
    if not isinstance(template, str):
        return "unmatched"
    real, tail = scope["path"].split("/"), template.split("/")
    return "/".join(real[: max(len(real) - len(tail) + 1, 1)]) + template


def _too_big(length: bytes | None, limit: int) -> bool:
    try:
        return length is not None and int(length) > limit
    except ValueError:
        return True


async def _send_too_big(send: Send, limit: int) -> None:
    body = (
        b'{"type":"urn:igaming-sandbox:problem:body_too_large","title":"Content Too Large",'
        b'"status":413,"detail":"body over ' + str(limit).encode() + b' bytes",'
        b'"code":"body_too_large","field":null}'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
