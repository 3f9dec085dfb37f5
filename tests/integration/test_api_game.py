"""The Hub88-style game wallet: bet, win, rollback, tombstones, duplicates, locked players."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.api_harness import (
    ADMIN,
    HUB88,
    START,
    STORES,
    Api,
    api_fixture,
    assert_problem,
    serve_api,
)
from wallet.adapters.memory import MemoryStore
from wallet.api.settings import Settings
from wallet.service.clock import ManualClock
from wallet.service.wallet import Wallet


@pytest.fixture(params=STORES)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(request, tmp_path_factory)


def game(api: Api, op: str, as_: str = HUB88, **body: object) -> httpx.Response:
    return api.post(f"/v1/game/{op}", {"player": "p1", "currency": "EUR", **body}, as_=as_, key=None)


def bet(api: Api, uuid: str = "b1", amount: int = 300, **kw: object) -> httpx.Response:
    return game(api, "bet", transaction_uuid=uuid, round="r1", amount=amount, **kw)


def test_balance_is_cash_plus_bonus(api: Api) -> None:
    api.funded(amount=1_000)
    api.ok("POST", "/v1/players/p1/bonuses", {"bonus_id": "b", "amount": 200, "currency": "EUR"})
    r = game(api, "balance", request_uuid="q1")
    assert r.status_code == 200
    assert r.json() == {
        "status": "RS_OK",
        "player": "p1",
        "currency": "EUR",
        "balance": 1_200,
        "cash": 1_000,
        "bonus": 200,
        "transaction_uuid": None,
        "transaction_id": None,
        "request_uuid": "q1",
    }


def test_bet_then_win(api: Api) -> None:
    api.funded(amount=1_000)
    placed = bet(api)
    assert placed.status_code == 200
    assert placed.json()["balance"] == 700
    assert placed.json()["transaction_id"] == "bet:hub88:b1"
    won = game(api, "win", transaction_uuid="w1", reference_transaction_uuid="b1", round="r1", amount=900)
    assert won.status_code == 200
    assert won.json()["balance"] == 1_600
    assert api.balance()["available"] == 1_600
    api.clean()


def test_losing_round_closes_with_a_zero_win(api: Api) -> None:
    api.funded(amount=1_000)
    bet(api)
    r = game(api, "win", transaction_uuid="w1", reference_transaction_uuid="b1", round="r1", amount=0)
    assert r.status_code == 200
    assert r.json()["balance"] == 700
    assert r.json()["transaction_id"] is None


def test_bet_then_rollback_restores_the_balance(api: Api) -> None:
    api.funded(amount=1_000)
    bet(api)
    r = game(api, "rollback", transaction_uuid="rb1", reference_transaction_uuid="b1", round="r1")
    assert r.status_code == 200
    assert r.json()["balance"] == 1_000
    api.clean()


def test_rollback_before_bet_leaves_a_tombstone_and_the_late_bet_is_refused(api: Api) -> None:
    api.funded(amount=1_000)
    r = game(api, "rollback", transaction_uuid="rb1", reference_transaction_uuid="b1", round="r1")
    assert r.status_code == 200
    assert r.json()["transaction_id"] is None
    before = api.snapshot()
    late = assert_problem(bet(api), 409, "bet_rolled_back")
    assert late["game_status"] == "RS_ERROR_TRANSACTION_ROLLED_BACK"
    assert api.balance()["available"] == 1_000
    assert api.snapshot()[:2] == before[:2]
    assert bet(api).json() == late  # the refusal is the remembered answer


def test_duplicate_bet_replays_the_original_answer(api: Api) -> None:
    api.funded(amount=1_000)
    first = bet(api, request_uuid="q1")
    bet(api, uuid="b2", amount=100)  # the balance moves on in between
    again = bet(api, request_uuid="q1")
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert api.balance()["available"] == 600


def test_reused_transaction_uuid_with_other_content_is_refused(api: Api) -> None:
    api.funded(amount=1_000)
    bet(api)
    body = assert_problem(bet(api, amount=301), 422, "idempotency_key_reused")
    assert body["game_status"] == "RS_ERROR_DUPLICATE_TRANSACTION"
    assert api.balance()["available"] == 700


def test_locked_player_cannot_bet_but_wins_and_rollbacks_land(api: Api) -> None:
    api.funded(amount=1_000)
    bet(api, uuid="b1")
    bet(api, uuid="b2")
    api.ok("POST", "/v1/players/p1/lock", {"reason": "review"}, as_=ADMIN)
    body = assert_problem(bet(api, uuid="b3"), 409, "player_locked")
    assert body["game_status"] == "RS_ERROR_USER_DISABLED"
    won = game(api, "win", transaction_uuid="w1", reference_transaction_uuid="b1", round="r1", amount=500)
    assert won.status_code == 200
    back = game(api, "rollback", transaction_uuid="rb2", reference_transaction_uuid="b2", round="r1")
    assert back.status_code == 200
    assert api.balance()["available"] == 1_000 - 300 + 500


def test_win_for_unknown_bet_is_404_and_rollback_after_win_is_409(api: Api) -> None:
    api.funded(amount=1_000)
    assert_problem(
        game(api, "win", transaction_uuid="w0", reference_transaction_uuid="nope", round="r1", amount=5),
        404,
        "transaction_not_found",
    )
    bet(api)
    game(api, "win", transaction_uuid="w1", reference_transaction_uuid="b1", round="r1", amount=5)
    assert_problem(
        game(api, "rollback", transaction_uuid="rb1", reference_transaction_uuid="b1"), 409, "conflict"
    )


def test_the_aggregator_comes_from_the_key_not_the_body(api: Api) -> None:
    api.funded(amount=1_000)
    assert_problem(bet(api, aggregator="someone-else"), 422, "invalid_request", "aggregator")
    assert api.balance()["available"] == 1_000


def test_two_aggregators_may_use_the_same_transaction_uuid() -> None:
    keys = {
        "hub88-key-0123456789": {"name": "hub88", "scopes": ["game:hub88"]},
        "pragma-key-012345678": {"name": "pragma", "scopes": ["game:pragma"]},
        "ops-key-012345678901": {"name": "ops", "scopes": ["operator"]},
    }
    clock = ManualClock(START)
    settings = Settings(database_url="memory://", api_keys=keys)
    with serve_api(Wallet(MemoryStore(), clock), clock, settings) as api:
        api.ok("POST", "/v1/players", {"player_id": "p1", "currency": "EUR"}, as_="ops-key-012345678901")
        api.ok(
            "POST",
            "/v1/deposits",
            {"player_id": "p1", "provider": "a", "payment_id": "d", "amount": 1_000, "currency": "EUR"},
            as_="ops-key-012345678901",
        )
        assert bet(api, as_="hub88-key-0123456789").status_code == 200
        assert bet(api, as_="pragma-key-012345678").status_code == 200
        assert api.balance()["available"] == 400


def test_concurrent_bets_never_overdraw(api: Api) -> None:
    api.funded(amount=1_000)

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=api.client.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://wallet", headers={"Authorization": f"Bearer {HUB88}"}
        ) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/v1/game/bet",
                        json={
                            "player": "p1",
                            "currency": "EUR",
                            "round": "r",
                            "transaction_uuid": f"c{i}",
                            "amount": 100,
                        },
                    )
                    for i in range(20)
                )
            )

    codes = sorted(r.status_code for r in asyncio.run(burst()))
    assert codes == [200] * 10 + [409] * 10
    assert api.balance()["available"] == 0
    api.clean()
