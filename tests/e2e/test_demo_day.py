"""The main job end to end: same seed, same day; a report a person can read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.cli import app


def _run(out: Path, *args: str) -> dict:
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--players", "40", *args])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    data.pop("wall_seconds")
    data.pop("database")
    return data


def test_same_seed_same_day_on_memory_and_sqlite(tmp_path: Path) -> None:
    first = _run(tmp_path / "a", "--db", "memory://")
    again = _run(tmp_path / "b", "--db", "memory://")
    on_sqlite = _run(tmp_path / "c")  # the default: a fresh SQLite file in the output folder
    assert first == again == on_sqlite
    assert first["passed"] is True
    assert sum(first["operations"].values()) > 1_000
    assert first["refusals"]  # the day really met insufficient funds, late bets, ...
    other = _run(tmp_path / "d", "--db", "memory://", "--seed", "8")
    assert other["operations"] != first["operations"]
    report = (tmp_path / "c" / "report.md").read_text()
    assert "**Result: PASS**" in report
    assert (tmp_path / "c" / "ggr.png").stat().st_size > 5_000


def test_bad_input_names_the_field(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--players", "0"])
    assert result.exit_code == 2
    assert "--players" in result.output


@pytest.mark.parametrize("db", ["mysql://nowhere/x"])
def test_bench_refuses_a_database_it_cannot_compare(db: str) -> None:
    result = CliRunner().invoke(app, ["bench", "--db", db])
    assert result.exit_code == 2
    assert "--db" in result.output
