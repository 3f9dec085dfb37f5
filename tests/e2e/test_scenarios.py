"""The scenario library end to end: the reference passes every scenario, every broken variant
is caught by at least one, and the same scenario and seed give the same results.json."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.engine.run import run_scenario
from sandbox.scenario import load
from sandbox.variants import CAUGHT_BY, VARIANTS

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"
SCENARIOS = sorted(LIBRARY.glob("*.yaml"))


def _run(path: str, variant: str = "reference") -> dict:
    return run_scenario(load(path), variant=variant, base=LIBRARY).to_dict()


def test_the_library_has_at_least_fifteen_scenarios_each_with_a_purpose():
    assert len(SCENARIOS) >= 15
    for path in SCENARIOS:
        spec = load(path)
        assert spec.name == path.stem and spec.purpose


def test_every_variant_has_a_scenario_that_catches_it():
    assert set(CAUGHT_BY) == set(VARIANTS) - {"reference"}


def test_the_reference_passes_every_scenario():
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(_run, [str(p) for p in SCENARIOS]))
    failed = {r["scenario"]: [c["name"] for c in r["checks"] + r["expectations"] if not c["passed"]]
              for r in results if not r["passed"]}
    assert failed == {}


@pytest.mark.parametrize("variant", sorted(CAUGHT_BY))
def test_each_broken_variant_is_caught(variant):
    scenario, check = CAUGHT_BY[variant]
    result = _run(str(LIBRARY / f"{scenario}.yaml"), variant)
    assert not result["passed"]
    failing = {c["name"]: c for c in result["checks"] if not c["passed"]}
    assert check in failing, sorted(failing)
    assert failing[check]["violations"]  # the ids to look at are named


def test_same_seed_same_results_on_memory_and_sqlite(tmp_path):
    from wallet.adapters.sql import SqlStore, upgrade

    path = str(LIBRARY / "payout_returns.yaml")
    first, again = _run(path), _run(path)
    assert first == again
    url = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    upgrade(url)
    store = SqlStore(url)
    on_sqlite = run_scenario(load(path), store=store, base=LIBRARY).to_dict()
    store.close()
    assert on_sqlite == first
    assert _run(path) != run_scenario(load(path), seed=99, base=LIBRARY).to_dict()


def test_cli_contract_exit_codes_and_results_json(tmp_path):
    runner = CliRunner()
    out = tmp_path / "ok"
    ok = runner.invoke(app, ["run", str(LIBRARY / "payout_returns.yaml"), "--out", str(out),
                             "--db", "memory://", "--seed", "3"])
    assert ok.exit_code == 0, ok.output
    data = json.loads((out / "results.json").read_text())
    assert {"scenario", "seed", "mode", "checks", "anomalies", "metrics"} <= set(data)
    assert data["seed"] == 3 and data["mode"] == "sim"
    assert all({"name", "passed", "violations"} <= set(c) for c in data["checks"])
    assert (out / "report.md").exists() and (out / "consistency.png").exists()

    bad = runner.invoke(app, ["run", str(LIBRARY / "rollback_before_bet.yaml"), "--out",
                              str(tmp_path / "bad"), "--db", "memory://",
                              "--wallet-variant", "rollback_before_bet_ignored"])
    assert bad.exit_code == 1

    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\npurpose: y\nplayers: {count: 0}\n")
    invalid = runner.invoke(app, ["run", str(broken), "--out", str(tmp_path / "x")])
    assert invalid.exit_code == 2
    assert "broken.yaml" in invalid.output and "players.count" in invalid.output
    assert not (tmp_path / "x").exists()  # nothing ran
    used = f"sqlite:///{tmp_path / 'used.sqlite3'}"
    from sandbox.cli import open_store
    from wallet.domain.commands import OpenPlayer
    from wallet.service.wallet import Wallet

    store = open_store(used)
    Wallet(store).execute(OpenPlayer("someone", "EUR"))
    store.close()
    refused = runner.invoke(app, ["run", str(LIBRARY / "payout_returns.yaml"), "--db", used,
                                  "--out", str(tmp_path / "used")])
    assert refused.exit_code == 2 and "--db" in refused.output
    listed = runner.invoke(app, ["scenarios", "--folder", str(LIBRARY)])
    lines = listed.output.strip().splitlines()
    assert listed.exit_code == 0 and len(lines) == len(list(LIBRARY.rglob("*.yaml")))
    assert [ln.split()[0] for ln in lines[: len(SCENARIOS)]] == [p.stem for p in SCENARIOS]
    assert any(ln.startswith("routing/drift_and_drop ") for ln in lines)


def test_fees_per_successful_deposit_are_each_currencys_deposit_fees():
    """Payout and chargeback fees, and other currencies' deposits, stay out of the figure."""
    from collections import Counter

    result = run_scenario(load(LIBRARY / "multi_currency_fx.yaml"), base=LIBRARY)
    gateway = result.shell.gateway
    fees, count = Counter(), Counter()
    for p in gateway.payments():
        if p.kind == "deposit" and p.credited:
            fees[p.currency] += gateway.fee(p.credit_provider, p.credited, p.currency)
            count[p.currency] += 1
    assert len(count) >= 3  # EUR, USD and GBP deposits were credited
    summary = result.metrics.summary()
    assert summary["fees_per_successful_deposit"] == {c: round(fees[c] / count[c]) for c in sorted(count)}
    total = summary["fees_total"]
    assert all(total[c] >= fees[c] for c in count)
    assert any(total[c] > fees[c] for c in count)  # EUR payouts pay fees too: not in the figure
