"""易支付 / epay notifications (GET query or POST form, MD5), mapped to a `Notice`."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..domain.errors import AccountMismatch, MalformedNotification, SignatureInvalid
from ..domain.labels import Label
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind
from ..domain.refunds import RefundAnswer, RefundCall
from . import epay_api
from ._signing import config_value, decode_values, malformed_on_error, need, parse_form
from .base import CallContext, Gateway, InboundRequest, TextAnswers

_UNSIGNED = ("sign", "sign_type")
_PAID = "TRADE_SUCCESS"


def signing_string(params: Mapping[str, str]) -> str:
    """ksort, drop `sign`, `sign_type` and empty values, join `k=v` with `&`."""
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in _UNSIGNED and v != "")


def sign(params: Mapping[str, str], key: str) -> str:
    """The epay MD5 signature: lowercase hex of the signing string with the key appended."""
    return hashlib.md5((signing_string(params) + key).encode("utf-8")).hexdigest()


class EpayGateway(TextAnswers, Gateway):
    type_name = "epay"
    label = Label("易支付", "epay")
    methods = (
        ("alipay", Label("支付宝", "Alipay")),
        ("wxpay", Label("微信支付", "WeChat Pay")),
        ("qqpay", Label("QQ钱包", "QQ Wallet")),
    )
    buyer_name = "在线支付"
    required_fields = ("pid", "key", "api_base")
    trade_no_format = re.compile(r"\d{14,32}")  # 彩虹易支付: yyyyMMddHHmmss + digits; forks vary
    secret_fields = ("key",)

    query_order = staticmethod(epay_api.query)
    find_trade = staticmethod(epay_api.find_trade)
    fetch_statement = staticmethod(epay_api.fetch_orders)

    def parse_notification(
        self, request: InboundRequest, config: Mapping[str, Any], channel: str, now: datetime
    ) -> Notice:
        with malformed_on_error():
            params = _read_params(request)
            _verify(params, config)
            if params.get("pid") != config_value(config, "pid"):
                raise AccountMismatch("pid does not belong to this channel")
            return _to_notice(params, channel, self.redact(params))

    def offers_refunds(self, config: Mapping[str, Any]) -> bool:
        """Only where the channel says its aggregator offers `act=refund` (`refund_api`: true)."""
        return config.get("refund_api") is True

    def refund(self, ctx: CallContext, call: RefundCall) -> RefundAnswer:
        if not self.offers_refunds(ctx.config):
            return super().refund(ctx, call)
        return epay_api.refund(ctx, call)


def _query(request: InboundRequest) -> dict[str, str]:
    """Prefer the raw query string: a pre-decoded mapping may have kept `+` for a space."""
    if request.raw_query_string is not None:
        return decode_values(parse_form(request.raw_query_string.encode("utf-8")), "utf-8")
    return dict(request.query or {})


def _read_params(request: InboundRequest) -> dict[str, str]:
    """Query parameters, merged with the form body of a POST; a key both carry must agree."""
    params = _query(request)
    if request.method.upper() != "POST" or not request.body:
        return params
    form = decode_values(parse_form(request.body), "utf-8")
    if any(params[k] != form[k] for k in params.keys() & form.keys()):
        raise MalformedNotification("query string and form body disagree")
    return {**params, **form}


def _verify(params: Mapping[str, str], config: Mapping[str, Any]) -> None:
    sign_type = params.get("sign_type") or "MD5"
    if sign_type.upper() != "MD5":
        raise SignatureInvalid(
            f"sign_type {sign_type} is not supported", reason="unsupported_sign_type"
        )
    received = need(params, "sign").encode("utf-8")
    expected = sign(params, config_value(config, "key")).encode("ascii")
    if not hmac.compare_digest(expected, received):
        raise SignatureInvalid()


def _to_notice(params: Mapping[str, str], channel: str, raw: dict[str, Any]) -> Notice:
    trade_no = need(params, "trade_no")
    status = need(params, "trade_status")
    return Notice(
        channel=channel,
        gateway=EpayGateway.type_name,
        kind=NoticeKind.PAYMENT if status == _PAID else NoticeKind.INFO,
        dedupe_key=f"{channel}:{trade_no}:{status}",
        out_trade_no=need(params, "out_trade_no"),
        trade_no=trade_no,
        amount=Money.parse(need(params, "money"), "CNY"),
        gateway_status=status,
        event_time=None,
        raw=raw,
        payment_ref=trade_no,
        method=params.get("type") or None,
    )
