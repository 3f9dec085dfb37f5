"""Build the FastAPI app around any ``Store``, and serve it with uvicorn.

Routes are sync functions: the service layer is sync, and FastAPI runs them in
its threadpool, so a slow database call blocks one worker thread, not the loop.
On PostgreSQL plain game bets are taken before the routes, on the loop itself,
through an async pool (``hot_bets.py``); the rest reaches the routes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from wallet.adapters.live_gateway import LiveGateway
from wallet.api import errors, hot_bets
from wallet.api.auth import Authenticator
from wallet.api.gateway_config import GatewayConfig
from wallet.api.metrics import Metrics, ObservabilityMiddleware
from wallet.api.routes import system, v1
from wallet.api.settings import MIN_DB_CONNECTIONS, Settings
from wallet.service.unit_of_work import Store
from wallet.service.wallet import Wallet

if TYPE_CHECKING:
    from wallet.adapters.sql.bets import AsyncFastBets

log = logging.getLogger("wallet.api")
MEMORY_URL = "memory://"
CONNECTION_HEADROOM = 5  # left on the server for psql, migrations and the checker
HOT_CONNECTIONS = 2


def pool_sizes(connections: int) -> tuple[int, int, int]:
    """``connections`` split into the store pool's kept-open size and on-demand overflow, and
    the hot path's async pool: two, for it places bets one call at a time (``AsyncFastBets``),
    and the rest for the routes, whose threads hold a connection for a whole unit of work."""
    hot = HOT_CONNECTIONS
    store = connections - hot
    return store // 2, store - store // 2, hot


def build_store(settings: Settings) -> Store:
    """``memory://`` or an SQLAlchemy URL (SQLite by default, PostgreSQL by URL)."""
    if settings.database_url == MEMORY_URL:
        from wallet.adapters.memory import MemoryStore

        return MemoryStore()
    try:
        from wallet.adapters.sql import SqlStore, upgrade
    except ModuleNotFoundError as exc:
        if exc.name != "wallet.adapters.sql":
            raise
        log.warning(
            "wallet.adapters.sql is not available: using the in-memory store (nothing survives a restart)"
        )
        from wallet.adapters.memory import MemoryStore

        return MemoryStore()
    if settings.migrate:
        upgrade(settings.database_url)
    if settings.database_url.startswith("sqlite"):
        return SqlStore(settings.database_url)  # writers take turns: its own small pool
    size, overflow, _ = pool_sizes(settings.db_connections)
    return SqlStore(settings.database_url, pool_size=size, max_overflow=overflow)


def _hot_bets(wallet: Wallet, connections: int) -> AsyncFastBets | None:
    """The bet hot path's async pool, where the store has the one-statement bet (PostgreSQL)."""
    if getattr(wallet.store, "fast_bets", None) is None:
        return None
    from wallet.adapters.sql.bets import AsyncFastBets

    return AsyncFastBets(wallet.store.engine.url, max_size=pool_sizes(connections)[2])  # type: ignore[attr-defined]


def create_app(settings: Settings | None = None, *, wallet: Wallet | None = None,
               gateway: LiveGateway | None = None) -> FastAPI:
    """``gateway``: a ready live gateway (tests point its clients at in-process mocks);
    otherwise one is built from ``settings.gateway_config`` unless ``settings.gateway`` is off."""
    settings = settings or Settings()
    owned = wallet is None
    wallet = wallet or Wallet(build_store(settings))
    if gateway is None and settings.gateway:
        gateway = GatewayConfig.load(settings.gateway_config).build(wallet)
        if settings.public_url:
            gateway.callback_base_url = settings.public_url.rstrip("/")
    if settings.using_dev_credentials:
        log.warning(
            "using the published development API keys or token secret: INSECURE, "
            "set WALLET_API_KEYS and WALLET_TOKEN_SECRET outside a sandbox"
        )

    hot = _hot_bets(wallet, settings.db_connections) if settings.hot_bets else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(gateway.sweeper(settings.sweep_interval_s)) if gateway else None
        supervisor = settings.supervisor_pid
        orphan = asyncio.create_task(_stop_without(supervisor)) if supervisor else None
        if hot is not None:
            await hot.open()
        yield
        if hot is not None:
            await hot.close()
        for task in (sweeper, orphan):
            if task is not None:
                task.cancel()
        if gateway is not None:
            await gateway.aclose()
        if owned:
            wallet.store.close()

    app = FastAPI(
        title="iGaming sandbox wallet",
        version="1",
        summary="Reference wallet: double-entry ledger, idempotent money operations, "
        "Hub88-style game wallet. Amounts are integer minor units.",
        lifespan=lifespan,
    )
    metrics = Metrics()
    if owned and settings.database_url.startswith("postgresql"):
        metrics.db_connections.set(sum(pool_sizes(settings.db_connections)[:2])
                                   + (HOT_CONNECTIONS if hot is not None else 0))
    app.state.settings = settings
    app.state.wallet = wallet
    app.state.gateway = gateway
    app.state.metrics = metrics
    if gateway is not None:
        gateway.observer = metrics
    app.state.auth = Authenticator(
        settings.effective_api_keys(), settings.effective_token_secret(), wallet.clock
    )
    errors.install(app)
    app.include_router(system.router)
    app.include_router(v1)
    if hot is not None:
        hot_bets.install(app, hot)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    return app


async def _stop_without(supervisor: int, every_s: float = 1.0) -> None:
    """Stop this worker, as SIGTERM does, once its supervisor is gone. uvicorn's workers
    outlive a supervisor killed with SIGKILL, and would go on serving (and holding the
    port and their connections) where a restarted wallet expects to find nothing."""
    while os.getppid() == supervisor:
        await asyncio.sleep(every_s)
    log.warning("the supervisor (pid %d) is gone: this worker stops", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)


def serve(settings: Settings | None = None) -> None:
    """Run one uvicorn process. For several workers use
    ``uvicorn --factory wallet.api.app:create_app --workers N`` (settings from the
    environment; use SQL storage, since each worker has its own memory)."""
    import uvicorn

    settings = settings or Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


def connections_per_worker(settings: Settings, workers: int) -> int:
    """``settings.db_connections``, lowered so that ``workers`` processes fit in what the
    PostgreSQL server has room for: at full load every pool fills, and a server out of
    connections refuses the next one outright."""
    from wallet.adapters.sql.engine import connection_room

    room = connection_room(settings.database_url) - CONNECTION_HEADROOM
    each = min(settings.db_connections, room // workers)
    if each < MIN_DB_CONNECTIONS:
        raise ValueError(f"PostgreSQL has room for {max(room, 0)} more connections: {workers} workers "
                         f"need {MIN_DB_CONNECTIONS} each; use fewer workers or raise max_connections")
    if each < settings.db_connections:
        log.warning("%d workers x %d connections would not fit in PostgreSQL's max_connections: "
                    "%d connections each", workers, settings.db_connections, each)
    return each


def serve_workers(settings: Settings, workers: int) -> None:
    """Run ``workers`` uvicorn processes, each building the app from the environment.

    Migrations run once here, not racing in every worker. Each worker counts its own
    requests, so prometheus-client's multiprocess mode gets a fresh folder (unless
    PROMETHEUS_MULTIPROC_DIR names one: it is emptied) and /metrics sums all workers."""
    import shutil
    import tempfile
    from pathlib import Path

    import uvicorn

    if settings.database_url == MEMORY_URL or settings.database_url.startswith("sqlite"):
        raise ValueError("several workers need a shared server database (PostgreSQL): each "
                         "worker would have its own memory store, and SQLite serialises writers")
    if settings.migrate:
        from wallet.adapters.sql import upgrade

        upgrade(settings.database_url)
    connections = connections_per_worker(settings, workers)
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    created = not folder
    if folder:
        for stale in Path(folder).glob("*.db"):
            stale.unlink()
    else:
        folder = tempfile.mkdtemp(prefix="wallet-metrics-")
    env = {"WALLET_DATABASE_URL": settings.database_url, "WALLET_MIGRATE": "false",
           "WALLET_HOST": settings.host, "WALLET_PORT": str(settings.port),
           "WALLET_SWEEP_INTERVAL_S": str(settings.sweep_interval_s),
           "WALLET_DB_CONNECTIONS": str(connections), "WALLET_SUPERVISOR_PID": str(os.getpid()),
           "PROMETHEUS_MULTIPROC_DIR": folder}
    for key, value in (("WALLET_GATEWAY_CONFIG", settings.gateway_config),
                       ("WALLET_PUBLIC_URL", settings.public_url)):
        if value:
            env[key] = value
    os.environ.update(env)  # the workers are spawned: they read it in create_app()
    try:
        uvicorn.run("wallet.api.app:create_app", factory=True, workers=workers,
                    host=settings.host, port=settings.port, log_level=settings.log_level)
    finally:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
