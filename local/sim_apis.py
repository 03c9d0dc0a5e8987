"""The gateways' own APIs as the simulator serves them: order queries, statements and refunds
(each refund API and its query: local/sim_refunds.py decides how a refund ends).

Each answers from the TradeBook in its gateway's wire format, signs the way the gateway does
(Alipay: `sign` over the response object's text; WeChat Pay: the `Wechatpay-*` headers) and
checks the caller the way the gateway does (Alipay: the request's RSA2 signature; WeChat Pay:
the Authorization header; epay: pid and key; Stripe: the secret key). The credentials say which
channel a call is for. Statements of a day not over yet cover up to the moment they are made.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from .sim_bills import (
    alipay_bill_zip,
    day_entries,
    entries_between,
    epay_order,
    gzip_with_sha1,
    stripe_balance_transactions,
    wechat_bill_csv,
)
from .sim_gateways import SimGateway, SimKeys
from .sim_lookup import alipay_queried_trade, register_trade_lookups
from .sim_model import SimPayment, TradeBook, to_major, to_minor
from .sim_refunds import RefundDesk, RefundRefused, SimRefundRequest
from .sim_server import SimRequest, SimResponse, SimServer
from .sim_signing import (
    alipay_cert_sn,
    alipay_request_string,
    alipay_root_cert_sn,
    compact_json,
    rsa_sha256_sign,
    rsa_sha256_verify,
    wechat_sign,
)

BEIJING = timezone(timedelta(hours=8))
DOWNLOAD_TTL_S = 30.0  # Alipay's bill URL is valid about 30 s; WeChat's tokens as well
WECHAT_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_S = 300


def _now() -> datetime:
    return datetime.now(UTC)


def _bj(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}"


class Downloads:
    """Statement files handed out under short-lived tokens, as the gateways' download URLs are."""

    def __init__(self, ttl_s: float = DOWNLOAD_TTL_S):
        self._ttl_s = ttl_s
        self._files: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def put(self, data: bytes) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            now = time.monotonic()
            self._files = {t: f for t, f in self._files.items() if f[0] > now}
            self._files[token] = (now + self._ttl_s, data)
        return token

    def get(self, token: str) -> bytes | None:
        with self._lock:
            expires, data = self._files.get(token, (0.0, b""))
        return data if expires > time.monotonic() else None


def _of_type(gateways: Mapping[str, SimGateway], type_name: str) -> list[SimGateway]:
    return [gw for gw in gateways.values() if gw.type_name == type_name]


def register_gateway_apis(
    server: SimServer,
    book: TradeBook,
    gateways: Mapping[str, SimGateway],
    keys: SimKeys,
    options: Mapping[str, Any],
    desk: RefundDesk,
) -> None:
    AlipayApi(book, _of_type(gateways, "alipay"), keys, desk).register(server)
    wechat = WechatApi(
        book, _of_type(gateways, "wechatpay"), keys, options.get("wechat_bill_bom", True), desk
    )
    wechat.register(server)
    EpayApi(book, _of_type(gateways, "epay"), desk).register(server)
    stripe = StripeApi(book, _of_type(gateways, "stripe"), desk)
    stripe.register(server)
    register_trade_lookups(server, wechat, stripe)


def _after_answer(desk: RefundDesk, record: SimRefundRequest, outcome: str) -> None:
    """What the gateway does once it has answered (a notification follows the answer)."""
    timer = threading.Timer(0.2, desk.after_answer, (record, outcome))
    timer.daemon = True
    timer.start()


def _refunded_trade(
    book: TradeBook, channel: str, trade_no: str | None, out_trade_no: str | None
) -> SimPayment | None:
    """The paid trade a refund names: by the gateway's trade number, else the order's first."""
    if trade_no:
        trade = book.by_trade_no(channel, trade_no)
        return trade if trade is not None and trade.paid_at else None
    paid = book.paid(channel, out_trade_no or "")
    return paid[0] if paid else None


def _first_trade(book: TradeBook, channel: str, out_trade_no: str) -> SimPayment | None:
    """The order's trade as a query shows it: its (first) payment, else the closed trade."""
    paid = book.paid(channel, out_trade_no)
    return paid[0] if paid else book.closed(channel, out_trade_no)


# --- Alipay ----------------------------------------------------------------------------------


def _wrong_cert_sns(config: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """Certificate mode: which of the request's certificate SNs are not the channel's."""
    if "app_cert" not in config:
        return []
    expected = {
        "app_cert_sn": alipay_cert_sn(config["app_cert"]),
        "alipay_root_cert_sn": alipay_root_cert_sn(config["alipay_root_cert"]),
    }
    return [name for name, sn in expected.items() if params.get(name) != sn]


class AlipayApi:
    QUERY = "alipay.trade.query"
    BILL = "alipay.data.dataservice.bill.downloadurl.query"

    REFUND = "alipay.trade.refund"
    REFUND_QUERY = "alipay.trade.fastpay.refund.query"

    def __init__(
        self, book: TradeBook, gateways: list[SimGateway], keys: SimKeys, desk: RefundDesk
    ):
        self.book, self.keys, self.desk = book, keys, desk
        self.by_app_id = {gw.config["app_id"]: gw for gw in gateways}
        self.downloads = Downloads()

    def register(self, server: SimServer) -> None:
        for method in ("GET", "POST"):
            server.route("/alipay", method, "/gateway.do", self.gateway_do)
        server.route("/alipay", "GET", "/downloadBillFile.resource", self.download)

    def gateway_do(self, request: SimRequest) -> SimResponse:
        params = {k: v[0] for k, v in request.query.items()}
        if request.body:
            params.update(
                {
                    k: v[0]
                    for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()
                }
            )
        gateway = self.by_app_id.get(params.get("app_id"))
        if gateway is None:
            return SimResponse.json(
                {
                    "error_response": {
                        "code": "40002",
                        "msg": "Invalid Arguments",
                        "sub_code": "isv.invalid-app-id",
                        "sub_msg": "无效的AppID参数",
                    }
                }
            )
        method = params.get("method", "")
        if not rsa_sha256_verify(
            self.keys.alipay_app_public,
            params.get("sign", ""),
            alipay_request_string(params).encode(),
        ):
            return self._answer(
                method,
                {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-signature",
                    "sub_msg": "验签出错",
                },
                gateway,
            )
        wrong_sns = _wrong_cert_sns(gateway.config, params)
        if wrong_sns:
            return self._answer(
                method,
                {
                    "code": "40002",
                    "msg": "Invalid Arguments",
                    "sub_code": "isv.invalid-cert-sn",
                    "sub_msg": f"{', '.join(wrong_sns)} 与证书不匹配",
                },
                gateway,
            )
        biz = json.loads(params.get("biz_content") or "{}")
        handlers = {
            self.QUERY: self._query,
            self.BILL: self._bill,
            self.REFUND: self._refund,
            self.REFUND_QUERY: self._refund_query,
        }
        if method not in handlers:
            return self._answer(
                method,
                {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "isv.invalid-method",
                    "sub_msg": "不存在的方法名",
                },
                gateway,
            )
        return self._answer(method, handlers[method](gateway, biz, request), gateway)

    def _answer(self, method: str, obj: Mapping[str, Any], gateway: SimGateway) -> SimResponse:
        """`{"<method>_response": {…}, "sign": …}`, signed over the object's exact text; in
        certificate mode it names the Alipay certificate it was signed with (`alipay_cert_sn`)."""
        text = compact_json(obj).decode()
        sign = rsa_sha256_sign(self.keys.alipay_platform_private, text.encode())
        cert = gateway.config.get("alipay_cert")
        named = f'"alipay_cert_sn":"{alipay_cert_sn(cert)}",' if cert else ""
        body = f'{{"{method.replace(".", "_")}_response":{text},{named}"sign":"{sign}"}}'
        return SimResponse(200, body.encode(), "application/json;charset=utf-8")

    def _query(
        self, gateway: SimGateway, biz: Mapping[str, Any], request: SimRequest
    ) -> dict[str, Any]:
        trade = alipay_queried_trade(self.book, gateway.channel, biz)
        if trade is None:
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_NOT_EXIST",
                "sub_msg": "交易不存在",
            }
        amount = to_major(trade.booked_minor, "CNY")
        answer = {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "total_amount": amount,
            "buyer_logon_id": "li***@qq.com",
            "trade_status": "TRADE_CLOSED",
        }
        if trade.paid_at:
            refunded = trade.refunded_minor >= trade.amount_minor
            answer.update(
                trade_status="TRADE_CLOSED" if refunded else "TRADE_SUCCESS",
                receipt_amount=amount,
                buyer_pay_amount=amount,
                invoice_amount=amount,
                point_amount="0.00",
                send_pay_date=_bj(trade.paid_at),
                buyer_user_id=trade.payer,
            )
        return answer

    def _refund(
        self, gateway: SimGateway, biz: Mapping[str, Any], request: SimRequest
    ) -> dict[str, Any]:
        """Synchronous: fund_change Y when the money moved now, N for a request number already
        refunded; a refund whose outcome is not known yet is ACQ.SYSTEM_ERROR (ask again)."""
        trade = _refunded_trade(
            self.book, gateway.channel, biz.get("trade_no"), biz.get("out_trade_no")
        )
        if trade is None:
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_NOT_EXIST",
                "sub_msg": "交易不存在",
            }
        try:
            record, outcome = self.desk.request(
                gateway.channel,
                trade,
                biz.get("out_request_no") or trade.out_trade_no,
                to_minor(biz["refund_amount"], "CNY"),
            )
        except RefundRefused as refused:
            sub_code = {"AMOUNT_TOO_LARGE": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"}.get(
                refused.code, f"ACQ.{refused.code}"
            )
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": sub_code,
                "sub_msg": refused.message,
            }
        if record.state != "SUCCESS":
            return {
                "code": "20000",
                "msg": "Service Currently Unavailable",
                "sub_code": "ACQ.SYSTEM_ERROR",
                "sub_msg": "系统错误",
            }
        return {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": "li***@qq.com",
            "fund_change": "N" if outcome == "repeat" else "Y",
            "refund_fee": to_major(trade.refunded_minor, "CNY"),
            "gmt_refund_pay": _bj(record.refund.at),
            "buyer_user_id": trade.payer,
        }

    def _refund_query(
        self, gateway: SimGateway, biz: Mapping[str, Any], request: SimRequest
    ) -> dict[str, Any]:
        """A refund Alipay has not taken (or not finished) is an answer without refund data."""
        trade = _refunded_trade(
            self.book, gateway.channel, biz.get("trade_no"), biz.get("out_trade_no")
        )
        if trade is None:
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_NOT_EXIST",
                "sub_msg": "交易不存在",
            }
        answer = {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
        }
        record = self.desk.find(gateway.channel, biz.get("out_request_no", ""))
        if record is None or record.state != "SUCCESS" or record.trade is not trade:
            return answer
        return {
            **answer,
            "out_request_no": record.refund.refund_no,
            "total_amount": to_major(trade.amount_minor, "CNY"),
            "refund_amount": to_major(record.refund.amount_minor, "CNY"),
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": _bj(record.refund.at),
        }

    def _bill(
        self, gateway: SimGateway, biz: Mapping[str, Any], request: SimRequest
    ) -> dict[str, Any]:
        if biz.get("bill_type") != "trade":
            return {
                "code": "40004",
                "msg": "Business Failed",
                "sub_code": "isp.bill_type_not_supported",
            }
        now = _now().replace(microsecond=0)  # the file states its end to the second
        day = date.fromisoformat(biz["bill_date"])
        entries = day_entries(self.book.of_channel(gateway.channel), day, now)
        token = self.downloads.put(alipay_bill_zip(entries, day, f"{gateway.seller_id}0156", now))
        return {
            "code": "10000",
            "msg": "Success",
            "bill_download_url": f"{request.base_url}/alipay/downloadBillFile.resource?fileId={token}",
        }

    def download(self, request: SimRequest) -> SimResponse:
        data = self.downloads.get(request.arg("fileId"))
        if data is None:
            return SimResponse(404, "链接已失效".encode(), "text/plain; charset=utf-8")
        return SimResponse(200, data, "application/zip")


# --- WeChat Pay ------------------------------------------------------------------------------


class WechatApi:
    _REFUND_STATUS = {"PROCESSING": "PROCESSING", "SUCCESS": "SUCCESS", "FAILED": "ABNORMAL"}

    def __init__(
        self,
        book: TradeBook,
        gateways: list[SimGateway],
        keys: SimKeys,
        bom: bool,
        desk: RefundDesk,
    ):
        self.book, self.keys, self.bom, self.desk = book, keys, bom, desk
        self.by_mchid = {gw.config["mchid"]: gw for gw in gateways}
        self.downloads = Downloads()

    def register(self, server: SimServer) -> None:
        routes: dict[str, Callable[[SimGateway, SimRequest], SimResponse]] = {
            "/v3/pay/transactions/out-trade-no/{out_trade_no}": self._query,
            "/v3/bill/tradebill": self._tradebill,
            "/v3/billdownload/file": self._download,
        }
        for path, handler in routes.items():
            server.route("/wechat", "GET", path, self._authenticated(handler))
        server.route(
            "/wechat",
            "GET",
            "/v3/refund/domestic/refunds/{out_refund_no}",
            self._authenticated(self._refund_query),
        )
        server.route(
            "/wechat", "POST", "/v3/refund/domestic/refunds", self._authenticated(self._refund)
        )

    def _refund_object(self, record: SimRefundRequest) -> dict[str, Any]:
        trade, refund = record.trade, record.refund
        return {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.refund_no,
            "transaction_id": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "status": self._REFUND_STATUS[record.state],
            "create_time": refund.at.astimezone(BEIJING).isoformat(timespec="seconds"),
            "amount": {
                "total": trade.amount_minor,
                "refund": refund.amount_minor,
                "payer_total": trade.amount_minor,
                "payer_refund": refund.amount_minor,
                "currency": trade.currency,
            },
        }

    def _refund(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        """Answers PROCESSING (or the request number's refund as it stands); the result is
        notified after the answer (REFUND.SUCCESS / REFUND.ABNORMAL)."""
        try:
            body = json.loads(request.body)
            amount, refund_no = body["amount"], body["out_refund_no"]
        except (ValueError, KeyError, TypeError):
            return self._answer(gateway, 400, {"code": "PARAM_ERROR", "message": "参数错误"})
        trade = _refunded_trade(
            self.book, gateway.channel, body.get("transaction_id"), body.get("out_trade_no")
        )
        if trade is None:
            return self._answer(
                gateway, 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
            )
        if amount.get("total") != trade.amount_minor:
            return self._answer(
                gateway,
                400,
                {"code": "PARAM_ERROR", "message": "订单金额与退款单中的订单金额不一致"},
            )
        try:
            record, outcome = self.desk.request(
                gateway.channel, trade, refund_no, int(amount.get("refund", 0))
            )
        except RefundRefused as refused:
            return self._answer(
                gateway, 400, {"code": "INVALID_REQUEST", "message": refused.message}
            )
        answer = self._answer(gateway, 200, self._refund_object(record))
        _after_answer(self.desk, record, outcome)
        return answer

    def _refund_query(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        record = self.desk.find(gateway.channel, request.params["out_refund_no"])
        if record is None:
            return self._answer(
                gateway, 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
            )
        return self._answer(gateway, 200, self._refund_object(record))

    def _authenticated(self, handler: Callable[[SimGateway, SimRequest], SimResponse]):
        def checked(request: SimRequest) -> SimResponse:
            gateway, problem = self._caller(request)
            if gateway is None:
                return self._answer(
                    next(iter(self.by_mchid.values()), None),
                    401,
                    {"code": "SIGN_ERROR", "message": problem},
                )
            return handler(gateway, request)

        return checked

    def _caller(self, request: SimRequest) -> tuple[SimGateway | None, str]:
        header = request.headers.get("Authorization", "")
        if not header.startswith(WECHAT_SCHEMA + " "):
            return None, "missing or unknown Authorization schema"
        fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
        gateway = self.by_mchid.get(fields.get("mchid", ""))
        if gateway is None or fields.get("serial_no") != gateway.config["merchant_serial_no"]:
            return None, "unknown mchid or merchant certificate serial"
        if (
            not fields.get("timestamp", "").isdigit()
            or abs(time.time() - int(fields["timestamp"])) > MAX_SKEW_S
        ):
            return None, "timestamp missing or too far off"
        target = request.target.removeprefix(
            "/wechat"
        )  # the API root is where the simulator mounts it
        message = (
            f"{request.method}\n{target}\n{fields['timestamp']}\n{fields.get('nonce_str', '')}\n".encode()
            + request.body
            + b"\n"
        )
        if not rsa_sha256_verify(
            self.keys.wechat_merchant_public, fields.get("signature", ""), message
        ):
            return None, "signature does not verify"
        return gateway, ""

    def _answer(
        self, gateway: SimGateway | None, status: int, obj: Mapping[str, Any]
    ) -> SimResponse:
        body = compact_json(obj)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": wechat_sign(
                self.keys.wechat_platform_private, timestamp, nonce, body
            ),
            "Wechatpay-Serial": gateway.config["platform_public_key_id"] if gateway else "",
            "Wechatpay-Signature-Type": WECHAT_SCHEMA,
            "Request-ID": secrets.token_hex(8),
        }
        return SimResponse(status, body, "application/json", headers)

    def _query(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        if request.arg("mchid") != gateway.config["mchid"]:
            return self._answer(
                gateway, 400, {"code": "PARAM_ERROR", "message": "mchid 与请求方不一致"}
            )
        trade = _first_trade(self.book, gateway.channel, request.params["out_trade_no"])
        if trade is None:
            return self._answer(gateway, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        return self._answer(gateway, 200, self._transaction(gateway, trade))

    def _transaction(self, gateway: SimGateway, trade: SimPayment) -> dict[str, Any]:
        amount = {"total": trade.booked_minor, "currency": trade.currency}
        base = {
            "appid": gateway.config["appid"],
            "mchid": gateway.config["mchid"],
            "out_trade_no": trade.out_trade_no,
            "trade_type": "NATIVE",
            "attach": "",
        }
        if not trade.paid_at:
            return {
                **base,
                "trade_state": "CLOSED",
                "trade_state_desc": "订单已关闭",
                "amount": amount,
            }
        state = "REFUND" if trade.refunded_minor else "SUCCESS"
        return {
            **base,
            "transaction_id": trade.trade_no,
            "trade_state": state,
            "trade_state_desc": "支付成功" if state == "SUCCESS" else "转入退款",
            "bank_type": "OTHERS",
            "success_time": trade.paid_at.astimezone(BEIJING).isoformat(timespec="seconds"),
            "payer": {"openid": trade.payer},
            "amount": {
                **amount,
                "payer_total": trade.booked_minor,
                "payer_currency": trade.currency,
            },
        }

    def _tradebill(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        if request.arg("bill_type", "ALL") != "ALL" or request.arg("tar_type") != "GZIP":
            return self._answer(
                gateway, 400, {"code": "PARAM_ERROR", "message": "仅支持 ALL 与 GZIP"}
            )
        now = _now()
        day = date.fromisoformat(request.arg("bill_date"))
        entries = day_entries(self.book.of_channel(gateway.channel), day, now)
        raw = wechat_bill_csv(entries, gateway.config["appid"], gateway.config["mchid"], self.bom)
        data, sha1 = gzip_with_sha1(raw)
        token = self.downloads.put(data)
        return self._answer(
            gateway,
            200,
            {
                "hash_type": "SHA1",
                "hash_value": sha1,
                "download_url": f"{request.base_url}/wechat/v3/billdownload/file?token={token}",
            },
        )

    def _download(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        data = self.downloads.get(request.arg("token"))
        if data is None:
            return self._answer(
                gateway, 404, {"code": "RESOURCE_NOT_EXISTS", "message": "账单文件不存在"}
            )
        return SimResponse(200, data, "application/octet-stream")


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


# --- Stripe ----------------------------------------------------------------------------------


class StripeApi:
    _ORDER_SEARCH = re.compile(r"metadata\['order_id'\]:'((?:[^'\\]|\\.)*)'")

    _REFUND_STATUS = {"PROCESSING": "pending", "SUCCESS": "succeeded", "FAILED": "failed"}

    def __init__(self, book: TradeBook, gateways: list[SimGateway], desk: RefundDesk):
        self.book, self.desk = book, desk
        self.by_key = {gw.config["api_key"]: gw for gw in gateways}

    def register(self, server: SimServer) -> None:
        routes = {
            "/v1/payment_intents/search": self._search,
            "/v1/payment_intents/{intent}": self._intent,
            "/v1/balance_transactions": self._balance_transactions,
        }
        for path, handler in routes.items():
            server.route("/stripe", "GET", path, self._authenticated(handler))
        server.route("/stripe", "POST", "/v1/refunds", self._authenticated(self._create_refund))
        server.route("/stripe", "GET", "/v1/refunds", self._authenticated(self._list_refunds))

    def _refund_object(self, gateway: SimGateway, record: SimRefundRequest) -> dict[str, Any]:
        return gateway.refund_object(
            record.trade, record.refund, self._REFUND_STATUS[record.state], record.metadata
        )

    def _create_refund(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        """POST /v1/refunds: one refund per `Idempotency-Key` (a retry gets the first one back)."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        trade = _refunded_trade(self.book, gateway.channel, form.get("payment_intent"), None)
        if trade is None:
            return SimResponse.json(
                {
                    "error": {
                        "code": "resource_missing",
                        "type": "invalid_request_error",
                        "message": "No such payment_intent",
                    }
                },
                400,
            )
        metadata = {
            k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")
        }
        key = request.headers.get("Idempotency-Key") or secrets.token_hex(12)
        amount = int(form.get("amount") or trade.amount_minor - trade.refunded_minor)
        try:
            record, outcome = self.desk.request(gateway.channel, trade, key, amount, metadata)
        except RefundRefused:
            return SimResponse.json(
                {
                    "error": {
                        "code": "amount_too_large",
                        "type": "invalid_request_error",
                        "message": "Refund amount is greater than unrefunded amount",
                    }
                },
                400,
            )
        answer = SimResponse.json(self._refund_object(gateway, record))
        _after_answer(self.desk, record, outcome)
        return answer

    def _list_refunds(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        intent = request.arg("payment_intent")
        found = [
            self._refund_object(gateway, r)
            for r in self.desk.requests()
            if r.channel == gateway.channel and r.trade.trade_no == intent
        ]
        return SimResponse.json(
            {"object": "list", "url": "/v1/refunds", "has_more": False, "data": found}
        )

    def _authenticated(self, handler: Callable[[SimGateway, SimRequest], SimResponse]):
        def checked(request: SimRequest) -> SimResponse:
            key = request.headers.get("Authorization", "").removeprefix("Bearer ")
            gateway = self.by_key.get(key)
            if gateway is None:
                return SimResponse.json(
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "Invalid API Key provided",
                        }
                    },
                    401,
                )
            return handler(gateway, request)

        return checked

    @staticmethod
    def _expands(request: SimRequest) -> list[str]:
        return request.query.get("expand[]", [])

    def _intent_object(self, trade: SimPayment, expand_charge: bool) -> dict[str, Any]:
        paid = trade.paid_at is not None
        charge = (
            {
                "id": trade.refs["charge"],
                "object": "charge",
                "amount": trade.booked_minor,
                "amount_refunded": trade.refunded_minor,
                "refunded": trade.refunded_minor >= trade.booked_minor,
                "created": int(trade.paid_at.timestamp()),
                "payment_intent": trade.trade_no,
                "metadata": {"order_id": trade.out_trade_no},
            }
            if paid
            else None
        )
        return {
            "id": trade.trade_no,
            "object": "payment_intent",
            "amount": trade.amount_minor,
            "amount_received": trade.booked_minor if paid else 0,
            "currency": trade.currency.lower(),
            "status": "succeeded" if paid else "canceled",
            "created": int(trade.created_at.timestamp()),
            "metadata": {"order_id": trade.out_trade_no},
            "client_secret": f"{trade.trade_no}_secret_sim",
            "latest_charge": charge if expand_charge or charge is None else charge["id"],
        }

    def _intent(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        trade = self.book.by_trade_no(gateway.channel, request.params["intent"])
        if trade is None or trade.trade_no != request.params["intent"]:
            return SimResponse.json(
                {
                    "error": {
                        "code": "resource_missing",
                        "type": "invalid_request_error",
                        "message": "No such payment_intent",
                    }
                },
                404,
            )
        return SimResponse.json(
            self._intent_object(trade, "latest_charge" in self._expands(request))
        )

    def _search(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        found = self._ORDER_SEARCH.fullmatch(request.arg("query").strip())
        if found is None:
            return SimResponse.json(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "only metadata['order_id']:'…' is simulated",
                    }
                },
                400,
            )
        out_trade_no = found.group(1).replace("\\'", "'")
        trades: Iterable[SimPayment] = [
            *self.book.paid(gateway.channel, out_trade_no),
            *filter(None, [self.book.closed(gateway.channel, out_trade_no)]),
        ]
        expand = "data.latest_charge" in self._expands(request)
        return SimResponse.json(
            {
                "object": "search_result",
                "url": "/v1/payment_intents/search",
                "has_more": False,
                "data": [self._intent_object(t, expand) for t in trades],
            }
        )

    def _balance_transactions(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        start = datetime.fromtimestamp(int(request.arg("created[gte]", "0")), UTC)
        end = datetime.fromtimestamp(
            int(request.arg("created[lt]", str(int(time.time()) + 1))), UTC
        )
        until = min(end, _now())
        entries = entries_between(self.book.of_channel(gateway.channel), start, until)
        items = stripe_balance_transactions(
            entries,
            "data.source" in self._expands(request),
            getattr(gateway, "settlement", None),
            (start, until),
        )
        after = request.arg("starting_after")
        if after:
            ids = [item["id"] for item in items]
            items = items[ids.index(after) + 1 :] if after in ids else []
        limit = min(int(request.arg("limit", "10")), 100)
        return SimResponse.json(
            {
                "object": "list",
                "url": "/v1/balance_transactions",
                "has_more": len(items) > limit,
                "data": items[:limit],
            }
        )
