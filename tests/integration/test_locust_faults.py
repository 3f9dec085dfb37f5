"""Faults during load, for real: Locust drives the wallet (``sandbox serve`` in its own OS
process on an SQLite file, or two workers on PostgreSQL, whose bets take the batched hot
path) and the mocks (``sandbox mocks serve``, another process) while a PSP outage, a
duplicate-webhook storm and a slow provider are started through the mocks' control API,
and the wallet (every process of it) is killed with SIGKILL mid-run and restarted.
Afterwards the live consistency checker passes (every provider-settled payment credited
exactly once, nothing else credited) and every operation a user saw acknowledged exists
in the wallet."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.engine.servers import free_port, wait_healthy
from sandbox.live_check import check_live, failures, passed
from wallet.adapters.sql.scratch import scratch_database

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TIME_SCALE = 60  # mock model seconds per wall second: webhook retries come within seconds

pytestmark = pytest.mark.slow


def start_wallet(db: str, port: int, config: Path, log: Path, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BIN / "sandbox"), "serve", "--db", db, "--port", str(port), "--no-mocks",
         "--gateway-config", str(config), "--workers", str(workers)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    wait_healthy(f"http://127.0.0.1:{port}/healthz")
    return proc


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def wallet_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The wallet's database URL and worker count: its own, so that the checker sees only
    this run's payments."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wallet.sqlite3'}", 1
        return
    with scratch_database(request.getfixturevalue("pg_url"), "sandbox_test_faults") as url:
        yield url, 2


def test_faults_and_a_wallet_kill_lose_nothing_acknowledged(tmp_path, wallet_db):
    db, workers = wallet_db
    mocks_port, wallet_port = free_port(), free_port()
    mocks_url, wallet_url = f"http://127.0.0.1:{mocks_port}", f"http://127.0.0.1:{wallet_port}"
    config = tmp_path / "gateway.yaml"
    config.write_text((ROOT / "wallet" / "api" / "gateway.yaml").read_text()
                      .replace("127.0.0.1:8700", f"127.0.0.1:{mocks_port}")
                      .replace("127.0.0.1:8000", f"127.0.0.1:{wallet_port}"))
    acks, log = tmp_path / "acks.txt", tmp_path / "servers.log"
    mocks = subprocess.Popen(
        [str(BIN / "sandbox"), "mocks", "serve", "--port", str(mocks_port), "--time-scale",
         str(TIME_SCALE)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT)
    wallet = None
    try:
        wait_healthy(f"{mocks_url}/health")
        wallet = start_wallet(db, wallet_port, config, log, workers)
        load = subprocess.Popen(
            [str(BIN / "locust"), "-f", f"{ROOT / 'loadtests' / 'casino.py'},"
             f"{ROOT / 'loadtests' / 'faults.py'}", "--headless", "-u", "10", "-r", "10",
             "-t", "30s", "--host", wallet_url, "--only-summary", "--stop-timeout", "10",
             "--exit-code-on-error", "0",  # refused requests while the wallet is down
             "--exclude-tags", "storm"],  # the fault schedule starts the storm
            env={**os.environ, "CASINO_MOCKS": mocks_url, "CASINO_ACK_FILE": str(acks),
                 "CASINO_FAULTS": "outage:acme@3+8,storm:paywave@4+20,slow:globex@5+15",
                 "CASINO_SLOW_S": "1.5",
                 "CASINO_MAX_FAIL_RATIO": "1", "CASINO_MAX_P99_MS": "60000",  # the kill fails some
                 "CASINO_SETTLE_S": "40"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(12)
        acked_before_kill = len(acks.read_text().splitlines())
        os.killpg(wallet.pid, signal.SIGKILL)  # the server and its workers, mid-request
        wallet.wait(timeout=10)
        time.sleep(1)  # requests meanwhile are refused: not acknowledged, so not promised
        wallet = start_wallet(db, wallet_port, config, log, workers)
        out, _ = load.communicate(timeout=150)
        assert acked_before_kill > 20
        assert "faults: outage on acme" in out and "faults: slow on globex" in out, out[-3000:]
        verdict = [ln for ln in out.splitlines() if ln.startswith(("casino", "faults"))]
        assert load.returncode == 0, verdict
        assert "thresholds and consistency checks passed" in out

        checks, anomalies = check_live(wallet_url, mocks_url, acknowledged=acks, settle_s=10)
        assert passed(checks, anomalies), failures(checks, anomalies)
        durable = next(c for c in checks if c.name == "acknowledged_writes_durable")
        assert durable.passed and len(acks.read_text().splitlines()) > acked_before_kill
        if workers > 1:  # PostgreSQL: the restarted server's bets took the hot path
            metrics = httpx.get(f"{wallet_url}/metrics").text
            assert re.search(r'^wallet_hot_bets_total\{result="answered"\} [1-9]', metrics, re.M), metrics
        storms = httpx.get(f"{mocks_url}/paywave/_control/deliveries").json()
        print(f"acknowledged {len(acks.read_text().splitlines())} operations "
              f"({acked_before_kill} before the kill); paywave deliveries {len(storms)}; "
              f"anomalies {anomalies}")
    finally:
        if wallet is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(wallet.pid, signal.SIGTERM)
        for proc in (wallet, mocks):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
