"""Pure, seeded provider behaviour models (no I/O, no clock of their own).

The SimPy shell and the FastAPI mocks both call these, so they cannot disagree::

    from mocks.models import FaultProfile, PaymentRequest, ProviderRuntime
    acme = ProviderRuntime("acme", FaultProfile(kind="card"), Dice(seed))
    decision = acme.handle(PaymentRequest(...), now=env.now)
    yield env.timeout(decision.latency)
    for planned in decision.webhooks: schedule(planned.deliver_at, planned.event)
"""

from mocks.models.common import TERMINAL_EVENTS
from mocks.models.profile import (
    DECLINE_CODES,
    RETRY_PRESETS,
    FaultProfile,
    ProfileFile,
    SegmentRule,
    Window,
    load_profile_file,
)
from mocks.models.records import Line, ProviderRecords
from mocks.models.retry import next_attempt_at
from mocks.models.runtime import MODELS, ProviderRuntime
from mocks.models.types import (
    APPROVED,
    DECLINED,
    ERROR,
    EXPIRED,
    FAULTS,
    PENDING,
    CardInfo,
    Decision,
    Event,
    KycRequest,
    PaymentRequest,
    Planned,
)

__all__ = [
    "APPROVED", "DECLINED", "DECLINE_CODES", "ERROR", "EXPIRED", "FAULTS", "MODELS", "PENDING",
    "RETRY_PRESETS", "TERMINAL_EVENTS", "CardInfo", "Decision", "Event", "FaultProfile",
    "KycRequest", "Line", "PaymentRequest", "Planned", "ProfileFile", "ProviderRecords",
    "ProviderRuntime", "SegmentRule", "Window", "load_profile_file", "next_attempt_at",
]
