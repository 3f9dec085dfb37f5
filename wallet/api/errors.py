"""Every error leaves as ``application/problem+json`` (RFC 9457) with a stable ``code``.

Clients branch on ``code`` (the DomainError code, or an API code such as
``unauthenticated``), never on ``detail``. The status follows the IETF
Idempotency-Key draft for key errors. Unexpected exceptions become a bare 500
without internals; bad input must never get that far.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from wallet.domain import errors as e
from wallet.service.unit_of_work import RetryableStoreError

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:igaming-sandbox:problem:"
log = logging.getLogger("wallet.api")

# most specific class first: the first match wins
_STATUS: tuple[tuple[type[e.DomainError], int], ...] = (
    (e.IdempotencyKeyReused, 422),
    (e.IdempotencyInFlight, 409),
    (e.InvalidInput, 422),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.UnbalancedTransaction, 500),  # a handler bug, not the caller's fault
)

# Hub88-style status words, added to problems on /v1/game/* for aggregators that map them
GAME_STATUS = {
    "insufficient_funds": "RS_ERROR_NOT_ENOUGH_MONEY",
    "player_locked": "RS_ERROR_USER_DISABLED",
    "player_not_found": "RS_ERROR_USER_NOT_FOUND",
    "transaction_not_found": "RS_ERROR_TRANSACTION_DOES_NOT_EXIST",
    "already_exists": "RS_ERROR_DUPLICATE_TRANSACTION",
    "idempotency_key_reused": "RS_ERROR_DUPLICATE_TRANSACTION",
    "bet_rolled_back": "RS_ERROR_TRANSACTION_ROLLED_BACK",
    "unknown_currency": "RS_ERROR_WRONG_CURRENCY",
    "invalid_request": "RS_ERROR_WRONG_TYPES",
    "invalid_input": "RS_ERROR_WRONG_TYPES",
    "invalid_amount": "RS_ERROR_WRONG_TYPES",
    "unauthenticated": "RS_ERROR_INVALID_SIGNATURE",
}


class ApiError(Exception):
    """An HTTP-level refusal (auth, missing headers) with its problem code."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.field = status, code, detail, field
        self.headers = headers


def status_for(err: e.DomainError) -> int:
    return next((status for cls, status in _STATUS if isinstance(err, cls)), 400)


def problem(
    request: Request,
    status: int,
    code: str,
    detail: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "field": field,
        **extra,
    }
    if request.url.path.startswith("/v1/game/"):
        body["game_status"] = GAME_STATUS.get(code, "RS_ERROR_UNKNOWN")
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or None


async def _on_domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.DomainError)
    status = status_for(exc)
    if status >= 500:
        log.error("internal domain error %s: %s", exc.code, exc.message)
        return problem(request, status, exc.code, "internal error")
    return problem(request, status, exc.code, exc.message, exc.field)


async def _on_api(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem(request, exc.status, exc.code, exc.detail, exc.field, exc.headers)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    """Pydantic's errors without their ``input`` (it may hold secrets or megabytes)."""
    assert isinstance(exc, RequestValidationError)
    errs = [
        {
            "field": None if err.get("type") == "json_invalid" else _field_path(tuple(err["loc"])),
            "message": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]
    first: dict[str, Any] = errs[0] if errs else {"field": None, "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return problem(request, 422, "invalid_request", detail, first["field"], errors=errs)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8): as invalid JSON
        return problem(request, 422, "invalid_request", "the body could not be parsed as JSON")
    code = {404: "route_not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
        exc.status_code, "http_error"
    )
    return problem(request, exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _on_busy(request: Request, exc: Exception) -> JSONResponse:
    return problem(
        request,
        503,
        "busy",
        "the store stayed contended; retry with the same key",
        headers={"Retry-After": "1"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(request, 500, "internal_error", "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.DomainError, _on_domain)
    app.add_exception_handler(ApiError, _on_api)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RetryableStoreError, _on_busy)
    app.add_exception_handler(Exception, _on_unexpected)
