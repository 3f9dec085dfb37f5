"""Live mode end to end: the same scenario file played in SimPy and over HTTP (uvicorn, real
signed webhooks, SQLite) with the same seed agrees, and the same checker judges both.

Why the bound is what it is (docs/scenarios.md, "Live mode"): both runs roll the same
keyed dice on the same payment ids (globex and chainpay, which dedupe on a per-attempt
reference, get the payment id beside it), so deposits meet the same outcomes; they could
part only where real time crosses a boundary the virtual clock does not (a reply landing at
the client's timeout). ``APPROVAL_BOUND`` allows three deposits in sixty to differ;
measured: none, approval 0.80 in both, also with both cores busy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.checks import failing_anomalies
from sandbox.cli import app
from sandbox.engine.live import SIM_ONLY, run_live
from sandbox.engine.run import RunResult, run_scenario
from sandbox.scenario import load
from wallet.adapters.sql import SqlStore, upgrade
from wallet.domain.payments.model import DEPOSIT, Payment
from wallet.domain.routing import make_strategy
from wallet.service.gateway import Gateway
from wallet.service.wallet import Wallet

pytestmark = pytest.mark.slow

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
SMOKE = LIBRARY / "live_smoke.yaml"
TIME_SCALE = 200.0  # the 45 virtual minutes take 13.5 s; a provider call has 150 ms real time
APPROVAL_BOUND = 0.05  # |sim - live| approval after cascading, of 60 deposits


def _payments(url: str) -> dict[str, Payment]:
    store = SqlStore(url)
    try:
        gateway = Gateway(Wallet(store), [], make_strategy("static"), seed=0)
        return {p.id: p for p in gateway.payments()}
    finally:
        store.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, RunResult, str]:
    spec = load(SMOKE)
    sim = run_scenario(spec, base=LIBRARY)
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'wallet.sqlite3'}"
    upgrade(url)
    store = SqlStore(url)
    try:
        live = run_live(spec, base=LIBRARY, store=store, time_scale=TIME_SCALE)
    finally:
        store.close()
    return sim, live, url


def test_the_live_run_passes_the_same_checker(runs: tuple[RunResult, RunResult, str]) -> None:
    _, live, _ = runs
    assert live.mode == "live" and live.to_dict()["mode"] == "live"
    assert [c.name for c in live.checks if not c.passed] == []
    assert live.passed
    assert live.extra["settled"]  # nothing was still in flight when the checker looked
    assert live.extra["deliveries"] > live.metrics.deposits  # real webhooks, duplicates included
    assert live.extra["operations"] > 300  # game rounds, bonuses, ... went over HTTP too


def test_sim_and_live_agree_on_approval_and_anomalies(runs: tuple[RunResult, RunResult, str]) -> None:
    sim, live, _ = runs
    s, lv = sim.metrics.summary()["deposits"], live.metrics.summary()["deposits"]
    assert s["count"] == lv["count"] == 60  # the same arrivals
    assert abs(s["approval_after_cascade"] - lv["approval_after_cascade"]) <= APPROVAL_BOUND
    assert failing_anomalies(sim.anomalies) == {} and failing_anomalies(live.anomalies) == {}


def test_each_deposit_meets_the_same_outcome_in_both(
        runs: tuple[RunResult, RunResult, str]) -> None:
    sim, _, url = runs
    assert sim.shell is not None
    in_sim = {p.id: p for p in sim.shell.gateway.payments() if p.kind == DEPOSIT}
    live = _payments(url)
    differ = [pid for pid, p in in_sim.items()
              if (p.credited > 0) != (live[pid].credited > 0) or p.tried != live[pid].tried]
    assert len(differ) <= APPROVAL_BOUND * len(in_sim), differ


# Every acme notification sent twice, the copy 300 virtual seconds (1.5 s real) later: a copy
# inside the same wall second carries the same signature and timestamp, which the wallet's
# replay guard answers without processing, so only later copies reach the broken dedupe.
LATE_COPIES = {"acme": {"approval_rate": 0.6, "webhooks": {
    "duplicate_probability": 1.0, "duplicate_count": 1,
    "duplicate_spread": {"kind": "fixed", "value": 300}}}}


def test_a_broken_variant_is_caught_live(tmp_path: Path) -> None:
    spec = load(SMOKE, duration_h=0.25, drain_h=0.1, providers={"overrides": LATE_COPIES})
    url = f"sqlite:///{tmp_path / 'wallet.sqlite3'}"
    upgrade(url)
    store = SqlStore(url)
    try:
        result = run_live(spec, base=LIBRARY, store=store, time_scale=TIME_SCALE,
                          variant="no_webhook_dedupe")
    finally:
        store.close()
    assert not result.passed
    failing = {c.name: c for c in result.checks if not c.passed}
    assert "no_credit_without_settlement" in failing, sorted(failing)
    assert len(failing["no_credit_without_settlement"].violations) >= 5


def test_a_variant_that_lives_in_virtual_time_is_refused_live() -> None:
    variant = next(iter(SIM_ONLY))
    with pytest.raises(ValueError, match="sim mode only"):
        run_live(load(SMOKE), variant=variant)


def test_cli_refuses_an_unknown_mode_and_a_sim_only_variant_live(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_mode = runner.invoke(app, ["run", str(SMOKE), "--mode", "replay", "--out", str(tmp_path)])
    assert bad_mode.exit_code == 2, bad_mode.output
    sim_only = runner.invoke(app, ["run", str(SMOKE), "--mode", "live", "--out", str(tmp_path),
                                   "--wallet-variant", next(iter(SIM_ONLY))])
    assert sim_only.exit_code == 2 and "sim mode only" in sim_only.output
