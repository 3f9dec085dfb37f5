"""The bet hot path on PostgreSQL (``wallet/api/hot_bets.py``): indistinguishable from the route.

The same bets through an app with the hot path and one without must leave the same
answers, audit chain (hashes included), idempotency records and balances. Whatever
the hot path does not answer itself (a replay, a refusal, a bad key or body, a bonus,
a dead connection) the FastAPI route answers exactly as before. Real concurrency:
a real uvicorn server and concurrent clients racing for one player's last cash.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.integration.api_harness import ADMIN, HUB88, OPERATOR, START, Api, build_store, serve_api
from tests.live import serve
from wallet.adapters.sql import SqlStore
from wallet.adapters.sql.bets import APPLICATION_NAME
from wallet.api.app import create_app
from wallet.api.settings import Settings
from wallet.service.clock import ManualClock, SystemClock
from wallet.service.wallet import Wallet

pytestmark = pytest.mark.postgres
GAME = {"X-API-Key": HUB88}
BODY = b'{"player": "p1", "transaction_uuid": "b1", "round": "r", "amount": 300, "currency": "EUR"}'


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    s = build_store("postgres", request, tmp_path_factory)
    yield s
    s.close()


def hot_api(store: SqlStore, *, hot: bool = True) -> Any:
    clock = ManualClock(START)
    return serve_api(Wallet(store, clock), clock, Settings(database_url="memory://", hot_bets=hot))


def hot_count(api: Api, result: str) -> float:
    return hot_in(api.client.get("/metrics").text, result)


def hot_in(metrics: str, result: str) -> float:
    found = re.search(rf'^wallet_hot_bets_total{{result="{result}"}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


def bet(api: Api, uuid: str, amount: int = 300, *, player: str = "p1", headers: dict[str, str] | None = None,
        **body: Any) -> httpx.Response:
    payload = {"player": player, "transaction_uuid": uuid, "round": f"r-{uuid}", "amount": amount,
               "currency": "EUR", **body}
    return api.client.post("/v1/game/bet", json=payload,
                           headers={**GAME, "X-Request-Id": f"req-{uuid}", **(headers or {})})


def state(store: SqlStore) -> dict[str, Any]:
    with store.engine.connect() as conn:
        rows = {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1, 2").all()
                for t in ("audit_log", "idempotency", "game_txns", "postings")}
        rows["balances"] = conn.exec_driver_sql(
            "SELECT id, balance FROM accounts WHERE balance IS NOT NULL ORDER BY id").all()
    return rows


def play(api: Api) -> list[tuple[int, Any]]:
    """A bonus-free day: plain bets (two players, a game code, a request uuid), a replay,
    a reused uuid, one bet too big; a win in between moves the audit chain along."""
    api.client.headers["X-Request-Id"] = "setup"  # audit entries record it: the same in both runs
    for pid in ("p1", "p2"):
        api.funded(pid, 5_000)
    answers = [bet(api, "b1"), bet(api, "b2", 700, game_code="slots", request_uuid="q2"),
               bet(api, "b3", 100, player="p2"), bet(api, "b1"), bet(api, "b1", 301),
               bet(api, "b4", 90_000)]
    api.client.post("/v1/game/win", headers=GAME, json={
        "player": "p1", "transaction_uuid": "w1", "reference_transaction_uuid": "b1", "round": "r-b1",
        "amount": 450, "currency": "EUR"})
    answers.append(bet(api, "b5", 50))
    return [(r.status_code, r.json()) for r in answers]


def test_the_same_bets_leave_the_same_answers_audit_and_records_with_and_without(store: SqlStore) -> None:
    with hot_api(store, hot=False) as api:
        route_answers = play(api)
        assert hot_count(api, "answered") == 0
    route_state = state(store)
    store.truncate_all()
    with hot_api(store) as api:
        hot_answers = play(api)
        assert hot_count(api, "answered") == 4  # b1, b2, b3, b5; the rest went to the route
        assert hot_count(api, "declined") == 3  # the replay, the reused uuid, the bet too big
        api.clean()
    assert hot_answers == route_answers
    assert [s for s, _ in hot_answers] == [200, 200, 200, 200, 422, 409, 200]
    assert state(store) == route_state  # hashes, outcomes, postings and balances alike


@pytest.mark.parametrize(
    ("case", "result", "status", "code"),
    [
        ("unknown key", "skipped", 401, "unauthenticated"),
        ("operator key", "skipped", 403, "forbidden"),
        ("negative amount", "skipped", 422, "invalid_request"),
        ("unknown field", "skipped", 422, "invalid_request"),
        ("not JSON", "skipped", 422, "invalid_request"),
        ("JSON sent as text/plain", "skipped", 422, "invalid_request"),
        ("no content type", "skipped", 422, "invalid_request"),
        ("too little cash", "declined", 409, "insufficient_funds"),
        ("locked player", "declined", 409, "player_locked"),
    ],
)
def test_what_the_hot_path_does_not_answer_the_route_refuses_writing_nothing(
    store: SqlStore, case: str, result: str, status: int, code: str
) -> None:
    with hot_api(store) as api:
        api.funded("p1", 1_000)
        if case == "locked player":
            api.ok("POST", "/v1/players/p1/lock", {"reason": "responsible gaming"}, as_=ADMIN)
        before = api.snapshot()
        headers = {"unknown key": {"X-API-Key": "no-such-key-0123456789"},
                   "operator key": {"X-API-Key": OPERATOR}}.get(case, {})
        raw = {"not JSON": (b"{not json", "application/json"),
               "JSON sent as text/plain": (BODY, "text/plain"), "no content type": (BODY, None)}
        if case in raw:
            content, kind = raw[case]
            r = api.client.post("/v1/game/bet", content=content,
                                headers={**GAME, **({"content-type": kind} if kind else {})})
        else:
            extra = {"unknown field": {"tip": 1}}.get(case, {})
            amount = {"negative amount": -5, "too little cash": 1_001}.get(case, 300)
            r = bet(api, "b1", amount, headers=headers, **extra)
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
        assert hot_count(api, result) == 1
        assert hot_count(api, "answered") == 0
        assert api.snapshot() == before


def test_a_bonus_player_is_served_by_the_unit_of_work(store: SqlStore) -> None:
    """Bonus money changes how a bet is funded: the function leaves it to the domain."""
    with hot_api(store) as api:
        api.funded("p1", 1_000)
        api.ok("POST", "/v1/players/p1/bonuses", {"bonus_id": "x", "amount": 200, "currency": "EUR"})
        r = bet(api, "b1", 300)
        assert r.status_code == 200, r.text
        assert (hot_count(api, "declined"), hot_count(api, "answered")) == (1, 0)
        assert r.json()["balance"] == 900
        api.clean()


def test_a_dead_connection_falls_back_to_the_route_and_the_pool_recovers(store: SqlStore) -> None:
    """A real fault: the server terminates the hot path's connections mid-run."""
    with hot_api(store) as api:
        api.funded("p1", 1_000)
        assert bet(api, "b1", 100).status_code == 200
        with store.engine.connect() as conn:
            killed = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :n"
            ), {"n": APPLICATION_NAME}).scalar_one()
        assert killed >= 1
        after = [bet(api, f"b{i}", 100) for i in range(2, 6)]
        assert [r.status_code for r in after] == [200] * 4
        assert api.balance()["available"] == 500  # each bet debited once, whichever path took it
        assert hot_count(api, "answered") >= 2  # the pool reconnected
        api.clean()


@pytest.mark.slow
def test_concurrent_bets_race_for_the_last_cash_under_uvicorn(store: SqlStore) -> None:
    """Sixty bets of 100 at once against 2,500 of cash, each sent twice: 25 win, the rest are
    refused, every duplicate gets its first answer, and the ledger balances to the unit."""
    wallet = Wallet(store, SystemClock())
    with serve(create_app(Settings(database_url="memory://"), wallet=wallet)) as url:
        httpx.post(f"{url}/v1/players", json={"player_id": "p1", "currency": "EUR"},
                   headers={"X-API-Key": OPERATOR, "Idempotency-Key": "open"}).raise_for_status()
        httpx.post(f"{url}/v1/deposits", json={"player_id": "p1", "provider": "acme", "payment_id": "d1",
                                              "amount": 2_500, "currency": "EUR"},
                   headers={"X-API-Key": OPERATOR, "Idempotency-Key": "dep"}).raise_for_status()

        async def race() -> list[tuple[str, int, dict[str, Any]]]:
            limits = httpx.Limits(max_connections=32)
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
                async def one(uuid: str) -> tuple[str, int, dict[str, Any]]:
                    r = await client.post("/v1/game/bet", headers=GAME, json={
                        "player": "p1", "transaction_uuid": uuid, "round": "r", "amount": 100,
                        "currency": "EUR"})
                    return uuid, r.status_code, r.json()

                uuids = [f"b{i}" for i in range(60)]
                return await asyncio.gather(*(one(u) for u in uuids + uuids[::-1]))

        outcomes = asyncio.run(race())
        metrics = httpx.get(f"{url}/metrics").text
    first: dict[str, tuple[int, dict[str, Any]]] = {}
    for uuid, status, body in outcomes:
        body.pop("request_uuid", None)
        assert first.setdefault(uuid, (status, body)) == (status, body), f"a replay of {uuid} differs"
    statuses = [s for s, _ in first.values()]
    assert statuses.count(200) == 25
    assert {first[u][1]["code"] for u in first if first[u][0] != 200} == {"insufficient_funds"}
    assert wallet.balance("p1", "EUR")["available"] == 0
    assert wallet.ledger_violations() == []
    assert wallet.verify_audit() == []
    assert hot_in(metrics, "answered") >= 1  # the race did go through the hot path
