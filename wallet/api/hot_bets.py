"""The bet route's hot path: a plain bet answered on the event loop in one round trip.

A game aggregator's bet is the wallet's most frequent call. Through FastAPI it costs
a worker-thread hop, the dependency graph and a pydantic round trip per request,
which on a small machine weighs as much as the database's own work. This pure ASGI
layer takes ``POST /v1/game/bet`` first: the same ``BetIn`` schema, the same API-key
check, the same command and idempotency scope, and ``wallet_place_bet`` through an
async pool (``AsyncFastBets``). It answers only when all of that succeeds. Anything
else goes to the FastAPI route untouched, the body replayed, and is answered there
exactly as before, so errors, replays and refusals keep one home:

* not a plain well-formed bet (no ``Content-Length`` or JSON content type, a bad key or
  body): ``skipped``;
* a bet the function leaves to the unit of work (a replay, a bonus, too little cash):
  ``declined``, and the route goes straight to the unit of work;
* the database failed: ``error``. Nothing was written, or the bet committed and the
  route's own call finds its idempotency record and replays it.

``wallet_hot_bets{result}`` counts each outcome, ``answered`` included.
"""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wallet.api.auth import Authenticator
from wallet.api.deps import DECLINED
from wallet.api.metrics import Metrics
from wallet.api.routes.game import game_answer, game_key
from wallet.api.schemas import BetIn
from wallet.domain.commands import PlaceBet
from wallet.service.clock import Clock

if TYPE_CHECKING:
    from wallet.adapters.sql.bets import AsyncFastBets

PATH = "/v1/game/bet"
_ROUTE = SimpleNamespace(path=PATH)  # what the metrics label the request with
log = logging.getLogger("wallet.api")


class HotBets:
    def __init__(self, app: ASGIApp, *, bets: AsyncFastBets, auth: Authenticator, clock: Clock,
                 metrics: Metrics) -> None:
        self.app, self.bets, self.auth, self.clock, self.metrics = app, bets, auth, clock, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST"
                and self.bets.available):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"content-length" not in headers or not _json(headers.get(b"content-type", b"")):
            # a streamed body may outgrow the size limit mid-read, and FastAPI refuses a body
            # that is not declared JSON: the route answers both
            self.metrics.hot_bets.labels("skipped").inc()
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        result, answer = await self._answer(scope, body)
        self.metrics.hot_bets.labels(result).inc()
        if answer is None:
            if result == "declined":
                scope.setdefault("state", {})[DECLINED] = True
            await self.app(scope, _replay(body, receive), send)
            return
        scope["route"] = _ROUTE
        self.metrics.operation(PlaceBet.__name__, "ok")
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, scope: Scope, body: bytes) -> tuple[str, bytes | None]:
        """What happened, and the response body if the hot path answers."""
        try:
            who = self.auth.authenticate(_credential(scope["headers"]))
            if who.aggregator is None:
                return "skipped", None
            bet = BetIn.model_validate_json(body)
            cmd = PlaceBet(who.aggregator, bet.transaction_uuid, bet.player, bet.round, bet.amount,
                           bet.currency, bet.game_code)
        except Exception:  # the route refuses it with the proper problem
            return "skipped", None
        try:
            result = await self.bets.place_bet(
                cmd, idempotency=game_key(who, bet.transaction_uuid), actor=who.actor,
                request_id=scope.get("state", {}).get("request_id"), now=self.clock.now())
        except Exception as exc:  # the connection failed; the route's own pool answers
            log.warning("hot bet path: %s: %s; the route takes the bet", type(exc).__name__, exc)
            return "error", None
        if result is None:
            return "declined", None
        out = game_answer(bet.player, result["balance"], bet.request_uuid, bet.transaction_uuid,
                          result["transaction_id"])
        return "answered", json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()


def _json(content_type: bytes) -> bool:
    """FastAPI's rule for a JSON body: ``application/json`` or ``application/*+json``."""
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (kind.startswith(b"application/") and kind.endswith(b"+json"))


def _credential(headers: list[tuple[bytes, bytes]]) -> str | None:
    """As ``wallet.api.auth.principal`` reads it through Starlette, which takes the first
    header of a name: X-API-Key if not empty, else an ``Authorization: Bearer`` token."""
    api_key = authorization = None
    for name, value in headers:
        if name == b"x-api-key" and api_key is None:
            api_key = value
        elif name == b"authorization" and authorization is None:
            authorization = value
    if api_key:
        return api_key.decode("latin-1")
    scheme, _, token = (authorization or b"").decode("latin-1").partition(" ")
    token = token.strip()
    return token if token and scheme.lower() == "bearer" else None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # then whatever the client sends next (a disconnect)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def install(app: Any, bets: AsyncFastBets) -> None:
    """Put the hot path in front of the routes (inside the observability middleware)."""
    bets.on_batch = app.state.metrics.hot_bet_batch.observe
    app.add_middleware(HotBets, bets=bets, auth=app.state.auth, clock=app.state.wallet.clock,
                       metrics=app.state.metrics)
