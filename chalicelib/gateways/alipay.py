"""Alipay asynchronous notifications (form POST, RSA2), verified and mapped to a `Notice`; the
OpenAPI calls (query, bill) live in alipay_api."""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives import hashes

from ..domain.errors import AccountMismatch, MalformedNotification, SignatureInvalid
from ..domain.labels import Label
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind
from . import alipay_api
from ._signing import config_value, decode_values, malformed_on_error, need, parse_form, rsa_verify
from .alipay_cert import alipay_public_key
from .base import Gateway, InboundRequest, TextAnswers

BEIJING = timezone(timedelta(hours=8))
_CHARSETS = ("utf-8", "gbk")
_UNSIGNED = ("sign", "sign_type")
_PAID = ("TRADE_SUCCESS", "TRADE_FINISHED")
_PAYER_FIELDS = ("buyer_id", "buyer_open_id", "buyer_logon_id")


class AlipayGateway(TextAnswers, Gateway):
    type_name = "alipay"
    label = Label("支付宝", "Alipay")
    methods = (("alipay", Label("支付宝", "Alipay")),)
    buyer_name = "支付宝"
    required_fields = ("app_id", "app_private_key", "gateway_url")
    trade_no_format = re.compile(r"20\d{26}")  # 2026112522001…: the day, then 20 digits
    secret_fields = ("app_private_key",)

    query_order = staticmethod(alipay_api.query)
    find_trade = staticmethod(alipay_api.find_trade)
    fetch_statement = staticmethod(alipay_api.fetch_bill)
    refund = staticmethod(alipay_api.refund)
    query_refund = staticmethod(alipay_api.query_refund)

    def parse_notification(
        self, request: InboundRequest, config: Mapping[str, Any], channel: str, now: datetime
    ) -> Notice:
        with malformed_on_error():
            fields = parse_form(request.body)
            params = decode_values(fields, _charset(fields))
            _verify(fields, params, config)
            _check_account(params, config)
            return _to_notice(params, channel, self.redact(params))

    def offers_refunds(self, config: Mapping[str, Any]) -> bool:
        return True


def _charset(fields: Mapping[str, bytes]) -> str:
    """The value encoding the `charset` field names (utf-8 when absent; gb2312 read as gbk)."""
    declared = fields.get("charset", b"utf-8").decode("ascii").strip().lower()
    try:
        name = codecs.lookup("gbk" if declared == "gb2312" else declared).name
    except LookupError:
        raise MalformedNotification(f"unsupported charset {declared}") from None
    if name not in _CHARSETS:
        raise MalformedNotification(f"unsupported charset {declared}")
    return name


def _hash_for(sign_type: str, config: Mapping[str, Any]) -> hashes.HashAlgorithm:
    if sign_type == "RSA2":
        return hashes.SHA256()
    if sign_type == "RSA" and config.get("allow_rsa1") is True:
        return hashes.SHA1()
    raise SignatureInvalid(
        f"sign_type {sign_type} is not accepted on this channel", reason="unsupported_sign_type"
    )


def _signed_messages(fields: Mapping[str, bytes], params: Mapping[str, str]) -> set[bytes]:
    """What the signature may cover: the sorted `k=v` string (empty values kept).

    Alipay signs that string in the notification's charset, i.e. exactly the decoded bytes we
    received; GATEWAYS.md states it as UTF-8. Both are the same for utf-8 notifications; for GBK
    ones both are tried, each being the very parameters we go on to read.
    """
    keys = sorted(k for k in fields if k not in _UNSIGNED)
    received = b"&".join(k.encode("ascii") + b"=" + fields[k] for k in keys)
    as_utf8 = "&".join(f"{k}={params[k]}" for k in keys).encode("utf-8")
    return {received, as_utf8}


def _verify(
    fields: Mapping[str, bytes], params: Mapping[str, str], config: Mapping[str, Any]
) -> None:
    algorithm = _hash_for(params.get("sign_type", "RSA2"), config)
    key = alipay_public_key(config)
    sign = need(params, "sign")
    if not any(
        rsa_verify(key, sign, message, algorithm) for message in _signed_messages(fields, params)
    ):
        raise SignatureInvalid()


def _check_account(params: Mapping[str, str], config: Mapping[str, Any]) -> None:
    if params.get("app_id") != config_value(config, "app_id"):
        raise AccountMismatch("app_id does not belong to this channel")
    if config.get("seller_id") and params.get("seller_id") != config_value(config, "seller_id"):
        raise AccountMismatch("seller_id does not belong to this channel")


def _opt(params: Mapping[str, str], key: str) -> str | None:
    return params.get(key) or None


def _money(text: str | None) -> Money | None:
    return Money.parse(text, "CNY") if text is not None else None


def _positive(amount: Money | None) -> Money | None:
    return amount if amount is not None and amount.minor > 0 else None


def _beijing(text: str | None) -> datetime | None:
    """`yyyy-MM-dd HH:mm:ss` in Beijing time, as an aware UTC datetime."""
    if text is None:
        return None
    naive = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    return naive.replace(tzinfo=BEIJING).astimezone(UTC)


def _classify(
    status: str, refund_fee: Money | None, params: Mapping[str, str]
) -> tuple[NoticeKind, str]:
    """The notice kind and the field holding its event time (`refund_fee` only when > 0).

    A partial refund leaves the trade TRADE_SUCCESS with `refund_fee` set; a full refund closes
    it (TRADE_CLOSED with `refund_fee`/`gmt_refund`); TRADE_CLOSED without them closed unpaid.
    Unknown statuses are kept as INFO: they change no state.
    """
    if status in _PAID:
        if refund_fee is not None:
            return NoticeKind.REFUND, "gmt_refund"
        return NoticeKind.PAYMENT, "gmt_payment"
    if status == "TRADE_CLOSED":
        if refund_fee is not None or _opt(params, "gmt_refund"):
            return NoticeKind.REFUND, "gmt_refund"
        return NoticeKind.CLOSED, "gmt_close"
    return NoticeKind.INFO, "notify_time"


def _to_notice(params: Mapping[str, str], channel: str, raw: dict[str, Any]) -> Notice:
    status = need(params, "trade_status")
    trade_no = need(params, "trade_no")
    total = Money.parse(need(params, "total_amount"), "CNY")
    refund_fee = _positive(_money(_opt(params, "refund_fee")))
    kind, time_field = _classify(status, refund_fee, params)
    is_refund = kind is NoticeKind.REFUND
    return Notice(
        channel=channel,
        gateway=AlipayGateway.type_name,
        kind=kind,
        dedupe_key=f"{channel}:{need(params, 'notify_id')}",
        out_trade_no=need(params, "out_trade_no"),
        trade_no=trade_no,
        amount=total,
        gateway_status=status,
        event_time=_beijing(_opt(params, time_field) or _opt(params, "notify_time")),
        raw=raw,
        payment_ref=trade_no,
        received=_money(_opt(params, "receipt_amount")),
        # a close after a full refund may omit refund_fee: then everything went back
        refunded_total=(refund_fee or total) if is_refund else None,
        refund_ref=_opt(params, "out_biz_no") if is_refund else None,
        method="alipay",
        payer=next((params[f] for f in _PAYER_FIELDS if _opt(params, f)), None),
    )
