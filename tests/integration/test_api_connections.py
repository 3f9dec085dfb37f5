"""PostgreSQL connections: one server process opens at most ``WALLET_DB_CONNECTIONS``, and
``sandbox serve --workers N`` fits N processes into what the server has room for. A
server out of connections refuses the next one outright, so an unbounded pool turns a
busy minute into errors."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from sandbox.cli import app as cli
from wallet.adapters.sql.engine import connection_room
from wallet.api.app import CONNECTION_HEADROOM, connections_per_worker, create_app, pool_sizes
from wallet.api.settings import MIN_DB_CONNECTIONS, Settings

OPERATOR = {"X-API-Key": "dev-operator-key-INSECURE"}
HUB88 = {"X-API-Key": "dev-hub88-key-INSECURE"}


@given(st.integers(MIN_DB_CONNECTIONS, 10_000))
def test_the_pools_share_the_budget_exactly(connections):
    size, overflow, hot = pool_sizes(connections)
    assert size + overflow + hot == connections
    assert min(size, overflow) >= 1 and hot >= 2


def _peak_connections(url: str, settings: Settings) -> int:
    """The most connections the app holds at once while 120 writes for one player queue
    behind that player's row lock, held meanwhile from outside: deposits in the routes'
    threads, bets on the hot path's pool. Without a ceiling every waiter holds its own."""
    database = sa.make_url(url).database
    outside = sa.create_engine(url, poolclass=sa.NullPool, connect_args={"application_name": "test-outside"})
    peak, done = [0], threading.Event()

    def others(conn: sa.Connection) -> int:
        n = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db "
                                 "AND application_name <> 'test-outside'"), {"db": database}).scalar_one()
        conn.commit()  # a transaction sees one snapshot of the statistics views
        return n

    with outside.connect() as conn:  # a previous run's backends may still be exiting
        deadline = time.monotonic() + 30
        while others(conn) and time.monotonic() < deadline:
            time.sleep(0.05)
    app = create_app(settings)

    def watch() -> None:
        with outside.connect() as conn:
            while not done.is_set():
                peak[0] = max(peak[0], others(conn))
                time.sleep(0.005)

    async def load() -> None:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://wallet") as client:
            r = await client.post("/v1/players", json={"player_id": "conn", "currency": "EUR"},
                                  headers={**OPERATOR, "Idempotency-Key": "conn"})
            assert r.status_code == 201, r.text

            def deposit(i: int, amount: int) -> Any:
                return client.post("/v1/deposits", headers={**OPERATOR, "Idempotency-Key": f"d{i}"}, json={
                    "player_id": "conn", "amount": amount, "currency": "EUR", "provider": "acme",
                    "payment_id": f"d{i}"})

            assert (await deposit(0, 10_000)).status_code == 201
            with outside.connect() as lock:
                lock.execute(sa.text("SELECT id FROM players WHERE id = 'conn' FOR UPDATE"))
                calls = [asyncio.create_task(deposit(i, 100)) for i in range(1, 81)]
                calls += [asyncio.create_task(client.post("/v1/game/bet", headers=HUB88, json={
                    "player": "conn", "transaction_uuid": f"t{i}", "round": f"r{i}", "amount": 1,
                    "currency": "EUR"})) for i in range(40)]
                await asyncio.sleep(1.5)  # everyone queues on the lock
                lock.commit()
            answers = await asyncio.gather(*calls)
            refused = [a.text for a in answers if a.status_code not in (200, 201)]
            assert refused == []

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        asyncio.run(load())
    finally:
        done.set()
        thread.join()
        outside.dispose()
        app.state.wallet.store.close()
    return peak[0]


@pytest.mark.postgres
def test_one_process_opens_at_most_its_connections():
    from tests.conftest import PG_URL
    from wallet.adapters.sql import upgrade
    from wallet.adapters.sql.scratch import scratch_database

    with scratch_database(PG_URL, "sandbox_conn") as url:
        upgrade(url)
        base = {"database_url": url, "migrate": False, "gateway": False}
        unbounded = _peak_connections(url, Settings(**base, db_connections=1_000))
        bounded = _peak_connections(url, Settings(**base, db_connections=8))
    assert unbounded > 8  # the load asks for more than the budget...
    assert bounded <= 8  # ...and the process keeps to it


@pytest.mark.postgres
def test_workers_are_fitted_to_the_server(pg_url):
    assert connections_per_worker(Settings(database_url=pg_url, db_connections=8), 2) == 8
    each = connections_per_worker(Settings(database_url=pg_url, db_connections=100_000), 3)
    assert each >= MIN_DB_CONNECTIONS and 3 * each <= connection_room(pg_url) - CONNECTION_HEADROOM


@pytest.mark.postgres
def test_serve_refuses_more_workers_than_the_server_has_room_for(pg_url):
    result = CliRunner().invoke(cli, ["serve", "--db", pg_url, "--no-mocks", "--workers", "10000"])
    assert result.exit_code == 2
    assert "--workers" in result.output and "max_connections" in result.output
