"""QA's locustfile, run for real: Locust headless against the live wallet, gateway and mock
servers. The run passes its thresholds and the wallet's consistency checks, reports the
time-to-credit metric, and a threshold it cannot meet sets Locust's exit code to 1."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.gateway_harness import profile, stack
from wallet.adapters.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).with_name("locust")
OK = {"approval_rate": 0.9, "three_ds": {"challenge_probability": 0.2}}


def locust(host: str, mocks: str, out: Path, seconds: int, users: int = 8,
           **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LOCUST), "-f", str(ROOT / "loadtests" / "casino.py"), "--headless", "-u", str(users),
         "-r", str(users), "-t", f"{seconds}s", "--host", host, "--csv", str(out), "--only-summary",
         "--stop-timeout", "10"],
        env={**os.environ, "CASINO_MOCKS": mocks, **env}, capture_output=True, text=True,
        timeout=120, check=False)


def test_casino_load_passes_thresholds_and_checks_and_a_broken_threshold_fails(tmp_path):
    pf = profile(acme={"kind": "card", **OK}, globex={"kind": "card", **OK},
                 paywave={"kind": "ewallet"}, openbank={"kind": "bank"})
    with stack(MemoryStore(), pf) as s:
        # 24 users: about 12 players and 100 rounds, 1 in 11 rolled back, so that every flow
        # shows up (with 8 users, one run in 15 or so had no rollback at all)
        run = locust(s.wallet_url, s.mocks_url, tmp_path / "load", 10, users=24)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert "thresholds and consistency checks passed" in run.stdout + run.stderr
        rows = {r["Name"]: r for r in csv.DictReader((tmp_path / "load_stats.csv").open())}
        for name in ("deposit", "bet", "win", "rollback", "payout", "mock storm", "time_to_credit"):
            assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows["Aggregated"]["Failure Count"]) == 0
        s.assert_invariants()
        strict = locust(s.wallet_url, s.mocks_url, tmp_path / "strict", 3,
                        CASINO_MAX_P99_MS="0.001")
        assert strict.returncode == 1
        assert "p99" in strict.stdout + strict.stderr
