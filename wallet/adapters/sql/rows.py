"""Rows to domain objects and back: plain functions, no ORM identity map to pay for.

JSON columns travel as text (``dumps``); reading them back takes the dialect's
loader, since psycopg parses JSON itself and sqlite3 hands back the text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from typing import Any

from wallet.domain.audit import AuditEntry
from wallet.domain.game import GameTxn, GameTxnKind
from wallet.domain.idempotency import IdempotencyRecord
from wallet.domain.ledger import Account, Posting, Transaction, TxnKind
from wallet.domain.payments.journal import JournalEntry
from wallet.domain.payments.model import Payment
from wallet.domain.players import Bonus, BonusStatus, Funding, Player, PlayerStatus
from wallet.domain.withdrawals import Withdrawal, WithdrawalStatus

Row = Any  # a named tuple of the statement's columns (see prepared.Prepared.row)
Load = Callable[[Any], Any]


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def canonical(data: Any) -> str:
    """Sorted keys: the same payment is stored as the same text, so rows can be compared."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def player(r: Row) -> Player:
    return Player(r.id, tuple(r.currencies.split(",")), r.created_at, PlayerStatus(r.status),
                  r.lock_reason, Funding(r.funding), r.country, r.version)


def player_values(p: Player) -> dict[str, Any]:
    return {"id": p.id, "currencies": ",".join(p.currencies), "created_at": p.created_at,
            "status": p.status.value, "lock_reason": p.lock_reason, "funding": p.funding.value,
            "country": p.country, "version": p.version}


def account_values(a: Account) -> dict[str, Any]:
    mat = a.materialized
    return {"id": a.id, "type": a.type.value, "owner": a.owner, "currency": a.currency,
            "player_id": a.owner if mat else None, "balance": 0 if mat else None}


def txn_values(t: Transaction) -> dict[str, Any]:
    return {"id": t.id, "kind": t.kind.value, "player_id": t.player_id, "reference": t.reference,
            "reverses": t.reverses, "created_at": t.created_at, "meta": dumps(dict(t.meta))}


def posting_values(t: Transaction) -> dict[str, Any]:
    """Bind values of the guarded multi-row postings insert (see statements.insert_postings)."""
    out: dict[str, Any] = {"txn_id": t.id}
    for i, p in enumerate(t.postings):
        out[f"a{i}"], out[f"m{i}"], out[f"c{i}"] = p.account, p.amount, p.currency
    return out


def transactions(rows: Iterable[Row], load: Load) -> Iterator[tuple[int, Transaction]]:
    """Rows of transactions joined with their postings, ordered by (seq, pos)."""
    for _, group in groupby(rows, key=lambda r: r.seq):
        first, *rest = group
        postings = tuple(Posting(r.account_id, r.amount, r.p_currency) for r in (first, *rest))
        yield first.seq, Transaction(
            first.id, TxnKind(first.kind), postings, first.created_at, first.player_id,
            first.reference, first.reverses, load(first.meta),
        )


def bonus(r: Row) -> Bonus:
    return Bonus(r.id, r.player_id, r.currency, r.granted, r.wagering_required, r.wagered,
                 BonusStatus(r.status), r.version)


def bonus_values(b: Bonus) -> dict[str, Any]:
    return {"id": b.id, "player_id": b.player_id, "currency": b.currency, "granted": b.granted,
            "wagering_required": b.wagering_required, "wagered": b.wagered,
            "status": b.status.value, "version": b.version}


def withdrawal(r: Row) -> Withdrawal:
    return Withdrawal(r.id, r.player_id, r.currency, r.amount, r.provider,
                      WithdrawalStatus(r.status), r.created_at, r.updated_at, r.version)


def withdrawal_values(w: Withdrawal) -> dict[str, Any]:
    return {"id": w.id, "player_id": w.player_id, "currency": w.currency, "amount": w.amount,
            "provider": w.provider, "status": w.status.value, "created_at": w.created_at,
            "updated_at": w.updated_at, "version": w.version}


def game_txn(r: Row) -> GameTxn:
    return GameTxn(r.id, GameTxnKind(r.kind), r.player_id, r.currency, r.round_id, r.amount,
                   r.cash, r.bonus, r.reference, r.ledger_txn, r.game, r.created_at)


def game_txn_values(g: GameTxn) -> dict[str, Any]:
    return {"id": g.id, "kind": g.kind.value, "player_id": g.player_id, "currency": g.currency,
            "round_id": g.round_id, "amount": g.amount, "cash": g.cash, "bonus": g.bonus,
            "reference": g.reference, "ledger_txn": g.ledger_txn, "game": g.game,
            "created_at": g.created_at}


def idempotency(r: Row, load: Load) -> IdempotencyRecord:
    return IdempotencyRecord(r.scope, r.key, r.fingerprint, load(r.outcome), r.created_at)


def idempotency_values(rec: IdempotencyRecord) -> dict[str, Any]:
    return {"scope": rec.scope, "key": rec.key, "fingerprint": rec.fingerprint,
            "outcome": dumps(rec.outcome), "created_at": rec.created_at}


def audit(r: Row) -> AuditEntry:
    return AuditEntry(r.stream, r.seq, r.at, r.actor, r.action, r.request_id, r.txn_id,
                      r.payload, r.prev_hash, r.hash)


def audit_values(e: AuditEntry) -> dict[str, Any]:
    return {"stream": e.stream, "seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
            "request_id": e.request_id, "txn_id": e.txn_id, "payload": e.payload,
            "prev_hash": e.prev_hash, "hash": e.hash}


def payment(r: Row) -> Payment:
    """From ``data`` alone: the other columns are copies kept for queries."""
    return Payment.from_dict(json.loads(r.data))


def payment_values(p: Payment) -> dict[str, Any]:
    return {"id": p.id, "kind": p.kind, "player_id": p.player_id, "state": p.state.value,
            "provider": p.provider, "version": p.version,
            "wake_at": min((at for at, _ in p.timers), default=None),
            "created_at": p.created_at, "updated_at": p.updated_at, "data": canonical(p.to_dict())}


def journal_entry(r: Row) -> JournalEntry:
    return JournalEntry.from_dict(json.loads(r.data))


def journal_values(e: JournalEntry) -> dict[str, Any]:
    return {"payment_id": e.payment_id, "seq": e.seq, "at": e.at, "event": e.event,
            "state_from": e.state_from, "state_to": e.state_to, "data": canonical(e.to_dict())}
