"""QA's locustfile in its other modes, run for real against the live servers:

- paced (open model): every request is reported again under type CO, timed from the
  schedule slot its task was due at; a user that falls behind (depositors poll for seconds
  but are due four times a second) shows the lateness there and not in the raw entries;
- ``--processes 2`` (a master and two forked workers): exit 0, the verdict and the live
  consistency checks run exactly once (on the master), and every operation the workers
  saw acknowledged is found in the wallet.
"""

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
PASSED = "thresholds and consistency checks passed"


def locust(host: str, mocks: str, out: Path, *extra: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LOCUST), "-f", str(ROOT / "loadtests" / "casino.py"), "--headless", "-u", "8",
         "-r", "8", "-t", "8s", "--host", host, "--csv", str(out), "--only-summary",
         "--stop-timeout", "10", *extra],
        env={**os.environ, "CASINO_MOCKS": mocks, "CASINO_SETTLE_S": "15", **env},
        capture_output=True, text=True, timeout=120, check=False)


def rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["Type"], r["Name"]): r for r in csv.DictReader(path.open())}


def test_paced_run_reports_co_latency_and_processes_run_checks_once(tmp_path):
    pf = profile(acme={"kind": "card", **OK}, globex={"kind": "card", **OK},
                 paywave={"kind": "ewallet"}, openbank={"kind": "bank"})
    with stack(MemoryStore(), pf) as s:
        paced = locust(s.wallet_url, s.mocks_url, tmp_path / "paced", CASINO_PACED="1",
                       CASINO_PACE_PER_S="4")
        out = paced.stdout + paced.stderr
        assert paced.returncode == 0, out[-3000:]
        assert "p99 from intended start (CO)" in out
        stats = rows(tmp_path / "paced_stats.csv")
        for name in ("bet", "win", "deposit"):
            raw, co = stats[("POST", name)], stats[("CO", name)]
            assert co["Request Count"] == raw["Request Count"], name
            for pct in ("50%", "99%", "100%"):
                assert float(co[pct]) >= float(raw[pct]), (name, pct)
        # Depositors take >= 0.5 s a task but are due every 0.25 s: they fall behind.
        assert float(stats[("CO", "deposit")]["50%"]) > float(stats[("POST", "deposit")]["50%"]) + 200

        acks = tmp_path / "acks.txt"
        multi = locust(s.wallet_url, s.mocks_url, tmp_path / "multi", "--processes", "2",
                       CASINO_ACK_FILE=str(acks))
        out = multi.stdout + multi.stderr
        assert multi.returncode == 0, out[-3000:]
        assert out.count(PASSED) == 1, out[-3000:]
        assert out.count("consistency checks run") == 1
        lines = acks.read_text().splitlines()
        assert sum(ln.startswith("txn ") for ln in lines) > 20
        assert any(ln.startswith("payment ") for ln in lines)
        assert int(rows(tmp_path / "multi_stats.csv")[("", "Aggregated")]["Request Count"]) > 50
        s.assert_invariants()
