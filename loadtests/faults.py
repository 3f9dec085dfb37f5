"""Provider faults during a load test, scheduled by time through the mocks' control API.

    locust -f loadtests/casino.py,loadtests/faults.py --host http://127.0.0.1:8000 --headless \\
           -u 20 -r 5 -t 2m
    CASINO_FAULTS="outage:acme@10+20,storm:paywave@15+30,slow:globex@20+20" (the default)

Each fault is ``kind:provider@start+duration`` in wall-clock seconds from the test start:
``outage`` (every call fails with http_5xx), ``storm`` (each webhook delivered
CASINO_STORM_COPIES extra times, default 3) and ``slow`` (CASINO_SLOW_S seconds added to
every call, default 2). The mocks' own clock may run faster (``sandbox mocks serve
--time-scale``): durations are converted with the scale the mocks report on /health.

The schedule runs once, on the master or the local runner, never on workers. Killing and
restarting the wallet itself is outside Locust (see docs/loadtests.md: a kill -9 needs the
wallet in its own process); the verdict in casino.py then proves nothing was lost.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import gevent
import httpx
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

MOCKS = os.environ.get("CASINO_MOCKS", "http://127.0.0.1:8700").rstrip("/")
FAULTS = os.environ.get("CASINO_FAULTS", "outage:acme@10+20,storm:paywave@15+30,slow:globex@20+20")
SLOW_S = float(os.environ.get("CASINO_SLOW_S", "2"))
STORM_COPIES = int(os.environ.get("CASINO_STORM_COPIES", "3"))
_SPEC = re.compile(r"^(outage|storm|slow):([a-z0-9\-]+)@([0-9.]+)\+([0-9.]+)$")
_PATH = {"outage": "outage", "storm": "duplicate-storm", "slow": "latency"}


@dataclass(frozen=True)
class Fault:
    kind: str
    provider: str
    at_s: float
    duration_s: float

    def body(self, scale: float) -> dict[str, Any]:
        """The control API's body, in the mocks' model seconds."""
        out: dict[str, Any] = {"duration_s": self.duration_s * scale}
        if self.kind == "storm":
            out["duplicate_count"] = STORM_COPIES
        elif self.kind == "slow":
            out["extra_latency_s"] = SLOW_S * scale
        return out


def parse(spec: str) -> list[Fault]:
    """``outage:acme@10+20,...`` into faults, in start order; a typo fails loudly."""
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        m = _SPEC.match(item)
        if m is None:
            raise ValueError(f"CASINO_FAULTS: {item!r} is not kind:provider@start+duration "
                             "(kind: outage, storm or slow)")
        out.append(Fault(m[1], m[2], float(m[3]), float(m[4])))
    return sorted(out, key=lambda f: f.at_s)


def start(fault: Fault, mocks: str = MOCKS) -> dict[str, Any]:
    """Start one fault window now (it ends by itself after its duration)."""
    scale = float(httpx.get(f"{mocks}/health", timeout=10).json().get("time_scale", 1.0))
    r = httpx.post(f"{mocks}/{fault.provider}/_control/{_PATH[fault.kind]}",
                   json=fault.body(scale), timeout=10)
    r.raise_for_status()
    return r.json()


def _schedule(faults: list[Fault]) -> None:
    began = 0.0
    for fault in faults:
        gevent.sleep(max(fault.at_s - began, 0.0))
        began = fault.at_s
        try:
            start(fault)
            print(f"faults: {fault.kind} on {fault.provider} for {fault.duration_s:g} s")
        except httpx.HTTPError as exc:  # a missing fault is a weaker test, not a crash
            print(f"faults: could not start {fault}: {exc}")


@events.test_start.add_listener
def _on_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    gevent.spawn(_schedule, parse(FAULTS))
