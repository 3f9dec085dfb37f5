"""The consistency checker against running servers: the wallet's API and the mocks' control API.

Simulated runs hand ``sandbox.checks`` the wallet object; a load test only has URLs, so this
module reads the same inputs over HTTP (the ledger and audit verdicts, the posted
transaction ids, the gateway's journal, each mock provider's own decisions) and applies the
same rules: every provider-settled payment credited exactly once, nothing credited that no
provider settled, payouts booked paid exactly when paid, legal transitions only.

A live system is never frozen: a deposit the provider settled a moment ago may still be on
its way as a webhook. ``settle_s`` re-runs the checks until they pass or that long has
passed, so a verdict is only "fail" when the inconsistency lasts. Credits under providers
the mocks do not serve (e.g. the load test's ``cashdesk`` top-ups) are outside rule 3.

Optionally an "acknowledged" file (lines ``txn <id>`` or ``payment <id>``, written by the
Locust users for every 2xx answer) is checked: each must exist in the wallet, which after a
``kill -9`` and restart proves no acknowledged operation was lost.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from mocks.apps.control import decision_from
from mocks.models.types import Decision
from sandbox.checks import (
    Check,
    _check,
    failing_anomalies,
    journal_checks,
    ledger_checks_of,
    settlement_checks_of_ids,
)
from wallet.domain.payments.journal import JournalEntry

DEV_ADMIN_KEY = "dev-admin-key-INSECURE"  # the published development key (docs/api.md)
SETTLEMENT_PREFIXES = ("deposit:", "reversal:deposit:", "withdrawal_paid:")
PAYMENT_OPERATIONS = frozenset({"deposit", "payout"})  # not KYC checks
log = logging.getLogger(__name__)


def check_live(wallet_url: str, mocks_url: str, token: str = DEV_ADMIN_KEY, *,
               settle_s: float = 0.0, acknowledged: Path | None = None,
               timeout_s: float = 60.0) -> tuple[list[Check], dict[str, int]]:
    """Every check, and anomalies by kind (gateway flags plus one per violating id), as
    ``sandbox.checks.run_checks`` returns them; retried for up to ``settle_s`` seconds."""
    deadline = time.monotonic() + settle_s
    with httpx.Client(timeout=timeout_s) as http:
        while True:
            checks, anomalies = _once(http, wallet_url.rstrip("/"), mocks_url.rstrip("/"), token,
                                      acknowledged)
            left = deadline - time.monotonic()
            if passed(checks, anomalies) or left <= 0:
                return checks, anomalies
            log.info("not settled yet, checking again for %.0f s more: %s", left,
                     "; ".join(failures(checks, anomalies)))
            time.sleep(1.0)


def passed(checks: Iterable[Check], anomalies: dict[str, int]) -> bool:
    """A run passes when every check does and no anomaly needs a human."""
    return all(c.passed for c in checks) and not failing_anomalies(anomalies)


def failures(checks: Iterable[Check], anomalies: dict[str, int]) -> list[str]:
    """One line per failing check or anomaly kind, for a console or a Locust verdict."""
    out = [f"{c.name}: {c.count} ({', '.join(c.violations[:5])})" for c in checks if not c.passed]
    out += [f"anomaly {k}: {v}" for k, v in failing_anomalies(anomalies).items()
            if not any(c.name == k for c in checks)]
    return out


def _once(http: httpx.Client, wallet: str, mocks: str, token: str,
          acknowledged: Path | None) -> tuple[list[Check], dict[str, int]]:
    admin = {"X-API-Key": token}

    def get(url: str, **params: Any) -> Any:
        r = http.get(url, headers=admin, params=params)
        r.raise_for_status()
        return r.json()

    # The wallet first: a credit cannot precede the provider's decision, so reading the
    # providers afterwards never makes a correct credit look invented.
    ids = get(f"{wallet}/v1/admin/ledger/transaction-ids", prefix=list(SETTLEMENT_PREFIXES))["ids"]
    ledger = get(f"{wallet}/v1/admin/ledger/check")
    audit = get(f"{wallet}/v1/admin/audit/verify")
    journal = [JournalEntry.from_dict(j) for j in get(f"{wallet}/v1/admin/gateway/journal")]
    providers = sorted(get(f"{mocks}/health")["providers"])
    decisions: list[Decision] = []
    for name in providers:
        body = get(f"{mocks}/{name}/_control/decisions")
        decisions += [d for d in map(decision_from, body["decisions"])
                      if d.operation in PAYMENT_OPERATIONS and d.final_at <= body["now"]]

    checks = ledger_checks_of((v["kind"], v["ids"]) for v in ledger["violations"])
    checks.append(_check("audit_chain_intact", [f"{b['stream']}#{b['seq']}" for b in audit["breaks"]],
                         "the audit log's hash chain is unbroken"))
    served = tuple(f"{p}:{n}:" for p in ("deposit", "reversal:deposit") for n in providers)
    in_scope = [i for i in ids if i.startswith(served) or i.startswith("withdrawal_paid:")]
    checks += settlement_checks_of_ids(decisions, in_scope, float("inf"))
    journal_part, anomalies = journal_checks(journal)
    checks += journal_part
    if acknowledged is not None:
        checks.append(_acknowledged(http, wallet, admin, acknowledged))
    counted: Counter[str] = Counter(anomalies)
    for c in checks:
        if c.count:
            counted[c.name] += c.count
    return checks, dict(sorted(counted.items()))


def _acknowledged(http: httpx.Client, wallet: str, admin: dict[str, str], path: Path) -> Check:
    """Every operation a client saw a 2xx for exists in the wallet now."""
    txns: set[str] = set()
    payments: set[str] = set()
    for line in path.read_text().splitlines():
        kind, _, ident = line.strip().partition(" ")
        (txns if kind == "txn" else payments if kind == "payment" else set()).add(ident)
    r = http.get(f"{wallet}/v1/admin/ledger/transaction-ids", headers=admin)
    r.raise_for_status()
    lost = [f"txn {t}" for t in txns - set(r.json()["ids"])]
    for pid in sorted(payments):
        if http.get(f"{wallet}/v1/gateway/payments/{pid}", headers=admin).status_code != 200:
            lost.append(f"payment {pid}")
    return _check("acknowledged_writes_durable", lost,
                  f"every 2xx answer's transaction or payment exists ({len(txns) + len(payments)} "
                  "acknowledged)")
