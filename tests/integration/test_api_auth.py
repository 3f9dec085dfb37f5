"""Who may call what: API key scopes, player tokens, and refusals that leak nothing."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.integration.api_harness import (
    ADMIN,
    HUB88,
    OPERATOR,
    START,
    Api,
    api_fixture,
    assert_problem,
    serve_api,
)
from wallet.adapters.memory import MemoryStore
from wallet.api.app import create_app
from wallet.api.settings import Settings
from wallet.service.clock import ManualClock
from wallet.service.wallet import Wallet

ADMIN_ONLY = [
    ("POST", "/v1/players/p1/lock", {"reason": "x"}),
    ("POST", "/v1/players/p1/unlock", None),
    ("POST", "/v1/transactions/deposit:acme:pay-p1-10000/reversal", {"reason": "x"}),
    ("POST", "/v1/players/p1/write-offs", {"write_off_id": "w", "currency": "EUR"}),
    ("GET", "/v1/admin/audit/verify", None),
    ("GET", "/v1/admin/ledger/check", None),
]
OPERATOR_ONLY = [
    ("POST", "/v1/players", {"player_id": "p9", "currency": "EUR"}),
    ("POST", "/v1/players/p1/currencies", {"currency": "USD"}),
    ("POST", "/v1/players/p1/tokens", None),
    (
        "POST",
        "/v1/deposits",
        {"player_id": "p1", "provider": "a", "payment_id": "z", "amount": 1, "currency": "EUR"},
    ),
    ("POST", "/v1/withdrawals/w1/complete", None),
    (
        "POST",
        "/v1/players/p1/payouts",
        {"withdrawal_id": "w", "amount": 1, "currency": "EUR", "provider": "b"},
    ),
    ("POST", "/v1/chargebacks", {"provider": "acme", "payment_id": "pay-p1-10000", "amount": 1}),
]
GAME_ONLY = [
    ("POST", "/v1/game/balance", {"player": "p1", "currency": "EUR"}),
    (
        "POST",
        "/v1/game/bet",
        {"player": "p1", "transaction_uuid": "t", "round": "r", "amount": 1, "currency": "EUR"},
    ),
]


@pytest.fixture(params=["memory"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from api_fixture(request, tmp_path_factory)


@pytest.fixture
def two_players(api: Api) -> Api:
    api.funded("p1")
    api.funded("p2")
    return api


def _all_v1_routes(api: Api) -> list[tuple[str, str]]:
    """From the OpenAPI document, so a route added later is covered too."""
    paths = api.client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, ops in paths.items()
        if path.startswith("/v1")
        for method in ops
    ]


def test_every_v1_route_needs_credentials(api: Api) -> None:
    """Except the providers' webhooks: their signature on the body is the credential."""
    routes = _all_v1_routes(api)
    assert len(routes) >= 25
    for method, path in routes:
        if path.startswith("/v1/webhooks/"):
            assert_problem(api.call(method, path, {}, as_=None), 401, "invalid_signature")
            continue
        r = api.call(method, path, {}, as_=None)
        assert_problem(r, 401, "unauthenticated")
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_problem(api.call(method, path, {}, as_="not-a-real-key-at-all"), 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
@pytest.mark.parametrize("who", ["operator", "game", "player"])
def test_admin_only_routes_refuse_everyone_else(
    two_players: Api, method: str, path: str, body: dict | None, who: str
) -> None:
    api = two_players
    cred = {"operator": OPERATOR, "game": HUB88, "player": api.token("p1")}[who]
    before = api.snapshot()
    assert_problem(api.call(method, path, body, as_=cred), 403, "forbidden")
    assert api.snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ONLY)
@pytest.mark.parametrize("who", ["game", "player"])
def test_operator_routes_refuse_game_keys_and_players(
    two_players: Api, method: str, path: str, body: dict | None, who: str
) -> None:
    api = two_players
    cred = HUB88 if who == "game" else api.token("p1")
    assert_problem(api.call(method, path, body, as_=cred), 403, "forbidden")


@pytest.mark.parametrize(("method", "path", "body"), GAME_ONLY)
@pytest.mark.parametrize("who", ["operator", "admin", "player"])
def test_game_routes_need_an_aggregator_key(
    two_players: Api, method: str, path: str, body: dict, who: str
) -> None:
    api = two_players
    cred = {"operator": OPERATOR, "admin": ADMIN, "player": api.token("p1")}[who]
    assert_problem(api.call(method, path, body, as_=cred), 403, "forbidden")


def test_admin_may_do_operator_work(api: Api) -> None:
    r = api.post("/v1/players", {"player_id": "p1", "currency": "EUR"}, as_=ADMIN)
    assert r.status_code == 201


def test_x_api_key_header_works_like_bearer(api: Api) -> None:
    api.open_player()
    r = api.get("/v1/players/p1", as_=None, headers={"X-API-Key": OPERATOR})
    assert r.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v1/players/{p}",
        "/v1/players/{p}/balances",
        "/v1/players/{p}/balances/EUR",
        "/v1/players/{p}/transactions",
    ],
)
def test_player_token_cannot_read_another_player_nor_learn_it_exists(two_players: Api, path: str) -> None:
    api = two_players
    token = api.token("p1")
    other = api.get(path.format(p="p2"), as_=token)
    ghost = api.get(path.format(p="ghost"), as_=token)
    assert_problem(other, 403, "forbidden")
    assert other.json() == ghost.json()


def test_player_token_cannot_withdraw_for_another_player(two_players: Api) -> None:
    api = two_players
    token = api.token("p1")
    body = {"withdrawal_id": "w1", "amount": 100, "currency": "EUR", "provider": "bank"}
    assert_problem(api.post("/v1/players/p2/withdrawals", body, as_=token), 403, "forbidden")
    assert api.balance("p2")["available"] == 10_000
    r = api.post("/v1/players/p1/withdrawals", body, as_=token)
    assert r.status_code == 201
    assert api.balance("p1")["available"] == 9_900


def test_player_token_sees_other_players_transactions_as_missing(two_players: Api) -> None:
    api = two_players
    token = api.token("p1")
    theirs = api.get("/v1/transactions/deposit:acme:pay-p2-10000", as_=token)
    missing = api.get("/v1/transactions/deposit:acme:nothing", as_=token)
    assert_problem(theirs, 404, "transaction_not_found")
    assert theirs.json()["detail"].replace("pay-p2-10000", "X") == missing.json()["detail"].replace(
        "nothing", "X"
    )


def test_player_token_expires(api: Api) -> None:
    api.open_player()
    token = api.token("p1", ttl=60)
    assert api.get("/v1/players/p1", as_=token).status_code == 200
    api.clock.advance(61)
    assert_problem(api.get("/v1/players/p1", as_=token), 401, "unauthenticated")


def test_tampered_token_is_refused(two_players: Api) -> None:
    api = two_players
    prefix, payload, sig = api.token("p1").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "p2"}).encode()).rstrip(b"=").decode()
    assert_problem(api.get("/v1/players/p2", as_=f"{prefix}.{forged}.{sig}"), 401, "unauthenticated")
    assert_problem(api.get("/v1/players/p1", as_=f"{prefix}.{payload}.x{sig[1:]}"), 401, "unauthenticated")
    assert_problem(api.get("/v1/players/p1", as_="pt1.garbage"), 401, "unauthenticated")
    for odd in (f"{prefix}.{payload}.\u00e9t\u00e9", "pt1.\u00e9.\u00e9", "caf\u00e9-key"):
        r = api.client.get("/v1/players/p1", headers={"Authorization": f"Bearer {odd}".encode("latin-1")})
        assert_problem(r, 401, "unauthenticated")


def test_token_from_another_secret_is_refused() -> None:
    clock = ManualClock(START)
    wallet = Wallet(MemoryStore(), clock)
    other = Settings(database_url="memory://", token_secret="another-secret-entirely")
    with serve_api(wallet, clock, other) as with_other:
        with_other.open_player()
        token = with_other.token("p1")
    with serve_api(wallet, clock) as default:
        assert_problem(default.get("/v1/players/p1", as_=token), 401, "unauthenticated")


def test_configured_keys_replace_the_dev_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {
        "ops-key-0123456789abcdef": {"name": "ops", "scopes": ["operator"]},
        "agg-key-0123456789abcdef": {"name": "pragma", "scopes": ["game:pragma"]},
    }
    monkeypatch.setenv("WALLET_API_KEYS", json.dumps(keys))
    monkeypatch.setenv("WALLET_TOKEN_SECRET", "s3cret-for-this-test")
    monkeypatch.setenv("WALLET_DATABASE_URL", "memory://")
    settings = Settings()
    assert not settings.using_dev_credentials
    clock = ManualClock(START)
    with serve_api(Wallet(MemoryStore(), clock), clock, settings) as api:
        assert_problem(api.get("/v1/players/p1", as_=OPERATOR), 401, "unauthenticated")
        api.ok("POST", "/v1/players", {"player_id": "p1", "currency": "EUR"}, as_="ops-key-0123456789abcdef")
        bal = api.ok(
            "POST",
            "/v1/game/balance",
            {"player": "p1", "currency": "EUR"},
            as_="agg-key-0123456789abcdef",
            key=None,
        )
    assert bal["balance"] == 0


@pytest.mark.parametrize(
    "keys",
    [
        {"short": {"name": "a", "scopes": ["admin"]}},
        {"long-enough-key-123": {"name": "a", "scopes": ["root"]}},
        {"long-enough-key-123": {"name": "a", "scopes": ["game:x", "game:y"]}},
        {"long-enough-key-123": {"name": "a:b", "scopes": ["admin"]}},
        {
            "long-enough-key-123": {"name": "a", "scopes": ["admin"]},
            "long-enough-key-456": {"name": "a", "scopes": ["operator"]},
        },
    ],
)
def test_bad_key_configuration_is_refused_at_start(keys: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(api_keys=keys)


def test_secrets_stay_out_of_repr_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(
        database_url="memory://",
        token_secret="tok-secret-value",
        api_keys={"very-secret-key-value": {"name": "ops", "scopes": ["operator"]}},
    )
    assert "very-secret-key-value" not in repr(settings)
    assert "tok-secret-value" not in repr(settings)
    caplog.set_level(logging.DEBUG)
    clock = ManualClock(START)
    with serve_api(Wallet(MemoryStore(), clock), clock, settings) as api:
        api.ok("POST", "/v1/players", {"player_id": "p1", "currency": "EUR"}, as_="very-secret-key-value")
        api.get("/v1/players/p1", as_="wrong-key-value-here")
    assert "very-secret-key-value" not in caplog.text
    assert "wrong-key-value-here" not in caplog.text


def test_create_app_reads_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WALLET_DATABASE_URL", "memory://")
    app = create_app()
    assert isinstance(app.state.wallet.store, MemoryStore)


def test_create_app_builds_a_migrated_sql_store_from_the_url(tmp_path: Path) -> None:
    sql = pytest.importorskip("wallet.adapters.sql")
    from tests.integration.api_harness import TestClient

    url = f"sqlite:///{tmp_path}/wallet.sqlite3"
    app = create_app(Settings(database_url=url))
    assert isinstance(app.state.wallet.store, sql.SqlStore)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {OPERATOR}"}
        r = client.post("/v1/players", json={"player_id": "p1", "currency": "EUR"}, headers=headers)
        assert r.status_code == 201
    # durable: a second app on the same file sees the player
    with TestClient(create_app(Settings(database_url=url))) as client:
        assert client.get("/v1/players/p1", headers=headers).status_code == 200
