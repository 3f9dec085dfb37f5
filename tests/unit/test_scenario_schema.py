"""Scenario files: a bad one is refused naming the file, the field and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    # found by the property below: an IndexError and an AttributeError, not a ScenarioError
    (GOOD + "providers: {overrides: {acme: {rules: [{decline_mix: {}}]}}}\n", "decline_mix"),
    (GOOD + "providers: {overrides: {acme: {decline_mix: {do_not_honor: .nan}}}}\n", "decline_mix"),
    (GOOD + "routing: {strategy: rules, params: {rules: [0]}}\n", "routing.rules"),
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


LIBRARY = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
LEAVES = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
          | st.text(max_size=8) | st.lists(st.integers(), max_size=2)
          | st.dictionaries(st.text(max_size=4) | st.sampled_from(["do_not_honor", "acme"]),
                            st.integers() | st.floats(), max_size=2))


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a YAML tree a value sits: mapping keys and list indexes."""
    if isinstance(node, dict):
        return [at] + [p for k, v in node.items() for p in _paths(v, (*at, k))]
    if isinstance(node, list):
        return [at] + [p for i, v in enumerate(node) for p in _paths(v, (*at, i))]
    return [at]


@pytest.mark.parametrize("source", LIBRARY, ids=lambda p: p.stem)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_one_value_changed_loads_or_is_refused_with_a_scenario_error(source, data, tmp_path):
    """Never a raw exception: a bad file is a ScenarioError naming the file (exit code 2)."""
    tree = yaml.safe_load(source.read_text())
    where = data.draw(st.sampled_from(_paths(tree)[1:]), label="where")
    node = tree
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = data.draw(LEAVES, label="value")
    path = tmp_path / source.name
    path.write_text(yaml.safe_dump(tree))
    refusal = None
    try:
        load(path)
    except ScenarioError as err:
        refusal = str(err)
    assert refusal is None or refusal.startswith(str(path)), refusal
