"""A cross-border WeChat Pay channel (`"cross_border": true`, WeChat Pay Global) end to end on
moto against the simulator over real HTTP: a USD order whose notification never came is found
by /admin/lookup and recovered by 补单 through `/v3/global/transactions/…` (paid in USD although
the buyer paid CNY: no amount or currency mismatch), then refunded through `/v3/global/refunds`,
accepted, still processing, then confirmed succeeded by the scheduled refund query on the global
path."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from chalicelib.domain.money import Money
from chalicelib.domain.refunds import find_request
from chalicelib.gateways._http import GatewayHttp
from chalicelib.services import auth, gateway_calls, refunds
from chalicelib.store import orders as order_store
from tests.integration.test_reconcile import mark_cross_border
from tests.support.gateway_sim import fire_schedule, start_simulator

WX = "wxpay-main"


class Recording(requests.Session):
    """Every gateway call paytrack makes, as (method, path)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []

    def request(self, method, url, *args, **kwargs):
        self.calls.append((method, urlsplit(url).path))
        return super().request(method, url, *args, **kwargs)


@pytest.fixture
def sent(aws, monkeypatch) -> Recording:
    session = Recording()
    monkeypatch.setattr(
        gateway_calls,
        "http",
        lambda: GatewayHttp(session=session, timeout_s=5, attempts=2, backoff_s=0),
    )
    return session


@pytest.fixture
def sim(aws, sent):
    simulator = start_simulator()
    mark_cross_border(WX)
    simulator.settle_cross_border(WX, "HKD", {"USD": "7.8"})
    yield simulator
    simulator.close()


def test_a_cross_border_order_is_recovered_and_refunded_through_the_global_api(
    app_client, api, sim, sent, clock
):
    response = api.register(channel=WX, amount="19.99", currency="USD")
    assert response.status_code == 201, response.body
    order_no = api.json(response)["order_no"]
    trade = sim.pay(WX, order_no, "19.99", "USD", notify=False)
    viewer = auth.create_key("viewer", "viewer", "test")[1]
    operator = auth.create_key("op", "operator", "test")[1]

    looked = api.call("GET", f"/admin/lookup?trade_no={trade.trade_no}", key=viewer)
    assert looked.status_code == 200, looked.body
    (found,) = api.json(looked)["found"]
    assert (found["gateway"]["status"], found["gateway"]["amount"]) == ("paid", "19.99")
    assert found["gateway"]["currency"] == "USD"

    clock.advance(minutes=2)  # due for 补单
    summary = fire_schedule(app_client, "requery_pending")
    assert summary["recovered"] == [order_no]
    order = order_store.get(order_no)
    assert (order.pay_status.value, order.trade_no, order.paid_amount, order.on_hold) == (
        "paid",
        trade.trade_no,
        Money(1999, "USD"),
        False,
    )
    assert next(e for e in order.timeline if e.type == "payment").source == "query"

    sim.refunds.script(WX, "pending")  # PROCESSING until settled below
    answer = api.call(
        "POST",
        f"/admin/orders/{order_no}/actions",
        {"action": "refund", "reason": "buyer asked", "amount": "5.00", "idempotency_key": "g1"},
        key=operator,
    )
    assert answer.status_code == 200, answer.body
    rid = api.json(answer)["refund"]["refund_request_id"]
    assert api.json(answer)["refund"]["state"] == "pending"
    [record] = [r for r in sim.refunds.requests() if r.trade.out_trade_no == order_no]
    assert record.refund.amount_minor == 500
    # a minute at a time: the requests are signed on the services' clock, and the simulator,
    # like WeChat Pay, refuses a timestamp more than 5 minutes from its own
    clock.advance(minutes=1)
    assert refunds.query_refunds().get("pending") == 1  # PROCESSING at the gateway
    sim.refunds.settle(WX, rid, succeed=True)
    clock.advance(minutes=1)
    assert refunds.query_refunds().get("succeeded") == 1
    order = order_store.get(order_no)
    request = find_request(order, rid)
    assert (request.state.value, request.gateway_refund_id) == (
        "succeeded",
        record.refund.refund_id,
    )
    assert (order.pay_status.value, order.refunded_amount) == (
        "partially_refunded",
        Money(500, "USD"),
    )

    wechat = [call for call in sent.calls if call[1].startswith("/wechat/")]
    assert wechat == [
        ("GET", f"/wechat/v3/global/transactions/id/{trade.trade_no}"),
        ("GET", f"/wechat/v3/global/transactions/out-trade-no/{order_no}"),
        ("POST", "/wechat/v3/global/refunds"),
        ("GET", f"/wechat/v3/global/refunds/out-refund-no/{rid}"),
        ("GET", f"/wechat/v3/global/refunds/out-refund-no/{rid}"),
    ]
