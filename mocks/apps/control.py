"""The runtime control API every mock exposes under ``/_control`` (like Toxiproxy).

Profiles are read and replaced as JSON; outages, duplicate storms and slow spells are
timeline windows starting now; any event can be fired or redelivered; the
provider's own records, decisions and settlement report are readable for reconciliation
and the live consistency checker.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from mocks.apps.base import MockContext
from mocks.models.profile import FaultProfile
from mocks.models.types import FAULTS, Decision
from wallet.domain.errors import InvalidInput


class OutageBody(BaseModel):
    duration_s: float | None = Field(None, gt=0)  # model seconds; None: until stopped
    fault: str = "http_5xx"


class StormBody(BaseModel):
    duration_s: float | None = Field(None, gt=0)
    duplicate_probability: float = Field(1.0, ge=0, le=1)
    duplicate_count: int = Field(3, ge=0)


class LatencyBody(BaseModel):
    duration_s: float | None = Field(None, gt=0)
    extra_latency_s: float = Field(2.0, ge=0)  # model seconds added to every call


class TriggerBody(BaseModel):
    type: str  # canonical event type, e.g. payment.succeeded, chargeback.created
    provider_ref: str | None = None
    reference: str = ""
    callback_url: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def decision_dict(d: Decision) -> dict[str, Any]:
    """A decision as JSON, without its planned webhooks and events (see ``decision_from``)."""
    return {f.name: getattr(d, f.name) for f in fields(Decision) if f.name not in _PLANS}


def decision_from(data: dict[str, Any]) -> Decision:
    """The inverse of ``decision_dict``: enough of a decision for the settlement checks."""
    return Decision(**{k: v for k, v in data.items() if k not in _PLANS})


_PLANS = ("webhooks", "events")


def _ctx(request: Request) -> MockContext:
    return request.app.state.mock


def control_router() -> APIRouter:
    r = APIRouter(prefix="/_control", tags=["control"])

    @r.get("/profile")
    async def get_profile(request: Request) -> dict[str, Any]:
        return _ctx(request).runtime.profile.model_dump(mode="json")

    @r.put("/profile")
    async def put_profile(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(request)
        ctx.runtime.set_profile(FaultProfile.model_validate({"kind": ctx.runtime.kind, **body}))
        return ctx.runtime.profile.model_dump(mode="json")

    @r.patch("/profile")
    async def patch_profile(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(request)
        ctx.runtime.set_profile(ctx.runtime.profile.patched(body))
        return ctx.runtime.profile.model_dump(mode="json")

    @r.post("/outage")
    async def start_outage(request: Request, body: OutageBody) -> dict[str, Any]:
        if body.fault not in FAULTS:
            raise InvalidInput(f"fault must be one of {FAULTS}", field="fault")
        ctx = _ctx(request)
        w = ctx.runtime.start_window(ctx.clock.now(), "outage", body.duration_s, fault=body.fault)
        return w.model_dump(mode="json")

    @r.delete("/outage")
    async def stop_outage(request: Request) -> dict[str, int]:
        ctx = _ctx(request)
        return {"stopped": ctx.runtime.stop_windows(ctx.clock.now(), "outage")}

    @r.post("/duplicate-storm")
    async def start_storm(request: Request, body: StormBody) -> dict[str, Any]:
        ctx = _ctx(request)
        w = ctx.runtime.start_window(ctx.clock.now(), "duplicate_storm", body.duration_s,
                                     duplicate_probability=body.duplicate_probability,
                                     duplicate_count=body.duplicate_count)
        return w.model_dump(mode="json")

    @r.delete("/duplicate-storm")
    async def stop_storm(request: Request) -> dict[str, int]:
        ctx = _ctx(request)
        return {"stopped": ctx.runtime.stop_windows(ctx.clock.now(), "duplicate_storm")}

    @r.post("/latency")
    async def start_latency(request: Request, body: LatencyBody) -> dict[str, Any]:
        """A slow provider: every call takes ``extra_latency_s`` longer (past a client's
        timeout the gateway must inquire, not guess)."""
        ctx = _ctx(request)
        w = ctx.runtime.start_window(ctx.clock.now(), "latency", body.duration_s,
                                     extra_latency_s=body.extra_latency_s)
        return w.model_dump(mode="json")

    @r.delete("/latency")
    async def stop_latency(request: Request) -> dict[str, int]:
        ctx = _ctx(request)
        return {"stopped": ctx.runtime.stop_windows(ctx.clock.now(), "latency")}

    @r.post("/trigger")
    async def trigger(request: Request, body: TriggerBody) -> dict[str, Any]:
        ctx = _ctx(request)
        planned = ctx.runtime.trigger(body.type, ctx.clock.now(), body.provider_ref,
                                      body.reference, **body.data)
        url = body.callback_url or ctx.callbacks.get(planned.event.provider_ref, "") \
            or ctx.default_callback
        if url:
            ctx.dispatcher.schedule(url, [planned])
        return {"event_id": planned.event.id, "type": planned.event.type, "callback_url": url}

    @r.post("/events/{event_id}/redeliver")
    async def redeliver(request: Request, event_id: str) -> dict[str, Any]:
        ctx = _ctx(request)
        ev = ctx.runtime.find_event(event_id)
        url = ctx.callbacks.get(ev.provider_ref, "") or ctx.default_callback
        ctx.dispatcher.redeliver(url, ev)
        return {"event_id": ev.id, "callback_url": url}

    @r.get("/deliveries")
    async def deliveries(request: Request) -> list[dict[str, Any]]:
        return [a.__dict__ | {"event_ids": list(a.event_ids)}
                for a in _ctx(request).dispatcher.log]

    @r.get("/records")
    async def records(request: Request) -> dict[str, Any]:
        ctx = _ctx(request)
        return ctx.runtime.records.summary(ctx.clock.now())

    @r.get("/decisions")
    async def decisions(request: Request) -> dict[str, Any]:
        """Every decision the provider acted on, for the live consistency checker: the
        independent truth of what was settled (planned events and webhooks left out)."""
        ctx = _ctx(request)
        return {"provider": ctx.name, "now": ctx.clock.now(),
                "decisions": [decision_dict(d) for d in ctx.runtime.records.decisions()]}

    @r.get("/settlement")
    async def settlement(request: Request, as_of: float | None = None) -> dict[str, Any]:
        ctx = _ctx(request)
        return ctx.runtime.records.settlement(ctx.clock.now() if as_of is None else as_of)

    @r.get("/health")
    async def health(request: Request) -> dict[str, Any]:
        ctx = _ctx(request)
        return {"status": "ok", "provider": ctx.name, "dialect": ctx.dialect,
                "kind": ctx.runtime.kind, "now": ctx.clock.now(),
                "pending_deliveries": ctx.dispatcher.pending}

    return r
