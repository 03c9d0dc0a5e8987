"""The gateway simulator: payments, refunds and closes that notify paytrack the way the real
gateways do — their wire formats, their signatures, their retry schedules (compressed by
`time_scale`) — and the gateways' APIs paytrack calls back: order queries and statements, in
each gateway's exact format, built from the trades it really processed. It plays the gateway
side on its own and imports nothing from chalicelib.

    sim = GatewaySimulator.from_files("http://127.0.0.1:8000")
    server = sim.start_server()             # /sim/…, and each gateway's API, on PAYTRACK_SIM_PORT
    trade = sim.pay("alipay-main", "ORD20261125143012000001", "58.00")
    trade.wait_settled(10)                  # then trade.event.outcome, trade.attempts

Discrepancies for reconciliation to find are made on purpose: a payment never notified
(`notify=False`, which 补单 must recover), a refund done only at the gateway, an amount the
gateway's books hold differently (`statement_amount=`), a trade left off the statement
(`in_statement=False`). Fees come with every statement.

`python -m local.simulator` runs the server alone, notifying the API on PAYTRACK_PORT.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import requests

from .sim import build_gateway, register_gateway_apis
from .sim.base import CrossBorder, HttpCall, SimGateway, SimKeys, read_pem
from .sim.stripe import StripeSettlement, StripeSim
from .sim.wechatpay import WechatPaySim
from .sim_channels import why_real
from .sim_model import Attempt, SimEvent, SimPayment, SimRefund, TradeBook, WireNotice, to_minor
from .sim_refunds import RefundDesk
from .sim_scheduler import RetryScheduler
from .sim_server import SimRequest, SimResponse, SimServer

LOCAL_DIR = Path(__file__).resolve().parent
DEFAULT_CHANNELS_FILE = LOCAL_DIR / "channels.dev.json"
DEFAULT_SIM_CONFIG_FILE = LOCAL_DIR / "simulator.dev.json"
DEFAULT_TIME_SCALE = 1 / 240  # Alipay's first retry, 4 minutes, comes after 1 second
DEFAULT_SUBJECT = "商品"


def load_channels(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The channels file paytrack loads too (PAYTRACK_CHANNELS_FILE, else the dev file)."""
    path = path or os.environ.get("PAYTRACK_CHANNELS_FILE") or DEFAULT_CHANNELS_FILE
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_sim_config(path: str | Path | None = None) -> dict[str, Any]:
    """The simulator's own file; every `…_key` value (a PEM, or a path relative to the file)
    comes back as PEM text."""
    path = Path(path or DEFAULT_SIM_CONFIG_FILE)
    config = json.loads(path.read_text(encoding="utf-8"))
    return {k: read_pem(v, path.parent) if k.endswith("_key") else v for k, v in config.items()}


def _now() -> datetime:
    return datetime.now(UTC)


class GatewaySimulator:
    """Makes gateway events happen and delivers their notifications to
    `{api_base_url}/notify/{channel}` from a background worker pool, retrying on the gateway's
    schedule until paytrack gives the gateway's success answer or the schedule runs out.

    It plays only the channels it can (local/sim_channels.py): `channels` are those, `real` the
    others with the reason each is left to its real gateway.
    """

    def __init__(
        self,
        api_base_url: str,
        channels: Mapping[str, Mapping[str, Any]],
        sim_config: Mapping[str, Any],
        time_scale: float = DEFAULT_TIME_SCALE,
        *,
        workers: int = 8,
        http_timeout_s: float = 10.0,
    ):
        self.keys = SimKeys.from_config(sim_config)
        self.options = dict(sim_config)
        self.api_base_url = api_base_url.rstrip("/")
        verdicts = {cid: why_real(cfg, self.keys) for cid, cfg in channels.items()}
        self.channels = {cid: dict(channels[cid]) for cid, why in verdicts.items() if why is None}
        self.real = {cid: why for cid, why in verdicts.items() if why is not None}
        self.time_scale = time_scale
        self._gateways = {
            cid: build_gateway(cid, cfg, self.keys, sim_config)
            for cid, cfg in self.channels.items()
        }
        self.book = TradeBook()
        self._http_timeout_s = http_timeout_s
        self._scheduler = RetryScheduler(workers)
        self._lock = threading.Lock()
        self._events: list[SimEvent] = []
        self._server: SimServer | None = None
        self.refunds = RefundDesk(self.book, self._gateways, self._send)

    @classmethod
    def from_files(
        cls,
        api_base_url: str,
        channels_file: str | Path | None = None,
        sim_config_file: str | Path | None = None,
        **kwargs: Any,
    ) -> GatewaySimulator:
        return cls(
            api_base_url, load_channels(channels_file), load_sim_config(sim_config_file), **kwargs
        )

    # --- gateway events -----------------------------------------------------------------------

    def pay(
        self,
        channel: str,
        out_trade_no: str,
        amount: str,
        currency: str = "CNY",
        *,
        trade_no: str | None = None,
        subject: str = DEFAULT_SUBJECT,
        forged: bool = False,
        notify: bool = True,
        statement_amount: str | None = None,
        in_statement: bool = True,
    ) -> SimPayment:
        """The buyer paid `amount`: notify paytrack (unless `notify=False`: the notification got
        lost, only a query finds the payment). Paying an order again makes a second, distinct
        trade. A forged payment never happened, so it stays out of the ledger."""
        gateway = self._gateway(channel)
        now = _now()
        trade = gateway.new_trade(
            out_trade_no,
            to_minor(amount, currency),
            currency,
            subject,
            now,
            paid=True,
            trade_no=trade_no,
            forged=forged,
        )
        trade.in_statement = in_statement
        if statement_amount is not None:
            trade.statement_amount_minor = to_minor(statement_amount, currency)
        if not forged:
            self.book.add_paid(trade)
        if notify:
            trade.event = self._send(
                channel,
                "pay",
                trade.out_trade_no,
                trade.trade_no,
                gateway.payment_notice(trade, now, forged),
            )
        return trade

    def refund(
        self,
        channel: str,
        out_trade_no: str,
        amount: str,
        *,
        forged: bool = False,
        notify: bool = True,
    ) -> SimEvent | None:
        """Refund part or all of the order's latest trade. None: no notification went out (epay
        sends none; `notify=False` is a refund done only at the gateway). The refund is recorded
        either way."""
        gateway = self._gateway(channel)
        now = _now()
        with self._lock:
            trade = self._latest_trade(channel, out_trade_no)
            refund_minor = to_minor(amount, trade.currency)
            refunded = trade.refunded_minor + refund_minor
            if refunded > trade.amount_minor:
                raise ValueError(
                    f"refund {amount} would exceed {trade.amount} paid for {out_trade_no}"
                )
            refund = SimRefund(
                f"{out_trade_no}R{trade.refund_count + 1}",
                refund_minor,
                now,
                refund_id=gateway.new_refund_id(),
            )
            notice = gateway.refund_notice(trade, refund, refunded, now, forged) if notify else None
            if not forged:
                self.book.add_refund(trade, replace(refund, notified=notice is not None))
        if notice is None:
            return None
        return self._send(channel, "refund", out_trade_no, trade.trade_no, notice)

    def settle_stripe_in(
        self, channel: str, currency: str | None, rates: Mapping[str, str] | None = None
    ) -> None:
        """Make a Stripe channel's account settle in `currency`: charges in the other currencies
        are converted at `rates` (`{"USD": "7.8"}`) on its balance transactions. None: each
        charge settles in its own currency again."""
        gateway = self._gateway(channel)
        if not isinstance(gateway, StripeSim):
            raise ValueError(f"{channel} is not a Stripe channel")
        gateway.settlement = (
            StripeSettlement(currency, {c: Decimal(r) for c, r in (rates or {}).items()}, [])
            if currency
            else None
        )

    def settle_cross_border(
        self, channel: str, currency: str | None, rates: Mapping[str, str] | None = None
    ) -> None:
        """Make a WeChat Pay channel a cross-border merchant settling in `currency`: it takes
        trades in any currency, and its `/v3/global/statements` converts those in the other
        currencies at `rates` (`{"USD": "7.8"}`). None: back to a domestic CNY merchant."""
        gateway = self._gateway(channel)
        if not isinstance(gateway, WechatPaySim):
            raise ValueError(f"{channel} is not a WeChat Pay channel")
        gateway.settle_cross_border(
            CrossBorder(currency, {c: Decimal(r) for c, r in (rates or {}).items()})
            if currency
            else None
        )

    def charge_stripe_fee(self, channel: str, amount: str) -> None:
        """Stripe takes one of its own fees (Radar's) from a settling account, now."""
        gateway = self._gateway(channel)
        if not isinstance(gateway, StripeSim) or gateway.settlement is None:
            raise ValueError(f"{channel} is not a Stripe channel settling in one currency")
        settlement = gateway.settlement
        settlement.account_fees.append((_now(), to_minor(amount, settlement.currency)))

    def close_trade(
        self,
        channel: str,
        out_trade_no: str,
        amount: str,
        currency: str = "CNY",
        *,
        subject: str = DEFAULT_SUBJECT,
        forged: bool = False,
    ) -> SimEvent | None:
        """An unpaid trade closed (timed out, checkout expired). Alipay and Stripe notify;
        WeChat Pay and epay send nothing (None). A paid order is refunded, not closed."""
        gateway = self._gateway(channel)
        if self.book.paid(channel, out_trade_no):
            raise ValueError(f"{out_trade_no} is paid at {channel}: refund it instead")
        now = _now()
        trade = gateway.new_trade(
            out_trade_no,
            to_minor(amount, currency),
            currency,
            subject,
            now,
            paid=False,
            forged=forged,
        )
        if not forged:
            self.book.add_closed(trade)
        notice = gateway.close_notice(trade, now, forged)
        if notice is None:
            return None
        return self._send(channel, "close", out_trade_no, trade.trade_no, notice)

    def resend(self, event: SimEvent | SimPayment) -> SimEvent:
        """Deliver a notification again, byte for byte (same notify_id / event id), as gateways
        do; it gets its own attempts and retries."""
        original = event.event if isinstance(event, SimPayment) else event
        if original is None:
            raise ValueError("the payment was not notified: there is nothing to send again")
        return self._send(
            original.channel,
            original.action,
            original.out_trade_no,
            original.trade_no,
            original.notice,
            resend_of=original.seq,
        )

    def signed_request(self, event: SimEvent, path: str) -> HttpCall:
        """The request the gateway sends for `event` to `path` (a URL or a path), signed now: for
        tests that deliver a notification themselves, to an app with no HTTP server."""
        return self._gateways[event.channel].http_call(event.notice, path, _now())

    def events(self) -> list[SimEvent]:
        """Every notification so far, oldest first (a snapshot: safe to iterate)."""
        with self._lock:
            return list(self._events)

    # --- HTTP server and lifecycle ------------------------------------------------------------

    def start_server(self, port: int | None = None, host: str = "127.0.0.1") -> SimServer:
        """Serve /sim/health and /sim/events (and the gateways' APIs) from a background thread on
        `port`: default PAYTRACK_SIM_PORT, else 9000; 0 picks a free port. close() stops it."""
        if port is None:
            port = int(os.environ.get("PAYTRACK_SIM_PORT", "9000"))
        server = SimServer(host, port)
        server.route("/sim", "GET", "/health", self._health)
        server.route(
            "/sim",
            "GET",
            "/events",
            lambda request: SimResponse.json([e.as_dict() for e in self.events()]),
        )
        server.route("/sim", "POST", "/pay", self._pay_over_http)
        server.route("/sim", "POST", "/refund", self._refund_over_http)
        server.route("/sim", "POST", "/settle", self._settle_over_http)
        server.route("/sim", "POST", "/refund-outcome", self._refund_outcome_over_http)
        server.route("/sim", "POST", "/refund-settle", self._refund_settle_over_http)
        server.route(
            "/sim",
            "GET",
            "/refunds",
            lambda request: SimResponse.json([r.as_dict() for r in self.refunds.requests()]),
        )
        register_gateway_apis(
            server, self.book, self._gateways, self.keys, self.options, self.refunds
        )
        server.start()
        self._server = server
        return server

    def close(self) -> None:
        """Stop the server and the workers; notifications still owed are settled `stopped`."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self._scheduler.close()
        for event in self.events():
            event.settle("stopped")

    def __enter__(self) -> GatewaySimulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------------

    def _gateway(self, channel: str) -> SimGateway:
        if channel in self.real:
            raise ValueError(f"channel {channel!r} is not simulated: {self.real[channel]}")
        try:
            return self._gateways[channel]
        except KeyError:
            raise ValueError(
                f"unknown channel {channel!r}; known: {sorted(self._gateways)}"
            ) from None

    def _latest_trade(self, channel: str, out_trade_no: str) -> SimPayment:
        trades = self.book.paid(channel, out_trade_no)
        if not trades:
            raise LookupError(f"{channel} has no paid trade for {out_trade_no}")
        return trades[-1]

    def _send(
        self,
        channel: str,
        action: str,
        out_trade_no: str,
        trade_no: str,
        notice: WireNotice,
        resend_of: int | None = None,
    ) -> SimEvent:
        with self._lock:
            event = SimEvent(
                seq=len(self._events) + 1,
                channel=channel,
                gateway=self._gateways[channel].type_name,
                action=action,
                out_trade_no=out_trade_no,
                trade_no=trade_no,
                notice=notice,
                resend_of=resend_of,
            )
            self._events.append(event)
        self._schedule(event, delay_s=0.0)
        return event

    def _schedule(self, event: SimEvent, delay_s: float) -> None:
        if not self._scheduler.call_at(time.monotonic() + delay_s, partial(self._attempt, event)):
            event.settle("stopped")

    def _attempt(self, event: SimEvent) -> None:
        """One delivery, then the next retry on the gateway's (compressed) schedule, if owed."""
        gateway = self._gateways[event.channel]
        attempt = self._post(gateway, event.notice, f"{self.api_base_url}/notify/{event.channel}")
        event.record(attempt)
        done = len(event.attempts)
        if attempt.accepted:
            event.settle("accepted")
        elif done > len(gateway.retry_delays_s):
            event.settle("exhausted")
        else:
            self._schedule(event, gateway.retry_delays_s[done - 1] * self.time_scale)

    def _post(self, gateway: SimGateway, notice: WireNotice, url: str) -> Attempt:
        now = _now()
        call = gateway.http_call(notice, url, now)
        try:
            response = requests.request(
                call.method,
                call.url,
                headers=call.headers,
                data=call.body,
                timeout=self._http_timeout_s,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return Attempt(now, None, type(exc).__name__, accepted=False)
        return Attempt(
            now,
            response.status_code,
            response.text[:500],
            accepted=gateway.accepted(response.status_code, response.text),
        )

    def _pay_over_http(self, request: SimRequest) -> SimResponse:
        """POST /sim/pay {channel, out_trade_no, amount, currency?, notify?, statement_amount?,
        in_statement?}: what the e2e tests and scripts drive the stack's simulator with."""
        body = json.loads(request.body or b"{}")
        trade = self.pay(
            body["channel"],
            body["out_trade_no"],
            body["amount"],
            body.get("currency", "CNY"),
            notify=body.get("notify", True),
            statement_amount=body.get("statement_amount"),
            in_statement=body.get("in_statement", True),
        )
        return SimResponse.json(
            {
                "trade_no": trade.trade_no,
                "amount": trade.amount,
                "currency": trade.currency,
                "notified": trade.event is not None,
            },
            201,
        )

    def _refund_over_http(self, request: SimRequest) -> SimResponse:
        """POST /sim/refund {channel, out_trade_no, amount, notify?}."""
        body = json.loads(request.body or b"{}")
        event = self.refund(
            body["channel"], body["out_trade_no"], body["amount"], notify=body.get("notify", True)
        )
        return SimResponse.json({"notified": event is not None}, 201)

    def _settle_over_http(self, request: SimRequest) -> SimResponse:
        """POST /sim/settle {channel, currency, rates}: a Stripe account settling in `currency`
        (null: in each charge's own again), or a WeChat Pay channel a cross-border merchant."""
        body = json.loads(request.body or b"{}")
        settle = (
            self.settle_cross_border
            if isinstance(self._gateway(body["channel"]), WechatPaySim)
            else self.settle_stripe_in
        )
        settle(body["channel"], body.get("currency"), body.get("rates"))
        return SimResponse.json({"channel": body["channel"], "currency": body.get("currency")}, 200)

    def _refund_outcome_over_http(self, request: SimRequest) -> SimResponse:
        """POST /sim/refund-outcome {channel, outcome}: how the channel's next refund through its
        API ends (succeed, fail, pending)."""
        body = json.loads(request.body or b"{}")
        self._gateway(body["channel"])
        self.refunds.script(body["channel"], body["outcome"])
        return SimResponse.json({"channel": body["channel"], "next": body["outcome"]}, 201)

    def _refund_settle_over_http(self, request: SimRequest) -> SimResponse:
        """POST /sim/refund-settle {channel, refund_no, succeed?}: end a refund left pending."""
        body = json.loads(request.body or b"{}")
        record = self.refunds.settle(body["channel"], body["refund_no"], body.get("succeed", True))
        return SimResponse.json(record.as_dict())

    def _health(self, request: SimRequest) -> SimResponse:
        events = self.events()
        return SimResponse.json(
            {
                "status": "ok",
                "api_base_url": self.api_base_url,
                "channels": {cid: cfg["type"] for cid, cfg in self.channels.items()},
                "real": self.real,
                "events": len(events),
                "pending": sum(e.outcome == "pending" for e in events),
            }
        )


def main() -> None:
    """Run the simulator's server alone until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO)
    api = f"http://127.0.0.1:{os.environ.get('PAYTRACK_PORT', '8000')}"
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with GatewaySimulator.from_files(api) as sim:
        server = sim.start_server()
        print(f"simulator: serving {server.url}/sim/health, notifying {api}/notify/…", flush=True)
        while not stop.wait(1.0):
            pass


if __name__ == "__main__":
    main()
