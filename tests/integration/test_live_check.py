"""The live consistency checker against real servers: the wallet + gateway and the mock
providers under uvicorn. A consistent state passes; a credit no provider settled, and a
provider settlement the wallet never credited, each fail under their own check name (also
through ``sandbox check-live``'s exit code)."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from sandbox.cli import app
from sandbox.live_check import check_live, failures, passed
from tests.integration.gateway_harness import OPERATOR, profile, stack
from wallet.adapters.memory import MemoryStore

APPROVE = {"approval_rate": 1.0, "three_ds": {"challenge_probability": 0.0}}


def failed(checks: list) -> dict[str, list[str]]:
    return {c.name: c.violations for c in checks if not c.passed}


def cli(wallet: str, mocks: str) -> int:
    return CliRunner().invoke(app, ["check-live", "--wallet", wallet, "--mocks", mocks]).exit_code


def test_consistent_state_passes_and_each_inconsistency_fails_by_name(caplog):
    pf = profile(acme={"kind": "card", **APPROVE}, openbank={"kind": "bank", "approval_rate": 1.0})
    with stack(MemoryStore(), pf) as s:
        assert s.deposit("dep-1", 5_000).status_code == 201
        s.wait_state("dep-1", "succeeded")
        assert s.payout("wd-1", 1_000).status_code == 201
        s.wait_state("wd-1", "paid")
        s.quiet("acme", "openbank")

        checks, anomalies = check_live(s.wallet_url, s.mocks_url, settle_s=10)
        assert passed(checks, anomalies), failures(checks, anomalies)
        names = {c.name for c in checks}
        assert {"settled_deposits_credited", "no_credit_without_settlement",
                "payouts_match_provider", "audit_chain_intact", "legal_transitions_only",
                "money_conserved"} <= names
        assert cli(s.wallet_url, s.mocks_url) == 0

        # A credit straight through the wallet's API that no provider ever settled.
        r = s.http.post("/v1/deposits", json={"player_id": "p1", "provider": "acme",
                                              "payment_id": "ghost-1", "amount": 700,
                                              "currency": "EUR"},
                        headers={**OPERATOR, "Idempotency-Key": "ghost-1"})
        assert r.status_code == 201
        checks, anomalies = check_live(s.wallet_url, s.mocks_url)
        assert failed(checks) == {"no_credit_without_settlement": ["acme:ghost-1"]}
        assert anomalies["no_credit_without_settlement"] == 1
        assert cli(s.wallet_url, s.mocks_url) == 1

        # A payment the provider approved whose webhook never reaches the wallet.
        r = httpx.post(f"{s.mocks_url}/acme/v1/payments", headers={
            "Authorization": "Bearer sk_test_acme", "Idempotency-Key": "orphan-1-a1"}, json={
            "amount": 900, "currency": "EUR", "reference": "orphan-1",
            "customer": {"id": "p1", "country": "DE"},
            "payment_method": {"type": "card", "card": {
                "number": "4111111111111111", "exp_month": 12, "exp_year": 2030, "cvc": "123",
                "holder_name": "Jo Player"}},
            "callback_url": "http://127.0.0.1:9/nowhere"})
        assert r.status_code == 201, r.text
        with caplog.at_level("INFO", logger="sandbox.live_check"):
            checks, _ = check_live(s.wallet_url, s.mocks_url, settle_s=1)
        assert failed(checks) == {"no_credit_without_settlement": ["acme:ghost-1"],
                                  "settled_deposits_credited": ["acme:orphan-1"]}
        waited = [r.getMessage() for r in caplog.records if r.name == "sandbox.live_check"]
        assert waited and "settled_deposits_credited: 1 (acme:orphan-1)" in waited[0]  # what it waits for
