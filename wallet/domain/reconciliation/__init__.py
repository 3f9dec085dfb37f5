"""Reconciliation of the wallet's ledger against a provider's settlement report.

    from wallet.domain.reconciliation import SettlementLine, reconcile
    report = reconcile("acme", store.all_transactions(), lines, as_of=t, timing_tolerance=600)
    assert report.clean, report.to_markdown()

Pure and standard library only: the checker (DESIGN "What correct means", rule 3) and
the scenario reports call it with whatever ledger and report lines they hold.
"""

from wallet.domain.reconciliation.matching import OPERATION_OF, OPERATIONS, reconcile
from wallet.domain.reconciliation.model import (
    MATCHED,
    SELF_CLEARING,
    Amounts,
    Break,
    BreakKind,
    CurrencySettlement,
    ReconciliationReport,
    SettlementLine,
)

__all__ = [
    "MATCHED", "OPERATIONS", "OPERATION_OF", "SELF_CLEARING", "Amounts", "Break", "BreakKind",
    "CurrencySettlement", "ReconciliationReport", "SettlementLine", "reconcile",
]
