"""Build the mock apps: one FastAPI app per provider, all mounted under one root app.

One process, one port: ``/acme``, ``/globex``, ``/paywave``, ``/openbank``,
``/chainpay-btc`` ``/chainpay-eth`` ``/chainpay-tron``, ``/verifyme``, each
with its own ``/_control``. A provider's dialect comes from its name prefix
(``chainpay-*`` speak chainpay) or from ``DIALECT_OF``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import httpx
from fastapi import FastAPI

from mocks.apps import acme, chainpay, globex, openbank, paywave, verifyme
from mocks.apps.base import Clock, MockContext, install_error_handlers
from mocks.apps.control import control_router
from mocks.apps.dispatcher import Dispatcher
from mocks.apps.metrics import install as install_metrics
from mocks.models.profile import FaultProfile, ProfileFile
from mocks.models.runtime import ProviderRuntime
from sandbox.randomness import Dice

DIALECTS: dict[str, ModuleType] = {
    "acme": acme, "globex": globex, "paywave": paywave, "openbank": openbank,
    "chainpay": chainpay, "verifyme": verifyme,
}
DEFAULT_SECRETS = {
    "acme": "whsec_c2FuZGJveC1hY21lLXNlY3JldC0wMDAwMDAwMDAw",
    "paywave": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
}
API_KEYS = {"acme": "sk_test_acme", "globex": "gk_test_globex", "paywave": "ws_test:paywave",
            "openbank": "ob_test_token", "chainpay": "cp_test_token",
            "verifyme": "vm_test_token"}


def dialect_of(name: str) -> str:
    base = name.split("-", 1)[0]
    if base not in DIALECTS:
        raise ValueError(f"no dialect for provider {name!r}; known: {sorted(DIALECTS)}")
    return base


def build_mock(name: str, profile: FaultProfile, dice: Dice, *, clock: Clock | None = None,
               secret: str | None = None, transport: httpx.AsyncBaseTransport | None = None,
               default_callback: str = "") -> FastAPI:
    """One provider's app. ``transport`` lets tests deliver webhooks in-process."""
    dialect = dialect_of(name)
    module = DIALECTS[dialect]
    runtime = ProviderRuntime(name, profile, dice)
    ctx = MockContext(name, dialect, runtime, clock or Clock(),
                      secret or DEFAULT_SECRETS.get(dialect, f"{dialect}_sandbox_secret"),
                      API_KEYS[dialect], default_callback=default_callback)
    ctx.dispatcher = Dispatcher(ctx.clock, module.webhook(ctx),
                                lambda: runtime.profile.compiled.retry_schedule,
                                transport=transport, batch=getattr(module, "BATCH", False))
    app = FastAPI(title=f"mock {name} ({dialect})")
    app.state.mock = ctx
    install_error_handlers(app)
    module.register(app, ctx)
    app.include_router(control_router())

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "provider": name, "dialect": dialect}

    return app


def build_root(pf: ProfileFile, *, seed: int | None = None, time_scale: float = 1.0,
               transport: httpx.AsyncBaseTransport | None = None,
               default_callback: str = "") -> FastAPI:
    """All providers of a profile file under ``/<name>``, sharing one clock and one seed."""
    dice = Dice(pf.seed if seed is None else seed)
    clock = Clock(time_scale)
    root = FastAPI(title="iGaming payment mocks")
    mounted: dict[str, FastAPI] = {}
    for name, profile in pf.profiles().items():
        app = build_mock(name, profile, dice, clock=clock,
                         secret=pf.secrets.get(name) or pf.secrets.get(dialect_of(name)),
                         transport=transport, default_callback=default_callback)
        mounted[name] = app
        root.mount(f"/{name}", app)
    root.state.mocks = mounted
    install_metrics(root, {n: context(a) for n, a in mounted.items()})

    @root.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "providers": {n: dialect_of(n) for n in mounted},
                "now": clock.now(), "time_scale": time_scale}

    return root


ContextOf = Callable[[FastAPI], MockContext]


def context(app: FastAPI) -> MockContext:
    return app.state.mock
