"""Seeded, keyed randomness (common random numbers).

Every draw is derived from (seed, component, entity id), never from one shared
sequential stream. The same payment therefore meets the same dice at the same
provider whatever order events happen in and whichever routing strategy sent
it there, and adding a player does not change anyone else's outcomes. Live mode
can replay the same dice by passing the same seed.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

_SCALE = 1.0 / float(1 << 53)


def _digest(seed: int, parts: tuple[object, ...]) -> bytes:
    key = "\x1f".join(map(str, (seed, *parts))).encode()
    return hashlib.blake2b(key, digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class Dice:
    """A family of independent random streams named by key."""

    seed: int

    def uniform(self, *key: object) -> float:
        """One uniform draw in [0, 1) fixed by the key: cheap, no generator state."""
        return (int.from_bytes(_digest(self.seed, key)[:8], "big") >> 11) * _SCALE

    def rng(self, *key: object) -> random.Random:
        """A full generator for components that need many draws for one entity."""
        return random.Random(int.from_bytes(_digest(self.seed, key), "big"))

    def child(self, *key: object) -> Dice:
        """A sub-family, e.g. ``dice.child("psp", "acme")``, so keys need not repeat prefixes."""
        return Dice(int.from_bytes(_digest(self.seed, key)[:8], "big"))
