"""PostgreSQL: a plain bet in one round trip, ``wallet_place_bet``.

A bet through the unit of work is 8 round trips (BEGIN, idempotency lookup, player
lock, game lookup, postings, bonus and audit head, the deferred appends, COMMIT).
On a small machine each costs about as much as a pgbench statement, so the common
bet is also offered as one function call, run in its own (autocommit) transaction:
the same rows, the same triggers and constraints, the same player lock.

The function does only the plain case and decides nothing the domain has not
already decided in Python: the caller passes the account ids, the idempotency
fingerprint, the canonical audit payload and the parts of the audit hash input it
knows. Anything else (a replay or reused key, an unknown or locked player, another
currency, a used or rolled-back transaction id, an active bonus, a bet that bonus
money would fund, too little cash) makes it return no row *before writing*, and
the caller runs the full unit of work, which answers or refuses as always. A lost
race (a concurrent unit stored the same key, game id or audit seq) raises a unique
violation, rolling the call back; the caller then runs the unit of work too.

The audit hash is ``sha256`` of the canonical JSON list ``[prev_hash, stream, seq,
repr(at), actor, action, request_id, txn_id, payload]`` (``wallet.domain.audit``).
The caller sends the JSON of ``stream`` and the tail after ``seq`` (ASCII, as
``json.dumps`` escapes); the function reads the stream's head under the player's
lock and adds ``prev_hash`` and ``seq``, so ``verify_chain`` recomputes the same hash.

SQLite has no such function: there a bet runs through the unit of work.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SIGNATURE = ("text, text, text, text, text, text, text, bigint, text, double precision, text, text, "
             "text, text, text, text, text, text, text[]")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("""
CREATE FUNCTION wallet_place_bet(
  p_scope text, p_key text, p_fingerprint text,
  p_player text, p_currency text, p_gid text, p_round text, p_amount bigint, p_game text,
  p_now double precision, p_actor text, p_action text, p_request_id text, p_payload text,
  p_stream_json text, p_hash_tail text, p_txn text, p_house text, p_accounts text[]
) RETURNS TABLE (cash bigint, bonus bigint, pending bigint, receivable bigint)
LANGUAGE plpgsql AS $$
-- p_accounts: the player's player_cash, player_bonus, withdrawal_hold, pending_deposit and
-- receivable accounts in p_currency, in that order. No row back: run the unit of work.
DECLARE
  v_status text;
  v_currencies text;
  v_funding text;
  v_cash bigint;
  v_bonus bigint;
  v_pending bigint;
  v_receivable bigint;
  v_seq bigint;
  v_prev text;
BEGIN
  -- the player's lock, as the unit of work takes it; what follows reads after it
  SELECT p.status, p.currencies, p.funding INTO v_status, v_currencies, v_funding
    FROM players p WHERE p.id = p_player FOR NO KEY UPDATE;
  IF NOT FOUND OR v_status <> 'active' OR NOT p_currency = ANY (string_to_array(v_currencies, ',')) THEN
    RETURN;
  END IF;
  IF (p_scope IS NOT NULL AND EXISTS (SELECT 1 FROM idempotency i
                                       WHERE i.scope = p_scope AND i.key = p_key))
     OR EXISTS (SELECT 1 FROM game_txns g WHERE g.id = p_gid)
     OR EXISTS (SELECT 1 FROM game_txns g WHERE g.reference = p_gid AND g.kind = 'rollback')
     OR EXISTS (SELECT 1 FROM bonuses b WHERE b.player_id = p_player AND b.currency = p_currency
                                          AND b.status = 'active') THEN
    RETURN;
  END IF;
  SELECT coalesce(sum(a.balance) FILTER (WHERE a.id = p_accounts[1]), 0),
         coalesce(sum(a.balance) FILTER (WHERE a.id = p_accounts[2]), 0),
         coalesce(sum(a.balance) FILTER (WHERE a.id IN (p_accounts[3], p_accounts[4])), 0),
         coalesce(sum(a.balance) FILTER (WHERE a.id = p_accounts[5]), 0)
    INTO v_cash, v_bonus, v_pending, v_receivable
    FROM accounts a WHERE a.id = ANY (p_accounts);
  -- all from cash: enough cash, and no bonus money that bonus-first funding would take
  IF v_cash < p_amount OR (v_funding <> 'cash_first' AND v_bonus > 0) THEN
    RETURN;
  END IF;

  -- postings first, header last (the ledger triggers check and seal it), as post() does
  INSERT INTO postings (txn_id, pos, account_id, amount, currency)
  VALUES (p_txn, 0, p_house, p_amount, p_currency), (p_txn, 1, p_accounts[1], -p_amount, p_currency);
  INSERT INTO transactions (id, kind, player_id, reference, reverses, created_at, meta)
  VALUES (p_txn, 'bet', p_player, p_round, NULL, p_now, '{}');
  INSERT INTO game_txns (id, kind, player_id, currency, round_id, amount, cash, bonus, reference,
                         ledger_txn, game, created_at)
  VALUES (p_gid, 'bet', p_player, p_currency, p_round, p_amount, p_amount, 0, NULL, p_txn, p_game, p_now);

  SELECT l.seq, l.hash INTO v_seq, v_prev FROM audit_log l
   WHERE l.stream = p_player ORDER BY l.seq DESC LIMIT 1;
  v_seq := coalesce(v_seq, 0) + 1;
  v_prev := coalesce(v_prev, repeat('0', 64));
  INSERT INTO audit_log (stream, seq, at, actor, action, request_id, txn_id, payload, prev_hash, hash)
  VALUES (p_player, v_seq, p_now, p_actor, p_action, p_request_id, p_txn, p_payload, v_prev,
          encode(sha256(convert_to('["' || v_prev || '",' || p_stream_json || ',' || v_seq || ','
                                   || p_hash_tail, 'UTF8')), 'hex'));

  v_cash := v_cash - p_amount;
  IF p_scope IS NOT NULL THEN
    -- the answer the unit of work would have stored (handlers.game.place_bet, sorted keys)
    INSERT INTO idempotency (scope, key, fingerprint, outcome, created_at)
    VALUES (p_scope, p_key, p_fingerprint, json_build_object('ok', json_build_object(
              'balance', json_build_object(
                'available', v_cash, 'bonus', v_bonus, 'currency', p_currency, 'pending', v_pending,
                'receivable', v_receivable, 'total', v_cash + v_bonus + v_pending + v_receivable),
              'bonus_converted', false, 'player_id', p_player, 'transaction_id', p_txn)),
            p_now);
  END IF;
  RETURN QUERY SELECT v_cash, v_bonus, v_pending, v_receivable;
END $$""")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION wallet_place_bet({SIGNATURE})")
