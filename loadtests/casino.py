"""Casino traffic for QA: depositors, players betting through the game aggregator, withdrawers,
and webhook storms, against a live wallet + gateway and the mock providers.

    .venv/bin/sandbox serve --db sqlite:///wallet.sqlite3 &        # wallet, gateway, mocks
    locust -f loadtests/casino.py --host http://127.0.0.1:8000 --headless -u 20 -r 5 -t 1m \\
           --csv reports/load --html reports/load.html
    locust -f loadtests/casino.py,loadtests/shapes.py --class-picker     # pick a load shape
    locust -f loadtests/casino.py --tags deposit game                  # only some flows

Metrics besides each request: ``time_to_credit`` (deposit requested until the gateway
says credited; request type METRIC). At test stop the wallet's own integrity checks run
(ledger invariants and the audit chain): any violation, a failure ratio above
``CASINO_MAX_FAIL_RATIO`` (default 0.01) or a p99 above ``CASINO_MAX_P99_MS`` (default
2000) sets Locust's exit code to 1. Works with ``--processes`` and master/worker: every
user makes its own ids, and the checks run once, on the master.

Environment: CASINO_OPERATOR_KEY, CASINO_GAME_KEY (the wallet's API keys; the published
development keys by default), CASINO_MOCKS (the mocks' base URL, for storms).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from locust import FastHttpUser, between, constant_throughput, events, tag, task
from locust.env import Environment
from locust.runners import WorkerRunner

OPERATOR = {"X-API-Key": os.environ.get("CASINO_OPERATOR_KEY", "dev-operator-key-INSECURE")}
GAME = {"X-API-Key": os.environ.get("CASINO_GAME_KEY", "dev-hub88-key-INSECURE")}
ADMIN = {"X-API-Key": os.environ.get("CASINO_ADMIN_KEY", "dev-admin-key-INSECURE")}
MOCKS = os.environ.get("CASINO_MOCKS", "http://127.0.0.1:8700")
MAX_FAIL_RATIO = float(os.environ.get("CASINO_MAX_FAIL_RATIO", "0.01"))
MAX_P99_MS = float(os.environ.get("CASINO_MAX_P99_MS", "2000"))
PACED = os.environ.get("CASINO_PACED") == "1"  # one task per user per second (open model)
SETTLED = frozenset({"succeeded", "failed", "expired", "reversed", "refunded", "charged_back"})
CARD = {"number": "4111111111111111", "holder_name": "Load Test"}


class CasinoUser(FastHttpUser):
    """A player of its own: opened at start, with a funded EUR balance for the game flows."""

    abstract = True
    wait_time = constant_throughput(1.0) if PACED else between(0.5, 2.0)

    def on_start(self) -> None:
        self.pid = f"lt-{uuid.uuid4().hex[:12]}"
        self.client.post("/v1/players", json={"player_id": self.pid, "currency": "EUR"},
                         headers={**OPERATOR, "Idempotency-Key": f"open-{self.pid}"},
                         name="open player")

    def fund(self, amount: int) -> None:
        """A settled deposit posted directly (the game flows do not wait for a PSP)."""
        pay = uuid.uuid4().hex[:16]
        self.client.post("/v1/deposits", json={"player_id": self.pid, "provider": "acme",
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
                r.failure(f"{r.status_code}: {r.text[:200]}")
                return
            state = r.json()["state"]
        for _ in range(20):  # the cashier page polls for up to ~10 s
            if state in SETTLED:
                break
            time.sleep(0.5)
            state = self.client.get(f"/v1/gateway/payments/{pid}", headers=OPERATOR,
                                    name="deposit status").json()["state"]
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
            if r.status_code == 422 and "insufficient_funds" in r.text:
                r.success()  # the player ran dry: a correct refusal, not an error
                self.fund(50_000)


class WebhookStorm(FastHttpUser):
    """Now and then asks a mock provider for a duplicate-webhook storm (its control API)."""

    weight = 1
    fixed_count = 1
    wait_time = between(20, 40)

    @tag("storm")
    @task
    def storm(self) -> None:  # an absolute URL: --host names the wallet, not the mocks
        self.client.post(f"{MOCKS}/acme/_control/duplicate-storm",
                         json={"duration_s": 30, "duplicate_count": 3}, name="mock storm")


@events.quitting.add_listener
def _verdict(environment: Environment, **_: Any) -> None:
    """Thresholds and the wallet's own consistency checks decide the exit code."""
    if isinstance(environment.runner, WorkerRunner):
        return
    stats = environment.stats.total
    reasons = []
    if stats.fail_ratio > MAX_FAIL_RATIO:
        reasons.append(f"failure ratio {stats.fail_ratio:.3f} > {MAX_FAIL_RATIO}")
    p99 = stats.get_response_time_percentile(0.99) or 0
    if p99 > MAX_P99_MS:
        reasons.append(f"p99 {p99:.0f} ms > {MAX_P99_MS:.0f} ms")
    reasons += _consistency(environment.host or "")
    if reasons:
        environment.process_exit_code = 1
        for r in reasons:
            print(f"casino: FAIL {r}")
    else:
        print("casino: thresholds and consistency checks passed")


def _consistency(host: str) -> list[str]:
    import httpx

    out = []
    try:
        ledger = httpx.get(f"{host}/v1/admin/ledger/check", headers=ADMIN, timeout=60).json()
        audit = httpx.get(f"{host}/v1/admin/audit/verify", headers=ADMIN, timeout=60).json()
    except httpx.HTTPError as exc:
        return [f"consistency checks unreachable: {exc}"]
    if not ledger.get("ok"):
        out.append(f"ledger violations: {ledger.get('violations', [])[:5]}")
    if not audit.get("ok"):
        out.append(f"audit chain breaks: {audit.get('breaks', [])[:5]}")
    return out
