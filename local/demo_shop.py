"""The local stack's shop, on the events it must act on by itself: it asks its (made-up) buyer an
operator's verification question and posts the answer back, and delivers an order it verified
once paytrack releases it (`order.ready` again). The demo traffic (local/demo.py) delivers
ordinary orders by polling; this is the part of a shop that listens.

It answers as a real buyer would: the last four digits of a card, when and how they paid, or a
plain "yes, it was me" to a question of the operator's own.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

import requests

log = logging.getLogger("paytrack.local.shop")

VERIFICATION_REQUESTED = "order.verification_requested"
ORDER_READY = "order.ready"


def buyer_answer(order_no: str, template: str) -> str:
    """The demo buyer's answer: the same for the same order, so a run can be replayed."""
    digits = int(hashlib.sha256(order_no.encode()).hexdigest(), 16) % 10000
    return {
        "last4": f"{digits:04d}",
        "pay_time": "刚才付的，用的是手机支付",
        "payer_surname": "王",
    }.get(template, "是我本人购买的")


class DemoShop:
    def __init__(self, api_base_url: str, shop_key: str, timeout_s: float = 10.0):
        self.api_base_url = api_base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {shop_key}"}
        self._timeout_s = timeout_s
        self._verified: set[str] = set()
        self._lock = threading.Lock()

    def on_event(self, message: dict[str, Any]) -> None:
        """Act on one paytrack event (the SNS listener hands each one over); never raises."""
        try:
            if message.get("event") == VERIFICATION_REQUESTED:
                self._answer(message)
            elif message.get("event") == ORDER_READY:
                self._deliver_if_verified(message["order"]["order_no"])
        except (requests.RequestException, KeyError, TypeError) as error:
            log.warning("shop: could not act on %s: %s", message.get("event"), error)

    def _answer(self, message: dict[str, Any]) -> None:
        order_no, request = message["order"]["order_no"], message["verification"]
        answer = buyer_answer(order_no, request.get("template", "free"))
        response = requests.post(
            self.api_base_url + message["answer_url"].format(order_no=order_no),
            headers=self._headers,
            json={
                "verification_id": request["id"],
                "token": request["reply_token"],
                "answer": answer,
            },
            timeout=self._timeout_s,
        )
        if response.status_code == 200:
            with self._lock:
                self._verified.add(order_no)
        log.info(
            "shop: [verification] %s asked %r, the buyer answered %r → HTTP %s",
            order_no,
            request["question"],
            answer,
            response.status_code,
        )

    def _deliver_if_verified(self, order_no: str) -> None:
        with self._lock:
            if order_no not in self._verified:
                return
            self._verified.discard(order_no)
        # No retry on 409: `order.ready` is published from the orders stream, after the release
        # is written, and a finding made before the release no longer holds the order again
        # (domain/rules/effects.py). A 409 now means the order was held since (a new hold, whose
        # own `order.held` follows): the shop keeps it and delivers on the next `order.ready`.
        response = requests.post(
            f"{self.api_base_url}/orders/{order_no}/delivery",
            headers=self._headers,
            json={"status": "delivered", "detail": "card key sent after verification"},
            timeout=self._timeout_s,
        )
        log.info(
            "shop: [verification] released %s delivered → HTTP %s",
            order_no,
            response.status_code,
        )
        if response.status_code == 409:
            with self._lock:
                self._verified.add(order_no)
