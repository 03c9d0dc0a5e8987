"""WeChat Pay API v3 calls: the order query (补单), the trade bill (对账) and the refund with its
query (退款).

A cross-border channel (`"cross_border": true`, WeChat Pay Global) takes the `/v3/global/…`
paths instead: `transactions/out-trade-no/{no}` and `transactions/id/{id}` (answers name the
trade `id` and price it in `amount.currency`, the payer's side in `payer_total` /
`payer_currency` at `exchange_rate`), `refunds` and `refunds/out-refund-no/{no}` (the body names
`mchid` and `appid`; answers name the refund `id`), and `statements`.

Every request carries `Authorization: WECHATPAY2-SHA256-RSA2048 …`, a SHA256withRSA signature
with the merchant key over `"{method}\\n{path?query}\\n{timestamp}\\n{nonce}\\n{body}\\n"`. Every
answer is verified like a notification: the `Wechatpay-*` headers, the platform key the serial
names, over `"{timestamp}\\n{nonce}\\n{body}\\n"`. The bill download itself is not signed; its
SHA-1 comes from the signed bill answer.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from cryptography.hazmat.primitives import hashes

from ..domain.lookup import GatewayTrade
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind, NoticeSource
from ..domain.query import QueryResult, QueryStatus, query_dedupe_key
from ..domain.refunds import RefundAnswer, RefundCall, RefundState
from ..domain.statement import Statement, StatementNotReady, read_at
from . import wechatpay_bill
from ._http import GatewayHttp, invalid_answer, readable
from ._signing import config_value, rsa_private_key, rsa_public_key, rsa_sign, rsa_verify
from .base import CallContext

GATEWAY = "wechatpay"
SCHEMA = "WECHATPAY2-SHA256-RSA2048"
_NOT_PAID = ("NOTPAY", "USERPAYING", "PAYERROR")
_CLOSED = ("CLOSED", "REVOKED")
_NO_BILL = ("NO_STATEMENT_EXIST", "STATEMENT_CREATING")


def _signed_target(config: Mapping[str, Any], url: str) -> str:
    """The path and query WeChat Pay signs: relative to the API root (`api_base`), as the
    gateway and its SDK see them."""
    base = config_value(config, "api_base").rstrip("/")
    if url.startswith(base + "/"):
        return url[len(base) :]
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def authorization(
    config: Mapping[str, Any], method: str, url: str, body: str, timestamp: int, nonce: str
) -> str:
    """The request's Authorization header, signed with the merchant's private key."""
    target = _signed_target(config, url)
    message = f"{method}\n{target}\n{timestamp}\n{nonce}\n{body}\n".encode()
    signature = rsa_sign(rsa_private_key(config, "merchant_private_key"), message, hashes.SHA256())
    return (
        f'{SCHEMA} mchid="{config_value(config, "mchid")}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{timestamp}",'
        f'serial_no="{config_value(config, "merchant_serial_no")}"'
    )


def verify_answer(response: requests.Response, config: Mapping[str, Any], what: str) -> None:
    headers = response.headers
    signature, timestamp = headers.get("Wechatpay-Signature"), headers.get("Wechatpay-Timestamp")
    nonce, serial = headers.get("Wechatpay-Nonce"), headers.get("Wechatpay-Serial")
    if not (signature and timestamp and nonce and serial):
        raise invalid_answer(what, "unsigned answer")
    if serial != config_value(config, "platform_public_key_id"):
        raise invalid_answer(what, "the answer is signed with a key this channel does not hold")
    message = f"{timestamp}\n{nonce}\n".encode() + response.content + b"\n"
    if not rsa_verify(
        rsa_public_key(config, "platform_public_key"), signature, message, hashes.SHA256()
    ):
        raise invalid_answer(what, "the answer's signature does not verify")


def _get(
    config: Mapping[str, Any],
    url: str,
    http: GatewayHttp,
    now: datetime,
    what: str,
    verify: bool = True,
) -> requests.Response:
    header = authorization(
        config, "GET", url, "", int(now.timestamp()), secrets.token_hex(16).upper()
    )
    response = http.call(
        "GET", url, what, headers={"Authorization": header, "Accept": "application/json"}
    )
    if verify:
        verify_answer(response, config, what)
    return response


def _api(config: Mapping[str, Any], path: str) -> str:
    return config_value(config, "api_base").rstrip("/") + path


def _error_code(response: requests.Response) -> str:
    try:
        return str(response.json().get("code", ""))
    except ValueError:
        return ""


# ------------------------------------------------------------------ 补单


def cross_border(config: Mapping[str, Any]) -> bool:
    """A WeChat Pay Global merchant: every API call takes the `/v3/global/…` path."""
    return config.get("cross_border") is True


def _transactions(config: Mapping[str, Any], by: str, number: str) -> str:
    """The order (`out-trade-no`) or trade (`id`) query URL, domestic or global."""
    root = "/v3/global/transactions" if cross_border(config) else "/v3/pay/transactions"
    mchid = quote(str(config_value(config, "mchid")), safe="")
    return _api(config, f"{root}/{by}/{quote(number, safe='')}?mchid={mchid}")


def _ours(answer: Mapping[str, Any], config: Mapping[str, Any]) -> bool:
    """The answer is of our merchant: its `mchid` (a global answer in the institution's shape
    names it `sp_mchid`, with the `sub_mchid` it was made for, kept in the raw answer)."""
    mchid = config_value(config, "mchid")
    if not cross_border(config):
        return bool(answer["mchid"] == mchid)
    return bool((answer.get("mchid") or answer.get("sp_mchid")) == mchid)


def _trade_id(answer: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """WeChat's trade number: `transaction_id`, which global answers name `id`."""
    if cross_border(config):
        return answer.get("id") or answer.get("transaction_id") or None
    return answer.get("transaction_id") or None


def _priced(amount: Mapping[str, Any], config: Mapping[str, Any], field: str) -> Money | None:
    """`amount[field]` in the order's currency. A global answer must say it (`currency`, the
    标价币种): what the payer paid in their own currency (`payer_total` in `payer_currency` at
    `exchange_rate`) is their side of it, never the order's amount; a domestic one is CNY
    when it does not say."""
    if field not in amount:
        return None
    if cross_border(config):
        return Money.from_minor(amount[field], amount["currency"])
    return Money.from_minor(amount[field], amount.get("currency") or "CNY")


def query(ctx: CallContext, out_trade_no: str, trade_no: str | None = None) -> QueryResult:
    """Asked by the order number; the trade number, when known, is not needed."""
    config, channel, http, now = ctx.config, ctx.channel, ctx.http, ctx.now
    what = "wechatpay global order query" if cross_border(config) else "wechatpay order query"
    response = _get(config, _transactions(config, "out-trade-no", out_trade_no), http, now, what)
    if response.status_code == 404 and _error_code(response) == "ORDER_NOT_EXIST":
        return QueryResult(QueryStatus.NOT_FOUND, "ORDER_NOT_EXIST")
    if response.status_code != 200:
        raise invalid_answer(what, f"HTTP {response.status_code} {_error_code(response)}".strip())
    with readable(what):
        answer = json.loads(response.content)
        if not _ours(answer, config) or answer["out_trade_no"] != out_trade_no:
            raise invalid_answer(what, "the answer names another merchant or order")
        return _result(answer, config, channel, what)


def _result(
    answer: Mapping[str, Any], config: Mapping[str, Any], channel: str, what: str
) -> QueryResult:
    state = answer["trade_state"]
    if state == "SUCCESS":
        notice = _notice(answer, config, channel, NoticeKind.PAYMENT)
        return QueryResult(QueryStatus.PAID, state, notice)
    if state == "REFUND":
        notice = _notice(answer, config, channel, NoticeKind.INFO)
        return QueryResult(QueryStatus.REFUNDED, state, notice)
    if state in _CLOSED:
        notice = _notice(answer, config, channel, NoticeKind.CLOSED)
        return QueryResult(QueryStatus.CLOSED, state, notice)
    if state in _NOT_PAID:
        return QueryResult(QueryStatus.NOT_PAID, state)
    raise invalid_answer(what, f"unknown trade_state {state}")


def _notice(
    answer: Mapping[str, Any], config: Mapping[str, Any], channel: str, kind: NoticeKind
) -> Notice:
    transaction_id = _trade_id(answer, config)
    amount = answer.get("amount") or {}
    success_time = answer.get("success_time")
    payer = answer.get("payer") or {}
    paid = _priced(amount, config, "total")
    if kind is NoticeKind.PAYMENT and (paid is None or transaction_id is None):
        raise KeyError("amount.total / transaction_id")
    return Notice(
        channel=channel,
        gateway=GATEWAY,
        kind=kind,
        dedupe_key=query_dedupe_key(
            channel, transaction_id or answer["out_trade_no"], answer["trade_state"]
        ),
        out_trade_no=answer["out_trade_no"],
        trade_no=transaction_id,
        amount=paid,
        gateway_status=answer["trade_state"],
        event_time=datetime.fromisoformat(success_time) if success_time else None,
        raw=dict(answer),
        payment_ref=transaction_id,
        method="wechat",
        payer=payer.get("openid"),
        source=NoticeSource.QUERY,
    )


# ------------------------------------------------------------------ a payment by WeChat's transaction_id


def find_trade(ctx: CallContext, trade_no: str) -> GatewayTrade | None:
    """`GET /v3/pay/transactions/id/{transaction_id}` (global: `/v3/global/transactions/id/{id}`):
    the trade, or None."""
    config, channel, http, now = ctx.config, ctx.channel, ctx.http, ctx.now
    what = (
        "wechatpay global transaction query"
        if cross_border(config)
        else "wechatpay transaction query"
    )
    response = _get(config, _transactions(config, "id", trade_no), http, now, what)
    if response.status_code == 404 and _error_code(response) == "ORDER_NOT_EXIST":
        return None
    if response.status_code != 200:
        raise invalid_answer(what, f"HTTP {response.status_code} {_error_code(response)}".strip())
    with readable(what):
        answer = json.loads(response.content)
        if not _ours(answer, config) or _trade_id(answer, config) != trade_no:
            raise invalid_answer(what, "the answer names another merchant or trade")
        status = _result(answer, config, channel, what).status
        success_time = answer.get("success_time")
        return GatewayTrade(
            channel,
            trade_no,
            answer["out_trade_no"],
            status,
            answer["trade_state"],
            _priced(answer.get("amount") or {}, config, "total"),
            datetime.fromisoformat(success_time) if success_time else None,
        )


# ------------------------------------------------------------------ 对账


def _statement_answer(ctx: CallContext, url: str, what: str, day: date) -> requests.Response:
    """The signed GET of a day's bill or statement: StatementNotReady while WeChat Pay has not
    made it yet, an invalid answer for any other refusal."""
    response = _get(ctx.config, url, ctx.http, ctx.now, what)
    if response.status_code in (400, 404) and _error_code(response) in _NO_BILL:
        raise StatementNotReady(
            f"WeChat Pay has no statement for {day} yet ({_error_code(response)})",
            {"channel": ctx.channel, "date": day.isoformat()},
        )
    if response.status_code != 200:
        raise invalid_answer(what, f"HTTP {response.status_code} {_error_code(response)}".strip())
    return response


def fetch_bill(ctx: CallContext, day: date) -> Statement:
    """The day's trade bill: its download URL and SHA-1, then the GZIP; a cross-border channel
    (`cross_border`) asks `/v3/global/statements` instead, whose answer is the statement."""
    if cross_border(ctx.config):
        return _fetch_global_statement(ctx, day)
    config, channel, http, now = ctx.config, ctx.channel, ctx.http, ctx.now
    what = "wechatpay trade bill"
    url = _api(
        config, f"/v3/bill/tradebill?bill_date={day.isoformat()}&bill_type=ALL&tar_type=GZIP"
    )
    response = _statement_answer(ctx, url, what, day)
    with readable(what):
        answer = json.loads(response.content)
        hash_type, hash_value, download_url = (
            answer["hash_type"],
            answer["hash_value"],
            answer["download_url"],
        )
    download = _get(config, download_url, http, now, "wechatpay bill download", verify=False)
    if download.status_code != 200:
        raise invalid_answer("wechatpay bill download", f"HTTP {download.status_code}")
    source = f"wechatpay trade bill {channel} {day.isoformat()}"
    raw = wechatpay_bill.decompress(download.content, hash_type, hash_value, source)
    return read_at(wechatpay_bill.parse(raw, channel, day, source), now)


def _fetch_global_statement(ctx: CallContext, day: date) -> Statement:
    """WeChat Pay Global's 下载对账单: GET /v3/global/statements?date=YYYYMMDD&mchid=…, the
    table itself as the answer, its SHA-1 in the Wechatpay-Statement-Sha1 header."""
    config, channel = ctx.config, ctx.channel
    what = "wechatpay global statement"
    mchid = quote(str(config_value(config, "mchid")), safe="")
    url = _api(config, f"/v3/global/statements?date={day:%Y%m%d}&mchid={mchid}")
    response = _statement_answer(ctx, url, what, day)
    source = f"{what} {channel} {day.isoformat()}"
    raw = wechatpay_bill.check_sha1(
        response.content, response.headers.get("Wechatpay-Statement-Sha1"), source
    )
    return read_at(wechatpay_bill.parse(raw, channel, day, source), ctx.now)


# ------------------------------------------------------------------ 退款

_REFUND_STATES = {
    "SUCCESS": RefundState.SUCCEEDED,
    "PROCESSING": RefundState.PENDING,
    "CLOSED": RefundState.FAILED,
    "ABNORMAL": RefundState.FAILED,
}
#: WeChat Pay Global's refund states: the domestic ones, and its 退款关闭 `REFUNDCLOSE`
_GLOBAL_REFUND_STATES = {**_REFUND_STATES, "REFUNDCLOSE": RefundState.FAILED}
#: what a global 申请退款 answer without a `status` is: accepted, its fate asked for later
ACCEPTED = "ACCEPTED"
#: error codes after which the refund's fate is unknown (asked about later), not a refusal
_UNKNOWN_OUTCOME = ("SYSTEM_ERROR", "FREQUENCY_LIMITED")


def _post(
    config: Mapping[str, Any],
    url: str,
    body: Mapping[str, Any],
    http: GatewayHttp,
    now: datetime,
    what: str,
) -> requests.Response:
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    header = authorization(
        config, "POST", url, text, int(now.timestamp()), secrets.token_hex(16).upper()
    )
    response = http.call(
        "POST",
        url,
        what,
        data=text.encode("utf-8"),
        headers={
            "Authorization": header,
            "Accept": "application/json",
            "Content-Type": "application/json",
        },
    )
    verify_answer(response, config, what)
    return response


def _refund_answer(
    response: requests.Response, call: RefundCall, config: Mapping[str, Any], what: str
) -> RefundAnswer:
    """The refund as the answer states it. A global answer names the refund `id` and may omit
    the refund's currency (then the one asked for); its 申请退款 answer carries no `status`
    (accepted: pending until the refund query or the notification says)."""
    global_ = cross_border(config)
    with readable(what):
        answer = json.loads(response.content)
        if answer["out_refund_no"] != call.request_id:
            raise invalid_answer(what, "the answer names another refund")
        states = _GLOBAL_REFUND_STATES if global_ else _REFUND_STATES
        status = answer.get("status") if global_ else answer["status"]
        if status is None:
            state, status = RefundState.PENDING, ACCEPTED
        elif status in states:
            state = states[status]
        else:
            raise invalid_answer(what, f"unknown refund status {status}")
        amount = answer.get("amount") or {}
        currency = amount.get("currency") or (call.amount.currency if global_ else "CNY")
        refunded = Money.from_minor(amount["refund"], currency) if "refund" in amount else None
        refund_id = answer.get("id") if global_ else answer.get("refund_id")
        return RefundAnswer(state, status, refund_id, refunded)


def refund(ctx: CallContext, call: RefundCall) -> RefundAnswer:
    """`POST /v3/refund/domestic/refunds` (global: `POST /v3/global/refunds`, whose body also
    names `mchid` and `appid`) with `out_refund_no` = the request id (WeChat Pay dedupes on
    it). 4xx answers are refusals (NOT_ENOUGH, INVALID_REQUEST, …): failed."""
    config, http, now = ctx.config, ctx.http, ctx.now
    what = "wechatpay global refund" if cross_border(config) else "wechatpay refund"
    body: dict[str, Any] = {
        "transaction_id": call.trade_no,
        "out_refund_no": call.request_id,
        "reason": call.reason[:80],
        "amount": {
            "refund": call.amount.minor,
            "total": call.total.minor,
            "currency": call.amount.currency,
        },
    }
    path = "/v3/refund/domestic/refunds"
    if cross_border(config):
        account = {k: config_value(config, k) for k in ("mchid", "appid")}
        body, path = {**account, **body}, "/v3/global/refunds"
    response = _post(config, _api(config, path), body, http, now, what)
    code = _error_code(response)
    if response.status_code >= 400 and code not in _UNKNOWN_OUTCOME:
        return RefundAnswer(RefundState.FAILED, f"HTTP {response.status_code} {code}".strip())
    if response.status_code != 200:
        raise invalid_answer(what, f"HTTP {response.status_code} {code}".strip())
    return _refund_answer(response, call, config, what)


def query_refund(ctx: CallContext, call: RefundCall) -> RefundAnswer | None:
    """`GET /v3/refund/domestic/refunds/{out_refund_no}` (global:
    `GET /v3/global/refunds/out-refund-no/{out_refund_no}?mchid=…`); 404 RESOURCE_NOT_EXISTS:
    never taken."""
    config, http, now = ctx.config, ctx.http, ctx.now
    number = quote(call.request_id, safe="")
    if cross_border(config):
        what = "wechatpay global refund query"
        mchid = quote(str(config_value(config, "mchid")), safe="")
        path = f"/v3/global/refunds/out-refund-no/{number}?mchid={mchid}"
    else:
        what, path = "wechatpay refund query", f"/v3/refund/domestic/refunds/{number}"
    response = _get(config, _api(config, path), http, now, what)
    if response.status_code == 404 and _error_code(response) == "RESOURCE_NOT_EXISTS":
        return None
    if response.status_code != 200:
        raise invalid_answer(what, f"HTTP {response.status_code} {_error_code(response)}".strip())
    return _refund_answer(response, call, config, what)
