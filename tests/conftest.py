"""Shared fixtures: stores for the contract suite, PostgreSQL made required in CI.

PostgreSQL tests use a throw-away database created for the session on the
server named by SANDBOX_TEST_PG_URL (default: the local server, database test).
They skip with the reason when it is unreachable, unless SANDBOX_REQUIRE_POSTGRES=1
(as .ci/run sets), where they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from wallet.adapters.memory import MemoryStore
from wallet.service.clock import ManualClock
from wallet.service.unit_of_work import Store
from wallet.service.wallet import Wallet

PG_URL = os.environ.get("SANDBOX_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("SANDBOX_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for this test session."""
    admin = sa.create_engine(PG_URL)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # the server is absent or refuses us
        reason = f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); set SANDBOX_TEST_PG_URL"
        if REQUIRE_PG:
            pytest.fail(f"SANDBOX_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    finally:
        admin.dispose()
    from wallet.adapters.sql import upgrade
    from wallet.adapters.sql.scratch import scratch_database

    with scratch_database(PG_URL, "sandbox_test") as url:
        upgrade(url)
        yield url


def make_store(kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Store:
    if kind == "memory":
        return MemoryStore()
    from wallet.adapters.sql import SqlStore, upgrade

    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'wallet.sqlite3'}"
        upgrade(url)
        return SqlStore(url)
    url = request.getfixturevalue("pg_url")
    store = SqlStore(url)
    store.truncate_all()
    return store


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = make_store(request.param, request, tmp_path_factory)
    yield s
    s.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = make_store(request.param, request, tmp_path_factory)
    yield s
    s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def wallet(store: Store, clock: ManualClock) -> Wallet:
    return Wallet(store, clock)
