"""Drive the payment state machine in tests: feed events, collect commands by type."""

from __future__ import annotations

from dataclasses import dataclass, field

from wallet.domain.commands import CreditDeposit
from wallet.domain.payments import (
    DEFAULT_POLICY,
    DepositRequested,
    Event,
    FlagAnomaly,
    GatewayCommand,
    Payment,
    Policy,
    PostToLedger,
    start,
    transition,
)


@dataclass
class Run:
    payment: Payment
    commands: list[GatewayCommand] = field(default_factory=list)
    policy: Policy = DEFAULT_POLICY
    now: float = 0.0

    def feed(self, *events: Event, dt: float = 1.0) -> list[GatewayCommand]:
        out: list[GatewayCommand] = []
        for ev in events:
            self.now += dt
            _, cmds = transition(self.payment, ev, self.now, self.policy)
            out += cmds
        self.commands += out
        return out

    def of(self, kind: type) -> list:
        return [c for c in self.commands if isinstance(c, kind)]

    def ledger(self, kind: type | None = None) -> list:
        cmds = [c.command for c in self.of(PostToLedger)]
        return cmds if kind is None else [c for c in cmds if isinstance(c, kind)]

    def credits(self) -> list[CreditDeposit]:
        return self.ledger(CreditDeposit)

    def anomalies(self) -> list[str]:
        return [c.kind for c in self.of(FlagAnomaly)]

    @property
    def state(self) -> str:
        return self.payment.state.value


def deposit(provider: str | None = "acme", method: str = "card", amount: int = 2500,
            currency: str = "EUR", policy: Policy = DEFAULT_POLICY, **kw: object) -> Run:
    p, cmds = start(DepositRequested("dep-1", "u1", amount, currency, method, provider, **kw),
                    0.0, policy)
    return Run(p, list(cmds), policy)
