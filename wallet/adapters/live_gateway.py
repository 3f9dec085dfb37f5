"""The live shell: carries out the gateway's commands over real HTTP, in wall-clock time.

The gateway service decides; this module only does the I/O it asks for: call a
provider in its dialect, ask for a status, and wake payments whose timers are
due (a sweeper reads them from the store, so a restart loses no poll and no
deadline). Webhooks are verified on the raw body, handed to the service one
event at a time, and acknowledged before any follow-up I/O runs.

Card data never reaches the database: it waits in an in-process vault for the
calls of one payment (a cascade re-sends it to the next provider) and is dropped
when the payment is decided. After a restart a cascade that would need it
fails as ``card_data_unavailable`` instead of charging a card it cannot see.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from wallet.adapters.providers import Card, PaymentRequest, ProviderClient
from wallet.adapters.webhooks import Replayed, ReplayGuard, SignatureError, receive
from wallet.domain.payments import events as e
from wallet.domain.payments.commands import (
    CallProvider,
    FlagAnomaly,
    GatewayCommand,
    InquireStatus,
    MarkFailed,
)
from wallet.domain.payments.model import PAYOUT, Payment
from wallet.domain.payments.states import FINAL
from wallet.service.clock import Clock
from wallet.service.gateway import Gateway, Step

log = logging.getLogger("wallet.gateway")


@dataclass(frozen=True, slots=True)
class Instrument:
    """What a provider needs beyond the payment: a card, or a bank account for payouts."""

    card: Card | None = None
    party_name: str = ""
    iban: str = ""


class Observer(Protocol):
    """Where the shell reports what it saw (the API's Prometheus metrics)."""

    def call(self, provider: str, call: str, result: str, seconds: float) -> None: ...

    def webhook(self, provider: str, result: str) -> None: ...

    def outcome(self, what: str, kind: str) -> None: ...


class LiveGateway:
    observer: Observer | None = None
    # What webhook signature timestamps are checked against; None: the wallet's clock. A
    # scaled live run (``sandbox run --mode live``) keeps domain time apart from wall time.
    wall: Clock | None = None

    def __init__(self, gateway: Gateway, clients: Mapping[str, ProviderClient],
                 secrets: Mapping[str, str], callback_base_url: str) -> None:
        self.gateway = gateway
        self.clients = dict(clients)
        self.secrets = dict(secrets)
        self.callback_base_url = callback_base_url.rstrip("/")
        self.guard = ReplayGuard()
        self._vault: dict[str, Instrument] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- requests ---------------------------------------------------------------------------

    async def deposit(self, payment_id: str, player_id: str, amount: int, currency: str,
                      method: str, *, instrument: Instrument = Instrument(), country: str = "",
                      provider: str | None = None) -> Step:
        """Start a deposit and carry it as far as the providers' synchronous answers go."""
        bin_ = instrument.card.number[:6] if instrument.card else ""
        step = await run_in_threadpool(self.gateway.deposit, payment_id, player_id, amount,
                                       currency, method, country=country, bin=bin_,
                                       provider=provider)
        return await self._start(payment_id, step, instrument)

    async def payout(self, withdrawal_id: str, player_id: str, amount: int, currency: str,
                     method: str, provider: str, *, instrument: Instrument = Instrument()) -> Step:
        step = await run_in_threadpool(self.gateway.payout, withdrawal_id, player_id, amount,
                                       currency, method, provider)
        return await self._start(withdrawal_id, step, instrument)

    async def _start(self, payment_id: str, step: Step, instrument: Instrument) -> Step:
        if step.duplicate:
            return step
        self._vault[payment_id] = instrument
        return await self.run(step)

    # --- webhooks and timers ----------------------------------------------------------------

    async def webhook(self, provider: str, body: bytes, headers: Mapping[str, str],
                      now: float) -> int:
        """Verify and apply; returns how many events were new. Raises SignatureError (reject)
        for anything not authentic. Follow-up calls run in the background: a provider
        waiting on our 2xx must not wait on another provider."""
        secret = self.secrets.get(provider)
        try:
            if secret is None:
                raise SignatureError(f"no webhook secret for provider {provider!r}")
            events = receive(provider, secret, body, headers, now=now, guard=self.guard)
        except Replayed:
            self._seen_webhook(provider, "duplicate")
            return 0
        except SignatureError:
            self._seen_webhook(provider if secret is not None else "unknown", "rejected")
            raise
        new = 0
        for event in events:
            step = await run_in_threadpool(self.gateway.webhook, event)
            self._seen_webhook(provider, "duplicate" if step.duplicate else "applied")
            if not step.duplicate:
                new += 1
                self.spawn(step)
        return new

    def _seen_webhook(self, provider: str, result: str) -> None:
        if self.observer is not None:
            self.observer.webhook(provider, result)

    async def sweep(self) -> int:
        """Fire every due timer once; returns how many payments were woken."""
        ids = await run_in_threadpool(self.gateway.due)
        for pid in ids:
            self.spawn(await run_in_threadpool(self.gateway.fire, pid))
        return len(ids)

    async def sweeper(self, interval_s: float = 1.0, purge_every_s: float = 3600.0) -> None:
        """Fire due timers every ``interval_s``; forget old webhook ids every ``purge_every_s``."""
        last_purge = -purge_every_s
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.sweep()
                if loop.time() - last_purge >= purge_every_s:
                    last_purge = loop.time()
                    await run_in_threadpool(self.gateway.purge_inbox)
            except Exception:  # a sweep must never die: log and try again next tick
                log.exception("timer sweep failed")
            await asyncio.sleep(interval_s)

    def spawn(self, step: Step) -> None:
        if not any(isinstance(c, CallProvider | InquireStatus) for c in step.commands):
            self._done(step)
            return
        task = asyncio.create_task(self._run_quietly(step))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def busy(self) -> int:
        """Background runs still going (a live scenario run waits for zero before checking)."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for background work (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        for client in self.clients.values():
            await client.aclose()

    # --- executing commands -----------------------------------------------------------------

    async def run(self, step: Step) -> Step:
        """Execute I/O commands until the payment waits on someone else (a webhook, a timer)."""
        todo: list[GatewayCommand] = list(step.commands)
        while todo:
            cmd = todo.pop(0)
            event: e.Event | None = None
            if isinstance(cmd, CallProvider):
                event = await self._call(cmd)
            elif isinstance(cmd, InquireStatus):
                event = await self._inquire(cmd)
            elif isinstance(cmd, FlagAnomaly):
                log.warning("payment %s anomaly %s: %s", cmd.payment_id, cmd.kind, cmd.detail)
                self._outcome("anomaly", cmd.kind)
            elif isinstance(cmd, MarkFailed):
                self._outcome("failed", cmd.reason)
            if event is not None:
                step = await run_in_threadpool(self.gateway.handle, cmd.payment_id, event)
                todo.extend(step.commands)
        self._done(step)
        return step

    def _outcome(self, what: str, kind: str) -> None:
        if self.observer is not None:
            self.observer.outcome(what, kind)

    async def _run_quietly(self, step: Step) -> None:
        try:
            await self.run(step)
        except Exception:  # the timers will retry what this run could not finish
            log.exception("background gateway run failed")

    def _done(self, step: Step) -> None:
        if step.payment is not None and step.payment.state in FINAL:
            self._vault.pop(step.payment.id, None)

    def _request(self, p: Payment, key: str) -> PaymentRequest | None:
        inst = self._vault.get(p.id) or Instrument()
        if p.method == "card" and inst.card is None:  # lost in a restart, or never given
            return None
        return PaymentRequest(p.id, key, p.player_id, p.amount, p.currency, p.method,
                              f"{self.callback_base_url}/v1/webhooks/{p.provider}",
                              "payout" if p.kind == PAYOUT else "deposit", p.country, inst.card,
                              inst.party_name, inst.iban)

    async def _call(self, cmd: CallProvider) -> e.Event:
        p = await run_in_threadpool(self.gateway.payment, cmd.payment_id)
        client = self.clients.get(cmd.provider)
        req = self._request(p, cmd.idempotency_key)
        if client is None or req is None:  # nothing was sent: safe to cascade
            return e.ProviderFailed(cmd.attempt, "no_client" if client is None
                                    else "card_data_unavailable")
        started = time.perf_counter()
        reply = await client.create(req, cmd.attempt)
        if self.observer is not None:
            self.observer.call(cmd.provider, "create", type(reply).__name__,
                               time.perf_counter() - started)
        return reply

    async def _inquire(self, cmd: InquireStatus) -> e.Event:
        p = await run_in_threadpool(self.gateway.payment, cmd.payment_id)
        client = self.clients.get(cmd.provider)
        req = self._request(p, cmd.idempotency_key)
        if client is None or (req is None and cmd.provider_ref is None):
            return e.StatusPolled(e.UNKNOWN, attempt=cmd.attempt)
        if req is None:  # a status GET needs no card: only the reference
            req = PaymentRequest(p.id, cmd.idempotency_key, p.player_id, p.amount, p.currency,
                                 p.method)
        return replace(await client.inquire(cmd.provider_ref, req, cmd.attempt), attempt=cmd.attempt)
