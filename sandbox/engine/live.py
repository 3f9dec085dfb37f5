"""Live mode: play a scenario file in scaled real time over HTTP, then run the same checker.

The players are the simulation's (:class:`sandbox.workload.Population`: same keyed
dice, same arrival schedule), run on a ``simpy.rt.RealtimeEnvironment`` whose clock
is the :class:`ScaledClock` the wallet and the mocks read. Every call they make goes
over HTTP to the wallet + gateway under uvicorn: game rounds, bonuses and conversions
synchronously (the workload needs the answer), deposits and payouts on a thread pool
(the player watches the cashier, as in the simulation, so a slow provider stalls
nobody). Providers answer in their own dialects and send real signed webhooks.

At the end the run waits for in-flight requests and for every webhook due before the
end, stops the servers, and hands the checker the wallet, the gateway's journal and
the mocks' own decisions, exactly as the simulation does. The checker's replays of
acknowledged calls go over HTTP too, to the same wallet.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
import simpy
from simpy.rt import RealtimeEnvironment

from mocks.models.types import CardInfo
from sandbox.checks import run_checks
from sandbox.engine.run import Progress, RunResult, candidates, expect
from sandbox.engine.servers import LiveStack, ScaledClock, live_stack, serve_app
from sandbox.metrics import measure
from sandbox.randomness import Dice
from sandbox.scenario import HOUR, Scenario
from sandbox.variants import VARIANTS, build
from sandbox.workload import AGGREGATOR, History, Population
from wallet.adapters.live_gateway import Observer
from wallet.adapters.memory import MemoryStore
from wallet.api.app import create_app
from wallet.api.settings import Settings
from wallet.domain import commands as c
from wallet.domain.errors import DomainError
from wallet.domain.idempotency import IdempotencyKey
from wallet.domain.payments.model import Policy
from wallet.service.controls import DefaultControls
from wallet.service.unit_of_work import Store
from wallet.service.wallet import Wallet

OPERATOR = {"X-API-Key": "dev-operator-key-INSECURE"}
AGGREGATOR_KEY = {"X-API-Key": "dev-hub88-key-INSECURE"}
# Variants whose bug lives in SimPy time itself (a hold written 2 virtual seconds later by
# a SimPy process): there is nothing to run over HTTP.
SIM_ONLY = {"non_atomic_withdrawal_hold": "writes its late hold from a SimPy process"}
DEFAULT_TIME_SCALE = 60.0  # one virtual hour per real minute
STEP_S = 60.0  # virtual seconds between progress reports


class RemoteRefusal(DomainError):
    """A 4xx problem+json answer, carrying the wallet's own error ``code``: the client's
    history records it exactly as the in-process call records a DomainError."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


def _raise_for(r: httpx.Response) -> None:
    """4xx: a refusal with its code (the call failed); 5xx: unknown (raised as is)."""
    if r.status_code < 400:
        return
    if r.status_code < 500:
        try:
            body = r.json()
        except ValueError:
            body = {}
        raise RemoteRefusal(str(body.get("code") or f"http_{r.status_code}"),
                            str(body.get("detail") or r.text[:200]), body.get("field"))
    r.raise_for_status()


class HttpWallet:
    """The wallet as the workload and the checker's replays reach it: over its HTTP API.

    Money-changing commands go to their routes with the history's key as the
    ``Idempotency-Key`` (the aggregator's ``transaction_uuid`` for game calls), so a
    replay is a real HTTP retry. ``store`` and ``ledger_violations`` read the
    in-process wallet: after the run the checker inspects the database directly."""

    def __init__(self, http: httpx.Client, local: Wallet) -> None:
        self.http = http
        self.local = local

    @property
    def store(self) -> Store:
        return self.local.store

    def ledger_violations(self) -> list[Any]:
        return self.local.ledger_violations()

    def balance(self, player_id: str, currency: str) -> dict[str, Any]:
        r = self.http.get(f"/v1/players/{player_id}/balances/{currency}", headers=OPERATOR)
        _raise_for(r)
        return r.json()

    def execute(self, cmd: c.Command, *, idempotency: IdempotencyKey | None = None,
                actor: str = "workload") -> dict[str, Any]:
        path, body, headers = route(cmd)
        if idempotency is not None and not isinstance(cmd, c.PlaceBet | c.SettleWin | c.RollbackBet):
            headers = {**headers, "Idempotency-Key": idempotency.key}
        r = self.http.post(path, json=body, headers=headers)
        _raise_for(r)
        return r.json()


def route(cmd: c.Command) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path, JSON body, headers) of the HTTP call that carries ``cmd``."""
    if isinstance(cmd, c.OpenPlayer):
        return "/v1/players", {"player_id": cmd.player_id, "currency": cmd.currency,
                               "country": cmd.country or None}, OPERATOR
    if isinstance(cmd, c.OpenCurrency):
        return f"/v1/players/{cmd.player_id}/currencies", {"currency": cmd.currency}, OPERATOR
    if isinstance(cmd, c.GrantBonus):
        return f"/v1/players/{cmd.player_id}/bonuses", {
            "bonus_id": cmd.bonus_id, "amount": cmd.amount, "currency": cmd.currency,
            "wagering_multiplier": cmd.wagering_multiplier}, OPERATOR
    if isinstance(cmd, c.ConvertCurrency):
        return f"/v1/players/{cmd.player_id}/conversions", {
            "conversion_id": cmd.conversion_id, "from_currency": cmd.from_currency,
            "to_currency": cmd.to_currency, "amount": cmd.amount, "rate": cmd.rate}, OPERATOR
    if isinstance(cmd, c.PlaceBet):
        _same_aggregator(cmd.aggregator)
        return "/v1/game/bet", {"player": cmd.player_id, "transaction_uuid": cmd.transaction_id,
                                "round": cmd.round_id, "amount": cmd.amount,
                                "currency": cmd.currency}, AGGREGATOR_KEY
    if isinstance(cmd, c.SettleWin):
        _same_aggregator(cmd.aggregator)
        return "/v1/game/win", {"player": cmd.player_id, "transaction_uuid": cmd.transaction_id,
                                "reference_transaction_uuid": cmd.bet_transaction_id,
                                "round": cmd.round_id, "amount": cmd.win,
                                "currency": cmd.currency}, AGGREGATOR_KEY
    if isinstance(cmd, c.RollbackBet):
        _same_aggregator(cmd.aggregator)
        return "/v1/game/rollback", {"player": cmd.player_id, "transaction_uuid": cmd.transaction_id,
                                     "reference_transaction_uuid": cmd.bet_transaction_id,
                                     "round": cmd.round_id}, AGGREGATOR_KEY
    raise NotImplementedError(f"no HTTP route for {type(cmd).__name__} in live mode")


def _same_aggregator(name: str) -> None:
    if name != AGGREGATOR:
        raise NotImplementedError(f"live mode holds an API key for {AGGREGATOR!r} only, not {name!r}")


@dataclass(frozen=True)
class _StateName:
    value: str


@dataclass(frozen=True)
class PaymentView:
    """What the workload reads of a payment: its state and what it credited."""

    state: _StateName
    credited: int


class GatewayView:
    """The gateway as the workload's cashier polls it: ``GET /v1/gateway/payments/{id}``."""

    def __init__(self, http: httpx.Client, wallet: HttpWallet, refused: dict[str, str]) -> None:
        self.http = http
        self.wallet = wallet
        self.refused = refused

    def payment(self, payment_id: str) -> PaymentView:
        if payment_id in self.refused:  # the gateway said no before any provider was asked
            return PaymentView(_StateName("failed"), 0)
        r = self.http.get(f"/v1/gateway/payments/{payment_id}", headers=OPERATOR)
        if r.status_code == 404:  # the request is still on its way
            return PaymentView(_StateName("requested"), 0)
        _raise_for(r)
        body = r.json()
        return PaymentView(_StateName(body["state"]), int(body["credited"]))


def card_number(card: CardInfo) -> str:
    """A Luhn-valid test PAN with the card's BIN and last four (the mock's magic cards key on
    those), its middle digits fixed by the card's fingerprint so one card is one PAN."""
    middle = str(int(sha256(card.fingerprint.encode()).hexdigest(), 16))[:5]
    for check in "0123456789":
        pan = f"{card.bin}{middle}{check}{card.last4}"
        digits = [int(x) for x in reversed(pan)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
        if total % 10 == 0:
            return pan
    raise AssertionError("unreachable: one check digit always fits")


@dataclass
class CallLog:
    """Tees the live shell's observer (Prometheus) and keeps provider calls in model time,
    in the simulation shell's shape: (provider, start, end, result)."""

    inner: Observer | None
    clock: ScaledClock
    calls: list[tuple[str, float, float, str]] = field(default_factory=list)

    def call(self, provider: str, call: str, result: str, seconds: float) -> None:
        if call == "create":
            end = self.clock.now()
            self.calls.append((provider, end - seconds * self.clock.scale, end, result))
        if self.inner is not None:
            self.inner.call(provider, call, result, seconds)

    def webhook(self, provider: str, result: str) -> None:
        if self.inner is not None:
            self.inner.webhook(provider, result)

    def outcome(self, what: str, kind: str) -> None:
        if self.inner is not None:
            self.inner.outcome(what, kind)


class LiveShell:
    """The workload's entry points (``deposit``, ``payout``, ``gateway``) over HTTP.

    Deposits and payouts are posted from a thread pool: the POST returns only after the
    provider's synchronous answer, and the SimPy thread must keep the arrival schedule
    meanwhile. Nothing comes back to SimPy but a refusal, which the cashier view reads."""

    def __init__(self, env: simpy.Environment, http: httpx.Client, pool_http: httpx.Client,
                 wallet: Wallet, pool: ThreadPoolExecutor, calls: CallLog) -> None:
        self.env = env
        self.pool = pool
        self.pool_http = pool_http
        self.refused: dict[str, str] = {}
        self.errors: list[str] = []
        self.futures: list[Future[None]] = []
        self.gateway = GatewayView(http, HttpWallet(http, wallet), self.refused)
        self._calls = calls

    @property
    def calls(self) -> list[tuple[str, float, float, str]]:
        return self._calls.calls

    def deposit(self, payment_id: str, player_id: str, amount: int, currency: str, method: str,
                *, country: str = "", card: CardInfo | None = None) -> None:
        body: dict[str, Any] = {"payment_id": payment_id, "player_id": player_id, "amount": amount,
                                "currency": currency, "method": method, "country": country or None}
        if card is not None:
            body["card"] = {"number": card_number(card)}
        self._submit(payment_id, "/v1/gateway/deposits", body)

    def payout(self, withdrawal_id: str, player_id: str, amount: int, currency: str, method: str,
               provider: str) -> None:
        self._submit(withdrawal_id, "/v1/gateway/payouts", {
            "withdrawal_id": withdrawal_id, "player_id": player_id, "amount": amount,
            "currency": currency, "method": method, "provider": provider,
            "party_name": "Sandbox Player", "iban": "DE89370400440532013000"})

    def _submit(self, payment_id: str, path: str, body: dict[str, Any]) -> None:
        self.futures.append(self.pool.submit(self._post, payment_id, path, body))

    def _post(self, payment_id: str, path: str, body: dict[str, Any]) -> None:
        try:
            _raise_for(self.pool_http.post(path, json=body, headers=OPERATOR))
        except RemoteRefusal as err:
            self.refused[payment_id] = err.code
        except httpx.HTTPError as err:  # unknown outcome: the gateway's own record decides
            self.errors.append(f"{payment_id}: {type(err).__name__}")

    def in_flight(self) -> int:
        return sum(not f.done() for f in self.futures)


def run_live(scenario: Scenario, *, seed: int | None = None, variant: str = "reference",
             store: Store | None = None, base: Path | None = None,
             time_scale: float = DEFAULT_TIME_SCALE, progress: Progress | None = None,
             settle_timeout_s: float = 30.0, workers: int = 32) -> RunResult:
    """Play ``scenario`` over HTTP, ``time_scale`` virtual seconds per wall second, and check
    it with the simulation's checker, metrics and expectations (``mode`` "live")."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown wallet variant {variant!r}; known: {', '.join(VARIANTS)}")
    if variant in SIM_ONLY:
        raise ValueError(f"variant {variant!r} runs in sim mode only: it {SIM_ONLY[variant]}")
    seed = scenario.seed if seed is None else seed
    dice = Dice(seed)
    profiles = scenario.profiles(base)
    clock = ScaledClock(time_scale)
    gateway = build(variant, store or MemoryStore(), clock, candidates(profiles),
                    scenario.routing.build(), seed=seed,
                    policy=Policy(max_attempts=scenario.gateway.max_attempts),
                    controls=DefaultControls(scenario.payout_review_at()))
    env = RealtimeEnvironment(factor=1.0 / time_scale, strict=False)
    end = scenario.end_s
    lag = 0.0
    with live_stack(gateway, profiles, dice, clock,
                    client_timeout_s=scenario.gateway.client_timeout_s) as stack:
        log = CallLog(stack.live.observer, clock)
        stack.live.observer = log
        with (httpx.Client(base_url=stack.wallet_url, timeout=60) as http,
              httpx.Client(base_url=stack.wallet_url, timeout=60,
                           limits=httpx.Limits(max_connections=workers)) as pool_http,
              ThreadPoolExecutor(workers, thread_name_prefix="live-cashier") as pool):
            shell = LiveShell(env, http, pool_http, gateway.wallet, pool, log)
            history = History(shell.gateway.wallet)
            payout = next((n for n, p in profiles.items() if p.kind == "bank"), None)
            population = Population(env, scenario, shell, history,
                                    dice.child("workload"), payout)
            population.start()
            env.real_start = clock.start()
            while env.now < end:
                env.run(until=min(env.now + STEP_S, end))
                lag = max(lag, clock.now() - float(env.now))
                if progress:
                    progress(float(env.now), end)
            settle_started = time.monotonic()
            settled = _settle(stack, shell, end, settle_timeout_s)
            settle_s = time.monotonic() - settle_started
    decisions = [d for rt in stack.runtimes.values() for d in rt.records.decisions()]
    journal = gateway.journal()
    # The checker replays every acknowledged call over HTTP, to the same wallet (no gateway:
    # nothing may move while it looks).
    replay_app = create_app(Settings(database_url="memory://", gateway=False, log_level="error"),
                            wallet=gateway.wallet)
    with serve_app(replay_app) as replay_url, httpx.Client(base_url=replay_url, timeout=60) as http:
        history.wallet = HttpWallet(http, gateway.wallet)
        checks, anomalies = run_checks(history.wallet, journal, decisions, history, end)
    metrics = measure(scenario, gateway, shell.calls, journal)
    expectations = expect(scenario, metrics, anomalies)
    return RunResult(scenario, seed, variant, checks, expectations, anomalies, metrics, mode="live",
                     extra={"virtual_hours": end / HOUR, "deliveries": stack.deliveries(),
                            "operations": len(history.ops), "time_scale": time_scale,
                            "max_workload_lag_s": round(lag, 3), "settled": settled,
                            "settle_wall_s": round(settle_s, 2),
                            "refused_requests": len(shell.refused),
                            "request_errors": len(shell.errors)})


def _settle(stack: LiveStack, shell: LiveShell, end: float, timeout_s: float) -> bool:
    """Wait (at most ``timeout_s`` wall seconds) until no deposit or payout request is in
    flight, every webhook planned for before ``end`` has been delivered, and the wallet's
    follow-up work is done. False: the run is checked as it stands (``settled`` says so)."""
    deadline = time.monotonic() + timeout_s

    def quiet() -> bool:
        return shell.in_flight() == 0 and stack.mocks_due_by(end) == 0 and stack.live.busy == 0

    while time.monotonic() < deadline:
        if quiet():
            time.sleep(0.05)  # a delivery just acknowledged may have spawned follow-up work
            if quiet():
                return True
        time.sleep(0.05)
    return False


__all__ = ["DEFAULT_TIME_SCALE", "SIM_ONLY", "HttpWallet", "LiveShell", "run_live"]
