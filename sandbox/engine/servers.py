"""The live stack in one process: the wallet + gateway and the mock providers, each under a
real uvicorn server on a free loopback port, in background threads.

Live mode, the integration tests and anything else that wants real sockets build it
here rather than each wiring uvicorn on its own. Both sides read one
:class:`ScaledClock`, so a scenario's timeline (an outage from hour 2 to hour 5), a
provider's latency and webhook delays, and the gateway's poll and deadline timers
all run in the same model seconds, ``scale`` of them per wall second.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from mocks.apps.base import Clock, MockContext
from mocks.apps.metrics import install as install_metrics
from mocks.apps.server import API_KEYS, DEFAULT_SECRETS, build_mock, dialect_of
from mocks.models.profile import FaultProfile
from mocks.models.runtime import ProviderRuntime
from sandbox.randomness import Dice
from wallet.adapters.live_gateway import LiveGateway
from wallet.adapters.providers import client_for
from wallet.api.app import create_app
from wallet.api.settings import Settings
from wallet.service.gateway import Gateway
from wallet.service.wallet import Wallet


class ScaledClock(Clock):
    """Model seconds since ``start()``, running ``scale`` times faster than the wall clock.

    The wallet reads it as its domain clock (postings, payment timers) and the mocks as
    theirs (latency, webhook plans, fault windows); ``wall()`` still gives real Unix
    time, so webhook signatures carry timestamps a verifier accepts."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("the time scale must be positive")
        super().__init__(scale)

    def start(self, at: float | None = None) -> float:
        """Make model time zero now (or at monotonic instant ``at``); returns that instant."""
        self._t0 = time.monotonic() if at is None else at
        return self._t0


class WallClock:
    """Real Unix time: what webhook signature freshness is checked against."""

    def now(self) -> float:
        return time.time()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for a server in another process)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_healthy(url: str, *, timeout_s: float = 30.0, process: subprocess.Popen[Any] | None = None) -> None:
    """Block until ``url`` answers 200; a server started in another process takes a moment.
    Raises RuntimeError at the deadline, or as soon as ``process`` has exited."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")
        time.sleep(0.1)


@contextlib.contextmanager
def serve_app(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a daemon thread; yields its base URL (``port`` 0:
    a free one). Leaving the block stops the server and runs the app's shutdown."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="error"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def secret_of(provider: str) -> str:
    """The webhook secret the mock signs with and the gateway verifies with (sandbox values)."""
    dialect = dialect_of(provider)
    return DEFAULT_SECRETS.get(dialect, f"{dialect}_sandbox_secret")


def mock_root(profiles: Mapping[str, FaultProfile], dice: Dice, clock: Clock) -> FastAPI:
    """Every provider under ``/<name>``, each rolling ``dice.child("provider", name)``: the
    keyed dice the simulation gives the same provider, so both runs meet the same dice."""
    root = FastAPI(title="iGaming payment mocks (live run)")
    mounted: dict[str, FastAPI] = {}
    for name, profile in profiles.items():
        mounted[name] = build_mock(name, profile, dice.child("provider", name), clock=clock,
                                   secret=secret_of(name))
        root.mount(f"/{name}", mounted[name])
    root.state.mocks = mounted
    install_metrics(root, {n: a.state.mock for n, a in mounted.items()})

    @root.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "providers": sorted(mounted), "now": clock.now(),
                "time_scale": clock.scale}

    return root


@dataclass
class LiveStack:
    """Where everything runs, and the in-process handles the checker reads afterwards."""

    wallet_url: str
    mocks_url: str
    live: LiveGateway
    wallet: Wallet
    clock: ScaledClock
    contexts: dict[str, MockContext] = field(default_factory=dict)

    @property
    def runtimes(self) -> dict[str, ProviderRuntime]:
        return {n: ctx.runtime for n, ctx in self.contexts.items()}

    def mocks_due_by(self, at: float) -> int:
        """Webhook deliveries planned at or before model time ``at`` not yet sent (or still
        being sent). Read from another thread: a momentary count, good enough to poll."""
        return sum(ctx.dispatcher.due_by(at) for ctx in self.contexts.values())

    def deliveries(self) -> int:
        """Webhook POSTs the mocks made (duplicates and retries included)."""
        return sum(len(ctx.dispatcher.log) for ctx in self.contexts.values())


@contextlib.contextmanager
def live_stack(gateway: Gateway, profiles: Mapping[str, FaultProfile], dice: Dice,
               clock: ScaledClock, *, client_timeout_s: float = 30.0,
               sweep_interval_s: float = 0.05) -> Iterator[LiveStack]:
    """Serve the mocks (``profiles``) and ``gateway``'s wallet with a live shell pointed at
    them. ``client_timeout_s`` and the clients' retry back-off are model seconds, so they
    shrink with the clock's scale like everything else."""
    scale = clock.scale

    async def backoff(seconds: float) -> None:
        await asyncio.sleep(seconds / scale)

    root = mock_root(profiles, dice, clock)
    contexts: dict[str, MockContext] = {n: a.state.mock for n, a in root.state.mocks.items()}
    with serve_app(root) as mocks_url:
        clients = {name: client_for(name, f"{mocks_url}/{name}", api_key=API_KEYS[dialect_of(name)],
                                    timeout_s=client_timeout_s / scale, sleep=backoff)
                   for name in profiles}
        live = LiveGateway(gateway, clients, {n: secret_of(n) for n in profiles}, "")
        live.wall = WallClock()
        app = create_app(Settings(database_url="memory://", sweep_interval_s=sweep_interval_s,
                                  log_level="error"), wallet=gateway.wallet, gateway=live)
        with serve_app(app) as wallet_url:
            live.callback_base_url = wallet_url
            yield LiveStack(wallet_url, mocks_url, live, gateway.wallet, clock, contexts)
