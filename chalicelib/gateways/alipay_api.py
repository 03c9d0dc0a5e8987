"""Alipay OpenAPI calls: `alipay.trade.query` (补单), the trade bill download (对账) and the refund
with its query (退款).

Requests are RSA2-signed with the app's private key (sorted `k=v` of every non-empty parameter
but `sign`); answers carry `sign` over the exact JSON text of the `…_response` object, verified
with Alipay's public key before anything in them is believed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes

from ..domain.lookup import GatewayTrade
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind, NoticeSource
from ..domain.query import QueryResult, QueryStatus, query_dedupe_key
from ..domain.refunds import RefundAnswer, RefundCall, RefundState
from ..domain.statement import (
    BEIJING,
    Statement,
    StatementNotReady,
    StatementUnparseable,
    beijing_time,
    read_at,
)
from . import alipay_bill
from ._http import GatewayHttp, invalid_answer, readable
from ._signing import config_value, rsa_private_key, rsa_sign, rsa_verify
from .alipay_cert import alipay_cert_sn, alipay_public_key, cert_mode, request_cert_sns
from .base import CallContext

GATEWAY = "alipay"
QUERY = "alipay.trade.query"
BILL_URL = "alipay.data.dataservice.bill.downloadurl.query"
_PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
_NOT_EXIST = "ACQ.TRADE_NOT_EXIST"
_NO_BILL = ("isp.bill_not_exist", "isp.bill_not_ready")


def string_to_sign(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")


def signed_request(
    config: Mapping[str, Any],
    method: str,
    biz_content: Mapping[str, str | list[str]],
    now: datetime,
) -> dict[str, str]:
    """The common request parameters of an OpenAPI call, signed (RSA2); in certificate mode they
    carry `app_cert_sn` and `alipay_root_cert_sn`, which the signature covers too."""
    params = {
        "app_id": config_value(config, "app_id"),
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "version": "1.0",
        "timestamp": f"{now.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}",
        "biz_content": json.dumps(biz_content, separators=(",", ":"), ensure_ascii=False),
        **request_cert_sns(config),
    }
    key = rsa_private_key(config, "app_private_key")
    params["sign"] = rsa_sign(key, string_to_sign(params).encode("utf-8"), hashes.SHA256())
    return params


def raw_member(text: str, name: str) -> str | None:
    """The exact text of the top-level member `name` (an object): what Alipay's `sign` covers."""
    found = re.search(rf'"{re.escape(name)}"\s*:\s*(?=\{{)', text)
    if found is None:
        return None
    _, end = json.JSONDecoder().raw_decode(text, found.end())
    return text[found.end() : end]


def verified_answer(text: str, method: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The `…_response` object of an answer whose signature verifies with Alipay's key."""
    document = json.loads(text)
    if "error_response" in document:
        error = document["error_response"]
        raise invalid_answer(
            method, f"gateway error {error.get('code')} {error.get('sub_code', '')}".strip()
        )
    raw = raw_member(text, method.replace(".", "_") + "_response")
    sign = document.get("sign")
    if raw is None or not isinstance(sign, str):
        raise invalid_answer(method, "unsigned answer")
    _check_signing_cert(document, method, config)
    if not rsa_verify(alipay_public_key(config), sign, raw.encode("utf-8"), hashes.SHA256()):
        raise invalid_answer(method, "the answer's signature does not verify")
    answer: dict[str, Any] = json.loads(raw)  # the signed text is a JSON object (`{` matched)
    return answer


def _check_signing_cert(
    document: Mapping[str, Any], method: str, config: Mapping[str, Any]
) -> None:
    """In certificate mode an answer names the Alipay certificate it was signed with: another one
    than the channel holds means Alipay has rotated its certificate."""
    named = document.get("alipay_cert_sn")
    if cert_mode(config) and named and named != alipay_cert_sn(config):
        raise invalid_answer(
            method,
            f"signed with Alipay certificate {str(named)[:64]}, not the channel's "
            "alipay_cert: download Alipay's new public key certificate",
        )


def _call(
    config: Mapping[str, Any],
    method: str,
    biz_content: Mapping[str, str | list[str]],
    http: GatewayHttp,
    now: datetime,
) -> dict[str, Any]:
    response = http.call(
        "POST",
        config_value(config, "gateway_url"),
        method,
        data=signed_request(config, method, biz_content, now),
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
    )
    if response.status_code != 200:
        raise invalid_answer(method, f"HTTP {response.status_code}")
    with readable(method):
        return verified_answer(response.content.decode("utf-8"), method, config)


# ------------------------------------------------------------------ 补单


def query(ctx: CallContext, out_trade_no: str, trade_no: str | None = None) -> QueryResult:
    """Asked by the order number; the trade number, when known, is not needed."""
    config, channel, http, now = ctx.config, ctx.channel, ctx.http, ctx.now
    answer = _call(config, QUERY, {"out_trade_no": out_trade_no}, http, now)
    code, sub_code = answer.get("code"), answer.get("sub_code")
    if code == "40004" and sub_code == _NOT_EXIST:
        return QueryResult(QueryStatus.NOT_FOUND, _NOT_EXIST)
    if code != "10000":
        raise invalid_answer(QUERY, f"code {code} {sub_code or ''}".strip())
    with readable(QUERY):
        if answer["out_trade_no"] != out_trade_no:
            raise invalid_answer(QUERY, "the answer names another order")
        return _result(answer, channel)


def _result(answer: Mapping[str, Any], channel: str) -> QueryResult:
    status = answer["trade_status"]
    if status in _PAID:
        return QueryResult(QueryStatus.PAID, status, _notice(answer, channel, NoticeKind.PAYMENT))
    if status == "TRADE_CLOSED" and answer.get("send_pay_date"):
        return QueryResult(QueryStatus.REFUNDED, status, _notice(answer, channel, NoticeKind.INFO))
    if status == "TRADE_CLOSED":
        return QueryResult(QueryStatus.CLOSED, status, _notice(answer, channel, NoticeKind.CLOSED))
    if status == "WAIT_BUYER_PAY":
        return QueryResult(QueryStatus.NOT_PAID, status)
    raise invalid_answer(QUERY, f"unknown trade_status {status}")


def _notice(answer: Mapping[str, Any], channel: str, kind: NoticeKind) -> Notice:
    trade_no, status = answer["trade_no"], answer["trade_status"]
    paid_at = answer.get("send_pay_date")
    received = answer.get("receipt_amount")
    return Notice(
        channel=channel,
        gateway=GATEWAY,
        kind=kind,
        dedupe_key=query_dedupe_key(channel, trade_no, status),
        out_trade_no=answer["out_trade_no"],
        trade_no=trade_no,
        amount=Money.parse(answer["total_amount"], "CNY"),
        gateway_status=status,
        event_time=beijing_time(paid_at) if paid_at else None,
        raw=dict(answer),
        payment_ref=trade_no,
        received=Money.parse(received, "CNY") if received else None,
        method="alipay",
        payer=answer.get("buyer_user_id") or answer.get("buyer_logon_id"),
        source=NoticeSource.QUERY,
    )


# ------------------------------------------------------------------ a payment by Alipay's trade number


def find_trade(ctx: CallContext, trade_no: str) -> GatewayTrade | None:
    """`alipay.trade.query` by Alipay's `trade_no` (the buyer's receipt): the trade, or None."""
    config, channel, http, now = ctx.config, ctx.channel, ctx.http, ctx.now
    answer = _call(config, QUERY, {"trade_no": trade_no}, http, now)
    code, sub_code = answer.get("code"), answer.get("sub_code")
    if code == "40004" and sub_code == _NOT_EXIST:
        return None
    if code != "10000":
        raise invalid_answer(QUERY, f"code {code} {sub_code or ''}".strip())
    with readable(QUERY):
        if answer["trade_no"] != trade_no:
            raise invalid_answer(QUERY, "the answer names another trade")
        status = _result(answer, channel).status
        paid_at = answer.get("send_pay_date")
        return GatewayTrade(
            channel,
            trade_no,
            answer["out_trade_no"],
            status,
            answer["trade_status"],
            Money.parse(answer["total_amount"], "CNY"),
            beijing_time(paid_at) if paid_at else None,
        )


# ------------------------------------------------------------------ 对账


def fetch_bill(ctx: CallContext, day: date) -> Statement:
    """Ask for the day's bill URL (valid about 30 s), download the ZIP, parse its detail file."""
    config, channel, http, now = ctx.config, ctx.channel, ctx.http, ctx.now
    answer = _call(
        config, BILL_URL, {"bill_type": "trade", "bill_date": day.isoformat()}, http, now
    )
    if answer.get("code") == "40004" and answer.get("sub_code") in _NO_BILL:
        raise StatementNotReady(
            f"Alipay has no trade bill for {day} ({answer.get('sub_code')})",
            {"channel": channel, "date": day.isoformat()},
        )
    if answer.get("code") != "10000" or not answer.get("bill_download_url"):
        raise invalid_answer(
            BILL_URL, f"code {answer.get('code')} {answer.get('sub_code', '')}".strip()
        )
    download = http.call("GET", answer["bill_download_url"], "alipay bill download")
    if download.status_code != 200:
        raise invalid_answer("alipay bill download", f"HTTP {download.status_code}")
    source = f"alipay trade bill {channel} {day.isoformat()}"
    statement = alipay_bill.parse(download.content, channel, day, source)
    seller = config.get("seller_id")
    if seller and statement.account and not statement.account.startswith(str(seller)):
        raise StatementUnparseable(
            source, 2, "the bill is of another Alipay account than this channel's"
        )
    return read_at(statement, now)


# ------------------------------------------------------------------ 退款

REFUND = "alipay.trade.refund"
REFUND_QUERY = "alipay.trade.fastpay.refund.query"
#: answers that are not a refusal but "not known yet": the refund is asked about later
_UNKNOWN_OUTCOME = ("20000", "ACQ.SYSTEM_ERROR")


def refund(ctx: CallContext, call: RefundCall) -> RefundAnswer:
    """`alipay.trade.refund` with `out_request_no` = the request id (Alipay dedupes on it within
    one trade). `fund_change` Y: the money moved now. N: nothing moved by this call (a repeat of
    a refund already made, or one still in progress): the query says which."""
    config, http, now = ctx.config, ctx.http, ctx.now
    answer = _call(
        config,
        REFUND,
        {
            "out_trade_no": call.out_trade_no,
            "trade_no": call.trade_no,
            "refund_amount": call.amount.format(),
            "out_request_no": call.request_id,
            "refund_reason": call.reason[:256],
        },
        http,
        now,
    )
    code, sub_code = answer.get("code"), answer.get("sub_code") or ""
    if code in _UNKNOWN_OUTCOME or sub_code in _UNKNOWN_OUTCOME:
        raise invalid_answer(REFUND, f"code {code} {sub_code}".strip())
    if code != "10000":
        return RefundAnswer(
            RefundState.FAILED, f"{code} {sub_code} {answer.get('sub_msg', '')}".strip()
        )
    with readable(REFUND):
        if answer["out_trade_no"] != call.out_trade_no:
            raise invalid_answer(REFUND, "the answer names another order")
        if answer.get("fund_change") == "Y":
            return RefundAnswer(
                RefundState.SUCCEEDED, "fund_change Y", answer["trade_no"], call.amount
            )
        return RefundAnswer(RefundState.PENDING, "fund_change N", answer["trade_no"])


def query_refund(ctx: CallContext, call: RefundCall) -> RefundAnswer | None:
    """`alipay.trade.fastpay.refund.query`: REFUND_SUCCESS (or, on older accounts, an answer
    with `refund_amount` and no status) is succeeded; an answer without the refund means Alipay
    never took the request (None: it may be sent again with the same id)."""
    config, http, now = ctx.config, ctx.http, ctx.now
    answer = _call(
        config,
        REFUND_QUERY,
        {
            "out_trade_no": call.out_trade_no,
            "trade_no": call.trade_no,
            "out_request_no": call.request_id,
            "query_options": ["gmt_refund_pay"],
        },
        http,
        now,
    )
    code, sub_code = answer.get("code"), answer.get("sub_code") or ""
    if code == "40004" and sub_code == _NOT_EXIST:
        return None
    if code != "10000":
        raise invalid_answer(REFUND_QUERY, f"code {code} {sub_code}".strip())
    with readable(REFUND_QUERY):
        if not answer.get("refund_amount"):
            return None
        if answer.get("out_request_no", call.request_id) != call.request_id:
            raise invalid_answer(REFUND_QUERY, "the answer names another refund")
        status = answer.get("refund_status") or "REFUND_SUCCESS"
        refunded = Money.parse(answer["refund_amount"], "CNY")
        if status == "REFUND_SUCCESS":
            return RefundAnswer(RefundState.SUCCEEDED, status, answer.get("trade_no"), refunded)
        return RefundAnswer(RefundState.PENDING, status, answer.get("trade_no"))
