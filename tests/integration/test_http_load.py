"""The bench's lean HTTP client (``sandbox/http_load.py``) against a real uvicorn server:
every answer it counts is a bet the wallet booked once, and refusals count as failures."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from sandbox import http_load
from tests.live import serve
from wallet.adapters.memory import MemoryStore
from wallet.api.app import create_app
from wallet.api.settings import Settings
from wallet.domain import commands as c
from wallet.service.clock import SystemClock
from wallet.service.wallet import Wallet

PLAYERS = 3
DEPOSIT = 10**9


def _wallet() -> Wallet:
    wallet = Wallet(MemoryStore(), SystemClock())
    for i in range(PLAYERS):
        wallet.execute(c.OpenPlayer(f"b{i}", "EUR"))
        wallet.execute(c.CreditDeposit(f"b{i}", "acme", f"seed{i}", DEPOSIT, "EUR"))
    return wallet


def _drive(wallet: Wallet, api_key: str) -> http_load.Load:
    with serve(create_app(Settings(gateway=False), wallet=wallet)) as url:
        where = urlsplit(url)
        assert where.hostname and where.port
        return http_load.run(where.hostname, where.port, http_load.bet_requests(PLAYERS, api_key),
                             users=3, seconds=1.0)


def _spent(wallet: Wallet) -> int:
    return sum(DEPOSIT - wallet.balance(f"b{i}", "EUR")["available"] for i in range(PLAYERS))


def test_every_answer_counted_is_one_booked_bet() -> None:
    wallet = _wallet()
    load = _drive(wallet, "dev-hub88-key-INSECURE")
    assert load.failures == 0
    assert len(load.latencies_ms) > 20  # three connections for a second: many bets
    assert all(ms > 0 for ms in load.latencies_ms)
    assert load.per_second == pytest.approx(len(load.latencies_ms) / load.seconds)
    assert _spent(wallet) == 100 * len(load.latencies_ms)  # each request a new bet, booked once
    assert wallet.ledger_violations() == []


def test_refused_requests_are_failures_and_move_no_money() -> None:
    wallet = _wallet()
    load = _drive(wallet, "not-a-key")
    assert load.latencies_ms and load.failures == len(load.latencies_ms)
    assert _spent(wallet) == 0


def test_an_answer_without_a_length_is_refused() -> None:
    with pytest.raises(ValueError, match="Content-Length"):
        http_load._content_length(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert http_load._content_length(b"HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n") == 42
