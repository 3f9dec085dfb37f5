"""One contract for every store adapter: memory, SQLite and PostgreSQL.

Each test drives the wallet through the port and asserts behaviour a caller can see,
so an adapter passes only if it behaves exactly like the others.
"""

from __future__ import annotations

import pytest

from wallet.domain import commands as c
from wallet.domain import errors
from wallet.domain.audit import AuditEntry
from wallet.domain.idempotency import IdempotencyKey
from wallet.domain.ledger import Posting, Transaction, TxnKind
from wallet.service.clock import ManualClock
from wallet.service.unit_of_work import Store
from wallet.service.wallet import Wallet


def _funded(wallet: Wallet, pid: str = "p1", amount: int = 10_000, currency: str = "EUR") -> None:
    wallet.execute(c.OpenPlayer(pid, currency))
    wallet.execute(c.CreditDeposit(pid, "acme", f"pay-{pid}", amount, currency))


def _clean(wallet: Wallet) -> None:
    assert wallet.ledger_violations() == []
    assert wallet.verify_audit() == []


def test_open_player_and_duplicate(wallet: Wallet) -> None:
    wallet.execute(c.OpenPlayer("p1", "EUR", country="MT"))
    player = wallet.player("p1")
    assert player.currencies == ("EUR",)
    assert player.country == "MT"
    with pytest.raises(errors.AlreadyExists):
        wallet.execute(c.OpenPlayer("p1", "EUR"))
    assert wallet.balance("p1", "EUR")["total"] == 0


def test_deposit_credit_is_exactly_once(wallet: Wallet) -> None:
    _funded(wallet)
    with pytest.raises(errors.AlreadyExists):
        wallet.execute(c.CreditDeposit("p1", "acme", "pay-p1", 10_000, "EUR"))
    assert wallet.balance("p1", "EUR")["available"] == 10_000
    _clean(wallet)


def test_deposit_fee_posts_to_fees_and_clearing(wallet: Wallet) -> None:
    wallet.execute(c.OpenPlayer("p1", "EUR"))
    wallet.execute(c.CreditDeposit("p1", "acme", "x", 10_000, "EUR", fee=290))
    with wallet.store.unit_of_work() as uow:
        b = uow.balances(["provider_clearing:acme:EUR", "fees:casino:EUR", "player_cash:p1:EUR"])
    assert b == {"provider_clearing:acme:EUR": -9_710, "fees:casino:EUR": -290, "player_cash:p1:EUR": 10_000}


def test_bet_over_balance_refused_without_posting(wallet: Wallet) -> None:
    _funded(wallet, amount=500)
    with pytest.raises(errors.InsufficientFunds):
        wallet.execute(c.PlaceBet("agg", "t1", "p1", "r1", 501, "EUR"))
    assert wallet.balance("p1", "EUR")["available"] == 500
    assert [t.kind for t in wallet.history("p1")[0]] == [TxnKind.DEPOSIT]
    # the refused id was not consumed: a later valid bet with the same id goes through
    wallet.execute(c.PlaceBet("agg", "t1", "p1", "r1", 500, "EUR"))
    assert wallet.balance("p1", "EUR")["available"] == 0


def test_bet_win_rollback_cycle(wallet: Wallet) -> None:
    _funded(wallet)
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 1_000, "EUR"))
    wallet.execute(c.SettleWin("agg", "w1", "p1", "r1", "b1", 2_500, "EUR"))
    wallet.execute(c.PlaceBet("agg", "b2", "p1", "r2", 700, "EUR"))
    out = wallet.execute(c.RollbackBet("agg", "rb2", "p1", "b2"))
    assert out["balance"]["available"] == 10_000 - 1_000 + 2_500
    with pytest.raises(errors.BetRolledBack):
        wallet.execute(c.SettleWin("agg", "w2", "p1", "r2", "b2", 100, "EUR"))
    with pytest.raises(errors.AlreadyExists):
        wallet.execute(c.RollbackBet("agg", "rb2-again", "p1", "b2"))
    _clean(wallet)


def test_rollback_before_bet_leaves_tombstone(wallet: Wallet) -> None:
    _funded(wallet)
    out = wallet.execute(c.RollbackBet("agg", "rb1", "p1", "late-bet"))
    assert out["tombstone"] is True
    with pytest.raises(errors.BetRolledBack):
        wallet.execute(c.PlaceBet("agg", "late-bet", "p1", "r1", 100, "EUR"))
    assert wallet.balance("p1", "EUR")["available"] == 10_000
    # tombstones are per aggregator: another aggregator's id space is untouched
    wallet.execute(c.PlaceBet("other", "late-bet", "p1", "r1", 100, "EUR"))


def test_win_requires_a_known_bet_of_that_player(wallet: Wallet) -> None:
    _funded(wallet)
    _funded(wallet, "p2")
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 100, "EUR"))
    with pytest.raises(errors.TransactionNotFound):
        wallet.execute(c.SettleWin("agg", "w1", "p2", "r1", "b1", 100, "EUR"))
    with pytest.raises(errors.TransactionNotFound):
        wallet.execute(c.SettleWin("agg", "w1", "p1", "r1", "nope", 100, "EUR"))


def test_bonus_wagering_conversion_and_funding(wallet: Wallet) -> None:
    _funded(wallet, amount=1_000)
    wallet.execute(c.GrantBonus("p1", "bn1", 2_000, "EUR", wagering_multiplier=2))
    out = wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 1_500, "EUR"))  # 1000 cash + 500 bonus
    assert (out["balance"]["available"], out["balance"]["bonus"]) == (0, 1_500)
    out = wallet.execute(c.SettleWin("agg", "w1", "p1", "r1", "b1", 3_000, "EUR"))
    assert (out["balance"]["available"], out["balance"]["bonus"]) == (2_000, 2_500)  # 2:1 split
    out = wallet.execute(c.PlaceBet("agg", "b2", "p1", "r2", 2_500, "EUR"))  # wagered 4000 = 2x2000
    assert out["bonus_converted"] is True
    assert (out["balance"]["available"], out["balance"]["bonus"]) == (2_000, 0)
    with wallet.store.unit_of_work() as uow:
        bonus = uow.get_bonus("bn1")
    assert bonus is not None
    assert bonus.status == "converted"
    _clean(wallet)


def test_withdrawal_forfeits_active_bonus(wallet: Wallet) -> None:
    _funded(wallet, amount=1_000)
    wallet.execute(c.GrantBonus("p1", "bn1", 2_000, "EUR"))
    out = wallet.execute(c.RequestWithdrawal("p1", "wd1", 400, "EUR", "acme"))
    assert out["balance"] == {
        "currency": "EUR",
        "available": 600,
        "bonus": 0,
        "pending": 400,
        "receivable": 0,
        "total": 1_000,
    }
    assert out["bonus_forfeit_txn"] == "bonus_forfeit:bn1"
    _clean(wallet)


def test_withdrawal_paid_released_returned(wallet: Wallet) -> None:
    _funded(wallet)
    wallet.execute(c.RequestWithdrawal("p1", "wd1", 1_000, "EUR", "acme"))
    wallet.execute(c.RequestWithdrawal("p1", "wd2", 2_000, "EUR", "acme"))
    wallet.execute(c.CompleteWithdrawal("wd1", fee=50))
    wallet.execute(c.ReleaseWithdrawal("wd2"))
    with pytest.raises(errors.IllegalTransition):
        wallet.execute(c.CompleteWithdrawal("wd2"))
    bal = wallet.balance("p1", "EUR")
    assert (bal["available"], bal["pending"]) == (9_000, 0)
    wallet.execute(c.ReturnPayout("wd1", reason="account_closed"))
    assert wallet.balance("p1", "EUR")["available"] == 10_000
    with pytest.raises(errors.IllegalTransition):
        wallet.execute(c.ReturnPayout("wd1"))
    _clean(wallet)


def test_withdrawal_over_available_refused(wallet: Wallet) -> None:
    _funded(wallet, amount=100)
    with pytest.raises(errors.InsufficientFunds):
        wallet.execute(c.RequestWithdrawal("p1", "wd1", 101, "EUR", "acme"))
    with pytest.raises(errors.InsufficientFunds):
        wallet.execute(c.InstantPayout("p1", "wd1", 101, "EUR", "bank"))
    out = wallet.execute(c.InstantPayout("p1", "wd1", 100, "EUR", "bank"))
    assert out["status"] == "paid"
    assert out["balance"]["total"] == 0


def test_chargeback_creates_receivable_and_locks(wallet: Wallet) -> None:
    _funded(wallet, amount=5_000)
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 4_000, "EUR"))
    out = wallet.execute(c.Chargeback("acme", "pay-p1", 5_000, fee=1_500))
    assert out["balance"]["available"] == 0
    assert out["balance"]["receivable"] == -4_000
    assert wallet.player("p1").locked
    with pytest.raises(errors.PlayerLocked):
        wallet.execute(c.PlaceBet("agg", "b2", "p1", "r2", 1, "EUR"))
    with pytest.raises(errors.PlayerLocked):
        wallet.execute(c.RequestWithdrawal("p1", "wd", 1, "EUR", "acme"))
    # wins for rounds already played still land, and a new deposit repays the debt first
    wallet.execute(c.SettleWin("agg", "w1", "p1", "r1", "b1", 1_000, "EUR"))
    out = wallet.execute(c.CreditDeposit("p1", "acme", "pay-2", 5_000, "EUR"))
    assert out["repaid_receivable"] == 4_000
    assert out["balance"]["available"] == 2_000
    with pytest.raises(errors.AlreadyExists):
        wallet.execute(c.Chargeback("acme", "pay-p1", 5_000))
    _clean(wallet)


def test_write_off_receivable(wallet: Wallet) -> None:
    _funded(wallet, amount=1_000)
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 1_000, "EUR"))
    wallet.execute(c.Chargeback("acme", "pay-p1", 1_000))
    out = wallet.execute(c.WriteOffReceivable("p1", "EUR", "wo1"))
    assert out["written_off"] == 1_000
    assert out["balance"]["receivable"] == 0
    with pytest.raises(errors.Conflict):
        wallet.execute(c.WriteOffReceivable("p1", "EUR", "wo2"))
    _clean(wallet)


def test_refund_bounded_by_deposit(wallet: Wallet) -> None:
    _funded(wallet, amount=1_000)
    wallet.execute(c.Refund("acme", "pay-p1", "rf1", 600))
    with pytest.raises(errors.InvalidInput):
        wallet.execute(c.Refund("acme", "pay-p1", "rf2", 401))
    wallet.execute(c.Refund("acme", "pay-p1", "rf2", 400))
    assert wallet.balance("p1", "EUR")["available"] == 0
    with pytest.raises(errors.TransactionNotFound):
        wallet.execute(c.Refund("acme", "unknown", "rf3", 1))
    _clean(wallet)


def test_fx_balances_each_currency(wallet: Wallet) -> None:
    _funded(wallet, amount=10_000)
    with pytest.raises(errors.InvalidInput):
        wallet.execute(c.ConvertCurrency("p1", "fx1", "EUR", "JPY", 1_000, "160.5"))
    wallet.execute(c.OpenCurrency("p1", "JPY"))
    out = wallet.execute(c.ConvertCurrency("p1", "fx1", "EUR", "JPY", 1_001, "160.5"))
    assert out["converted"] == 1_606  # 10.01 EUR * 160.5 = 1606.605 JPY, floored
    assert out["from_balance"]["available"] == 8_999
    assert wallet.balance("p1", "JPY")["available"] == 1_606
    txn = wallet.transaction("fx:p1:fx1")
    assert txn.sums() == {"EUR": 0, "JPY": 0}
    _clean(wallet)


def test_reversal_mirrors_and_is_single(wallet: Wallet) -> None:
    _funded(wallet)
    wallet.execute(c.ReverseTransaction("deposit:acme:pay-p1", reason="credited wrong player"))
    assert wallet.balance("p1", "EUR")["available"] == 0
    assert wallet.transaction("reversal:deposit:acme:pay-p1").reverses == "deposit:acme:pay-p1"
    with pytest.raises(errors.AlreadyExists):
        wallet.execute(c.ReverseTransaction("deposit:acme:pay-p1", reason="again"))
    _clean(wallet)


def test_reversal_refused_when_it_would_overdraw(wallet: Wallet) -> None:
    _funded(wallet)
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 9_000, "EUR"))
    with pytest.raises(errors.InsufficientFunds):
        wallet.execute(c.ReverseTransaction("deposit:acme:pay-p1", reason="x"))


def test_a_chain_reversal_of_spent_money_books_what_is_owed(wallet: Wallet) -> None:
    _funded(wallet)
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 9_000, "EUR"))
    wallet.execute(c.ReverseTransaction("deposit:acme:pay-p1", reason="reorg", owe_shortfall=True))
    balance = wallet.balance("p1", "EUR")
    assert balance["available"] == 0 and balance["receivable"] == -9_000  # owed to the house
    assert wallet.player("p1").locked
    assert wallet.transaction("reversal:deposit:acme:pay-p1").sums() == {"EUR": 0}
    _clean(wallet)


def test_idempotent_replay_and_key_reuse(wallet: Wallet) -> None:
    _funded(wallet)
    key = IdempotencyKey("operator", "k-1")
    cmd = c.RequestWithdrawal("p1", "wd1", 1_000, "EUR", "acme")
    first = wallet.execute(cmd, idempotency=key)
    assert wallet.execute(cmd, idempotency=key) == first
    with pytest.raises(errors.IdempotencyKeyReused):
        wallet.execute(c.RequestWithdrawal("p1", "wd1", 999, "EUR", "acme"), idempotency=key)
    # a key is scoped to its client
    with pytest.raises(errors.AlreadyExists):
        wallet.execute(cmd, idempotency=IdempotencyKey("someone-else", "k-1"))
    assert wallet.balance("p1", "EUR")["pending"] == 1_000


def test_refusal_is_replayed_even_after_state_changes(wallet: Wallet) -> None:
    _funded(wallet, amount=100)
    key = IdempotencyKey("agg", "bet-1")
    cmd = c.PlaceBet("agg", "bet-1", "p1", "r1", 200, "EUR")
    with pytest.raises(errors.InsufficientFunds):
        wallet.execute(cmd, idempotency=key)
    wallet.execute(c.CreditDeposit("p1", "acme", "more", 1_000, "EUR"))
    with pytest.raises(errors.InsufficientFunds):  # the first answer, not a new attempt
        wallet.execute(cmd, idempotency=key)
    assert wallet.balance("p1", "EUR")["available"] == 1_100


def test_invalid_input_is_not_remembered(wallet: Wallet) -> None:
    _funded(wallet)
    key = IdempotencyKey("op", "k")
    with pytest.raises(errors.InvalidInput):
        wallet.execute(c.RequestWithdrawal("p1", "wd1", 10, "USD", "acme"), idempotency=key)
    out = wallet.execute(c.RequestWithdrawal("p1", "wd1", 10, "EUR", "acme"), idempotency=key)
    assert out["status"] == "held"


def test_history_pages_in_order(wallet: Wallet) -> None:
    _funded(wallet)
    for i in range(7):
        wallet.execute(c.PlaceBet("agg", f"b{i}", "p1", f"r{i}", 10, "EUR"))
    seen, cursor = [], 0
    while True:
        page, nxt = wallet.history("p1", after=cursor, limit=3)
        seen += [t.id for t in page]
        if nxt is None:
            break
        cursor = nxt
    assert seen == ["deposit:acme:pay-p1"] + [f"bet:agg:b{i}" for i in range(7)]


def test_audit_chain_per_player_detects_tampering(wallet: Wallet) -> None:
    _funded(wallet)
    _funded(wallet, "p2")
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 10, "EUR"))
    entries = wallet.audit_log()
    assert [e.seq for e in entries if e.stream == "p1"] == [1, 2, 3]
    assert wallet.verify_audit() == []
    from wallet.domain.audit import verify_chain

    e = entries[1]
    forged = AuditEntry(
        e.stream, e.seq, e.at, "mallory", e.action, e.request_id, e.txn_id, e.payload, e.prev_hash, e.hash
    )
    assert verify_chain([entries[0], forged, *entries[2:]])
    assert verify_chain([entries[0], *entries[2:]])  # a removed entry breaks the chain too


def test_store_refuses_unbalanced_and_duplicate_transactions(store: Store) -> None:
    wallet = Wallet(store, ManualClock(0))
    _funded(wallet)
    bad = Transaction(
        "bad",
        TxnKind.FEE,
        (Posting("fees:casino:EUR", -5, "EUR"), Posting("player_cash:p1:EUR", 4, "EUR")),
        0.0,
    )
    with store.unit_of_work() as uow, pytest.raises(errors.UnbalancedTransaction):
        uow.post(bad)
    dup = Transaction(
        "deposit:acme:pay-p1",
        TxnKind.DEPOSIT,
        (Posting("fees:casino:EUR", -5, "EUR"), Posting("player_cash:p1:EUR", 5, "EUR")),
        0.0,
        "p1",
    )
    with store.unit_of_work() as uow, pytest.raises(errors.AlreadyExists):
        uow.post(dup)
    assert wallet.balance("p1", "EUR")["available"] == 10_000


def test_rollback_of_unit_leaves_no_trace(store: Store) -> None:
    wallet = Wallet(store, ManualClock(0))
    _funded(wallet)
    with store.unit_of_work() as uow:
        uow.post(
            Transaction(
                "t",
                TxnKind.FEE,
                (Posting("fees:casino:EUR", -5, "EUR"), Posting("player_cash:p1:EUR", 5, "EUR")),
                0.0,
                "p1",
            )
        )
        assert uow.balances(["player_cash:p1:EUR"]) == {"player_cash:p1:EUR": 10_005}
        uow.rollback()
    with store.unit_of_work() as uow:
        assert uow.get_transaction("t") is None
        assert uow.balances(["player_cash:p1:EUR"]) == {"player_cash:p1:EUR": 10_000}
        assert uow.balances(["fees:casino:EUR"]).get("fees:casino:EUR", 0) == 0


def test_derived_house_balances(wallet: Wallet) -> None:
    _funded(wallet)
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 300, "EUR"))
    wallet.execute(c.SettleWin("agg", "w1", "p1", "r1", "b1", 100, "EUR"))
    with wallet.store.unit_of_work() as uow:
        assert uow.balances(["house_game:casino:EUR"]) == {"house_game:casino:EUR": 200}
        stored = uow.stored_balances()
    assert "house_game:casino:EUR" not in stored
    assert stored["player_cash:p1:EUR"] == 9_800


def test_chargeback_and_refunds_account_for_each_other(wallet: Wallet) -> None:
    _funded(wallet, amount=1_000)
    wallet.execute(c.Refund("acme", "pay-p1", "rf1", 300))
    with pytest.raises(errors.InvalidInput, match="less refunds 300"):
        wallet.execute(c.Chargeback("acme", "pay-p1", 1_000))
    wallet.execute(c.Chargeback("acme", "pay-p1", 700))
    with pytest.raises(errors.Conflict, match="charged back"):
        wallet.execute(c.Refund("acme", "pay-p1", "rf2", 1))
    _clean(wallet)


def test_only_lifecycle_free_transactions_are_reversible(wallet: Wallet) -> None:
    _funded(wallet)
    wallet.execute(c.PlaceBet("agg", "b1", "p1", "r1", 100, "EUR"))
    wallet.execute(c.RequestWithdrawal("p1", "w1", 100, "EUR", "acme"))
    for txn_id in ("bet:agg:b1", "withdrawal_hold:w1"):
        with pytest.raises(errors.Conflict, match="own lifecycle"):
            wallet.execute(c.ReverseTransaction(txn_id, reason="x"))
    wallet.execute(c.Refund("acme", "pay-p1", "rf1", 100))
    with pytest.raises(errors.Conflict, match="reverse those first"):
        wallet.execute(c.ReverseTransaction("deposit:acme:pay-p1", reason="x"))
    wallet.execute(c.CompleteWithdrawal("w1"))
    _clean(wallet)


def test_ids_must_be_printable() -> None:
    with pytest.raises(errors.InvalidInput, match="printable"):
        c.OpenPlayer("bad\x00id", "EUR")
