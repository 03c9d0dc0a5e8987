"""The local stack flags the simulator's bad cases within seconds — wrong amount, a second
payment, an unknown order, an IP burst, a random e-mail — shows them in its log and in the
anomaly inbox, tells the shop which orders are held, and pages the local paging topic."""

from __future__ import annotations

import random
import time

import pytest

from local.simulator import GatewaySimulator
from tests.e2e.conftest import ADMIN_KEY

FLAG_WITHIN_S = 15


@pytest.fixture
def simulator(stack):
    sim = GatewaySimulator.from_files(stack.api, time_scale=1 / 600)
    yield sim
    sim.close()


def wait_for(predicate, timeout: float = FLAG_WITHIN_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def register(stack, channel: str = "alipay-main", amount: str = "58.00", **extra) -> str:
    rng = random.Random()
    body = {
        "product_id": "steam-50",
        "product_name": "Steam 充值卡 50元",
        "amount": amount,
        "currency": "CNY",
        "channel": channel,
        "buyer_email": f"zhangwei{rng.randint(1, 9999)}@163.com",
        "buyer_ip": f"117.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        **extra,
    }
    response = stack.call("POST", "/orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()["order_no"]


def inbox(stack) -> dict[str, dict]:
    response = stack.call("GET", "/admin/anomalies?limit=200", key=ADMIN_KEY)
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


def test_the_simulators_bad_cases_are_flagged_held_and_paged(stack, simulator):
    started = time.monotonic()
    short = register(stack)
    simulator.pay("alipay-main", short, "52.20")
    twice = register(stack, "wxpay-main")
    first = simulator.pay("wxpay-main", twice, "58.00")
    assert first.event.wait_settled(FLAG_WITHIN_S)
    second = simulator.pay("wxpay-main", twice, "58.00")
    unknown = f"LATE{int(time.time() * 1000)}"
    lost = simulator.pay("alipay-main", unknown, "58.00")
    burst_ip = "117.50.60.70"
    burst = [
        register(stack, "epay-main", buyer_ip=burst_ip, buyer_email=f"buyer{i}@qq.com")
        for i in range(5)
    ]
    random_mail = register(stack, "epay-main", buyer_email="x7k2q9vbn3@mailinator.com")

    def flagged():
        found = inbox(stack)
        wanted = {
            f"amount_mismatch~{short}",
            f"ip_burst~{burst[0]}",
            f"suspicious_email~{random_mail}",
            f"duplicate_payment~{twice}~{second.trade_no}",
        }
        unknowns = [
            a for a in found.values() if a["rule"] == "unknown_order" and a["order_no"] == unknown
        ]
        return found if wanted <= set(found) and unknowns else None

    found = wait_for(flagged)
    assert time.monotonic() - started < FLAG_WITHIN_S + 5
    assert found[f"amount_mismatch~{short}"]["severity"] == "critical"
    assert found[f"ip_burst~{burst[0]}"]["details"]["orders"] == burst
    assert stack.call("GET", f"/orders/{short}").json()["hold_reasons"] == ["amount_mismatch"]
    assert all(stack.call("GET", f"/orders/{o}").json()["hold"] for o in burst)
    assert stack.call("GET", f"/orders/{twice}").json()["hold_reasons"] == ["duplicate_payment"]

    log = wait_for(
        lambda: (
            (text := stack.log()) and "PAGE ALARM paytrack-local-critical-anomaly" in text and text
        )
    )
    for anomaly_id in (
        f"amount_mismatch#{short}",
        f"ip_burst#{burst[0]}",
        f"suspicious_email#{random_mail}",
    ):
        assert f'"anomaly_id":"{anomaly_id}"' in log, anomaly_id
    wait_for(lambda: f"event order.held {short} reasons=amount_mismatch" in stack.app_log())
    wait_for(lambda: f"event order.held {twice} reasons=duplicate_payment" in stack.app_log())
    assert '{"_aws"' not in log  # the EMF lines went to the alarm emulation

    register(stack, order_no=unknown)
    assert lost.event.wait_settled(30) and lost.event.outcome == "accepted"
    wait_for(
        lambda: all(
            a["status"] == "resolved"
            for a in inbox(stack).values()
            if a["rule"] == "unknown_order" and a["order_no"] == unknown
        )
    )
