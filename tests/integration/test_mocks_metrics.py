"""The mocks' root app serves Prometheus /metrics: requests by provider and status, and what
each provider decided and delivered, read from its own state at scrape time."""

from __future__ import annotations

import httpx

from mocks.apps.server import build_root
from mocks.models import ProfileFile
from tests.integration.mock_harness import QUIET
from tests.integration.test_mocks_http import ACME_AUTH, acme_body
from tests.live import serve


def test_the_mocks_expose_health_and_prometheus_metrics() -> None:
    acme = {**QUIET, "kind": "card", "approval_rate": 1.0, "three_ds": {"challenge_probability": 0}}
    pf = ProfileFile.model_validate({"seed": 3, "providers": {"acme": acme}})
    with serve(build_root(pf, time_scale=1000.0)) as url, httpx.Client(base_url=url, timeout=5) as http:
        assert http.get("/health").json()["status"] == "ok"
        r = http.post("/acme/v1/payments", json=acme_body("m-1"),
                      headers={**ACME_AUTH, "Idempotency-Key": "m-1"})
        assert r.status_code == 201
        text = http.get("/metrics").text
    assert 'mock_http_requests_total{provider="acme",status="201"} 1.0' in text
    assert 'mock_decisions_total{outcome="approved",provider="acme"} 1.0' in text
    assert 'mock_webhooks_pending{provider="acme"}' in text
