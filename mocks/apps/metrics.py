"""Prometheus ``/metrics`` for the mock providers' root app.

Request counts and latency come from a middleware; what each provider decided, the
webhooks it sent and those still queued are read from the providers' own state at
scrape time, so the request path pays nothing for them. A registry per app: two
stacks in one process (tests, live runs) never share counters.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client import Histogram as PromHistogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mocks.apps.base import MockContext


class ProviderState(Collector):
    """Decisions by outcome, webhook attempts by HTTP status, queued deliveries."""

    def __init__(self, contexts: Mapping[str, MockContext]) -> None:
        self.contexts = contexts

    def collect(self) -> Iterator[Metric]:
        decided = CounterMetricFamily("mock_decisions", "Calls a provider acted on, by outcome",
                                      labels=["provider", "outcome"])
        sent = CounterMetricFamily("mock_webhook_attempts", "Webhook POSTs, by response status",
                                   labels=["provider", "status"])
        queued = GaugeMetricFamily("mock_webhooks_pending", "Deliveries planned or in flight",
                                   labels=["provider"])
        for name, ctx in sorted(self.contexts.items()):
            for outcome, n in sorted(Counter(str(d.outcome) for d in
                                             ctx.runtime.records.decisions()).items()):
                decided.add_metric([name, outcome], n)
            log = list(ctx.dispatcher.log)
            for status, n in sorted(Counter(str(a.status or "error") for a in log).items()):
                sent.add_metric([name, status], n)
            queued.add_metric([name], ctx.dispatcher.pending)
        yield from (decided, sent, queued)


def install(root: FastAPI, contexts: Mapping[str, MockContext]) -> CollectorRegistry:
    """Add ``GET /metrics`` and request counting to ``root`` (mounted providers included)."""
    registry = CollectorRegistry()
    requests = PromCounter("mock_http_requests", "Requests, by provider and status",
                           ["provider", "status"], registry=registry)
    seconds = PromHistogram("mock_http_request_duration_seconds", "Wall time to answer",
                            ["provider"], registry=registry)
    registry.register(ProviderState(contexts))

    root.add_middleware(_Observe, contexts=contexts, requests=requests, seconds=seconds)

    @root.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry


class _Observe:
    """Pure ASGI (not BaseHTTPMiddleware): the mocks' connection-reset fault raises in the
    middle of a response, and that must reach the client as a reset, not a 500."""

    def __init__(self, app: ASGIApp, *, contexts: Mapping[str, MockContext],
                 requests: PromCounter, seconds: PromHistogram) -> None:
        self.app, self.contexts, self.requests, self.seconds = app, contexts, requests, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        first = str(scope.get("path", "")).strip("/").split("/", 1)[0]
        provider = first if first in self.contexts else "-"
        status = ["error"]
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.requests.labels(provider, status[0]).inc()
            self.seconds.labels(provider).observe(time.perf_counter() - started)
