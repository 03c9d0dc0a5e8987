"""The local stack over real HTTP: the simulator pays orders through every channel, with its
retry behaviour, and the final states are checked through the shop API and the tables."""

from __future__ import annotations

import codecs
import csv
import io
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from openpyxl import load_workbook

from local.simulator import GatewaySimulator
from tests.e2e.conftest import ADMIN_KEY, start_stack, stop_stack

CHANNELS = {"alipay-main": "CNY", "wxpay-main": "CNY", "epay-main": "CNY", "stripe-main": "USD"}


@pytest.fixture
def simulator(stack):
    sim = GatewaySimulator.from_files(stack.api, time_scale=1 / 600)
    yield sim
    sim.close()


def register(stack, channel: str, amount: str = "58.00", **extra) -> str:
    body = {
        "product_id": "steam-50",
        "product_name": "Steam 充值卡 50元",
        "amount": amount,
        "currency": CHANNELS[channel],
        "channel": channel,
        "buyer_email": "li@163.com",
        "buyer_ip": "36.110.1.2",
        **extra,
    }
    response = stack.call("POST", "/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()["order_no"]


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_simulator_pays_each_channel_over_http(stack, simulator, channel):
    order_no = register(stack, channel)
    payment = simulator.pay(channel, order_no, "58.00", CHANNELS[channel])
    assert payment.event.wait_settled(20) and payment.event.outcome == "accepted"
    summary = stack.call("GET", f"/orders/{order_no}").json()
    assert summary["pay_status"] == "paid" and summary["hold"] is False
    assert summary["paid_amount"] == "58.00" and summary["trade_no"]
    delivered = stack.call("POST", f"/orders/{order_no}/delivery", json={"status": "delivered"})
    assert delivered.status_code == 200 and delivered.json()["delivery_status"] == "delivered"


def test_unknown_order_is_retried_by_the_gateway_until_registered(stack, simulator):
    order_no = f"LATE{int(time.time() * 1000)}"
    payment = simulator.pay("alipay-main", order_no, "58.00")
    assert payment.event.wait_answered(10)
    assert payment.event.attempts[0].body == "fail"
    register(stack, "alipay-main", order_no=order_no)
    assert payment.event.wait_settled(30) and payment.event.outcome == "accepted"
    summary = stack.call("GET", f"/orders/{order_no}").json()
    assert summary["pay_status"] == "paid"


def test_duplicates_wrong_amount_and_forgery(stack, simulator):
    order_no = register(stack, "wxpay-main")
    payment = simulator.pay("wxpay-main", order_no, "58.00")
    resends = [simulator.resend(payment) for _ in range(3)]
    assert all(
        event.wait_settled(20) and event.outcome == "accepted"
        for event in [payment.event, *resends]
    )
    assert stack.call("GET", f"/orders/{order_no}").json()["hold"] is False

    short = register(stack, "alipay-main")
    simulator.pay("alipay-main", short, "0.58").event.wait_settled(20)
    held = stack.call("GET", f"/orders/{short}").json()
    assert (
        held["pay_status"] == "paid"
        and held["hold"] is True
        and held["hold_reasons"] == ["amount_mismatch"]
    )

    victim = register(stack, "epay-main")
    forged = simulator.pay("epay-main", victim, "58.00", forged=True)
    assert forged.event.wait_answered(10) and forged.event.attempts[0].body == "fail"
    assert stack.call("GET", f"/orders/{victim}").json()["pay_status"] == "pending"


def test_order_paid_event_reaches_the_topic(stack, simulator):
    order_no = register(stack, "alipay-main")
    simulator.pay("alipay-main", order_no, "58.00").event.wait_settled(20)
    wait_for(lambda: f"event order.paid {order_no}" in stack.app_log())


def test_exports_are_downloaded_over_the_presigned_link_masked_for_viewers(stack, simulator):
    paid = register(stack, "alipay-main", buyer_email="export.buyer@qq.com")
    simulator.pay("alipay-main", paid, "58.00").event.wait_settled(20)
    viewer = stack.call(
        "POST", "/admin/keys", key=ADMIN_KEY, json={"name": "e2e export viewer", "role": "viewer"}
    ).json()
    for key, fmt, email in (
        (ADMIN_KEY, "csv", "export.buyer@qq.com"),
        (viewer["key"], "xlsx", "ex***@qq.com"),
    ):
        made = stack.call(
            "POST",
            "/admin/exports",
            key=key,
            json={"kind": "orders", "format": fmt, "order_no": paid},
        )
        assert made.status_code == 201, made.text
        export = made.json()
        assert export["status"] == "ready" and export["rows"] == 1
        link = urlsplit(export["url"])
        assert 0 < int(parse_qs(link.query)["X-Amz-Expires"][0]) <= 900
        download = requests.get(export["url"], timeout=30)
        assert download.status_code == 200
        if fmt == "csv":
            assert download.content.startswith(codecs.BOM_UTF8)
            rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
        else:
            rows = [
                list(r)
                for r in load_workbook(io.BytesIO(download.content), read_only=True).active.values
            ]
        assert rows[0][0] == "订单编号" and len(rows) == 2
        record = dict(zip(rows[0], rows[1], strict=True))
        assert (
            record["订单编号"] == paid
            and record["买家邮箱"] == email
            and record["支付状态"] == "paid"
        )
        again = stack.call("GET", f"/admin/exports/{export['export_id']}", key=key).json()
        assert (
            again["status"] == "ready"
            and again["rows"] == 1
            and again["expires_at"] >= export["expires_at"]
        )
        assert requests.get(again["url"], timeout=30).content == download.content


def test_make_run_demo_shows_paid_orders_and_stops_cleanly(tmp_path_factory):
    demo = start_stack(tmp_path_factory, demo=True, extra_env={"PAYTRACK_DEMO_SUMMARY_S": "2"})
    try:
        wait_for(lambda: demo.app_log().count("order.paid published") >= 3, timeout=60)
        wait_for(
            lambda: re.search(r"demo, last 2 s: [1-9]\d* paid · \d+ delivered", demo.log()),
            timeout=30,
        )
        log = demo.log()
        assert "admin key" in log and "shop key" in log and demo.api in log
        each_order = demo.demo_log()
        assert "answered success" in each_order or "answered HTTP 204" in each_order
        assert "demo: " not in log  # each order in the demo log, not scrolling the banner away
        assert f"  app log       {demo.app_log_path} " in log
        assert "order.paid published" not in log and "event order.ready" not in log  # app log
        assert '"level":"INFO"' in demo.app_log() and "order.paid published" in demo.app_log()
        lines = log.splitlines()
        summaries = [n for n, line in enumerate(lines) if " demo, last 2 s: " in line]
        assert summaries and all(
            lines[n].endswith(f"(each order: {demo.demo_log_path})") for n in summaries
        )
        assert all(
            lines[n + 1]
            == f"  API {demo.api} · admin page {demo.api}/admin · keys {Path(demo.log_path).with_name('local-keys.env')}"
            for n in summaries
            if n + 1 < len(lines)
        )
    finally:
        stop_stack(demo)
    assert demo.process.returncode == 0
    assert "stopped." in demo.log()
