"""``sandbox serve --workers 2`` on PostgreSQL, for real: two uvicorn worker processes share
the port, and /metrics sums both (prometheus-client multiprocess mode), whichever worker
answers the scrape. Without it each scrape would show one worker's share at random."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sandbox.engine.servers import free_port, wait_healthy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
BIN = Path(sys.executable).parent
OPERATOR = {"X-API-Key": "dev-operator-key-INSECURE"}


def opened(text: str) -> float:
    """Requests counted for POST /v1/players with status 201, over every worker."""
    m = re.search(r'wallet_http_requests_total\{[^}]*method="POST",route="/v1/players",'
                  r'status="201"\} ([0-9.e+]+)', text)
    return float(m[1]) if m else 0.0


def test_metrics_sum_over_two_workers(pg_url, tmp_path):
    port = free_port()
    folder = tmp_path / "prom"
    folder.mkdir()
    proc = subprocess.Popen(
        [str(BIN / "sandbox"), "serve", "--db", pg_url, "--port", str(port), "--no-mocks",
         "--workers", "2"],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
        stdout=(tmp_path / "serve.log").open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(f"{url}/healthz", timeout_s=60, process=proc)
        except RuntimeError as exc:
            raise AssertionError((tmp_path / "serve.log").read_text()[-2000:]) from exc
        n = 40
        for i in range(n):  # a fresh connection each: the kernel spreads them over workers
            r = httpx.post(f"{url}/v1/players", json={"player_id": f"mw-{i}", "currency": "EUR"},
                           headers={**OPERATOR, "Idempotency-Key": f"mw-{i}"}, timeout=10)
            assert r.status_code == 201, r.text
        scrapes = [httpx.get(f"{url}/metrics", timeout=10).text for _ in range(10)]
        assert {opened(t) for t in scrapes} == {float(n)}
        writers = {p.name.rsplit("_", 1)[-1] for p in folder.glob("counter_*.db")}
        assert len(writers) >= 2, writers  # both workers counted requests
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
