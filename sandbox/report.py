"""Write a run's folder: ``results.json`` (for machines), ``report.md`` (for people) and plots.

Plots: latency CDF per provider; approval rate per hour over the hour's deposit count, with
the scenario's bad spells shaded; provider share per hour; the consistency checks at a glance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sandbox.engine.run import RunResult
from wallet.domain.money import format_minor

SHADE = {"outage": "#d62728", "approval": "#ff7f0e", "latency": "#9467bd",
         "duplicate_storm": "#8c564b"}


def write(result: RunResult, folder: Path, *, seconds: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    if seconds is not None:
        data["wall_seconds"] = round(seconds, 2)
    (folder / "results.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    plots = [_latency(result, folder), _approval(result, folder), _share(result, folder),
             _consistency(result, folder)]
    (folder / "report.md").write_text(_markdown(result, data, [p for p in plots if p]))
    return folder / "report.md"


def _markdown(result: RunResult, data: dict[str, Any], plots: list[str]) -> str:
    s = result.scenario
    m = data["metrics"]
    verdict = "PASS" if result.passed else "FAIL"
    lines = [f"# {s.name}: {verdict}", "", s.purpose, "",
             f"seed {result.seed}, {data.get('virtual_hours', 0):.0f} virtual hours, "
             f"wallet variant `{result.variant}`, mode {result.mode}", "",
             "## Consistency checks", "", "| check | result | violations |", "|---|---|---|"]
    for c in result.checks:
        ids = ", ".join(c.violations[:5]) + (" ..." if c.count > 5 else "")
        lines.append(f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {c.count} {ids} |")
    lines += ["", "## Expectations", "", "| expectation | result | measured |", "|---|---|---|"]
    for c in result.expectations:
        detail = c.detail if not c.violations else ", ".join(c.violations)
        lines.append(f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {detail} |")
    dep = m["deposits"]
    lines += ["", "## Payments", "",
              f"- deposits: {dep['count']}, credited {dep['succeeded']}; approval on the first "
              f"attempt {dep['approval_first_attempt']:.1%}, after cascading "
              f"{dep['approval_after_cascade']:.1%}",
              f"- payouts: {m['payouts']['count']}, paid {m['payouts']['paid']}",
              f"- time to credit (s): {_pct(m['time_to_credit_s'])}",
              f"- time to payout (s): {_pct(m['time_to_payout_s'])}",
              f"- fees per successful deposit: {_money(m['fees_per_successful_deposit'])}; "
              f"all fees booked (payouts and chargebacks too): {_money(m['fees_total'])}",
              "", "| provider | attempts | approval | latency p50 / p99 / max (s) |",
              "|---|---|---|---|"]
    for p, row in dep["by_provider"].items():
        lat = m["provider_latency_s"].get(p, {})
        approval = "-" if row["approval"] is None else f"{row['approval']:.1%}"
        lines.append(f"| {p} | {row['attempts']} | {approval} | "
                     f"{_s(lat.get('p50'))} / {_s(lat.get('p99'))} / {_s(lat.get('max'))} |")
    lines += ["", "## Anomalies", ""]
    lines += [f"- `{k}`: {v}" for k, v in result.anomalies.items()] or ["none"]
    lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)


def _pct(p: dict[str, Any]) -> str:
    return f"p50 {_s(p['p50'])}, p95 {_s(p['p95'])}, p99 {_s(p['p99'])}, max {_s(p['max'])} (n={p['n']})"


def _s(seconds: float | None) -> str:
    """Seconds to the precision a reader uses (results.json keeps them exact)."""
    if seconds is None:
        return "-"
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:,.1f}" if seconds < 1000 else f"{seconds:,.0f}"


def _money(by_currency: dict[str, int]) -> str:
    return ", ".join(f"{format_minor(v, cur)} {cur}" for cur, v in by_currency.items()) or "none"


def _latency(result: RunResult, folder: Path) -> str | None:
    series = result.metrics.latency
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for provider, values in sorted(series.items()):
        s = sorted(values)
        ax.step(s, [(i + 1) / len(s) for i in range(len(s))], where="post", label=provider)
    ax.set_xscale("log")
    ax.set(xlabel="provider call latency (s, virtual)", ylabel="fraction of calls",
           title="Latency CDF per provider")
    ax.legend(fontsize=8)
    return _save(fig, folder, "latency_cdf.png")


def _shade(result: RunResult, ax: Any) -> None:
    for entry in result.scenario.providers.timeline:
        ax.axvspan(entry.at_h, entry.at_h + entry.for_h, color=SHADE[entry.kind], alpha=0.15,
                   label=f"{entry.provider} {entry.kind}")


def _approval(result: RunResult, folder: Path) -> str | None:
    hours = sorted(result.metrics.approval_by_hour.items())
    if not hours:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    _shade(result, ax)
    volume = ax.twinx()  # an hour of three deposits swings from 0 to 1: show how many there were
    volume.bar([h for h, _ in hours], [n for _, (n, _) in hours], width=0.8, color="#7f7f7f", alpha=0.25)
    volume.set_ylabel("deposits requested (bars)")
    ax.set_zorder(volume.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot([h for h, _ in hours], [ok / n if n else 0 for _, (n, ok) in hours], marker=".")
    ax.set(xlabel="hour of the run", ylabel="deposits credited / requested", ylim=(0, 1.05),
           title="Deposit approval by hour (after cascading)")
    if result.scenario.providers.timeline:
        ax.legend(fontsize=8)
    return _save(fig, folder, "approval.png")


def _share(result: RunResult, folder: Path) -> str | None:
    share = result.metrics.share
    if not share:
        return None
    hours = sorted(share)
    providers = sorted({p for c in share.values() for p in c})
    fig, ax = plt.subplots(figsize=(7, 4))
    bottom = [0.0] * len(hours)
    for p in providers:
        frac = [share[h][p] / max(sum(share[h].values()), 1) for h in hours]
        ax.bar(hours, frac, bottom=bottom, label=p, width=1.0)
        bottom = [b + f for b, f in zip(bottom, frac, strict=True)]
    ax.set(xlabel="hour of the run", ylabel="share of routed attempts", ylim=(0, 1),
           title=f"Routing share ({result.scenario.routing.strategy})")
    ax.legend(fontsize=8)
    return _save(fig, folder, "routing_share.png")


def _consistency(result: RunResult, folder: Path) -> str:
    checks = result.checks
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(checks) + 1))
    ax.barh([c.name for c in checks], [max(c.count, 0.2) for c in checks],
            color=["#2ca02c" if c.passed else "#d62728" for c in checks])
    ax.set(xlabel="violations (green: none)", title="Balance consistency")
    ax.invert_yaxis()
    return _save(fig, folder, "consistency.png")


def _save(fig: Any, folder: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name
