"""Webhook retry timing, shared by the live dispatcher and a simulated one."""

from __future__ import annotations


def next_attempt_at(schedule: tuple[float, ...], attempt: int, failed_at: float) -> float | None:
    """When attempt number ``attempt`` (0-based, the first retry is 1) is due, or None to give up.

    ``schedule[i]`` is the delay before attempt ``i``, counted from the previous
    failure; ``schedule[0]`` is the first delivery's own delay (usually 0).
    """
    if attempt >= len(schedule):
        return None
    return failed_at + schedule[attempt]


def give_up_after(schedule: tuple[float, ...]) -> float:
    """Total time from the first attempt to the last one (inbox retention must outlive it)."""
    return float(sum(schedule[1:]))
