"""Demo traffic for the local stack: a shop's buyers, mostly good, a few bad on purpose.

Each order is registered through the shop API, paid through the simulator on a random channel,
and reported delivered once paytrack says it is paid and not held. At a low rate an order goes
wrong in one of the ways real shops see; its log lines carry the case's label in brackets.

Once at start, the reconciliation showcase stages on every channel one order of each case
reconciliation tells apart, waits for 补单 to recover the payment whose notification was lost,
and reconciles today through the admin API (`[补单]`, `[reconciliation]` in the log).
"""

from __future__ import annotations

import math
import os
import random
import signal
import string
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any, ClassVar

import requests

from .sim_model import SimEvent, SimPayment
from .simulator import GatewaySimulator

SHOP_TZ = timezone(timedelta(hours=8))
CENT = Decimal("0.01")
LARGE_AMOUNT = Decimal("500.00")

PRODUCTS = (  # product_id, product_name, CNY price, USD price (Stripe)
    ("steam-50", "Steam 充值卡 50元", "50.00", "6.99"),
    ("vip-month", "VIP会员 月卡", "25.00", "3.49"),
    ("netflix-month", "Netflix 月卡", "58.00", "7.99"),
    ("spotify-month", "Spotify Premium 月卡", "19.90", "2.99"),
    ("psn-hk-100", "PSN 港服点卡 100港币", "92.00", "12.99"),
    ("chatgpt-plus", "ChatGPT Plus 月卡", "158.00", "21.99"),
    ("xbox-gp-3m", "Xbox Game Pass 3个月", "168.00", "23.99"),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; V2307A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160117 "
    "MMWEBSDK/20240404 MMWEBID/6170 MicroMessenger/8.0.49.2600(0x2800313D) WeChat/arm64 Weixin "
    "NetType/WIFI Language/zh_CN ABI/arm64",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 ChannelId(3) Ariver/1.1.0 AliApp(AP/10.6.10.6000) Nebula WK RVKType(0) "
    "AlipayDefined(nt:WIFI,ws:390|844|3.0) AlipayClient/10.6.10.6000 Language/zh-Hans Region/CN",
)
MAIL_DOMAINS = (
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "foxmail.com",
    "sina.com",
)
DISPOSABLE_DOMAINS = ("mailinator.com", "guerrillamail.com", "yopmail.com", "10minutemail.com")
NAMES = (
    "zhangwei",
    "wangfang",
    "lina",
    "liuyang",
    "chenjie",
    "yangmin",
    "zhaolei",
    "huangyan",
    "zhouxin",
    "wujun",
    "sunli",
    "hemei",
)
CN_FIRST_OCTETS = (
    36,
    39,
    42,
    58,
    60,
    61,
    101,
    106,
    110,
    111,
    112,
    113,
    114,
    115,
    116,
    117,
    118,
    119,
    120,
    121,
    122,
    123,
    124,
    125,
    171,
    175,
    180,
    182,
    183,
    202,
    210,
    211,
    218,
    220,
    221,
    222,
    223,
)


@dataclass(frozen=True)
class DemoOrder:
    order_no: str
    channel: str
    product_id: str
    product_name: str
    quantity: int
    amount: str
    currency: str
    buyer_email: str
    buyer_ip: str
    user_agent: str

    def body(self) -> dict[str, Any]:
        """The POST /orders body."""
        return {
            "order_no": self.order_no,
            "product_id": self.product_id,
            "product_name": self.product_name,
            "quantity": self.quantity,
            "amount": self.amount,
            "currency": self.currency,
            "channel": self.channel,
            "buyer_email": self.buyer_email,
            "buyer_ip": self.buyer_ip,
            "user_agent": self.user_agent,
            "expires_in_s": 900,
        }


def _tag(label: str) -> str:
    return f"[{label}] " if label else ""


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class DemoTraffic:
    #: how often each case comes up, relative to the others
    SCENARIO_WEIGHTS: ClassVar[dict[str, int]] = {
        "normal": 80,
        "duplicate notification": 3,
        "second payment": 2,
        "wrong amount": 2,
        "unknown order": 2,
        "forged notification": 2,
        "ip burst": 1,
        "random email": 3,
        "refund after payment": 2,
        "large amount": 3,
    }
    #: seconds between the orders of an IP burst (six of them, within a minute)
    IP_BURST_GAP_S = (1.0, 8.0)

    def __init__(
        self,
        api_base_url: str,
        shop_key: str,
        simulator: GatewaySimulator,
        *,
        rng: random.Random | None = None,
        log: Callable[[str], None] | None = None,
        tally: Callable[[str], None] | None = None,
        settle_timeout_s: float = 30.0,
        workers: int = 8,
    ):
        self.api_base_url = api_base_url.rstrip("/")
        self.sim = simulator
        self._headers = {"Authorization": f"Bearer {shop_key}"}
        self._rng = rng or random.Random()
        self._log = log or (lambda line: print(line, flush=True))
        self._tally = tally or (lambda outcome: None)  # paid, delivered, held, failed (DemoReport)
        self._settle_timeout_s = settle_timeout_s
        self._workers = workers
        self._stop = threading.Event()
        self._scenarios: dict[str, Callable[[], None]] = {
            "normal": lambda: self._order_flow(self._new_order()),
            "duplicate notification": self._duplicate_notification,
            "second payment": self._second_payment,
            "wrong amount": self._wrong_amount,
            "unknown order": self._unknown_order,
            "forged notification": self._forged_notification,
            "ip burst": self._ip_burst,
            "random email": lambda: self._order_flow(
                self._new_order(email=self._random_email()), "random email"
            ),
            "refund after payment": self._refund_after_payment,
            "large amount": lambda: self._order_flow(self._new_order(large=True), "large amount"),
        }

    def run(self, stop_event: threading.Event, rate_per_s: float = 0.5) -> None:
        """Start orders at about `rate_per_s` (random arrivals) until `stop_event` is set; returns
        once the orders under way have noticed and wound down."""
        self._stop = stop_event
        names, weights = zip(*self.SCENARIO_WEIGHTS.items(), strict=True)
        with ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="demo") as pool:
            while not stop_event.wait(self._rng.expovariate(rate_per_s)):
                pool.submit(self._run_scenario, self._rng.choices(names, weights)[0])
            pool.shutdown(wait=True, cancel_futures=True)

    def _settle(self, trade) -> None:
        """Wait for the simulator to settle a payment, giving up as soon as the stack stops."""
        deadline = time.monotonic() + self._settle_timeout_s
        while (
            not trade.wait_settled(0.2) and not self._stop.is_set() and time.monotonic() < deadline
        ):
            pass

    def _run_scenario(self, name: str) -> None:
        try:
            self._scenarios[name]()
        except Exception as exc:  # the demo outlives any one order going wrong
            self._log(f"demo: [{name}] gave up: {type(exc).__name__}: {exc}")
            self._tally("failed")

    # --- the cases ----------------------------------------------------------------------------

    def _order_flow(self, order: DemoOrder, label: str = "") -> None:
        if self._register(order, label):
            self._pay(order, label)
            self._deliver_when_paid(order, label)

    def _duplicate_notification(self) -> None:
        order = self._new_order()
        if not self._register(order):
            return
        trade = self._pay(order)
        self._settle(trade)
        again = self.sim.resend(trade)
        self._log(
            f"demo: [duplicate notification] resent {again.notice.event_key} for "
            f"{order.order_no} via {order.channel} → answered {self._answer(again)}"
        )
        self._deliver_when_paid(order)

    def _second_payment(self) -> None:
        order = self._new_order()
        if not self._register(order):
            return
        self._settle(self._pay(order))
        self._pay(order, "second payment")
        self._deliver_when_paid(order)

    def _wrong_amount(self) -> None:
        order = self._new_order()
        if self._register(order):
            short = max(Decimal(order.amount) * Decimal("0.9"), CENT).quantize(CENT, ROUND_DOWN)
            self._pay(order, f"wrong amount, order {order.amount}", amount=str(short))

    def _unknown_order(self) -> None:
        order = self._new_order()
        self._pay(order, "unknown order")
        if self._stop.wait(self._rng.uniform(2.0, 5.0)):
            return
        if self._register(order, "unknown order"):
            self._log(f"demo: [unknown order] registered {order.order_no} late")
            self._deliver_when_paid(order, "unknown order")

    def _forged_notification(self) -> None:
        order = self._new_order()
        if self._register(order):
            self._pay(order, "forged notification", forged=True)

    def _ip_burst(self) -> None:
        """Six orders from one IP with six emails within a minute, then their deliveries."""
        ip = self._ip()
        placed = []
        for n in range(1, 7):
            if n > 1 and self._stop.wait(self._rng.uniform(*self.IP_BURST_GAP_S)):
                return
            order, label = self._new_order(ip=ip), f"ip burst {n}/6"
            if self._register(order, label):
                self._pay(order, label)
                placed.append((order, label))
        for order, label in placed:
            self._deliver_when_paid(order, label)

    def _refund_after_payment(self) -> None:
        order = self._new_order()
        if not self._register(order):
            return
        self._settle(self._pay(order))
        half = (Decimal(order.amount) / 2).quantize(CENT, ROUND_DOWN)
        amount = order.amount if self._rng.random() < 0.5 else str(half)
        event = self.sim.refund(order.channel, order.order_no, amount)
        outcome = (
            f"answered {self._answer(event)}" if event else "no notification (epay sends none)"
        )
        self._log(
            f"demo: [refund after payment] refunded {amount} {order.currency} of "
            f"{order.order_no} via {order.channel} → {outcome}"
        )

    # --- steps --------------------------------------------------------------------------------

    def _register(self, order: DemoOrder, label: str = "") -> bool:
        response = self._api("POST", "/orders", order.body())
        if response is not None and response.status_code in (200, 201):
            return True
        why = (
            "API unavailable"
            if response is None
            else f"HTTP {response.status_code} {response.text[:160]}"
        )
        self._log(f"demo: {_tag(label)}could not register {order.order_no}: {why}")
        self._tally("failed")
        return False

    def _pay(
        self, order: DemoOrder, label: str = "", amount: str | None = None, forged: bool = False
    ) -> SimPayment:
        trade = self.sim.pay(
            order.channel,
            order.order_no,
            amount or order.amount,
            order.currency,
            subject=order.product_name,
            forged=forged,
        )
        self._log(
            f"demo: {_tag(label)}paid {order.order_no} via {order.channel} {trade.amount} "
            f"{order.currency} → answered {self._answer(trade.event)}"
        )
        return trade

    def _answer(self, event: SimEvent | None) -> str:
        if event is None:
            return "nothing sent"
        if not event.wait_answered(self._settle_timeout_s):
            return "nothing yet"
        return event.attempts[0].summary()

    def _deliver_when_paid(self, order: DemoOrder, label: str = "") -> None:
        """Poll the order like a shop backend; report delivery once paid and not held. Tallies the
        order paid once paytrack says so, then delivered, or held if it stays held."""
        deadline = time.monotonic() + self._settle_timeout_s
        status: dict[str, Any] = {}
        seen_paid = False
        while time.monotonic() < deadline:
            response = self._api("GET", f"/orders/{order.order_no}")
            if response is None:
                return
            status = _json(response)
            if status.get("pay_status") == "paid" and not seen_paid:
                seen_paid = True
                self._tally("paid")
            if status.get("pay_status") == "paid" and not status.get("hold"):
                report = self._api(
                    "POST",
                    f"/orders/{order.order_no}/delivery",
                    {"status": "delivered", "detail": "card key sent"},
                )
                answer = "API unavailable" if report is None else f"HTTP {report.status_code}"
                self._log(f"demo: {_tag(label)}delivered {order.order_no} → {answer}")
                self._tally(
                    "delivered" if report is not None and report.status_code == 200 else "failed"
                )
                return
            if self._stop.wait(1.0):
                return
        self._log(
            f"demo: {_tag(label)}not delivering {order.order_no}: pay_status="
            f"{status.get('pay_status')} hold={status.get('hold')} after "
            f"{self._settle_timeout_s:.0f}s"
        )
        self._tally("held" if seen_paid else "failed")

    def _api(self, method: str, path: str, body: dict | None = None) -> requests.Response | None:
        """Call the shop API, riding out a briefly unavailable API (no connection, 5xx) with
        backoff; None when it stays down or the demo is stopping."""
        for attempt in range(6):
            try:
                response = requests.request(
                    method, self.api_base_url + path, json=body, headers=self._headers, timeout=10
                )
                if response.status_code < 500:
                    return response
            except requests.RequestException:
                pass
            if self._stop.wait(min(0.5 * 2**attempt, 8.0)):
                return None
        self._log(f"demo: API unavailable, gave up {method} {path}")
        return None

    # --- made-up buyers -----------------------------------------------------------------------

    def _new_order(
        self,
        *,
        ip: str | None = None,
        email: str | None = None,
        large: bool = False,
        channel: str | None = None,
    ) -> DemoOrder:
        rng = self._rng
        channel = channel or rng.choice(sorted(self.sim.channels))
        currency = "USD" if self.sim.channels[channel]["type"] == "stripe" else "CNY"
        product_id, name, cny, usd = rng.choice(PRODUCTS)
        unit = Decimal(usd if currency == "USD" else cny)
        quantity = (
            math.ceil(LARGE_AMOUNT / unit) + rng.randint(0, 3)
            if large
            else rng.choice((1, 1, 1, 2))
        )
        return DemoOrder(
            order_no=f"ORD{datetime.now(SHOP_TZ):%Y%m%d%H%M%S}{rng.randrange(10**6):06d}",
            channel=channel,
            product_id=product_id,
            product_name=name,
            quantity=quantity,
            amount=f"{unit * quantity:.2f}",
            currency=currency,
            buyer_email=email or self._email(),
            buyer_ip=ip or self._ip(),
            user_agent=rng.choice(USER_AGENTS),
        )

    def _email(self) -> str:
        rng = self._rng
        if rng.random() < 0.3:
            return f"{rng.randint(10000, 3999999999)}@qq.com"
        return f"{rng.choice(NAMES)}{rng.randint(1, 9999)}@{rng.choice(MAIL_DOMAINS)}"

    def _random_email(self) -> str:
        local = "".join(self._rng.choices(string.ascii_lowercase + string.digits, k=10))
        return f"{local}@{self._rng.choice(DISPOSABLE_DOMAINS)}"

    def _ip(self) -> str:
        rng = self._rng
        return ".".join(
            map(
                str,
                (
                    rng.choice(CN_FIRST_OCTETS),
                    rng.randint(0, 255),
                    rng.randint(0, 255),
                    rng.randint(1, 254),
                ),
            )
        )


class ReconciliationShowcase(DemoTraffic):
    """Once, at start: on every channel one order of each case reconciliation must tell apart,
    then today's reconciliation of every channel through the admin API, its summary logged.

    The cases: a normal payment (matched, with the gateway's fee); a payment whose notification
    never comes, which 补单 recovers by query within minutes; a refund made only at the gateway
    (status_mismatch); an amount the gateway's books hold differently (amount_mismatch); a trade
    the gateway leaves off its statement (missing_there); a second payment of one order
    (duplicate); a payment for an order never registered (missing_here). epay lists the refunded
    order with status 2 (已退款).
    """

    def __init__(
        self,
        api_base_url: str,
        shop_key: str,
        admin_key: str,
        simulator: GatewaySimulator,
        *,
        recover_timeout_s: float = 300.0,
        **options: Any,
    ):
        super().__init__(api_base_url, shop_key, simulator, **options)
        self._admin_headers = {"Authorization": f"Bearer {admin_key}"}
        self._recover_timeout_s = recover_timeout_s

    def run_once(self, stop_event: threading.Event) -> dict[str, dict[str, Any]]:
        """Stage the cases, wait for 补单, reconcile; the summaries by channel (empty if stopped)."""
        self._stop = stop_event
        silent = {}
        for channel in sorted(self.sim.channels):
            if stop_event.is_set():
                return {}
            silent[channel] = self._stage(channel)
        if not self._await_recovery(silent) or stop_event.wait(1.5):
            return {}
        return {channel: self._reconcile(channel) for channel in sorted(self.sim.channels)}

    def _stage(self, channel: str) -> str:
        """The cases on one channel; returns the order only a query can find paid."""
        tag = "reconciliation"
        normal, silent, refunded, misbooked, dropped, twice = (
            self._new_order(channel=channel) for _ in range(6)
        )
        for order in (normal, silent, refunded, misbooked, dropped, twice):
            self._register(order, tag)
        self._pay(normal, tag)
        self.sim.pay(
            channel,
            silent.order_no,
            silent.amount,
            silent.currency,
            subject=silent.product_name,
            notify=False,
        )
        self._log(f"demo: [补单] {silent.order_no} paid via {channel}; its notification is lost")
        self._settle(self._pay(refunded, tag))
        self.sim.refund(channel, refunded.order_no, refunded.amount, notify=False)
        booked = f"{Decimal(misbooked.amount) - Decimal('1.00'):.2f}"
        self.sim.pay(
            channel,
            misbooked.order_no,
            misbooked.amount,
            misbooked.currency,
            statement_amount=booked,
        )
        self.sim.pay(
            channel, dropped.order_no, dropped.amount, dropped.currency, in_statement=False
        )
        self._settle(self._pay(twice, tag))
        self._pay(twice, f"{tag}: second payment")
        stray = self._new_order(channel=channel)
        self.sim.pay(channel, stray.order_no, stray.amount, stray.currency, notify=False)
        self._log(
            f"demo: [reconciliation] staged every case on {channel}: refund only at the gateway "
            f"{refunded.order_no}, booked {booked} for {misbooked.order_no}, off the statement "
            f"{dropped.order_no}, paid twice {twice.order_no}, never registered {stray.order_no}"
        )
        return silent.order_no

    def _await_recovery(self, silent: dict[str, str]) -> bool:
        started = time.monotonic()
        waiting = dict(silent)
        while waiting and time.monotonic() - started < self._recover_timeout_s:
            for channel, order_no in list(waiting.items()):
                response = self._api("GET", f"/orders/{order_no}")
                if response is not None and _json(response).get("pay_status") == "paid":
                    self._log(
                        f"demo: [补单] {order_no} via {channel} recovered by query "
                        f"{time.monotonic() - started:.0f}s later, without its notification"
                    )
                    del waiting[channel]
            if waiting and self._stop.wait(3.0):
                return False
        for channel, order_no in waiting.items():
            self._log(
                f"demo: [补单] {order_no} via {channel} not recovered yet; reconciling anyway"
            )
        return True

    def _reconcile(self, channel: str) -> dict[str, Any]:
        today = datetime.now(SHOP_TZ).date().isoformat()
        try:
            response = requests.post(
                f"{self.api_base_url}/admin/reconciliations",
                headers=self._admin_headers,
                json={"channel": channel, "date": today},
                timeout=120,
            )
        except requests.RequestException as exc:
            self._log(
                f"demo: [reconciliation] {channel} {today}: API unavailable ({type(exc).__name__})"
            )
            return {}
        run = _json(response)
        summary = run.get("summary") or {}
        counts = ", ".join(f"{k} {v}" for k, v in (summary.get("counts") or {}).items())
        totals = "; ".join(
            f"{c}: difference {t['difference']} explained, unexplained {t['unexplained']}"
            for c, t in (summary.get("currencies") or {}).items()
        )
        self._log(
            f"demo: [reconciliation] {channel} {today} → HTTP {response.status_code}: {counts}; {totals}"
            if summary
            else f"demo: [reconciliation] {channel} {today} → HTTP {response.status_code} "
            f"{response.text[:200]}"
        )
        return summary


def main() -> None:
    """`python -m local.demo`: the simulator (server on PAYTRACK_SIM_PORT) and demo traffic
    against the API on PAYTRACK_PORT, as the shop key PAYTRACK_SHOP_KEY, until SIGINT/SIGTERM."""
    api = f"http://127.0.0.1:{os.environ.get('PAYTRACK_PORT', '8000')}"
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with GatewaySimulator.from_files(api) as sim:
        sim.start_server()
        DemoTraffic(api, os.environ["PAYTRACK_SHOP_KEY"], sim).run(stop)


if __name__ == "__main__":
    main()
