"""``sandbox serve --workers 2`` on PostgreSQL, for real: two uvicorn worker processes share
the port, and /metrics sums both (prometheus-client multiprocess mode), whichever worker
answers the scrape. Without it each scrape would show one worker's share at random. And
the workers stop when their supervisor is killed with SIGKILL, freeing the port."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
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


def connections_max(text: str) -> float | None:
    m = re.search(r"^wallet_db_connections_max ([0-9.e+]+)$", text, re.M)
    return float(m[1]) if m else None


def test_metrics_sum_over_two_workers(pg_url, tmp_path):
    port = free_port()
    folder = tmp_path / "prom"
    folder.mkdir()
    proc = subprocess.Popen(
        [str(BIN / "sandbox"), "serve", "--db", pg_url, "--port", str(port), "--no-mocks",
         "--workers", "2"],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "WALLET_DB_CONNECTIONS": "6"},
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
        assert {connections_max(t) for t in scrapes} == {12.0}  # 6 for each worker
        writers = {p.name.rsplit("_", 1)[-1] for p in folder.glob("counter_*.db")}
        assert len(writers) >= 2, writers  # both workers counted requests
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_workers_stop_when_their_supervisor_is_killed(pg_url, tmp_path):
    """A kill -9 of ``sandbox serve`` alone: its workers would go on serving (and holding
    the port a restarted wallet needs) if they did not watch for it."""
    port = free_port()
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [str(BIN / "sandbox"), "serve", "--db", pg_url, "--port", str(port), "--no-mocks",
         "--workers", "2"], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    workers: list[psutil.Process] = []
    try:
        wait_healthy(f"{url}/healthz", timeout_s=60, process=proc)
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:  # the resource tracker is a child too
            workers = [c for c in psutil.Process(proc.pid).children()
                       if "resource_tracker" not in " ".join(c.cmdline())]
            time.sleep(0.1)
        assert len(workers) == 2, workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert alive == [], log.read_text()[-2000:]
        assert "is gone: this worker stops" in log.read_text()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                w.kill()
