"""Scenario files: a bad one is refused naming the file, the field and what was expected."""

from __future__ import annotations

import pytest

from sandbox.scenario import ScenarioError, load

GOOD = "name: t\npurpose: p\nplayers: {count: 10}\n"


@pytest.mark.parametrize(("body", "where"), [
    ("name: t\npurpose: p\nplayers: {count: -1}\n", "players.count"),
    ("name: T!\npurpose: p\nplayers: {count: 1}\n", "name"),
    ("name: t\npurpose: p\n", "players"),
    (GOOD + "surprise: 1\n", "surprise"),
    ("name: t\npurpose: p\nplayers: {count: 1, methods: {cheque: 1}}\n", "players"),
    (GOOD + "routing: {strategy: nope}\n", "routing"),
    (GOOD + "routing: {strategy: thompson, params: {gamma: 7}}\n", "routing"),
    (GOOD + "providers: {overrides: {nobody: {approval_rate: 1}}}\n", "nobody"),
    (GOOD + "providers: {overrides: {acme: {approval_rate: 3}}}\n", "approval_rate"),
    (GOOD + "providers: {timeline: [{provider: acme, kind: outage, at_h: 1, for_h: 0}]}\n",
     "providers.timeline.0.for_h"),
    (GOOD + "expectations: {deposit_approval_min: 2}\n", "expectations.deposit_approval_min"),
    ("- a list\n", "top level"),
    ("name: [unclosed\n", "YAML"),
])
def test_bad_scenarios_name_the_file_and_the_field(tmp_path, body, where):
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(ScenarioError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(str(path)) and where in message, message


def test_a_good_scenario_loads_with_defaults(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(GOOD)
    s = load(path)
    assert s.players.count == 10 and s.end_s == 72 * 3600
    assert "acme" in s.profiles()
