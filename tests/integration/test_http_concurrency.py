"""Fifty client threads against a real uvicorn server: bets, wins, withdrawals, duplicate keys.

The same plan as the service-layer race test, over HTTP on SQLite and PostgreSQL:
no response may be a 5xx, duplicates must get the first answer, and the final
balances must be exactly what the accepted operations imply.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.contract.test_concurrency import DEPOSIT, PLAYERS, THREADS, _plan
from tests.live import serve
from wallet.api.app import create_app
from wallet.api.settings import Settings
from wallet.domain import commands as c
from wallet.service.clock import SystemClock
from wallet.service.unit_of_work import Store
from wallet.service.wallet import Wallet

GAME = {"X-API-Key": "dev-hub88-key-INSECURE"}
OPERATOR = {"X-API-Key": "dev-operator-key-INSECURE"}


def _request(cmd: c.Command) -> tuple[str, dict[str, Any], dict[str, str]]:
    if isinstance(cmd, c.PlaceBet):
        return "/v1/game/bet", {"player": cmd.player_id, "transaction_uuid": cmd.transaction_id,
                                "round": cmd.round_id, "amount": cmd.amount, "currency": "EUR"}, GAME
    if isinstance(cmd, c.SettleWin):
        return "/v1/game/win", {"player": cmd.player_id, "transaction_uuid": cmd.transaction_id,
                                "reference_transaction_uuid": cmd.bet_transaction_id,
                                "round": cmd.round_id, "amount": cmd.win, "currency": "EUR"}, GAME
    assert isinstance(cmd, c.RequestWithdrawal)
    return f"/v1/players/{cmd.player_id}/withdrawals", {
        "withdrawal_id": cmd.withdrawal_id, "amount": cmd.amount, "currency": "EUR",
        "provider": cmd.provider}, {**OPERATOR, "Idempotency-Key": cmd.withdrawal_id}


@pytest.mark.slow
def test_fifty_http_clients_keep_balances_exact(sql_store: Store) -> None:
    wallet = Wallet(sql_store, SystemClock(), max_attempts=50)
    for p in PLAYERS:
        wallet.execute(c.OpenPlayer(p, "EUR"))
        wallet.execute(c.CreditDeposit(p, "acme", f"dep-{p}", DEPOSIT, "EUR"))
    outcomes: dict[str, list[tuple[c.Command, int, Any]]] = {}
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    with serve(create_app(Settings(), wallet=wallet)) as url:

        def worker(thread: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                start.wait()
                for _, cmd, key in _plan(thread):
                    path, body, headers = _request(cmd)
                    r = client.post(path, json=body, headers=headers)
                    answer = r.json()
                    answer.pop("request_uuid", None)
                    with lock:
                        outcomes.setdefault(f"{key.scope}/{key.key}", []).append((cmd, r.status_code, answer))

        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(worker, range(THREADS)))

    statuses = Counter(status for results in outcomes.values() for _, status, _ in results)
    assert not [s for s in statuses if s >= 500], statuses
    expected = Counter({p: DEPOSIT for p in PLAYERS})
    held = Counter()
    for results in outcomes.values():
        cmd, status, first = results[0]
        assert all((s, a) == (status, first) for _, s, a in results), f"replays differ for {cmd}"
        if status >= 300:
            assert first["code"] in {"insufficient_funds", "transaction_not_found"}, first
            continue
        if isinstance(cmd, c.PlaceBet):
            expected[cmd.player_id] -= cmd.amount
        elif isinstance(cmd, c.SettleWin):
            expected[cmd.player_id] += cmd.win
        else:
            expected[cmd.player_id] -= cmd.amount
            held[cmd.player_id] += cmd.amount
    assert statuses[409] > 10  # overdrafts really raced
    for p in PLAYERS:
        bal = wallet.balance(p, "EUR")
        assert (bal["available"], bal["pending"]) == (expected[p], held[p])
    assert wallet.ledger_violations() == []
    assert wallet.verify_audit() == []
