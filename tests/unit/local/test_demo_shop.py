"""The local stack's shop (local/demo_shop.py) on paytrack's events: it answers a verification
request with the request's token at the event's answer URL, delivers only an order it verified
once `order.ready` comes again, and a failing call never stops the listener."""

from __future__ import annotations

import requests

from local import demo_shop
from local.demo_shop import DemoShop, buyer_answer


class Recorder:
    def __init__(self, status: int = 200, fail: bool = False):
        self.calls: list[tuple[str, dict]] = []
        self.status, self.fail = status, fail

    def post(self, url, headers, json, timeout):
        if self.fail:
            raise requests.ConnectionError("down")
        self.calls.append((url, json))
        return type("Answer", (), {"status_code": self.status})()


def request_event(order_no: str, template: str = "last4") -> dict:
    return {
        "event": "order.verification_requested",
        "order": {"order_no": order_no},
        "verification": {
            "id": "ver_1",
            "question": "后四位?",
            "template": template,
            "reply_token": "tok",
        },
        "answer_url": "/orders/{order_no}/verification",
    }


def ready_event(order_no: str) -> dict:
    return {"event": "order.ready", "order": {"order_no": order_no}}


def test_the_shop_answers_then_delivers_what_it_verified(monkeypatch):
    http = Recorder()
    monkeypatch.setattr(demo_shop.requests, "post", http.post)
    shop = DemoShop("http://api", "shop-key")
    shop.on_event(request_event("O1"))
    shop.on_event(ready_event("O2"))  # not verified here: the demo traffic delivers it
    shop.on_event(ready_event("O1"))
    shop.on_event(ready_event("O1"))  # once
    assert http.calls == [
        (
            "http://api/orders/O1/verification",
            {"verification_id": "ver_1", "token": "tok", "answer": buyer_answer("O1", "last4")},
        ),
        (
            "http://api/orders/O1/delivery",
            {"status": "delivered", "detail": "card key sent after verification"},
        ),
    ]
    assert len(buyer_answer("O1", "last4")) == 4 and buyer_answer("O1", "free") == "是我本人购买的"


def test_a_refused_answer_is_not_delivered_and_a_failure_never_raises(monkeypatch):
    refused = Recorder(status=409)
    monkeypatch.setattr(demo_shop.requests, "post", refused.post)
    shop = DemoShop("http://api", "shop-key")
    shop.on_event(request_event("O3"))
    shop.on_event(ready_event("O3"))
    assert [url for url, _ in refused.calls] == ["http://api/orders/O3/verification"]
    monkeypatch.setattr(demo_shop.requests, "post", Recorder(fail=True).post)
    shop.on_event(request_event("O4"))  # logged, not raised
    shop.on_event({"event": "order.verification_requested"})


def test_a_delivery_refused_as_held_waits_for_the_next_ready(monkeypatch):
    http = Recorder()
    monkeypatch.setattr(demo_shop.requests, "post", http.post)
    shop = DemoShop("http://api", "shop-key")
    shop.on_event(request_event("O5"))
    http.status = 409  # held again since the release: refused once, not retried
    shop.on_event(ready_event("O5"))
    http.status = 200
    shop.on_event(ready_event("O5"))  # released again: delivered now, and only then
    shop.on_event(ready_event("O5"))
    deliveries = [url for url, _ in http.calls if url.endswith("/delivery")]
    assert deliveries == ["http://api/orders/O5/delivery"] * 2
