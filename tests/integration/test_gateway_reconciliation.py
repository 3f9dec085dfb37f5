"""Three-way reconciliation after a live run: the wallet's ledger (fees booked by the gateway
from its contract) against the mock provider's own settlement report. Clean when nothing is
wrong; a planted break is named with the transaction to look at."""

from __future__ import annotations

import httpx

from tests.integration.gateway_harness import Stack, profile, stack
from wallet.adapters.memory import MemoryStore
from wallet.domain.commands import CreditDeposit
from wallet.domain.reconciliation import BreakKind, ReconciliationReport, SettlementLine, reconcile

FAR = 1e12  # the mocks' model clock and the wallet's wall clock differ: compare everything


def settlement(mocks_url: str, provider: str) -> list[SettlementLine]:
    body = httpx.get(f"{mocks_url}/{provider}/_control/settlement", timeout=5).json()
    return [SettlementLine(**{k: ln[k] for k in SettlementLine.__dataclass_fields__})
            for ln in body["lines"]]


def run(s: Stack) -> ReconciliationReport:
    with s.wallet.store.unit_of_work(read_only=True) as uow:
        txns = list(uow.all_transactions())
    return reconcile("acme", txns, settlement(s.mocks_url, "acme"), as_of=FAR, timing_tolerance=FAR)


def test_a_live_run_reconciles_clean_and_a_planted_credit_is_named():
    pf = profile(acme={"kind": "card", "approval_rate": 0.7, "three_ds": {"challenge_probability": 0},
                       "disputes": {"chargeback_probability": 0, "refund_probability": 0}})
    with stack(MemoryStore(), pf) as s:
        states = [s.deposit(f"rc-{i}", 1_000 + 37 * i).json()["state"] for i in range(30)]
        s.quiet("acme")
        assert 10 < states.count("succeeded") < 30  # approvals and declines both happened
        report = run(s)
        assert report.clean, report.to_markdown()
        assert report.counts["matched"] == states.count("succeeded")

        metrics = s.http.get("/metrics").text
        assert 'gateway_provider_call_duration_seconds_count{call="create",provider="acme",' \
               'result="ProviderReplied"}' in metrics
        assert 'gateway_webhooks_total{provider="acme",result="applied"}' in metrics
        assert 'gateway_outcomes_total{kind="' in metrics  # declines happened: failed by reason

        s.wallet.execute(CreditDeposit("p1", "acme", "made-up", 5_000, "EUR"))
        (planted,) = run(s).breaks
        assert planted.kind is BreakKind.MISSING_AT_PROVIDER
        assert "deposit:acme:made-up" in str(planted)


def test_the_default_gateway_contract_matches_the_default_mock_fees():
    """Otherwise every settled payment of `sandbox serve` would be a fee_mismatch."""
    from mocks.cli import DEFAULT_PROFILE
    from mocks.models.profile import load_profile_file
    from wallet.api.gateway_config import GatewayConfig

    mocks = load_profile_file(DEFAULT_PROFILE).profiles()
    config = GatewayConfig.load()
    checked = 0
    for c in config.candidates():
        if mocks[c.name].kind == "crypto":
            continue  # settled in the asset: see docs/reconciliation.md
        for currency in c.currencies:
            for amount in (1, 99, 1_000, 12_345, 1_000_000):
                assert c.fee_for(amount, currency) == mocks[c.name].compiled.fee(amount, currency), \
                    (c.name, currency, amount)
                checked += 1
    assert checked >= 30  # four fiat providers, six currencies in all
