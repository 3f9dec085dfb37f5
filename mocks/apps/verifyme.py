"""'verifyme' KYC dialect, Sumsub-like: applicants, review answers GREEN / RED.

Age is computed here from the date of birth (the model takes facts, not
documents); the result arrives by webhook signed with ``X-Payload-Digest``.

    POST /resources/applicants        X-App-Token; idempotent on externalUserId
    GET  /resources/applicants/{id}/status
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from mocks.apps.base import MockContext, dumps, render, require
from mocks.apps.signing import sign_verifyme
from mocks.models.types import Decision, Event, KycRequest

TYPE = {"kyc.pending": "applicantPending", "kyc.review": "applicantOnHold",
        "kyc.approved": "applicantReviewed", "kyc.rejected": "applicantReviewed"}


class Info(BaseModel):
    dob: date
    country: str = Field(min_length=2, max_length=2)


class ApplicantIn(BaseModel):
    externalUserId: str = Field(min_length=1)
    info: Info
    ipCountry: str = ""
    docType: str = "PASSPORT"
    webhookUrl: str = ""


def age(dob: date, today: date) -> int:
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def review(d: Decision, ev: Event | None) -> dict[str, Any]:
    status = {"kyc.review": "onHold", "kyc.approved": "completed",
              "kyc.rejected": "completed"}.get(ev.type if ev else "", "pending")
    out: dict[str, Any] = {"reviewStatus": status}
    if status == "completed" and ev is not None:
        red = ev.type == "kyc.rejected"
        out["reviewResult"] = {"reviewAnswer": "RED" if red else "GREEN",
                               "rejectLabels": [str(ev.data.get("reason")).upper()] if red else []}
    return out


def webhook(ctx: MockContext) -> Any:
    def sign(events: list[Event], attempt: int) -> tuple[bytes, dict[str, str]]:
        ev = events[0]
        d = ctx.runtime.records.get(ev.provider_ref)
        body = dumps({"eventId": ev.id, "applicantId": ev.provider_ref,
                      "externalUserId": ev.reference, "type": TYPE.get(ev.type, ev.type),
                      "sequence": ev.sequence, "createdAtMs": int(ctx.clock.wall(ev.created_at)
                                                                  * 1000),
                      **(review(d, ev) if d else {})})
        return body, sign_verifyme(ctx.secret, body)
    return sign


def register(app: FastAPI, ctx: MockContext) -> None:
    @app.post("/resources/applicants")
    async def create(request: Request, body: ApplicantIn) -> Response:
        require(request, "x-app-token", ctx.api_key)
        req = KycRequest(body.externalUserId, body.externalUserId, body.externalUserId,
                         body.info.country.upper(), age(body.info.dob, date.today()),
                         body.ipCountry.upper(), body.docType, body.webhookUrl)
        decision = ctx.decide(req)
        return await render(ctx, decision, lambda d: JSONResponse(
            {"id": d.provider_ref, "externalUserId": d.reference,
             "review": {"reviewStatus": "pending"}}, status_code=201))

    @app.get("/resources/applicants/{applicant_id}/status")
    async def status(request: Request, applicant_id: str) -> dict[str, Any]:
        require(request, "x-app-token", ctx.api_key)
        d = ctx.runtime.get(applicant_id)
        return {"id": d.provider_ref, **review(d, d.last_event(ctx.clock.now()))}
