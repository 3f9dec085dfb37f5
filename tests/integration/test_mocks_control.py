"""The control API, webhook retries and redelivery, and transport faults over HTTP."""

from __future__ import annotations

import asyncio

import pytest

from mocks.apps.signing import verify_acme
from tests.integration.mock_harness import QUIET, FakeWallet, make
from tests.integration.test_mocks_http import ACME_AUTH, acme_body


async def pay(client, ref: str):
    return await client.post("/v1/payments", json=acme_body(ref),
                             headers={**ACME_AUTH, "Idempotency-Key": ref})


def test_profile_patch_outage_and_storm_change_live_behaviour():
    async def main() -> None:
        app, client, wallet = make("acme", {**QUIET, "approval_rate": 1.0,
                                            "three_ds": {"challenge_probability": 0}})
        ctx = app.state.mock
        assert (await client.get("/_control/health")).json()["provider"] == "acme"
        r = await client.patch("/_control/profile", json={"approval_rate": 0.0,
                                                          "decline_mix": {"do_not_honor": 1}})
        assert r.json()["approval_rate"] == 0.0
        assert (await pay(client, "p1")).json()["decline_code"] == "do_not_honor"
        bad = await client.patch("/_control/profile", json={"approval_rate": 7})
        assert bad.status_code == 400
        empty = await client.patch("/_control/profile", json={"decline_mix": {}})  # was a 500
        assert empty.status_code == 400 and empty.json()["errors"][0]["loc"] == ["decline_mix"]
        assert (await client.post("/_control/outage", json={"fault": "x"})).status_code == 400
        assert (await client.get("/_control/profile")).json()["approval_rate"] == 0.0
        await client.post("/_control/outage", json={"fault": "http_5xx"})
        assert (await pay(client, "p2")).status_code == 503
        assert (await client.delete("/_control/outage")).json() == {"stopped": 1}
        assert (await pay(client, "p3")).status_code == 201
        await client.post("/_control/duplicate-storm", json={"duplicate_count": 3})
        storm = (await pay(client, "p4")).json()["id"]
        await client.delete("/_control/duplicate-storm")
        await ctx.dispatcher.drain()
        ids = [rec.headers["webhook-id"] for rec in wallet.received
               if verify_acme(ctx.secret, rec.body, rec.headers)["data"]["id"] == storm]
        assert len(ids) == 8 and len(set(ids)) == 2  # two events, each 1 + 3 copies
        await client.aclose()

    asyncio.run(main())


def test_dispatcher_retries_non_2xx_with_the_same_id_and_stops_on_410():
    async def main() -> None:
        wallet = FakeWallet(statuses=[500, 503, 200])
        app, client, _ = make("acme", {**QUIET, "webhooks": {
            "retry_schedule": [0, 5, 300], "duplicate_probability": 0}}, wallet=wallet)
        ctx = app.state.mock
        await client.post("/_control/trigger", json={"type": "payment.succeeded",
                                                     "reference": "x1",
                                                     "callback_url": "http://wallet/h"})
        await ctx.dispatcher.drain()
        ids = {rec.headers["webhook-id"] for rec in wallet.received}
        assert len(wallet.received) == 3 and len(ids) == 1
        log = ctx.dispatcher.log
        assert [a.status for a in log] == [500, 503, 200]
        assert log[1].at - log[0].at >= 5 and log[2].at - log[1].at >= 300
        wallet.statuses = [410]
        await client.post("/_control/trigger", json={"type": "payment.failed", "reference": "x2",
                                                     "callback_url": "http://wallet/h"})
        await ctx.dispatcher.drain()
        assert [a.status for a in ctx.dispatcher.log][-1] == 410
        assert len(wallet.received) == 4  # no retry after 410
        wallet.statuses = [500, 500, 500, 500]
        await client.post("/_control/trigger", json={"type": "payment.failed", "reference": "x3",
                                                     "callback_url": "http://wallet/h"})
        await ctx.dispatcher.drain()
        assert len(wallet.received) == 4 + 3  # the schedule has three attempts, then gives up
        await client.aclose()

    asyncio.run(main())


def test_redeliver_records_and_settlement_endpoints():
    async def main() -> None:
        app, client, wallet = make("acme", {**QUIET, "approval_rate": 1.0,
                                            "three_ds": {"challenge_probability": 0},
                                            "fees": {"percent": "2", "fixed": {"EUR": "0.10"}}})
        ctx = app.state.mock
        pid = (await pay(client, "s1")).json()["id"]
        await ctx.dispatcher.drain()
        final = wallet.received[-1].headers["webhook-id"]
        r = await client.post(f"/_control/events/{final}/redeliver")
        assert r.status_code == 200
        await ctx.dispatcher.drain()
        assert wallet.received[-1].headers["webhook-id"] == final
        assert (await client.post("/_control/events/evt_nope/redeliver")).status_code == 404
        records = (await client.get("/_control/records")).json()
        assert records["authorised"] == [pid]
        report = (await client.get("/_control/settlement")).json()
        assert report["totals"]["EUR"] == {"gross": 2500, "fee": 60, "net": 2440, "count": 1}
        refund = await client.post(f"/v1/payments/{pid}/refunds", json={"amount": 1000},
                                   headers=ACME_AUTH)
        assert refund.status_code == 201
        too_much = await client.post(f"/v1/payments/{pid}/refunds", json={"amount": 2000},
                                     headers=ACME_AUTH)
        assert too_much.status_code == 400
        report = (await client.get("/_control/settlement")).json()
        assert report["totals"]["EUR"]["net"] == 1440
        await client.aclose()

    asyncio.run(main())


@pytest.mark.parametrize("fault", ["reset", "empty", "malformed", "http_429", "timeout"])
def test_transport_faults_are_rendered(fault):
    async def main() -> None:
        app, client, _ = make("acme", {**QUIET, "fail_first_n": 1, "fail_first_fault": fault})
        if fault == "reset":
            with pytest.raises(ConnectionResetError):
                await pay(client, "f1")
        elif fault == "timeout":
            scale = app.state.mock.clock.scale  # the client's 30 s, in scaled wall time
            with pytest.raises(TimeoutError):  # ASGITransport ignores httpx timeouts
                await asyncio.wait_for(pay(client, "f1"), 30 / scale)
        else:
            r = await pay(client, "f1")
            assert {"empty": r.content == b"", "malformed": r.status_code == 200
                    and not r.text.endswith("}"), "http_429": r.status_code == 429}[fault]
        second = await pay(client, "f1")  # the retry: attempt 2 is past fail_first_n
        assert second.status_code in (201, 409)
        await client.aclose()

    asyncio.run(main())
