"""Rule-based routing: ordered rules, first match wins, a fallback strategy otherwise.

The shape follows Hyperswitch's rule DSL (amount, currency, country, method,
BIN): a rule is a conjunction of conditions and a provider list in preference
order. A rule whose providers are all ineligible (or already tried) does not
block: evaluation moves on to the next rule, then to the fallback.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from wallet.domain.routing.base import Candidate, Decision, Outcome, RouteRequest, Strategy
from wallet.domain.routing.params import InvalidRoutingConfig, strings
from wallet.domain.routing.static import StaticPriority


def _amount(value: object, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRoutingConfig(f"{name} must be int minor units >= 0, got {value!r}", field=name)
    return value


@dataclass(frozen=True, slots=True)
class Rule:
    """Conditions (empty means any) and the providers to prefer when they all hold.

    The amount band is ``min_amount <= amount < max_amount`` in the request's
    minor units, so pair a band with a currency condition.
    """

    name: str
    providers: tuple[str, ...]
    currencies: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    methods: frozenset[str] = frozenset()
    min_amount: int | None = None
    max_amount: int | None = None
    bin_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidRoutingConfig("rule name must be a non-empty string", field="name")
        providers = strings("providers", self.providers)
        if not providers:
            raise InvalidRoutingConfig(f"rule {self.name!r} needs at least one provider", field="providers")
        object.__setattr__(self, "providers", providers)
        for attr in ("currencies", "countries", "methods"):
            object.__setattr__(self, attr, frozenset(strings(attr, getattr(self, attr))))
        prefixes = strings("bin_prefixes", self.bin_prefixes)
        if not all(p.isdigit() for p in prefixes):
            raise InvalidRoutingConfig(f"bin_prefixes must be digits, got {prefixes!r}", field="bin_prefixes")
        object.__setattr__(self, "bin_prefixes", prefixes)
        lo, hi = _amount(self.min_amount, "min_amount"), _amount(self.max_amount, "max_amount")
        if lo is not None and hi is not None and lo >= hi:
            raise InvalidRoutingConfig(f"rule {self.name!r}: min_amount {lo} must be < max_amount {hi}",
                                       field="min_amount")

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Rule:
        """From YAML-shaped data; singular keys (``currency``, ``bin_prefix``) are accepted too."""
        aliases = {"currency": "currencies", "country": "countries", "method": "methods",
                   "bin_prefix": "bin_prefixes", "provider": "providers"}
        known = {"name", "providers", "currencies", "countries", "methods", "min_amount", "max_amount",
                 "bin_prefixes"}
        if not isinstance(data, Mapping):
            raise InvalidRoutingConfig(f"a rule must be a mapping of fields, not {data!r}", field="rules")
        kwargs: dict[str, object] = {}
        for key, value in data.items():
            target = aliases.get(key, key)
            if target not in known:
                raise InvalidRoutingConfig(f"unknown rule field {key!r} (known: {', '.join(sorted(known))})",
                                           field=key)
            kwargs[target] = value
        if "name" not in kwargs or "providers" not in kwargs:
            raise InvalidRoutingConfig("a rule needs 'name' and 'providers'", field="name")
        return cls(**kwargs)  # type: ignore[arg-type]

    def matches(self, request: RouteRequest) -> bool:
        if self.currencies and request.currency not in self.currencies:
            return False
        if self.countries and request.country not in self.countries:
            return False
        if self.methods and request.method not in self.methods:
            return False
        if self.min_amount is not None and request.amount < self.min_amount:
            return False
        if self.max_amount is not None and request.amount >= self.max_amount:
            return False
        return not self.bin_prefixes or request.bin.startswith(self.bin_prefixes)


class RuleBased(Strategy):
    """Ordered rules; the first matching rule with an eligible provider decides.

    Unmatched requests go to ``fallback`` (static priority by default), which
    also receives every observation so a learning fallback keeps learning.
    """

    name = "rules"

    def __init__(self, rules: Sequence[Rule | Mapping[str, object]],
                 fallback: Strategy | None = None) -> None:
        super().__init__()
        if isinstance(rules, str | bytes) or not isinstance(rules, Sequence):
            raise InvalidRoutingConfig("rules must be a list of rules", field="rules")
        self.rules = tuple(r if isinstance(r, Rule) else Rule.from_dict(r) for r in rules)
        if fallback is not None and not isinstance(fallback, Strategy):
            raise InvalidRoutingConfig("fallback must be a Strategy", field="fallback")
        self.fallback = fallback if fallback is not None else StaticPriority()

    def decide(self, request: RouteRequest, pool: Sequence[Candidate], rng: random.Random,
               now: float) -> Decision:
        by_name = {c.name: c for c in pool}
        skipped = []
        for rule in self.rules:
            if not rule.matches(request):
                continue
            for provider in rule.providers:
                if provider in by_name:
                    scores = {p: float(len(rule.providers) - i) for i, p in enumerate(rule.providers)
                              if p in by_name}
                    return Decision(provider, f"rule {rule.name!r}: {provider}", scores, self.name)
            skipped.append(rule.name)
        inner = self.fallback.decide(request, pool, rng, now)
        why = (f"rules {', '.join(map(repr, skipped))} matched but no listed provider is eligible"
               if skipped else "no rule matched")
        return Decision(inner.provider, f"{why}; fallback {inner.reason}", inner.scores, self.name,
                        inner.explored)

    def observe(self, provider: str, request: RouteRequest, outcome: Outcome, now: float) -> None:
        super().observe(provider, request, outcome, now)
        self.fallback.observe(provider, request, outcome, now)

    def reset(self) -> None:
        super().reset()
        self.fallback.reset()
