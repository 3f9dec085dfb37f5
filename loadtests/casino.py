"""Casino traffic for QA: depositors, players betting through the game aggregator, withdrawers,
and webhook storms, against a live wallet + gateway and the mock providers.

    .venv/bin/sandbox serve --db sqlite:///wallet.sqlite3 &        # wallet, gateway, mocks
    locust -f loadtests/casino.py --host http://127.0.0.1:8000 --headless -u 20 -r 5 -t 1m \\
           --csv reports/load --html reports/load.html
    locust -f loadtests/casino.py,loadtests/shapes.py --class-picker     # pick a load shape
    locust -f loadtests/casino.py --tags deposit game                  # only some flows

Metrics besides each request: ``time_to_credit`` (deposit requested until the gateway
says credited; request type METRIC). Paced runs (CASINO_PACED=1) keep each user on a fixed
schedule of CASINO_PACE_PER_S tasks per second and also report every request under
request type CO: its latency measured from the schedule slot its task was due at, so a
stall that delays later requests counts against them (coordinated omission corrected).

At test stop the consistency checker runs against the live wallet and the mocks' own
records (``sandbox.live_check``): ledger invariants, the audit chain, every
provider-settled payment credited exactly once, nothing credited that no provider settled,
legal transitions only, and (with CASINO_ACK_FILE) every acknowledged operation present.
Any failed check or anomaly, a failure ratio above ``CASINO_MAX_FAIL_RATIO`` (default
0.01), a p99 above ``CASINO_MAX_P99_MS`` (default 2000) or a CO p99 above
``CASINO_MAX_CO_P99_MS`` (unset: not enforced) sets Locust's exit code to 1; ratios and
percentiles are over real requests (not METRIC or CO entries). Works with ``--processes``
and master/worker: every user makes its own ids, and the checks run once, on the master
(or the local runner).

Environment: CASINO_OPERATOR_KEY, CASINO_GAME_KEY, CASINO_ADMIN_KEY (the wallet's API
keys; the published development keys by default), CASINO_MOCKS (the mocks' base URL, for
storms and the checker; empty: only the wallet's own ledger and audit checks),
CASINO_SETTLE_S (seconds the checker waits for in-flight payments, default 30),
CASINO_ACK_FILE (append ``txn ID`` / ``payment ID`` for every 2xx answer, then check them).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, tag, task
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import StatsEntry

OPERATOR = {"X-API-Key": os.environ.get("CASINO_OPERATOR_KEY", "dev-operator-key-INSECURE")}
GAME = {"X-API-Key": os.environ.get("CASINO_GAME_KEY", "dev-hub88-key-INSECURE")}
ADMIN = {"X-API-Key": os.environ.get("CASINO_ADMIN_KEY", "dev-admin-key-INSECURE")}
MOCKS = os.environ.get("CASINO_MOCKS", "http://127.0.0.1:8700")
MAX_FAIL_RATIO = float(os.environ.get("CASINO_MAX_FAIL_RATIO", "0.01"))
MAX_P99_MS = float(os.environ.get("CASINO_MAX_P99_MS", "2000"))
MAX_CO_P99_MS = float(os.environ.get("CASINO_MAX_CO_P99_MS", "inf"))
PACED = os.environ.get("CASINO_PACED") == "1"  # each user on a fixed schedule (open model)
PERIOD_S = 1.0 / float(os.environ.get("CASINO_PACE_PER_S", "1"))
SETTLE_S = float(os.environ.get("CASINO_SETTLE_S", "30"))
ACK_FILE = os.environ.get("CASINO_ACK_FILE", "")
CO, METRIC = "CO", "METRIC"  # request types that are not requests of their own
FUNDING = "cashdesk"  # top-ups outside the PSPs: no mock settles them, the checker skips them
SETTLED = frozenset({"succeeded", "failed", "expired", "reversed", "refunded", "charged_back"})
CARD = {"number": "4111111111111111", "holder_name": "Load Test"}
# Locust logs at INFO; httpx would add a line for each of the checker's reads
logging.getLogger("httpx").setLevel(logging.WARNING)


def paced(user: CasinoUser) -> float:
    """Wait for the next slot of the user's fixed schedule; a task that starts late (the
    previous one overran) records how late, which the CO entries add to its latency."""
    now = time.monotonic()
    if user.slot is None:
        user.slot = now
    user.slot += PERIOD_S
    user.lag_s = max(0.0, now - user.slot)
    return max(0.0, user.slot - now)


class CasinoUser(FastHttpUser):
    """A player of its own: opened at start, with a funded EUR balance for the game flows."""

    abstract = True
    wait_time = paced if PACED else between(0.5, 2.0)
    slot: float | None = None  # when the current task was due (paced runs)
    lag_s = 0.0  # how late it started

    def context(self) -> dict[str, Any]:
        """Paced runs tag every request with its task's lateness (see ``_intended``)."""
        if not PACED:
            return {}
        if self.slot is None:  # the first task starts on time, whenever on_start ended
            self.slot = time.monotonic()
        return {"lag_ms": self.lag_s * 1000}

    def on_start(self) -> None:
        self.pid = f"lt-{uuid.uuid4().hex[:12]}"
        self.client.post("/v1/players", json={"player_id": self.pid, "currency": "EUR"},
                         headers={**OPERATOR, "Idempotency-Key": f"open-{self.pid}"},
                         name="open player")

    def fund(self, amount: int) -> None:
        """Cash posted directly as a ``cashdesk`` deposit (the game flows do not wait for a
        PSP; no mock provider claims it, so the settlement checks leave it out)."""
        pay = uuid.uuid4().hex[:16]
        self.client.post("/v1/deposits", json={"player_id": self.pid, "provider": FUNDING,
                                               "payment_id": f"seed-{pay}", "amount": amount,
                                               "currency": "EUR"},
                         headers={**OPERATOR, "Idempotency-Key": f"seed-{pay}"}, name="fund")


class Depositor(CasinoUser):
    weight = 3

    @tag("deposit")
    @task
    def deposit(self) -> None:
        pid = f"{self.pid}-{uuid.uuid4().hex[:8]}"
        method = ("card", "card", "ewallet", "bank")[int(time.time() * 1000) % 4]
        body: dict[str, Any] = {"payment_id": pid, "player_id": self.pid, "amount": 2_500,
                                "currency": "EUR", "method": method, "country": "DE"}
        if method == "card":
            body["card"] = CARD
        started = time.perf_counter()
        with self.client.post("/v1/gateway/deposits", json=body, headers=OPERATOR,
                              name="deposit", catch_response=True) as r:
            if r.status_code not in (200, 201):
                r.failure(f"{r.status_code}: {(r.text or '')[:200]}")
                return
            state = r.json()["state"]
        for _ in range(20):  # the cashier page polls for up to ~10 s
            if state in SETTLED:
                break
            time.sleep(0.5)
            r = self.client.get(f"/v1/gateway/payments/{pid}", headers=OPERATOR,
                                name="deposit status")
            if r.status_code == 200:  # a refused poll (the wallet restarting) is retried
                state = r.json()["state"]
        if state == "succeeded":
            events.request.fire(request_type="METRIC", name="time_to_credit",
                                response_time=(time.perf_counter() - started) * 1000,
                                response_length=0, exception=None, context={})


class Player(CasinoUser):
    weight = 5

    def on_start(self) -> None:
        super().on_start()
        self.fund(100_000)

    @tag("game")
    @task(10)
    def round_(self) -> None:
        tx = uuid.uuid4().hex[:16]
        bet = {"player": self.pid, "transaction_uuid": f"b-{tx}", "round": tx, "amount": 100,
               "currency": "EUR"}
        r = self.client.post("/v1/game/bet", json=bet, headers=GAME, name="bet")
        if r.status_code != 200:
            return
        self.client.post("/v1/game/win", json={**bet, "transaction_uuid": f"w-{tx}",
                                               "reference_transaction_uuid": f"b-{tx}",
                                               "amount": 180 if tx[0] in "0123" else 0},
                         headers=GAME, name="win")

    @tag("game")
    @task(1)
    def rolled_back(self) -> None:
        tx = uuid.uuid4().hex[:16]
        bet = {"player": self.pid, "transaction_uuid": f"b-{tx}", "round": tx, "amount": 100,
               "currency": "EUR"}
        self.client.post("/v1/game/bet", json=bet, headers=GAME, name="bet")
        self.client.post("/v1/game/rollback", json={"player": self.pid,
                                                    "transaction_uuid": f"rb-{tx}",
                                                    "reference_transaction_uuid": f"b-{tx}"},
                         headers=GAME, name="rollback")


class Withdrawer(CasinoUser):
    weight = 1

    def on_start(self) -> None:
        super().on_start()
        self.fund(50_000)

    @tag("payout")
    @task
    def withdraw(self) -> None:
        wid = f"{self.pid}-w{uuid.uuid4().hex[:8]}"
        with self.client.post("/v1/gateway/payouts", json={
                "withdrawal_id": wid, "player_id": self.pid, "amount": 1_000, "currency": "EUR",
                "method": "bank", "provider": "openbank", "party_name": "Load Test",
                "iban": "DE89370400440532013000"}, headers=OPERATOR, name="payout",
                catch_response=True) as r:
            if r.status_code == 422 and "insufficient_funds" in (r.text or ""):
                r.success()  # the player ran dry: a correct refusal, not an error
                self.fund(50_000)


class WebhookStorm(FastHttpUser):
    """Now and then asks a mock provider for a duplicate-webhook storm (its control API)."""

    abstract = not MOCKS
    weight = 1
    fixed_count = 1
    wait_time = between(20, 40)

    @tag("storm")
    @task
    def storm(self) -> None:  # an absolute URL: --host names the wallet, not the mocks
        self.client.post(f"{MOCKS}/acme/_control/duplicate-storm",
                         json={"duration_s": 30, "duplicate_count": 3}, name="mock storm")


@events.request.add_listener
def _intended(request_type: str, name: str, response_time: float, response_length: int,
              response: Any = None, context: dict[str, Any] | None = None,
              exception: Exception | None = None, **_: Any) -> None:
    """Paced runs: the same request again as type CO, timed from its intended start.
    With CASINO_ACK_FILE: note what a 2xx answer acknowledged."""
    lag = (context or {}).get("lag_ms")
    if lag is not None and request_type != CO:
        events.request.fire(request_type=CO, name=name, response_time=response_time + lag,
                            response_length=response_length, exception=exception, context={})
    if ACK_FILE and exception is None and response is not None and request_type not in (CO, METRIC):
        _acknowledge(name, response)


def _acknowledge(name: str, response: Any) -> None:
    """One line per acknowledged operation, appended in one write (several processes share
    the file; O_APPEND keeps short lines whole)."""
    if not 200 <= (response.status_code or 0) < 300:
        return
    try:
        body = response.json()
    except ValueError:
        return
    if not isinstance(body, dict):
        return
    line = (f"payment {body['payment_id']}\n" if name in ("deposit", "payout") and "payment_id" in body
            else f"txn {body['transaction_id']}\n" if body.get("transaction_id") else "")
    if line:
        fd = os.open(ACK_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def aggregate(environment: Environment, *types: str, exclude: bool = False) -> StatsEntry:
    """One entry over the request types given (or over all the others)."""
    out = StatsEntry(environment.stats, "subtotal", "", use_response_times_cache=False)
    for entry in environment.stats.entries.values():
        if (entry.method in types) != exclude:
            out.extend(entry)
    return out


@events.quitting.add_listener
def _verdict(environment: Environment, **_: Any) -> None:
    """Thresholds and the consistency checker decide the exit code, once: on the master or
    the local runner (workers hold only a slice of the stats and would check in parallel)."""
    if isinstance(environment.runner, WorkerRunner):
        return
    raw = aggregate(environment, CO, METRIC, exclude=True)
    co = aggregate(environment, CO)
    reasons = []
    if raw.fail_ratio > MAX_FAIL_RATIO:
        reasons.append(f"failure ratio {raw.fail_ratio:.3f} > {MAX_FAIL_RATIO}")
    p99 = raw.get_response_time_percentile(0.99) or 0
    if p99 > MAX_P99_MS:
        reasons.append(f"p99 {p99:.0f} ms > {MAX_P99_MS:.0f} ms")
    line = f"casino: {raw.num_requests} requests, p99 {p99:.0f} ms"
    if co.num_requests:
        co_p99 = co.get_response_time_percentile(0.99) or 0
        line += f", p99 from intended start (CO) {co_p99:.0f} ms"
        if co_p99 > MAX_CO_P99_MS:
            reasons.append(f"CO p99 {co_p99:.0f} ms > {MAX_CO_P99_MS:.0f} ms")
    print(line)
    reasons += _consistency(environment.host or "")
    if reasons:
        environment.process_exit_code = 1
        for r in reasons:
            print(f"casino: FAIL {r}")
    else:
        print("casino: thresholds and consistency checks passed")


def _consistency(host: str) -> list[str]:
    """The live checker (wallet + mocks), or only the wallet's own checks without mocks."""
    import httpx

    from sandbox.live_check import check_live, failures

    try:
        if MOCKS:
            checks, anomalies = check_live(host, MOCKS, ADMIN["X-API-Key"], settle_s=SETTLE_S,
                                           acknowledged=Path(ACK_FILE) if ACK_FILE else None)
            print(f"casino: {len(checks)} consistency checks run, anomalies {anomalies or 'none'}")
            return failures(checks, anomalies)
        ledger = httpx.get(f"{host}/v1/admin/ledger/check", headers=ADMIN, timeout=60).json()
        audit = httpx.get(f"{host}/v1/admin/audit/verify", headers=ADMIN, timeout=60).json()
    except (httpx.HTTPError, OSError) as exc:
        return [f"consistency checks unreachable: {exc}"]
    out = []
    if not ledger.get("ok"):
        out.append(f"ledger violations: {ledger.get('violations', [])[:5]}")
    if not audit.get("ok"):
        out.append(f"audit chain breaks: {audit.get('breaks', [])[:5]}")
    return out
