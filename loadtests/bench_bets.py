"""Locust user for ``sandbox bench``: one game-aggregator bet per request, as fast as it goes.

Run by the benchmark against players it created; usable by hand too:

    locust -f loadtests/bench_bets.py --headless -u 64 -r 64 -t 20s --host http://127.0.0.1:8000

Environment: BENCH_PLAYERS (how many players b0..bN-1 exist), BENCH_API_KEY (a game:<aggregator> key).
"""

from __future__ import annotations

import itertools
import os
import uuid

from locust import FastHttpUser, constant, task

PLAYERS = int(os.environ.get("BENCH_PLAYERS", "1000"))
API_KEY = os.environ.get("BENCH_API_KEY", "dev-hub88-key-INSECURE")
_ids = itertools.count()


class Aggregator(FastHttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.prefix = uuid.uuid4().hex[:10]

    @task
    def bet(self) -> None:
        n = next(_ids)
        txn = f"{self.prefix}-{n}"
        self.client.post(
            "/v1/game/bet",
            json={"player": f"b{n % PLAYERS}", "transaction_uuid": txn, "round": txn,
                  "amount": 100, "currency": "EUR"},
            headers={"X-API-Key": API_KEY},
            name="bet",
        )
