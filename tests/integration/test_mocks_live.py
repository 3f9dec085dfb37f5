"""Live mode over real sockets: uvicorn on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from typer.testing import CliRunner

from mocks.apps.server import build_root
from mocks.apps.signing import verify_acme
from mocks.cli import mocks_app
from mocks.models import ProfileFile
from tests.integration.mock_harness import QUIET, FakeWallet
from tests.integration.test_mocks_http import ACME_AUTH, acme_body
from tests.live import serve


def test_live_mocks_deliver_signed_webhooks_and_reset_connections():
    wallet = FakeWallet()
    acme = {**QUIET, "kind": "card", "approval_rate": 1.0,
            "three_ds": {"challenge_probability": 0}, "fail_first_n": 1,
            "fail_first_fault": "reset"}
    pf = ProfileFile.model_validate({"seed": 3, "providers": {"acme": acme}})
    with serve(wallet) as wallet_url, serve(build_root(pf, time_scale=1000.0)) as url:
        body = {**acme_body("live-1"), "callback_url": f"{wallet_url}/hooks"}
        headers = {**ACME_AUTH, "Idempotency-Key": "live-1"}
        with httpx.Client(base_url=url, timeout=5) as client:
            assert client.get("/health").json()["providers"] == {"acme": "acme"}
            with pytest.raises(httpx.TransportError):
                client.post("/acme/v1/payments", json=body, headers=headers)
            r = client.post("/acme/v1/payments", json=body, headers=headers)
            assert r.status_code == 201 and r.json()["status"] == "succeeded"
            deadline = time.monotonic() + 5
            while len(wallet.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        secret = pf.secrets.get("acme") or "whsec_c2FuZGJveC1hY21lLXNlY3JldC0wMDAwMDAwMDAw"
        types = [verify_acme(secret, rec.body, rec.headers)["type"] for rec in wallet.received]
        assert types == ["payment.processing", "payment.succeeded"]


def test_cli_show_validates_the_default_profile():
    result = CliRunner().invoke(mocks_app, ["show"])
    assert result.exit_code == 0
    profiles = json.loads(result.output)
    assert profiles["chainpay-tron"]["chain"]["confirmations_required"] == 19
    bad = CliRunner().invoke(mocks_app, ["show", "--profile", "/nonexistent.yaml"])
    assert bad.exit_code != 0

