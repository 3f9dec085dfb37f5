"""Append-only audit log, hash-chained per stream (one stream per player).

A chain per player rather than one global chain: every operation already holds
its player's lock, so appending costs no extra contention, and a changed,
removed or reordered entry breaks the chain of its stream.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    stream: str
    seq: int
    at: float
    actor: str
    action: str
    request_id: str | None
    txn_id: str | None
    payload: str  # canonical JSON of the command
    prev_hash: str
    hash: str


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(
    prev_hash: str,
    stream: str,
    seq: int,
    at: float,
    actor: str,
    action: str,
    request_id: str | None,
    txn_id: str | None,
    payload: str,
) -> str:
    body = canonical([prev_hash, stream, seq, repr(float(at)), actor, action, request_id, txn_id, payload])
    return hashlib.sha256(body.encode()).hexdigest()


def next_entry(
    prev: AuditEntry | None,
    *,
    stream: str,
    at: float,
    actor: str,
    action: str,
    request_id: str | None,
    txn_id: str | None,
    payload: str,
) -> AuditEntry:
    seq = prev.seq + 1 if prev else 1
    prev_hash = prev.hash if prev else GENESIS
    digest = entry_hash(prev_hash, stream, seq, at, actor, action, request_id, txn_id, payload)
    return AuditEntry(stream, seq, at, actor, action, request_id, txn_id, payload, prev_hash, digest)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    stream: str
    seq: int
    reason: str


def verify_chain(entries: Iterable[AuditEntry]) -> list[ChainBreak]:
    """Entries of one or many streams, each stream in ascending seq order."""
    heads: dict[str, AuditEntry] = {}
    breaks: list[ChainBreak] = []
    for e in entries:
        prev = heads.get(e.stream)
        want_seq = prev.seq + 1 if prev else 1
        want_prev = prev.hash if prev else GENESIS
        if e.seq != want_seq:
            breaks.append(ChainBreak(e.stream, e.seq, f"expected seq {want_seq}"))
        if e.prev_hash != want_prev:
            breaks.append(ChainBreak(e.stream, e.seq, "prev_hash does not match the previous entry"))
        recomputed = entry_hash(
            e.prev_hash, e.stream, e.seq, e.at, e.actor, e.action, e.request_id, e.txn_id, e.payload
        )
        if recomputed != e.hash:
            breaks.append(ChainBreak(e.stream, e.seq, "hash does not match the entry's content"))
        heads[e.stream] = e
    return breaks
