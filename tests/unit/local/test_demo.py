"""Demo traffic against a fake shop API: orders, payments, deliveries, the labelled bad cases,
and an API that is down or briefly unavailable."""

from __future__ import annotations

import json
import random
import re
import threading
import time
from decimal import Decimal

import pytest

from local.demo import PRODUCTS, DemoTraffic
from tests.support.answering_server import AnsweringServer


class FakeShopApi:
    """Answers the shop API (every order reads as paid, never held) and /notify (success);
    the first `unavailable` calls get 503."""

    def __init__(self, unavailable: int = 0):
        self.orders: list[dict] = []
        self.auth: set[str] = set()
        self.deliveries: list[str] = []
        self.unavailable = unavailable
        self._lock = threading.Lock()
        self._server = AnsweringServer(
            lambda method, path, query, headers, body: self.answer(method, path, headers, body)
        )
        self.url = self._server.url

    def close(self):
        self._server.close()

    def answer(self, method: str, path: str, headers, body: bytes) -> tuple[int, str]:
        with self._lock:
            if self.unavailable > 0:
                self.unavailable -= 1
                return 503, "starting"
            if path.startswith("/notify/"):
                return 200, "success"
            self.auth.add(headers.get("Authorization"))
            if (method, path) == ("POST", "/orders"):
                self.orders.append(json.loads(body))
                return 201, body.decode()
            if method == "POST" and path.endswith("/delivery"):
                self.deliveries.append(path.split("/")[2])
                return 200, "{}"
            return 200, json.dumps(
                {"pay_status": "paid", "delivery_status": "pending", "hold": False}
            )


@pytest.fixture
def shop():
    api = FakeShopApi()
    yield api
    api.close()


def run_demo(make_sim, api_url, until, weights=None, timeout=15.0, channels=None, **demo_options):
    """Run the demo until `until(log lines)` holds; return the lines once `run` has returned."""
    lines: list[str] = []
    sim = make_sim(api_url=api_url, channels_override=channels)
    demo = DemoTraffic(
        api_url,
        "shop-key",
        sim,
        rng=random.Random(7),
        log=lines.append,
        settle_timeout_s=5,
        **demo_options,
    )
    if weights:
        demo.SCENARIO_WEIGHTS = weights
    demo.IP_BURST_GAP_S = (0.01, 0.05)
    stop = threading.Event()
    runner = threading.Thread(target=demo.run, args=(stop,), kwargs={"rate_per_s": 20})
    runner.start()
    deadline = time.monotonic() + timeout
    while not until(lines) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    runner.join(15)
    assert not runner.is_alive(), "run() did not return after stop"
    assert until(lines), lines
    assert not [line for line in lines if "gave up:" in line], lines
    return lines


def test_normal_orders_are_registered_paid_and_delivered(make_sim, shop):
    lines = run_demo(
        make_sim,
        shop.url,
        until=lambda ls: sum("delivered" in line for line in ls) >= 5,
        weights={"normal": 1},
    )
    paid = [
        line
        for line in lines
        if re.match(r"demo: paid ORD\d{20} via \S+ [\d.]+ (CNY|USD) → answered ", line)
    ]
    assert paid and all(line.endswith(("success", "HTTP 200")) for line in paid)
    assert shop.auth == {"Bearer shop-key"}
    names = {p[1] for p in PRODUCTS}
    for order in shop.orders:
        assert order["product_name"] in names
        assert order["currency"] == ("USD" if order["channel"] == "stripe-main" else "CNY")
        assert re.fullmatch(r"\d+\.\d\d", order["amount"]) and order["quantity"] >= 1
        assert order["user_agent"].startswith("Mozilla/5.0") and order["expires_in_s"] == 900
        assert "@" in order["buyer_email"] and order["buyer_ip"].count(".") == 3
    assert set(shop.deliveries) <= {o["order_no"] for o in shop.orders}


def test_demo_traffic_never_touches_a_real_channel(make_sim, shop, channels):
    own = {
        "epay-own": {**channels["epay-main"], "api_base": "https://pay.example.com"},
        "stripe-own": {**channels["stripe-main"], "simulated": False},
    }
    run_demo(
        make_sim,
        shop.url,
        until=lambda ls: len(shop.orders) >= 30,
        weights={"normal": 1},
        channels={**channels, **own},
    )
    assert {order["channel"] for order in shop.orders} == set(channels)


@pytest.mark.parametrize(
    "case",
    [
        "duplicate notification",
        "second payment",
        "wrong amount",
        "unknown order",
        "forged notification",
        "random email",
        "refund after payment",
        "large amount",
    ],
)
def test_each_bad_case_is_labelled(make_sim, shop, case):
    lines = run_demo(
        make_sim,
        shop.url,
        until=lambda ls: any(f"[{case}" in line for line in ls),
        weights={case: 1},
    )
    labelled = next(line for line in lines if f"[{case}" in line)
    if case == "wrong amount":
        ordered, paid = re.search(r"order ([\d.]+)\] paid \S+ via \S+ ([\d.]+)", labelled).groups()
        assert Decimal(paid) < Decimal(ordered)
    if case == "random email":
        assert any(
            re.fullmatch(
                r"[a-z0-9]{10}@(mailinator|guerrillamail|yopmail|10minutemail)\.com",
                o["buyer_email"],
            )
            for o in shop.orders
        )
    if case == "large amount":
        assert all(Decimal(o["amount"]) >= 500 for o in shop.orders)


def test_ip_burst_is_six_orders_from_one_ip(make_sim, shop):
    run_demo(
        make_sim,
        shop.url,
        until=lambda ls: any("[ip burst 6/6] paid" in line for line in ls),
        weights={"ip burst": 1},
    )
    by_ip: dict[str, set[str]] = {}
    for order in shop.orders:
        by_ip.setdefault(order["buyer_ip"], set()).add(order["buyer_email"])
    assert 6 in {len(emails) for emails in by_ip.values()}


def test_rides_out_a_briefly_unavailable_api(make_sim):
    api = FakeShopApi(unavailable=3)
    try:
        run_demo(
            make_sim,
            api.url,
            until=lambda ls: any("delivered" in line for line in ls),
            weights={"normal": 1},
        )
    finally:
        api.close()


def test_stops_promptly_while_the_api_is_down(make_sim):
    lines = run_demo(
        make_sim,
        "http://127.0.0.1:9",
        timeout=1.0,
        until=lambda ls: any("API unavailable" in line for line in ls) or not ls,
    )
    assert all("API unavailable" in line for line in lines)


def test_tallies_each_order_paid_then_delivered(make_sim, shop):
    outcomes: list[str] = []
    lines = run_demo(
        make_sim,
        shop.url,
        until=lambda ls: sum("delivered" in line for line in ls) >= 3,
        weights={"normal": 1},
        tally=outcomes.append,
    )
    delivered = sum(line.startswith("demo: delivered") for line in lines)
    assert outcomes.count("delivered") == delivered == len(shop.deliveries)
    assert outcomes.count("paid") >= delivered and set(outcomes) <= {"paid", "delivered"}


class RefusingShopApi(FakeShopApi):
    """Refuses every order (HTTP 409)."""

    def answer(self, method, path, headers, body):
        if (method, path) == ("POST", "/orders"):
            return 409, '{"error": {"code": "conflict", "message": "order exists"}}'
        return super().answer(method, path, headers, body)


def test_tallies_an_order_that_cannot_be_registered_as_failed(make_sim):
    outcomes: list[str] = []
    api = RefusingShopApi()
    try:
        lines = run_demo(
            make_sim,
            api.url,
            until=lambda ls: sum("could not register" in line for line in ls) >= 3,
            weights={"normal": 1},
            tally=outcomes.append,
        )
    finally:
        api.close()
    assert outcomes.count("failed") == sum("could not register" in line for line in lines) >= 3
    assert set(outcomes) == {"failed"}
