"""Signed gateway notifications for the channels in local/channels.dev.json, built with the
gateway-side signing of the simulator (local/sim_signing.py), never with chalicelib's code."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from local import sim_signing

LOCAL = Path(__file__).resolve().parents[2] / "local"
CHANNELS = json.loads((LOCAL / "channels.dev.json").read_text(encoding="utf-8"))
BEIJING = timezone(timedelta(hours=8))


def _key(name: str):
    return sim_signing.load_private_key((LOCAL / "keys" / name).read_text())


ALIPAY_KEY = _key("alipay_platform_private.pem")
#: the order each built WeChat body names (its resource is encrypted; tests need to know)
WECHAT_ORDER_OF: dict[bytes, str] = {}
WECHAT_KEY = _key("wechat_platform_private.pem")


@dataclass
class Wire:
    """One HTTP request as the gateway sends it to /notify/{channel}."""

    channel: str
    method: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    #: gateways that sign each delivery with its time (WeChat, Stripe) sign again when sent
    signer: Callable[[bytes], dict[str, str]] | None = None

    @property
    def path(self) -> str:
        return f"/notify/{self.channel}" + (f"?{self.query}" if self.query else "")

    def signed_now(self) -> dict[str, str]:
        """The headers of a delivery made now: what a gateway's retry of this event sends."""
        return {**self.headers, **self.signer(self.body)} if self.signer else self.headers


def _bj(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def alipay(
    order_no: str,
    amount: str,
    *,
    notify_id: str | None = None,
    trade_no: str | None = None,
    status: str = "TRADE_SUCCESS",
    forged: bool = False,
    extra: dict | None = None,
    channel: str = "alipay-main",
) -> Wire:
    config = CHANNELS[channel]
    now = datetime.now(UTC)
    params = {
        "notify_time": _bj(now),
        "notify_type": "trade_status_sync",
        "charset": "utf-8",
        "version": "1.0",
        "notify_id": notify_id or secrets.token_hex(16),
        "app_id": config["app_id"],
        "seller_id": config["seller_id"],
        "out_trade_no": order_no,
        "trade_no": trade_no or f"2026{secrets.randbelow(10**20):020d}",
        "trade_status": status,
        "total_amount": amount,
        "receipt_amount": amount,
        "buyer_pay_amount": amount,
        "invoice_amount": amount,
        "point_amount": "0.00",
        "buyer_id": "2088102116773037",
        "subject": "VIP会员 月卡",
        "gmt_create": _bj(now),
        "gmt_payment": _bj(now),
        "sign_type": "RSA2",
        **(extra or {}),
    }
    key = sim_signing.load_private_key(_fresh_pem()) if forged else ALIPAY_KEY
    params["sign"] = sim_signing.alipay_sign(params, key)
    return Wire(
        channel,
        "POST",
        urlencode(params).encode(),
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


def epay(
    order_no: str,
    amount: str,
    *,
    trade_no: str | None = None,
    status: str = "TRADE_SUCCESS",
    forged: bool = False,
    method: str = "GET",
    channel: str = "epay-main",
) -> Wire:
    config = CHANNELS[channel]
    params = {
        "pid": config["pid"],
        "trade_no": trade_no or f"2026{secrets.randbelow(10**15):015d}",
        "out_trade_no": order_no,
        "type": "alipay",
        "name": "VIP会员 月卡",
        "money": amount,
        "trade_status": status,
    }
    params["sign"] = sim_signing.epay_sign(params, "wrong-key" if forged else config["key"])
    params["sign_type"] = "MD5"
    if method == "GET":
        return Wire(channel, "GET", b"", {}, urlencode(params))
    return Wire(
        channel,
        "POST",
        urlencode(params).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def wechat(
    order_no: str,
    total_fen: int,
    *,
    event_id: str | None = None,
    transaction_id: str | None = None,
    event_type: str = "TRANSACTION.SUCCESS",
    forged: bool = False,
    skew_s: int = 0,
    refund_fen: int | None = None,
    channel: str = "wxpay-main",
    currency: str = "CNY",
) -> Wire:
    config = CHANNELS[channel]
    now = datetime.now(UTC)
    transaction_id = transaction_id or f"4200{secrets.randbelow(10**24):024d}"
    if event_type.startswith("REFUND"):
        plain = {
            "mchid": config["mchid"],
            "out_trade_no": order_no,
            "transaction_id": transaction_id,
            "out_refund_no": f"R{secrets.token_hex(6)}",
            "refund_id": f"50{secrets.randbelow(10**20):020d}",
            "refund_status": "SUCCESS",
            "success_time": now.astimezone(BEIJING).isoformat(timespec="seconds"),
            "amount": {
                "total": total_fen,
                "refund": refund_fen or total_fen,
                "payer_total": total_fen,
                "payer_refund": refund_fen or total_fen,
                **({"currency": currency} if currency != "CNY" else {}),
            },
        }
        original = "refund"
    else:
        plain = {
            "mchid": config["mchid"],
            "appid": config["appid"],
            "out_trade_no": order_no,
            "transaction_id": transaction_id,
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": now.astimezone(BEIJING).isoformat(timespec="seconds"),
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {
                "total": total_fen,
                "payer_total": total_fen,
                "currency": currency,
                "payer_currency": "CNY",
            },
        }
        original = "transaction"
    nonce = secrets.token_hex(6)
    resource = {
        "original_type": original,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": sim_signing.wechat_encrypt(
            config["apiv3_key"], sim_signing.compact_json(plain), nonce, original
        ),
        "associated_data": original,
        "nonce": nonce,
    }
    event = {
        "id": event_id or f"EV-{secrets.token_hex(10)}",
        "create_time": now.astimezone(BEIJING).isoformat(timespec="seconds"),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": "支付成功",
        "resource": resource,
    }
    body = sim_signing.compact_json(event)
    WECHAT_ORDER_OF[body] = order_no
    key = sim_signing.load_private_key(_fresh_pem()) if forged else WECHAT_KEY

    def sign(payload: bytes) -> dict[str, str]:
        timestamp, header_nonce = str(int(time.time()) + skew_s), secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Signature": sim_signing.wechat_sign(key, timestamp, header_nonce, payload),
        }

    return Wire(
        channel,
        "POST",
        body,
        {
            "Content-Type": "application/json",
            "Wechatpay-Serial": config["platform_public_key_id"],
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            **sign(body),
        },
        signer=sign,
    )


def stripe(
    order_no: str,
    amount_minor: int,
    currency: str = "usd",
    *,
    event_id: str | None = None,
    payment_intent: str | None = None,
    event_type: str = "checkout.session.completed",
    forged: bool = False,
    age_s: int = 0,
    amount_refunded: int | None = None,
    channel: str = "stripe-main",
) -> Wire:
    config = CHANNELS[channel]
    created = int(time.time()) - age_s
    payment_intent = payment_intent or f"pi_{secrets.token_hex(8)}"
    if event_type == "charge.refunded":
        obj = {
            "id": f"ch_{secrets.token_hex(8)}",
            "object": "charge",
            "amount": amount_minor,
            "amount_refunded": amount_refunded or amount_minor,
            "currency": currency,
            "payment_intent": payment_intent,
            "refunded": True,
            "metadata": {"order_id": order_no} if order_no else {},
        }
    else:
        obj = {
            "id": f"cs_{secrets.token_hex(8)}",
            "object": "checkout.session",
            "client_reference_id": order_no,
            "amount_total": amount_minor,
            "currency": currency,
            "payment_status": "paid",
            "status": "complete",
            "payment_intent": payment_intent,
            "metadata": {"order_id": order_no},
        }
    event = {
        "id": event_id or f"evt_{secrets.token_hex(10)}",
        "object": "event",
        "type": event_type,
        "api_version": "2024-06-20",
        "created": created,
        "livemode": False,
        "data": {"object": obj},
    }
    body = sim_signing.compact_json(event)
    secret = "whsec_forged" if forged else config["webhook_secret"]

    def sign(payload: bytes) -> dict[str, str]:
        moment = int(time.time()) - age_s
        return {"Stripe-Signature": sim_signing.stripe_signature_header(secret, payload, moment)}

    return Wire(
        channel,
        "POST",
        body,
        {
            "Content-Type": "application/json",
            "Stripe-Signature": sim_signing.stripe_signature_header(secret, body, created),
        },
        signer=sign,
    )


def _fresh_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
