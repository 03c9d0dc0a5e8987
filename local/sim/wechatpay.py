"""WeChat Pay (APIv3) as the simulator plays it: the notification (an AES-256-GCM resource in a
JSON envelope, `Wechatpay-*` signature headers), the API — order query, transaction by id (for
paytrack's lookup), trade bill with its download token, refund and refund query, each caller's
Authorization checked and each answer signed — and the bill CSV with its gzip and SHA-1.

A cross-border merchant (`settle_cross_border`) is also WeChat Pay Global: `/v3/global/…` order
query by out-trade-no and by id, refund and refund query, in the global shapes (the trade and the
refund named `id`, the buyer paying in CNY at `PAYER_CNY_RATES`), and the statement table.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from ..sim_model import (
    SimPayment,
    TradeBook,
    WireNotice,
    minor_digits,
    to_major,
)
from ..sim_refunds import RefundDesk, RefundRefused, SimRefundRequest
from ..sim_server import SimRequest, SimResponse, SimServer
from ..sim_signing import (
    compact_json,
    load_private_key,
    load_public_key,
    rsa_sha256_verify,
    wechat_encrypt,
    wechat_sign,
)
from .base import (
    BEIJING,
    MAX_SKEW_S,
    CrossBorder,
    Downloads,
    Entry,
    HttpCall,
    SimGateway,
    SimKeys,
    _after_answer,
    _alnum,
    _bj_moment,
    _bj_text,
    _digits,
    _first_trade,
    _now,
    _percent_of,
    _refunded_trade,
    _rfc3339,
    day_entries,
    forged_rsa_key,
    returned_fee,
    same_key,
)


class WechatPaySim(SimGateway):
    type_name = "wechatpay"
    sim_path = "/wechat"
    retry_delays_s = (
        15,
        15,
        30,
        180,
        600,
        1200,
        1800,
        1800,
        1800,
        3600,
        10800,
        10800,
        10800,
        21600,
        21600,
    )

    def __init__(self, channel, config, keys, options):
        super().__init__(channel, config, keys, options)
        self._key = keys.wechat_platform_private
        #: a cross-border merchant's settlement (`settle_cross_border`): trades in any currency
        self.cross_border: CrossBorder | None = None

    def settle_cross_border(self, cross_border: CrossBorder | None) -> None:
        self.cross_border = cross_border
        self.currencies = None if cross_border else type(self).currencies

    def new_trade_no(self, now):
        return f"42000{_digits(5)}{_bj_moment(now):%Y%m%d}{_digits(10)}"

    def trade_extras(self):
        return {"payer": "o" + _alnum(27)}

    def new_refund_id(self):
        return "50" + _digits(27)

    def fee_of(self, amount_minor, currency):
        return _percent_of(amount_minor, currency, "0.006", "0.00001")

    def payment_notice(self, trade, now, forged):
        plain = {
            "mchid": self.config["mchid"],
            "appid": self.config["appid"],
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.trade_no,
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": _rfc3339(trade.paid_at),
            "payer": {"openid": trade.payer},
            "amount": {
                "total": trade.amount_minor,
                "payer_total": trade.amount_minor,
                "currency": trade.currency,
                "payer_currency": trade.currency,
            },
        }
        return self._event("TRANSACTION.SUCCESS", "支付成功", "transaction", plain, now, forged)

    def refund_notice(self, trade, refund, refunded_minor, now, forged):
        plain = {
            "mchid": self.config["mchid"],
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.trade_no,
            "out_refund_no": refund.refund_no,
            "refund_id": refund.refund_id,
            "refund_status": "SUCCESS",
            "success_time": _rfc3339(now),
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": trade.amount_minor,
                "refund": refund.amount_minor,
                "payer_total": trade.amount_minor,
                "payer_refund": refund.amount_minor,
            },
        }
        return self._event("REFUND.SUCCESS", "退款成功", "refund", plain, now, forged)

    def refund_result_notice(self, trade, refund, succeeded, metadata, now):
        """REFUND.SUCCESS, or REFUND.ABNORMAL (the buyer's card or account cannot take it)."""
        notice = self.refund_notice(trade, refund, trade.refunded_minor, now, False)
        if succeeded:
            return notice
        plain = {
            "mchid": self.config["mchid"],
            "out_trade_no": trade.out_trade_no,
            "transaction_id": trade.trade_no,
            "out_refund_no": refund.refund_no,
            "refund_id": refund.refund_id,
            "refund_status": "ABNORMAL",
            "user_received_account": "招商银行信用卡0403",
            "amount": {
                "total": trade.amount_minor,
                "refund": refund.amount_minor,
                "payer_total": trade.amount_minor,
                "payer_refund": refund.amount_minor,
            },
        }
        return self._event("REFUND.ABNORMAL", "退款异常", "refund", plain, now, False)

    def _event(
        self,
        event_type: str,
        summary: str,
        original_type: str,
        plain: dict,
        now: datetime,
        forged: bool,
    ) -> WireNotice:
        nonce = _alnum(12)
        ciphertext = wechat_encrypt(
            self.config["apiv3_key"], compact_json(plain), nonce, original_type
        )
        body: dict[str, Any] = {
            "id": f"EV-{_bj_moment(now):%Y%m%d%H%M%S}{_digits(7)}",
            "create_time": _rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": original_type,
                "nonce": nonce,
            },
        }
        return WireNotice(body["id"], event_type, compact_json(body), forged)

    def http_call(self, notice, url, now):
        """Every attempt is signed at send time, so its timestamp is always fresh."""
        timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(16).upper()
        key = forged_rsa_key() if notice.forged else self._key
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Signature": wechat_sign(key, timestamp, nonce, notice.payload),
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.config["platform_public_key_id"],
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        return HttpCall("POST", url, headers, notice.payload)

    def accepted(self, status, body):
        return status in (200, 204)

    @staticmethod
    def key_checks(
        config: Mapping[str, Any], keys: SimKeys
    ) -> list[tuple[str, Callable[[], bool]]]:
        return [
            (
                "platform_public_key",
                lambda: same_key(
                    load_public_key(config["platform_public_key"]),
                    keys.wechat_platform_private.public_key(),
                ),
            ),
            (
                "merchant_private_key",
                lambda: same_key(
                    load_private_key(config["merchant_private_key"]).public_key(),
                    keys.wechat_merchant_public,
                ),
            ),
        ]

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
        api = WechatApi(book, gateways, keys, options.get("wechat_bill_bom", True), desk)
        api.register(server)
        server.route(
            "/wechat",
            "GET",
            "/v3/pay/transactions/id/{transaction_id}",
            api._authenticated(lambda gateway, request: _wechat_transaction(api, gateway, request)),
        )


WECHAT_SCHEMA = "WECHATPAY2-SHA256-RSA2048"

#: what a mainland buyer pays, in CNY, for one unit of a cross-border trade's currency (the
#: simulator's fixed rates); a trade in CNY or in another currency is paid as priced
PAYER_CNY_RATES = {
    "USD": Decimal("7.1"),
    "HKD": Decimal("0.91"),
    "EUR": Decimal("7.7"),
    "JPY": Decimal("0.047"),
}
#: WeChat Pay Global states `exchange_rate.rate` as an integer: the rate times 10^8
RATE_SCALE = 10**8


def payer_side(minor: int, currency: str) -> tuple[int, str, dict[str, Any]]:
    """(the buyer's amount, their currency, `exchange_rate`) of `minor` priced in `currency`."""
    rate = PAYER_CNY_RATES.get(currency)
    if rate is None:
        return minor, currency, {"type": "SETTLEMENT_RATE", "rate": RATE_SCALE}
    major = Decimal(minor).scaleb(-minor_digits(currency)) * rate
    paid = major.scaleb(minor_digits("CNY")).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(paid), "CNY", {"type": "SETTLEMENT_RATE", "rate": int(rate * RATE_SCALE)}


# --- WeChat Pay ------------------------------------------------------------------------------


class WechatApi:
    _REFUND_STATUS: ClassVar[dict[str, str]] = {
        "PROCESSING": "PROCESSING",
        "SUCCESS": "SUCCESS",
        "FAILED": "ABNORMAL",
    }

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
            "/v3/global/statements": self._global_statements,
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
        global_routes: dict[tuple[str, str], Callable[[SimGateway, SimRequest], SimResponse]] = {
            ("GET", "/v3/global/transactions/out-trade-no/{out_trade_no}"): self._global_query,
            ("GET", "/v3/global/transactions/id/{id}"): self._global_transaction,
            ("POST", "/v3/global/refunds"): self._global_refund,
            ("GET", "/v3/global/refunds/out-refund-no/{out_refund_no}"): self._global_refund_query,
        }
        for (method, path), handler in global_routes.items():
            server.route("/wechat", method, path, self._authenticated(self._cross_border(handler)))

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

    # --- WeChat Pay Global (a cross-border merchant) ---------------------------------------

    def _cross_border(
        self, handler: Callable[[SimGateway, SimRequest], SimResponse]
    ) -> Callable[[SimGateway, SimRequest], SimResponse]:
        """Only a cross-border merchant's channel has the global API; the others are refused."""

        def checked(gateway: SimGateway, request: SimRequest) -> SimResponse:
            if getattr(gateway, "cross_border", None) is None:
                return self._answer(
                    gateway, 403, {"code": "NO_AUTH", "message": "商户未开通境外支付权限"}
                )
            wanted = request.arg("mchid") if request.method == "GET" else None
            if wanted is not None and wanted != gateway.config["mchid"]:
                return self._answer(
                    gateway, 400, {"code": "PARAM_ERROR", "message": "mchid 与请求方不一致"}
                )
            return handler(gateway, request)

        return checked

    def _global_query(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        trade = _first_trade(self.book, gateway.channel, request.params["out_trade_no"])
        if trade is None:
            return self._answer(gateway, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        return self._answer(gateway, 200, self._global_transaction_object(gateway, trade))

    def _global_transaction(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        trade = self.book.by_trade_no(gateway.channel, request.params["id"])
        if trade is None or trade.trade_no != request.params["id"] or not trade.paid_at:
            return self._answer(gateway, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
        return self._answer(gateway, 200, self._global_transaction_object(gateway, trade))

    def _global_transaction_object(self, gateway: SimGateway, trade: SimPayment) -> dict[str, Any]:
        """The domestic answer in the global shape: the trade named `id`, priced in the trade's
        currency (`currency`), paid by the buyer in CNY (`payer_total`, `exchange_rate`)."""
        answer = self._transaction(gateway, trade)
        trade_id = answer.pop("transaction_id", None)
        if trade_id is not None:
            answer["id"] = trade_id
        paid, payer_currency, rate = payer_side(trade.booked_minor, trade.currency)
        answer["amount"] = {
            "total": trade.booked_minor,
            "currency": trade.currency,
            "payer_total": paid,
            "payer_currency": payer_currency,
            "exchange_rate": rate,
        }
        return answer

    def _global_refund(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        """申请退款 (global): the body names the merchant; the answer carries no status (the
        refund's fate is asked for, or notified)."""
        try:
            body = json.loads(request.body)
            account = (body["mchid"], body["appid"])
            currency = body["amount"]["currency"]
        except (ValueError, KeyError, TypeError):
            return self._answer(gateway, 400, {"code": "PARAM_ERROR", "message": "参数错误"})
        if account != (gateway.config["mchid"], gateway.config["appid"]):
            return self._answer(
                gateway, 400, {"code": "PARAM_ERROR", "message": "mchid 或 appid 与请求方不一致"}
            )
        trade = _refunded_trade(
            self.book, gateway.channel, body.get("transaction_id"), body.get("out_trade_no")
        )
        if trade is not None and currency != trade.currency:
            return self._answer(
                gateway, 400, {"code": "PARAM_ERROR", "message": "退款币种与订单标价币种不一致"}
            )
        answer = self._refund(gateway, request)
        if answer.status != 200:
            return answer
        record = self.desk.find(gateway.channel, body["out_refund_no"])
        assert record is not None
        refund = self._global_refund_object(record)
        accepted = {k: refund[k] for k in ("id", "out_refund_no", "create_time", "amount")}
        return self._answer(gateway, 200, accepted)

    def _global_refund_query(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        record = self.desk.find(gateway.channel, request.params["out_refund_no"])
        if record is None:
            return self._answer(
                gateway, 404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}
            )
        return self._answer(gateway, 200, self._global_refund_object(record))

    def _global_refund_object(self, record: SimRefundRequest) -> dict[str, Any]:
        trade, refund = record.trade, record.refund
        paid, payer_currency, rate = payer_side(refund.amount_minor, trade.currency)
        answer: dict[str, Any] = {
            "id": refund.refund_id,
            "out_refund_no": refund.refund_no,
            "transaction_id": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "channel": "ORIGINAL",
            "recv_account": "支付用户零钱",
            "fund_source": "REFUND_SOURCE_UNSETTLED_FUNDS",
            "create_time": refund.at.astimezone(BEIJING).isoformat(timespec="seconds"),
            "status": self._REFUND_STATUS[record.state],
            "amount": {
                "refund": refund.amount_minor,
                "currency": trade.currency,
                "payer_refund": paid,
                "payer_currency": payer_currency,
                "exchange_rate": rate,
            },
        }
        if record.state == "SUCCESS":
            answer["success_time"] = answer["create_time"]
        return answer

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

    def _global_statements(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        """The cross-border 下载对账单: the table itself, signed, its SHA-1 in a header."""
        if request.arg("mchid") != gateway.config["mchid"]:
            return self._answer(
                gateway, 400, {"code": "PARAM_ERROR", "message": "mchid 与请求方不一致"}
            )
        now = _now()
        day = datetime.strptime(request.arg("date"), "%Y%m%d").date()
        entries = day_entries(self.book.of_channel(gateway.channel), day, now)
        settlement = getattr(gateway, "cross_border", None)
        raw = wechat_global_csv(
            entries, gateway.config["appid"], gateway.config["mchid"], settlement
        )
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": wechat_sign(
                self.keys.wechat_platform_private, timestamp, nonce, raw
            ),
            "Wechatpay-Serial": gateway.config["platform_public_key_id"],
            "Wechatpay-Signature-Type": WECHAT_SCHEMA,
            "Wechatpay-Statement-Sha1": hashlib.sha1(raw).hexdigest(),
        }
        return SimResponse(200, raw, "text/plain; charset=utf-8", headers)

    def _download(self, gateway: SimGateway, request: SimRequest) -> SimResponse:
        data = self.downloads.get(request.arg("token"))
        if data is None:
            return self._answer(
                gateway, 404, {"code": "RESOURCE_NOT_EXISTS", "message": "账单文件不存在"}
            )
        return SimResponse(200, data, "application/octet-stream")


def _wechat_transaction(api: WechatApi, gateway: SimGateway, request: SimRequest) -> SimResponse:
    if request.arg("mchid") != gateway.config["mchid"]:
        return api._answer(gateway, 400, {"code": "PARAM_ERROR", "message": "mchid 与请求方不一致"})
    transaction_id = request.params["transaction_id"]
    trade = api.book.by_trade_no(gateway.channel, transaction_id)
    if trade is None or trade.trade_no != transaction_id or not trade.paid_at:
        return api._answer(gateway, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    return api._answer(gateway, 200, api._transaction(gateway, trade))


WECHAT_HEADER = (
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
)
WECHAT_SUMMARY_HEADER = (
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
)


_WECHAT_FEE_DIGITS = Decimal("0.00001")


# --- WeChat Pay: backticked CSV, summary row, GZIP + SHA-1 --------------------------------------


def _wechat_row(entry: Entry, appid: str, mchid: str) -> list[str]:
    trade, refund = entry.trade, entry.refund
    if refund:
        fee = f"-{returned_fee(entry, _WECHAT_FEE_DIGITS)}"
        values = [
            _bj_text(entry.at),
            appid,
            mchid,
            "0",
            "",
            trade.trade_no,
            trade.out_trade_no,
            trade.payer,
            "NATIVE",
            "REFUND",
            "OTHERS",
            trade.currency,
            "0.00",
            "0.00",
            refund.refund_id,
            refund.refund_no,
            entry.amount,
            "0.00",
            "ORIGINAL",
            "SUCCESS",
            trade.subject,
            "",
            fee,
            "0.60%",
            "0.00",
            entry.amount,
            "",
        ]
    else:
        values = [
            _bj_text(entry.at),
            appid,
            mchid,
            "0",
            "",
            trade.trade_no,
            trade.out_trade_no,
            trade.payer,
            "NATIVE",
            "SUCCESS",
            "OTHERS",
            trade.currency,
            entry.amount,
            "0.00",
            "0",
            "0",
            "0.00",
            "0.00",
            "",
            "",
            trade.subject,
            "",
            f"{trade.fee.quantize(_WECHAT_FEE_DIGITS)}",
            "0.60%",
            entry.amount,
            "0.00",
            "",
        ]
    return ["`" + v for v in values]


def wechat_bill_csv(entries: list[Entry], appid: str, mchid: str, bom: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WECHAT_HEADER)
    writer.writerows(_wechat_row(e, appid, mchid) for e in entries)
    payments = [e for e in entries if e.kind == "payment"]
    refunds = [e for e in entries if e.kind == "refund"]
    fees = sum((e.trade.fee.quantize(_WECHAT_FEE_DIGITS) for e in payments), Decimal(0)) - sum(
        (returned_fee(e, _WECHAT_FEE_DIGITS) for e in refunds), Decimal(0)
    )
    paid = to_major(sum(e.amount_minor for e in payments), "CNY")
    returned = to_major(sum(e.amount_minor for e in refunds), "CNY")
    writer.writerow(WECHAT_SUMMARY_HEADER)
    writer.writerow(
        [
            "`" + v
            for v in (
                str(len(entries)),
                paid,
                returned,
                "0.00",
                f"{fees.quantize(_WECHAT_FEE_DIGITS)}",
                paid,
                returned,
            )
        ]
    )
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode("utf-8")


#: WeChat Pay Global's 下载对账单 header (/v3/global/statements)
WECHAT_GLOBAL_HEADER = (
    "交易时间",
    "公众账号ID",
    "商户号",
    "子商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "充值券币种",
    "充值券金额",
    "优惠券币种",
    "优惠券金额",
    "微信退款单号",
    "商户退款单号",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "标价币种",
    "订单金额(标价币种)",
    "用户支付币种",
    "用户支付金额",
    "结算币种",
    "应结订单金额",
    "支付汇率",
    "退款汇率",
    "申请退款金额",
    "用户退款币种",
    "用户退款金额",
    "退款结算币种",
    "退款应结订单金额",
    "充值券退款金额",
    "优惠券退款金额",
)


def _wechat_global_row(
    entry: Entry, appid: str, mchid: str, settlement: CrossBorder | None
) -> list[str]:
    """One row of a cross-border statement: priced in the trade's currency, settled in the
    merchant's (converted at its rate), the fee 0.6% of the settled amount with five decimals."""
    trade, refund = entry.trade, entry.refund
    currency = settlement.currency if settlement else trade.currency
    settled_minor, rate = (
        settlement.convert(entry.amount_minor, trade.currency)
        if settlement
        else (entry.amount_minor, None)
    )
    settled = to_major(settled_minor, currency)
    fee = _percent_of(settled_minor, currency, "0.006", "0.00001")
    rate_text = f"{rate}" if rate is not None else ""
    values = [
        _bj_text(entry.at),
        appid,
        mchid,
        "",
        "",
        trade.trade_no,
        trade.out_trade_no,
        trade.payer,
        "NATIVE",
        "REFUND" if refund else "SUCCESS",
        "OTHERS",
        "",
        "0.00",
        "",
        "0.00",
        refund.refund_id if refund else "",
        refund.refund_no if refund else "",
        "ORIGINAL" if refund else "",
        "SUCCESS" if refund else "",
        trade.subject,
        "",
        f"-{fee}" if refund else f"{fee}",
        "0.60%",
        trade.currency,
        trade.amount if refund else entry.amount,
        "CNY",
        "",
        currency,
        "" if refund else settled,
        rate_text,
        rate_text if refund else "",
        entry.amount if refund else "",
        "CNY" if refund else "",
        "",
        currency if refund else "",
        settled if refund else "",
        "0.00" if refund else "",
        "0.00" if refund else "",
    ]
    return ["`" + v for v in values]


def wechat_global_csv(
    entries: list[Entry], appid: str, mchid: str, settlement: CrossBorder | None
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WECHAT_GLOBAL_HEADER)
    writer.writerows(_wechat_global_row(e, appid, mchid, settlement) for e in entries)
    return out.getvalue().encode("utf-8")


def gzip_with_sha1(raw: bytes) -> tuple[bytes, str]:
    """The download (GZIP) and the hash_value the bill API announces (SHA-1 of the CSV)."""
    return gzip.compress(raw, mtime=0), hashlib.sha1(raw).hexdigest()
