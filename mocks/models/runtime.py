"""One provider's state around the pure model: idempotency, attempts, records, controls.

Still sans-IO: time comes in as ``now``. The SimPy shell and the FastAPI app
both hold a :class:`ProviderRuntime` and call :meth:`handle`, so a replayed
idempotency key, a 409 while in flight and a 422 on a changed payload behave
the same in virtual and wall-clock time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from mocks.models import bank, card, crypto, ewallet, kyc
from mocks.models.common import event
from mocks.models.profile import FaultProfile, Window
from mocks.models.records import ProviderRecords
from mocks.models.types import Decision, Event, KycRequest, PaymentRequest, Planned
from sandbox.randomness import Dice
from wallet.domain.errors import IdempotencyInFlight, IdempotencyKeyReused, NotFound

Model = Callable[..., Decision]
MODELS: Final[dict[str, Model]] = {
    "card": card.decide, "ewallet": ewallet.decide, "bank": bank.decide,
    "crypto": crypto.decide, "kyc": kyc.decide,
}


class ProviderRuntime:
    """A provider's memory. Only processed decisions are remembered for replay.

    A call that never reached the provider's business logic (429, a 5xx
    before processing, an outage) stores nothing, so a retry with the same key
    is a new attempt, with a fresh roll of the network dice but the same
    payment dice.
    """

    def __init__(self, name: str, profile: FaultProfile, dice: Dice) -> None:
        self.name = name
        self.profile = profile
        self.dice = dice
        self.records = ProviderRecords(name)
        self._by_key: dict[str, tuple[tuple[object, ...], Decision]] = {}
        self._attempts: dict[str, int] = {}
        self._extra_events: dict[str, list[Event]] = {}

    @property
    def kind(self) -> str:
        return self.profile.kind

    def handle(self, req: PaymentRequest | KycRequest, now: float) -> Decision:
        """Decide a call, or replay the first decision for a repeated idempotency key."""
        seen = self._by_key.get(req.idempotency_key)
        if seen is not None:
            fingerprint, first = seen
            if fingerprint != req.fingerprint():
                raise IdempotencyKeyReused(
                    "idempotency key reused with a different payload", field="idempotency_key")
            if now < first.responded_at:
                raise IdempotencyInFlight("the first request with this key is still running",
                                          field="idempotency_key")
            return first
        attempt = self._attempts.get(req.reference, 0)
        self._attempts[req.reference] = attempt + 1
        decision = MODELS[self.profile.kind](req, self.dice, now, self.profile,
                                             provider=self.name, attempt=attempt)
        if decision.processed:
            self._by_key[req.idempotency_key] = (req.fingerprint(), decision)
            self.records.add(decision, self.profile.compiled)
        return decision

    def get(self, provider_ref: str) -> Decision:
        decision = self.records.get(provider_ref)
        if decision is None:
            raise NotFound(f"no such payment {provider_ref!r}", field="id")
        return decision

    def by_reference(self, reference: str) -> list[Decision]:
        return [d for d in self.records.decisions() if d.reference == reference]

    # --- runtime controls (the Toxiproxy-like part) -----------------------------------

    def set_profile(self, profile: FaultProfile) -> None:
        """Future calls use ``profile``; decisions already made keep theirs."""
        self.profile = profile

    def start_window(self, now: float, kind: str, duration_s: float | None = None,
                     **fields: Any) -> Window:
        end = now + duration_s if duration_s is not None else math.inf
        window = Window(start=now, end=end if math.isfinite(end) else 1e18, kind=kind, **fields)
        self.profile = self.profile.with_window(window)
        return window

    def stop_windows(self, now: float, kind: str) -> int:
        """End every active window of ``kind`` at ``now``; returns how many were cut."""
        cut, windows = 0, []
        for w in self.profile.windows:
            body = w.model_dump()
            if w.kind == kind and w.start <= now < w.end:
                cut += 1
                body["end"] = now
            windows.append(body)
        self.profile = self.profile.patched({"windows": windows})
        return cut

    def trigger(self, event_type: str, now: float, provider_ref: str | None = None,
                reference: str = "", **data: Any) -> Planned:
        """Fire any event now (like ``stripe trigger``), for a payment or a made-up one."""
        if provider_ref is not None:
            reference = self.get(provider_ref).reference
        pref = provider_ref or f"trg_{self.name}_{reference or int(now * 1000)}"
        extra = self._extra_events.setdefault(pref, [])
        ev = event(pref, event_type, reference, 100 + len(extra), now, triggered=True, **data)
        extra.append(ev)
        return Planned(now, ev)

    def find_event(self, event_id: str) -> Event:
        for d in self.records.decisions():
            for ev in d.events:
                if ev.id == event_id:
                    return ev
        for evs in self._extra_events.values():
            for ev in evs:
                if ev.id == event_id:
                    return ev
        raise NotFound(f"no such event {event_id!r}", field="event_id")
