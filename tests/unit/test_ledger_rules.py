import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.domain.audit import next_entry, verify_chain
from wallet.domain.errors import InsufficientFunds
from wallet.domain.ledger import (
    Posting,
    Transaction,
    TxnKind,
    balance_violations,
    transaction_violations,
)
from wallet.domain.players import Funding, Split, split_bet, split_win


def txn(*postings: tuple[str, int]) -> Transaction:
    return Transaction("t", TxnKind.FEE, tuple(Posting(a, n, a.rsplit(":", 1)[1]) for a, n in postings), 0.0)


def test_validator_kinds() -> None:
    kinds = lambda t: {v.kind for v in transaction_violations(t)}  # noqa: E731
    assert kinds(txn(("fees:casino:EUR", -5), ("player_cash:p:EUR", 5))) == set()
    assert kinds(txn(("fees:casino:EUR", -5), ("player_cash:p:EUR", 4))) == {"unbalanced"}
    assert kinds(txn(("fees:casino:EUR", 0), ("player_cash:p:EUR", 0))) == {"bad_posting_amount"}
    assert kinds(txn(("fees:casino:EUR", -5))) == {"too_few_postings", "unbalanced"}
    # EUR and USD each balance on their own, never against each other
    assert kinds(txn(("fees:casino:EUR", -5), ("player_cash:p:USD", 5))) == {"unbalanced"}
    bad_ccy = Transaction("t", TxnKind.FEE, (Posting("fees:casino:EUR", -5, "USD"),
                                             Posting("player_cash:p:USD", 5, "USD")), 0.0)
    assert kinds(bad_ccy) == {"currency_mismatch"}


def test_balance_violations_find_each_kind() -> None:
    t1 = txn(("provider_clearing:acme:EUR", -100), ("player_cash:p:EUR", 100))
    t2 = txn(("player_cash:p:EUR", -150), ("house_game:casino:EUR", 150))
    found = {v.kind: v.ids for v in balance_violations({"player_cash:p:EUR": 0}, [t1, t2])}
    assert found == {"balance_mismatch": ("player_cash:p:EUR",), "negative_balance": ("player_cash:p:EUR",)}
    t3 = txn(("receivable:p:EUR", 10), ("house_game:casino:EUR", -10))
    assert {v.kind for v in balance_violations({}, [t3])} == {"positive_receivable"}


@given(st.lists(st.tuples(st.sampled_from(["player_cash:a:EUR", "house_game:casino:EUR",
                                            "provider_clearing:x:EUR"]),
                          st.integers(1, 10**6)), min_size=1, max_size=20))
def test_balanced_transfers_conserve_money(moves: list[tuple[str, int]]) -> None:
    txns = [txn((acc, n), ("fees:casino:EUR", -n)) for acc, n in moves]
    assert all(not transaction_violations(t) for t in txns)
    kinds = {v.kind for v in balance_violations({}, txns)}
    assert "currency_not_conserved" not in kinds


@given(st.integers(1, 10**9), st.integers(0, 10**9), st.integers(0, 10**9), st.sampled_from(list(Funding)))
def test_split_bet_never_overdraws(amount: int, cash: int, bonus: int, funding: Funding) -> None:
    if amount > cash + bonus:
        with pytest.raises(InsufficientFunds):
            split_bet(amount, cash, bonus, funding)
        return
    s = split_bet(amount, cash, bonus, funding)
    assert s.cash + s.bonus == amount
    assert 0 <= s.cash <= cash
    assert 0 <= s.bonus <= bonus
    first = s.cash if funding is Funding.CASH_FIRST else s.bonus
    assert first == min(amount, cash if funding is Funding.CASH_FIRST else bonus)


@given(st.integers(0, 10**9), st.integers(0, 10**6), st.integers(0, 10**6))
def test_split_win_pays_out_exactly(win: int, cash: int, bonus: int) -> None:
    s = split_win(win, Split(cash, bonus))
    assert s.cash + s.bonus == win
    assert s.cash >= 0
    assert s.bonus >= 0


def test_audit_chain_detects_edit_reorder_and_gap() -> None:
    entries = []
    prev = None
    for i in range(4):
        prev = next_entry(prev, stream="p", at=float(i), actor="op", action="PlaceBet",
                          request_id=str(i), txn_id=f"t{i}", payload="{}")
        entries.append(prev)
    assert verify_chain(entries) == []
    assert verify_chain([entries[0], entries[2], entries[1], entries[3]])
    assert verify_chain(entries[:1] + entries[2:])
    e = entries[2]
    edited = type(e)(e.stream, e.seq, e.at, e.actor, e.action, e.request_id, "other", e.payload,
                     e.prev_hash, e.hash)
    assert [b.seq for b in verify_chain([*entries[:2], edited, entries[3]])] == [3]
