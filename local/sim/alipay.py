"""Alipay as the simulator plays it: the asynchronous notification (an RSA2-signed form POST),
the OpenAPI — order query (by out_trade_no, or by trade_no for paytrack's lookup), bill download
URL, refund and refund query, each request's signature checked and each answer signed over the
response object's text (public-key or certificate mode) — and the bill: a ZIP of two GBK CSVs.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

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
    alipay_cert_sn,
    alipay_request_string,
    alipay_root_cert_sn,
    alipay_sign,
    compact_json,
    load_private_key,
    load_public_key,
    rsa_sha256_sign,
    rsa_sha256_verify,
)
from .base import (
    _FEN,
    BEIJING,
    FORM,
    Downloads,
    Entry,
    HttpCall,
    SimGateway,
    SimKeys,
    _alipay_time,
    _bj_moment,
    _bj_text,
    _cn_time,
    _digits,
    _now,
    _percent_of,
    _refunded_trade,
    day_bounds,
    day_entries,
    forged_rsa_key,
    returned_fee,
    same_key,
)


class AlipaySim(SimGateway):
    type_name = "alipay"
    url_field = "gateway_url"
    sim_path = "/alipay/gateway.do"
    retry_delays_s = (240, 600, 600, 3600, 7200, 21600, 54000)

    def __init__(self, channel, config, keys, options):
        super().__init__(channel, config, keys, options)
        self._key = keys.alipay_platform_private
        self._seller_id = config.get("seller_id") or "2088" + _digits(12)

    def new_trade_no(self, now):
        return f"{_bj_moment(now):%Y%m%d}22001{_digits(15)}"

    def trade_extras(self):
        return {"payer": "2088" + _digits(12)}

    def fee_of(self, amount_minor, currency):
        return _percent_of(amount_minor, currency, "0.006", "0.01")

    @property
    def seller_id(self) -> str:
        return self._seller_id

    def payment_notice(self, trade, now, forged):
        return self._notice(
            {**self._paid_fields(trade), "trade_status": "TRADE_SUCCESS"}, now, forged
        )

    def refund_notice(self, trade, refund, refunded_minor, now, forged):
        """Partial: still TRADE_SUCCESS; full: TRADE_CLOSED. `refund_fee` is the running total."""
        full = refunded_minor == trade.amount_minor
        fields = {
            **self._paid_fields(trade),
            "trade_status": "TRADE_CLOSED" if full else "TRADE_SUCCESS",
            "refund_fee": to_major(refunded_minor, "CNY"),
            "gmt_refund": _alipay_time(now),
            "out_biz_no": refund.refund_no,
        }
        if full:
            fields["gmt_close"] = _alipay_time(now)
        return self._notice(fields, now, forged)

    def close_notice(self, trade, now, forged):
        fields = {
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "subject": trade.subject,
            "total_amount": trade.amount,
            "gmt_create": _alipay_time(trade.created_at),
            "gmt_close": _alipay_time(now),
            "trade_status": "TRADE_CLOSED",
        }
        return self._notice(fields, now, forged)

    def _paid_fields(self, trade: SimPayment) -> dict[str, str]:
        amount = trade.amount
        return {
            "out_trade_no": trade.out_trade_no,
            "trade_no": trade.trade_no,
            "subject": trade.subject,
            "buyer_id": trade.payer,
            "total_amount": amount,
            "receipt_amount": amount,
            "buyer_pay_amount": amount,
            "invoice_amount": amount,
            "point_amount": "0.00",
            "fund_bill_list": compact_json(
                [{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}]
            ).decode(),
            "gmt_create": _alipay_time(trade.created_at),
            "gmt_payment": _alipay_time(trade.paid_at) if trade.paid_at else "",
        }

    def _notice(self, fields: dict[str, str], now: datetime, forged: bool) -> WireNotice:
        app_id = self.config["app_id"]
        params = {
            "notify_id": f"{_bj_moment(now):%Y%m%d}00222{_digits(21)}",
            "notify_time": _alipay_time(now),
            "notify_type": "trade_status_sync",
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "app_id": app_id,
            "auth_app_id": app_id,
            "seller_id": self._seller_id,
            **fields,
        }
        params["sign"] = alipay_sign(params, forged_rsa_key() if forged else self._key)
        return WireNotice(
            params["notify_id"], params["trade_status"], urlencode(params).encode(), forged
        )

    def http_call(self, notice, url, now):
        return HttpCall("POST", url, {"Content-Type": FORM}, notice.payload)

    def accepted(self, status, body):
        return body == "success"

    @staticmethod
    def key_checks(
        config: Mapping[str, Any], keys: SimKeys
    ) -> list[tuple[str, Callable[[], bool]]]:
        gateway_field = "alipay_cert" if "alipay_cert" in config else "alipay_public_key"
        return [
            (
                gateway_field,
                lambda: same_key(
                    load_public_key(config[gateway_field]),
                    keys.alipay_platform_private.public_key(),
                ),
            ),
            (
                "app_private_key",
                lambda: same_key(
                    load_private_key(config["app_private_key"]).public_key(), keys.alipay_app_public
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
        AlipayApi(book, gateways, keys, desk).register(server)


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
                send_pay_date=_bj_text(trade.paid_at),
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
            "gmt_refund_pay": _bj_text(record.refund.at),
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
            "gmt_refund_pay": _bj_text(record.refund.at),
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
        if not isinstance(gateway, AlipaySim):
            raise TypeError(f"{gateway.channel} is not an Alipay channel")
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


def alipay_queried_trade(
    book: TradeBook, channel: str, biz: Mapping[str, Any]
) -> SimPayment | None:
    """`alipay.trade.query` names the trade by `trade_no` (Alipay's) or by `out_trade_no`; Alipay
    reads `trade_no` first when both are given."""
    if biz.get("trade_no"):
        trade = book.by_trade_no(channel, biz["trade_no"])
        return trade if trade is not None and trade.trade_no == biz["trade_no"] else None
    paid = book.paid(channel, biz.get("out_trade_no", ""))
    return paid[0] if paid else book.closed(channel, biz.get("out_trade_no", ""))


ALIPAY_DETAIL_HEADER = (
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
)


# --- Alipay: ZIP of two GBK CSVs ----------------------------------------------------------------


class _GbkNamedInfo(zipfile.ZipInfo):
    """Alipay writes GBK file names without the UTF-8 flag; zipfile would write UTF-8 with it."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits


def _alipay_row(entry: Entry) -> list[str]:
    trade, refund = entry.trade, entry.refund
    sign = "-" if refund else ""
    fee = returned_fee(entry, _FEN) if refund else trade.fee.quantize(_FEN)
    buyer = f"{trade.payer[:3]}***" if trade.payer else ""
    return [
        f"{trade.trade_no}\t",
        f"{trade.out_trade_no}\t",
        "退款" if refund else "交易",
        trade.subject,
        _bj_text(trade.created_at),
        _bj_text(entry.at),
        "",
        "",
        "",
        "",
        buyer,
        f"{sign}{entry.amount}",
        f"{sign}{entry.amount}",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "",
        "0.00",
        "0.00",
        f"{refund.refund_no}\t" if refund else "",
        f"{sign}{fee}",
        "0.00",
        "",
    ]


def alipay_detail_csv(entries: list[Entry], day: date, account: str, made_at: datetime) -> str:
    start, end = day_bounds(day)
    out = io.StringIO()
    out.write(
        f"#支付宝业务明细查询\r\n#账号：[{account}]\r\n"
        f"#起始日期：[{_cn_time(start)}]   终止日期：[{_cn_time(min(end, made_at))}]\r\n"
        f"#-----------------------------------------业务明细列表----------------------------------------\r\n"
    )
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ALIPAY_DETAIL_HEADER)
    writer.writerows(_alipay_row(e) for e in entries)
    payments = [e for e in entries if e.kind == "payment"]
    refunds = [e for e in entries if e.kind == "refund"]
    paid = to_major(sum(e.amount_minor for e in payments), "CNY")
    returned = to_major(sum(e.amount_minor for e in refunds), "CNY")
    out.write(
        "#-----------------------------------------业务明细列表结束------------------------------------\r\n"
        f"#交易合计：{len(payments)}笔，商家实收共{paid}元，商家优惠共0.00元\r\n"
        f"#退款合计：{len(refunds)}笔，商家实收共{'-' if refunds else ''}{returned}元，商家优惠共0.00元\r\n"
        f"#导出时间：[{_cn_time(made_at)}]\r\n"
    )
    return out.getvalue()


def alipay_summary_csv(entries: list[Entry], day: date, account: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["#支付宝业务汇总查询"])
    writer.writerow(
        [
            "门店编号",
            "门店名称",
            "交易订单总笔数",
            "退款订单总笔数",
            "订单金额（元）",
            "商家实收（元）",
        ]
    )
    payments = [e for e in entries if e.kind == "payment"]
    refunds = [e for e in entries if e.kind == "refund"]
    net = sum(e.amount_minor for e in payments) - sum(e.amount_minor for e in refunds)
    writer.writerow(
        ["", "合计", len(payments), len(refunds), to_major(net, "CNY"), to_major(net, "CNY")]
    )
    return out.getvalue()


def alipay_bill_zip(entries: list[Entry], day: date, account: str, made_at: datetime) -> bytes:
    stem = f"{account}_{day:%Y%m%d}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (
            (f"{stem}_业务明细.csv", alipay_detail_csv(entries, day, account, made_at)),
            (f"{stem}_业务明细(汇总).csv", alipay_summary_csv(entries, day, account)),
        ):
            info = _GbkNamedInfo(name, date_time=made_at.astimezone(BEIJING).timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("gbk"))
    return buffer.getvalue()
