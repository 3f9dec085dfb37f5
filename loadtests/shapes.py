"""Load shapes for ``loadtests/casino.py``: ramp, spike, soak, and an open-model arrival rate.

    locust -f loadtests/casino.py,loadtests/shapes.py --class-picker --host http://127.0.0.1:8000

Numbers come from the environment so one file serves every run: CASINO_USERS (peak
users, default 50), CASINO_DURATION_S (default 300), CASINO_RATE (arrivals per second for
the open model, default 20).
"""

from __future__ import annotations

import os

from locust import LoadTestShape

USERS = int(os.environ.get("CASINO_USERS", "50"))
DURATION = float(os.environ.get("CASINO_DURATION_S", "300"))
RATE = float(os.environ.get("CASINO_RATE", "20"))


class Ramp(LoadTestShape):
    """Linear ramp to the peak over the first half, hold it for the second."""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t > DURATION:
            return None
        users = max(1, round(USERS * min(t / (DURATION / 2), 1.0)))
        return users, max(USERS / (DURATION / 2), 1.0)


class Spike(LoadTestShape):
    """A fifth of the peak, then the full peak for a tenth of the run, then back."""

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t > DURATION:
            return None
        in_spike = 0.4 * DURATION <= t < 0.5 * DURATION
        return (USERS if in_spike else max(USERS // 5, 1)), float(USERS)


class Soak(LoadTestShape):
    """The peak, held: for leaks, growing tables and slow drifts."""

    def tick(self) -> tuple[int, float] | None:
        return (USERS, max(USERS / 10, 1.0)) if self.get_run_time() <= DURATION else None


class ArrivalRate(LoadTestShape):
    """Open model: ``CASINO_RATE`` new tasks per second whatever the latency, as real players
    arrive. Set CASINO_PACED=1 so each user keeps a fixed schedule of one task per second;
    the shape then keeps RATE users alive. A slow server still lowers what a user can send,
    so the CO entries time every request from the slot it was due at: the delay a stall
    put on later requests is reported, not omitted (coordinated omission)."""

    def tick(self) -> tuple[int, float] | None:
        if self.get_run_time() > DURATION:
            return None
        return max(round(RATE), 1), max(RATE, 1.0)
