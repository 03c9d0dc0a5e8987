"""易支付 (彩虹 epay) as the simulator plays it: the MD5-signed notification (GET query or POST
form), and `api.php` — `act=order` by out_trade_no or trade_no, `act=orders` (the order list
paytrack reconciles against) and `act=refund` — checked by pid and key.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from ..sim_model import (
    SimPayment,
    TradeBook,
    WireNotice,
    to_major,
    to_minor,
)
from ..sim_refunds import RefundDesk, RefundRefused
from ..sim_server import SimRequest, SimResponse, SimServer
from ..sim_signing import (
    epay_signed_query,
)
from .base import (
    FORM,
    HttpCall,
    SimGateway,
    SimKeys,
    _bj_moment,
    _bj_text,
    _digits,
    _first_trade,
    _refunded_trade,
    exponential,
)


class EpaySim(SimGateway):
    type_name = "epay"
    sim_path = "/epay"
    retry_delays_s = exponential(60, 5)

    def __init__(self, channel, config, keys, options):
        super().__init__(channel, config, keys, options)
        self._notify_method = options.get("epay_notify_method", "GET").upper()

    def new_trade_no(self, now):
        return f"{_bj_moment(now):%Y%m%d%H%M%S}{_digits(5)}"

    def trade_extras(self):
        return {"method": random.choice(("alipay", "wxpay"))}

    def payment_notice(self, trade, now, forged):
        params = {
            "pid": self.config["pid"],
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "type": trade.method,
            "name": trade.subject,
            "money": trade.amount,
            "trade_status": "TRADE_SUCCESS",
        }
        key = secrets.token_hex(16) if forged else self.config["key"]
        return WireNotice(
            trade.trade_no, "TRADE_SUCCESS", epay_signed_query(params, key).encode(), forged
        )

    def http_call(self, notice, url, now):
        if self._notify_method == "POST":
            return HttpCall("POST", url, {"Content-Type": FORM}, notice.payload)
        return HttpCall("GET", f"{url}?{notice.payload.decode()}", {}, None)

    def accepted(self, status, body):
        return "success" in body

    @staticmethod
    def register_api(
        server: SimServer,
        book: TradeBook,
        gateways: list[SimGateway],
        keys: SimKeys,
        options: Mapping[str, Any],
        desk: RefundDesk,
    ) -> None:
        """Serve this gateway type's API for its channels."""
        EpayApi(book, gateways, desk).register(server)


# --- epay ------------------------------------------------------------------------------------


class EpayApi:
    MAX_LIMIT = 50

    def __init__(self, book: TradeBook, gateways: list[SimGateway], desk: RefundDesk):
        self.book, self.desk = book, desk
        self.by_pid = {str(gw.config["pid"]): gw for gw in gateways}

    def register(self, server: SimServer) -> None:
        server.route("/epay", "GET", "/api.php", self.api)
        server.route("/epay", "POST", "/api.php", self.refund)

    def refund(self, request: SimRequest) -> SimResponse:
        """彩虹's `act=refund` (POST form with pid and key), where the channel offers it."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        gateway = self.by_pid.get(form.get("pid", ""))
        if gateway is None or form.get("key") != gateway.config["key"]:
            return SimResponse.json({"code": -2, "msg": "KEY校验失败"})
        if request.arg("act") != "refund" or gateway.config.get("refund_api") is not True:
            return SimResponse.json({"code": -5, "msg": "No Act!"})
        trade = _refunded_trade(
            self.book, gateway.channel, form.get("trade_no"), form.get("out_trade_no")
        )
        if trade is None:
            return SimResponse.json({"code": -1, "msg": "订单号不存在"})
        try:
            record, _ = self.desk.request(
                gateway.channel,
                trade,
                form.get("out_refund_no") or trade.trade_no,
                to_minor(form.get("money", "0"), "CNY"),
            )
        except RefundRefused as refused:
            return SimResponse.json({"code": 0, "msg": refused.message})
        return SimResponse.json(
            {"code": 1, "msg": "退款成功"}
            if record.state == "SUCCESS"
            else {"code": 0, "msg": "退款失败"}
        )

    def api(self, request: SimRequest) -> SimResponse:
        gateway = self.by_pid.get(request.arg("pid"))
        if gateway is None or request.arg("key") != gateway.config["key"]:
            return SimResponse.json({"code": -2, "msg": "KEY校验失败"})
        handlers = {"order": self._order, "orders": self._orders}
        handler = handlers.get(request.arg("act"))
        if handler is None:
            return SimResponse.json({"code": -5, "msg": "No Act!"})
        return SimResponse.json(handler(gateway, request))

    def _order(self, gateway: SimGateway, request: SimRequest) -> dict[str, Any]:
        out_trade_no, trade_no = request.arg("out_trade_no"), request.arg("trade_no")
        trade = (
            _first_trade(self.book, gateway.channel, out_trade_no)
            if out_trade_no
            else self.book.by_trade_no(gateway.channel, trade_no)
        )
        if trade is None:
            return {"code": -1, "msg": "订单号不存在"}
        return {
            "code": 1,
            "msg": "查询订单号成功！",
            **epay_order(trade, str(gateway.config["pid"])),
        }

    def _orders(self, gateway: SimGateway, request: SimRequest) -> dict[str, Any]:
        limit = min(int(request.arg("limit", "20") or 20), self.MAX_LIMIT)
        page = max(int(request.arg("page", "1") or 1), 1)
        offset = int(request.arg("offset", "0") or 0) or (page - 1) * limit
        listed = [t for t in self.book.of_channel(gateway.channel) if t.in_statement]
        newest_first = sorted(listed, key=lambda t: t.created_at, reverse=True)
        rows = [
            epay_order(t, str(gateway.config["pid"])) for t in newest_first[offset : offset + limit]
        ]
        return {"code": 1, "msg": "查询结算记录成功！", "data": rows}


# --- epay: the order list ---------------------------------------------------------------------


def epay_order(trade: SimPayment, pid: str) -> dict[str, Any]:
    """An order as `act=order` / `act=orders` show it: status 0 unpaid, 1 paid, 2 refunded (with
    `refundmoney`, as 彩虹易支付 lists it)."""
    paid = trade.paid_at is not None
    status = 2 if trade.refunded_minor else 1 if paid else 0
    refunded = (
        {"refundmoney": to_major(trade.refunded_minor, "CNY")} if trade.refunded_minor else {}
    )
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "api_trade_no": "",
        "type": trade.method or "alipay",
        "pid": int(pid),
        "addtime": _bj_text(trade.created_at),
        "endtime": _bj_text(trade.paid_at) if trade.paid_at is not None else None,
        "name": trade.subject,
        "money": to_major(trade.booked_minor, "CNY"),
        "status": status,
        "param": "",
        "buyer": "",
        **refunded,
    }
