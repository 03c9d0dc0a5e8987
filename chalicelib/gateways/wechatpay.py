"""WeChat Pay API v3 notifications (signed JSON, AES-256-GCM resource), mapped to a `Notice`;
the API calls (query, bill) live in wechatpay_api."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain.errors import (
    AccountMismatch,
    ChannelMisconfigured,
    MalformedNotification,
    NotificationRejected,
    SignatureInvalid,
    StaleTimestamp,
)
from ..domain.labels import Label
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind
from ..domain.refunds import RefundState
from . import wechatpay_api
from ._signing import (
    b64decode_strict,
    config_value,
    json_object,
    malformed_on_error,
    need,
    need_str,
    opt_str,
    rsa_public_key,
    rsa_verify,
)
from .base import Answer, Gateway, Headers, InboundRequest

MAX_SKEW_S = 300
PROBE_PREFIX = "WECHATPAY/SIGNTEST/"
_ALGORITHM = "AEAD_AES_256_GCM"


class WechatPayGateway(Gateway):
    type_name = "wechatpay"
    label = Label("微信支付", "WeChat Pay")
    methods = (("wechat", Label("微信支付", "WeChat Pay")),)
    buyer_name = "微信支付"
    required_fields = (
        "mchid",
        "appid",
        "apiv3_key",
        "platform_public_key",
        "platform_public_key_id",
        "merchant_private_key",
        "merchant_serial_no",
        "api_base",
    )
    trade_no_format = re.compile(r"4\d{27}")  # 4200001234…: WeChat's transaction_id
    secret_fields = ("apiv3_key", "merchant_private_key")

    query_order = staticmethod(wechatpay_api.query)
    find_trade = staticmethod(wechatpay_api.find_trade)
    fetch_statement = staticmethod(wechatpay_api.fetch_bill)
    refund = staticmethod(wechatpay_api.refund)
    query_refund = staticmethod(wechatpay_api.query_refund)

    def parse_notification(
        self, request: InboundRequest, config: Mapping[str, Any], channel: str, now: datetime
    ) -> Notice | None:
        """Verify, then decrypt. `raw` of the notice is the envelope with its decrypted resource."""
        with malformed_on_error():
            _verify(request, config, now)
            envelope = json_object(request.body)
            build = _EVENTS.get(need_str(envelope, "event_type"))
            if build is None:
                return None
            plain = _decrypt(need(envelope, "resource"), config)
            _check_account(plain, config)
            raw = self.redact({**envelope, "resource": plain})
            return build(envelope, plain, channel, raw)

    def success_answer(self) -> Answer:
        return Answer(204, "")

    def failure_answer(self, message: str, status: int) -> Answer:
        body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False)
        return Answer(status, body, "application/json")

    def offers_refunds(self, config: Mapping[str, Any]) -> bool:
        return True


def _header(headers: Headers, name: str) -> str:
    value = headers.get(name)
    if not value:
        raise MalformedNotification(f"missing header {name}")
    return value


def _verify(request: InboundRequest, config: Mapping[str, Any], now: datetime) -> None:
    """Probe, serial, signature over the raw body, then freshness.

    Freshness comes after the signature so `stale_timestamp` always means an authentic but
    replayed or delayed message, never a forgery.
    """
    headers = Headers(request.headers)
    signature = _header(headers, "Wechatpay-Signature")
    if signature.startswith(PROBE_PREFIX):
        raise SignatureInvalid("signature probe: deliberately rejected", reason="probe")
    if _header(headers, "Wechatpay-Serial") != config_value(config, "platform_public_key_id"):
        raise SignatureInvalid(
            "Wechatpay-Serial names a key this channel does not hold", reason="unknown_serial"
        )
    timestamp = _header(headers, "Wechatpay-Timestamp")
    nonce = _header(headers, "Wechatpay-Nonce")
    message = b"%s\n%s\n%s\n" % (timestamp.encode("utf-8"), nonce.encode("utf-8"), request.body)
    key = rsa_public_key(config, "platform_public_key")
    if not rsa_verify(key, signature, message, hashes.SHA256()):
        raise SignatureInvalid()
    _check_fresh(timestamp, now)


def _check_fresh(timestamp: str, now: datetime) -> None:
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise MalformedNotification("Wechatpay-Timestamp is not a unix time")
    skew = int(now.timestamp()) - int(timestamp)
    if abs(skew) > MAX_SKEW_S:
        raise StaleTimestamp(f"Wechatpay-Timestamp is {skew:+d} s off, more than {MAX_SKEW_S} s")


def _apiv3_key(config: Mapping[str, Any]) -> bytes:
    key = config_value(config, "apiv3_key").encode("utf-8")
    if len(key) != 32 or not key.isascii():
        raise ChannelMisconfigured("channel config field apiv3_key must be 32 ASCII characters")
    return key


def _decrypt(resource: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    if resource.get("algorithm") != _ALGORITHM:
        raise MalformedNotification(f"resource.algorithm must be {_ALGORITHM}")
    ciphertext = b64decode_strict(need_str(resource, "ciphertext"))
    if ciphertext is None:
        raise MalformedNotification("resource.ciphertext is not base64")
    nonce = need_str(resource, "nonce").encode("utf-8")
    aad = (resource.get("associated_data") or "").encode("utf-8")
    try:
        plain = AESGCM(_apiv3_key(config)).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        message = "resource does not decrypt with the channel's API v3 key"
        raise NotificationRejected("decrypt_failed", message) from None
    return json_object(plain, "decrypted resource")


def _check_account(plain: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """mchid always; appid when the resource has one (refund resources carry none)."""
    if need(plain, "mchid") != config_value(config, "mchid"):
        raise AccountMismatch("mchid does not belong to this channel")
    if "appid" in plain and plain["appid"] != config_value(config, "appid"):
        raise AccountMismatch("appid does not belong to this channel")


def _time(text: str) -> datetime:
    """RFC 3339 with an offset, as an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise MalformedNotification(f"time {text} has no UTC offset")
    return moment.astimezone(UTC)


def _event_time(envelope: Mapping[str, Any], plain: Mapping[str, Any]) -> datetime:
    return _time(opt_str(plain, "success_time") or need_str(envelope, "create_time"))


def _money(amount: Mapping[str, Any], field: str) -> Money:
    return Money.from_minor(need(amount, field), amount.get("currency") or "CNY")


def _payment(
    envelope: Mapping[str, Any], plain: Mapping[str, Any], channel: str, raw: dict[str, Any]
) -> Notice:
    """TRANSACTION.SUCCESS; a resource whose trade_state is not SUCCESS is only INFO."""
    transaction_id = need_str(plain, "transaction_id")
    payer = plain.get("payer")
    return Notice(
        channel=channel,
        gateway=WechatPayGateway.type_name,
        kind=NoticeKind.PAYMENT if plain.get("trade_state") == "SUCCESS" else NoticeKind.INFO,
        dedupe_key=f"{channel}:{need_str(envelope, 'id')}",
        out_trade_no=need_str(plain, "out_trade_no"),
        trade_no=transaction_id,
        amount=_money(need(plain, "amount"), "total"),
        gateway_status=envelope["event_type"],
        event_time=_event_time(envelope, plain),
        raw=raw,
        payment_ref=transaction_id,
        method="wechat",
        payer=opt_str(payer, "openid") if isinstance(payer, Mapping) else None,
    )


def _refund(kind: NoticeKind, state: RefundState) -> Callable[..., Notice]:
    """REFUND.*: `amount` is this refund's amount, not a running total; `out_refund_no` names a
    refund request of ours when paytrack asked for the refund (`state`: what it became)."""

    def build(
        envelope: Mapping[str, Any], plain: Mapping[str, Any], channel: str, raw: dict[str, Any]
    ) -> Notice:
        transaction_id = need_str(plain, "transaction_id")
        return Notice(
            channel=channel,
            gateway=WechatPayGateway.type_name,
            kind=kind,
            dedupe_key=f"{channel}:{need_str(envelope, 'id')}",
            out_trade_no=need_str(plain, "out_trade_no"),
            trade_no=transaction_id,
            amount=_money(need(plain, "amount"), "refund"),
            gateway_status=envelope["event_type"],
            event_time=_event_time(envelope, plain),
            raw=raw,
            payment_ref=transaction_id,
            refund_ref=opt_str(plain, "out_refund_no") or opt_str(plain, "refund_id"),
            method="wechat",
            extra={"refund_state": state.value, "gateway_refund_id": opt_str(plain, "refund_id")},
        )

    return build


_EVENTS: dict[str, Callable[..., Notice]] = {
    "TRANSACTION.SUCCESS": _payment,
    "REFUND.SUCCESS": _refund(NoticeKind.REFUND, RefundState.SUCCEEDED),
    "REFUND.ABNORMAL": _refund(NoticeKind.INFO, RefundState.FAILED),
    "REFUND.CLOSED": _refund(NoticeKind.INFO, RefundState.FAILED),
}
