"""The four gateway families as the simulator plays them: ids, wire formats, signing, retries.

Each class turns a trade into the notification its gateway would send (GATEWAYS.md), says how
one delivery attempt goes over HTTP and which answer the gateway takes for success. A forged
notification differs from a genuine one only in its signature, so paytrack can only refuse it by
checking the signature.
"""

from __future__ import annotations

import functools
import random
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric import rsa

from .sim_model import SimPayment, SimRefund, WireNotice, minor_digits, to_major
from .sim_signing import (
    alipay_sign,
    compact_json,
    epay_signed_query,
    load_private_key,
    load_public_key,
    stripe_signature_header,
    wechat_encrypt,
    wechat_sign,
)

BEIJING = timezone(timedelta(hours=8))
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _digits(n: int) -> str:
    return "".join(random.choices(string.digits, k=n))


def _alnum(n: int) -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=n))


def _bj(moment: datetime) -> datetime:
    return moment.astimezone(BEIJING)


def _alipay_time(moment: datetime) -> str:
    return f"{_bj(moment):%Y-%m-%d %H:%M:%S}"


def _rfc3339(moment: datetime) -> str:
    return _bj(moment).isoformat(timespec="seconds")


def exponential(first_s: float, count: int) -> tuple[float, ...]:
    return tuple(first_s * 2**i for i in range(count))


@functools.cache
def forged_rsa_key() -> rsa.RSAPrivateKey:
    """A key no gateway owns: what a forger signs with (made once, RSA-2048 takes a moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def read_pem(value: str, base_dir: Path = Path(".")) -> str:
    """A config value holding either PEM text or the path of a PEM file (relative to base_dir)."""
    return value if value.lstrip().startswith("-----BEGIN") else (base_dir / value).read_text()


@dataclass(frozen=True)
class SimKeys:
    """The gateways' own keys. The public ones check paytrack's signed requests (query APIs)."""

    alipay_platform_private: rsa.RSAPrivateKey
    wechat_platform_private: rsa.RSAPrivateKey
    alipay_app_public: rsa.RSAPublicKey
    wechat_merchant_public: rsa.RSAPublicKey

    @classmethod
    def from_config(cls, sim_config: Mapping[str, str]) -> SimKeys:
        return cls(
            alipay_platform_private=load_private_key(
                read_pem(sim_config["alipay_platform_private_key"])
            ),
            wechat_platform_private=load_private_key(
                read_pem(sim_config["wechat_platform_private_key"])
            ),
            alipay_app_public=load_public_key(read_pem(sim_config["alipay_app_public_key"])),
            wechat_merchant_public=load_public_key(
                read_pem(sim_config["wechat_merchant_public_key"])
            ),
        )


@dataclass(frozen=True)
class HttpCall:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def _percent_of(amount_minor: int, currency: str, rate: str, quantum: str) -> Decimal:
    """`rate` of the amount in major units, rounded half up to `quantum`."""
    major = Decimal(amount_minor).scaleb(-minor_digits(currency))
    return (major * Decimal(rate)).quantize(Decimal(quantum), rounding=ROUND_HALF_UP)


class SimGateway:
    """One channel of one gateway type. Subclasses provide ids, notices and the answer rule."""

    type_name: ClassVar[str]
    retry_delays_s: ClassVar[tuple[float, ...]]  # after attempt 1, 2, …; then it gives up
    currencies: ClassVar[frozenset[str] | None] = frozenset({"CNY"})

    def __init__(
        self, channel: str, config: Mapping[str, Any], keys: SimKeys, options: Mapping[str, Any]
    ):
        self.channel = channel
        self.config = config

    def new_trade(
        self,
        out_trade_no: str,
        amount_minor: int,
        currency: str,
        subject: str,
        now: datetime,
        *,
        paid: bool,
        trade_no: str | None = None,
        forged: bool = False,
    ) -> SimPayment:
        if self.currencies is not None and currency not in self.currencies:
            raise ValueError(f"{self.type_name} channel {self.channel} does not take {currency}")
        return SimPayment(
            channel=self.channel,
            out_trade_no=out_trade_no,
            trade_no=trade_no or self.new_trade_no(now),
            amount_minor=amount_minor,
            currency=currency,
            subject=subject,
            created_at=now - timedelta(seconds=random.randint(5, 90)),
            paid_at=now if paid else None,
            forged=forged,
            fee=self.fee_of(amount_minor, currency) if paid else Decimal(0),
            **self.trade_extras(),
        )

    def new_trade_no(self, now: datetime) -> str:
        raise NotImplementedError

    def new_refund_id(self) -> str:
        """The gateway's own id of a refund ("" where the statement shows only ours)."""
        return ""

    def trade_extras(self) -> dict[str, Any]:
        return {}

    def fee_of(self, amount_minor: int, currency: str) -> Decimal:
        """What the gateway keeps of a payment, in major units (its statement shows it)."""
        return Decimal(0)

    def payment_notice(self, trade: SimPayment, now: datetime, forged: bool) -> WireNotice:
        raise NotImplementedError

    def refund_notice(
        self, trade: SimPayment, refund: SimRefund, refunded_minor: int, now: datetime, forged: bool
    ) -> WireNotice | None:
        """None: this gateway sends no refund notification."""
        return None

    def close_notice(self, trade: SimPayment, now: datetime, forged: bool) -> WireNotice | None:
        """None: this gateway sends no notification when an unpaid trade closes."""
        return None

    def refund_result_notice(
        self,
        trade: SimPayment,
        refund: SimRefund,
        succeeded: bool,
        metadata: Mapping[str, str],
        now: datetime,
    ) -> WireNotice | None:
        """The notification of a refund asked for through the refund API, once it succeeded or
        failed (`metadata`: what the merchant attached). None: this gateway sends none."""
        return None

    def http_call(self, notice: WireNotice, url: str, now: datetime) -> HttpCall:
        raise NotImplementedError

    def accepted(self, status: int, body: str) -> bool:
        raise NotImplementedError


class AlipaySim(SimGateway):
    type_name = "alipay"
    retry_delays_s = (240, 600, 600, 3600, 7200, 21600, 54000)

    def __init__(self, channel, config, keys, options):
        super().__init__(channel, config, keys, options)
        self._key = keys.alipay_platform_private
        self._seller_id = config.get("seller_id") or "2088" + _digits(12)

    def new_trade_no(self, now):
        return f"{_bj(now):%Y%m%d}22001{_digits(15)}"

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
            "gmt_payment": _alipay_time(trade.paid_at),
        }

    def _notice(self, fields: dict[str, str], now: datetime, forged: bool) -> WireNotice:
        app_id = self.config["app_id"]
        params = {
            "notify_id": f"{_bj(now):%Y%m%d}00222{_digits(21)}",
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


class WechatPaySim(SimGateway):
    type_name = "wechatpay"
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

    def new_trade_no(self, now):
        return f"42000{_digits(5)}{_bj(now):%Y%m%d}{_digits(10)}"

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
        body = {
            "id": f"EV-{_bj(now):%Y%m%d%H%M%S}{_digits(7)}",
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


class EpaySim(SimGateway):
    type_name = "epay"
    retry_delays_s = exponential(60, 5)

    def __init__(self, channel, config, keys, options):
        super().__init__(channel, config, keys, options)
        self._notify_method = options.get("epay_notify_method", "GET").upper()

    def new_trade_no(self, now):
        return f"{_bj(now):%Y%m%d%H%M%S}{_digits(5)}"

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


class StripeSim(SimGateway):
    type_name = "stripe"
    retry_delays_s = exponential(60, 12)  # about 68 h: "up to 3 days"
    currencies = None
    settlement = None  # a StripeSettlement when the account settles in one currency (sim_bills)

    def new_trade_no(self, now):
        return "pi_" + _alnum(24)

    def trade_extras(self):
        return {"refs": {"session": "cs_test_" + _alnum(24), "charge": "ch_" + _alnum(24)}}

    def new_refund_id(self):
        return "re_" + _alnum(24)

    def fee_of(self, amount_minor, currency):
        """2.9% + 30 in minor units, rounded half up (Stripe's card pricing)."""
        minor = (Decimal(amount_minor) * Decimal("0.029")).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        ) + 30
        return minor.scaleb(-minor_digits(currency))

    def payment_notice(self, trade, now, forged):
        session = self._session(trade, status="complete", payment_status="paid")
        return self._event("checkout.session.completed", session, now, forged)

    def refund_notice(self, trade, refund, refunded_minor, now, forged):
        charge = {
            "id": trade.refs["charge"],
            "object": "charge",
            "amount": trade.amount_minor,
            "amount_captured": trade.amount_minor,
            "amount_refunded": refunded_minor,
            "currency": trade.currency.lower(),
            "captured": True,
            "paid": True,
            "refunded": refunded_minor == trade.amount_minor,
            "status": "succeeded",
            "payment_intent": trade.trade_no,
            "metadata": {"order_id": trade.out_trade_no},
            "created": int(trade.paid_at.timestamp()),
        }
        return self._event("charge.refunded", charge, now, forged)

    def refund_object(
        self, trade: SimPayment, refund: SimRefund, status: str, metadata: Mapping[str, str]
    ) -> dict:
        """A Refund as the API and the refund.* events show it."""
        failed = {"failure_reason": "expired_or_canceled_card"} if status == "failed" else {}
        return {
            "id": refund.refund_id,
            "object": "refund",
            "amount": refund.amount_minor,
            "currency": trade.currency.lower(),
            "payment_intent": trade.trade_no,
            "charge": trade.refs["charge"],
            "status": status,
            "created": int(refund.at.timestamp()),
            "metadata": dict(metadata),
            **failed,
        }

    def refund_result_notice(self, trade, refund, succeeded, metadata, now):
        status = "succeeded" if succeeded else "failed"
        return self._event(
            "refund.updated" if succeeded else "refund.failed",
            self.refund_object(trade, refund, status, metadata),
            now,
            False,
        )

    def close_notice(self, trade, now, forged):
        session = self._session(trade, status="expired", payment_status="unpaid")
        return self._event("checkout.session.expired", session, now, forged)

    def _session(self, trade: SimPayment, *, status: str, payment_status: str) -> dict:
        return {
            "id": trade.refs["session"],
            "object": "checkout.session",
            "mode": "payment",
            "client_reference_id": trade.out_trade_no,
            "amount_subtotal": trade.amount_minor,
            "amount_total": trade.amount_minor,
            "currency": trade.currency.lower(),
            "payment_status": payment_status,
            "status": status,
            "payment_intent": trade.trade_no if payment_status == "paid" else None,
            "metadata": {"order_id": trade.out_trade_no},
            "created": int(trade.created_at.timestamp()),
        }

    def _event(self, event_type: str, obj: dict, now: datetime, forged: bool) -> WireNotice:
        event = {
            "id": "evt_" + _alnum(24),
            "object": "event",
            "api_version": "2024-06-20",
            "created": int(now.timestamp()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "type": event_type,
        }
        return WireNotice(event["id"], event_type, compact_json(event), forged)

    def http_call(self, notice, url, now):
        """Every attempt is signed at send time, so `t` is always fresh."""
        secret = (
            "whsec_" + secrets.token_hex(16) if notice.forged else self.config["webhook_secret"]
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": stripe_signature_header(
                secret, notice.payload, int(now.timestamp())
            ),
        }
        return HttpCall("POST", url, headers, notice.payload)

    def accepted(self, status, body):
        return 200 <= status < 300


GATEWAY_TYPES: dict[str, type[SimGateway]] = {
    cls.type_name: cls for cls in (AlipaySim, WechatPaySim, EpaySim, StripeSim)
}


def build_gateway(
    channel: str, config: Mapping[str, Any], keys: SimKeys, options: Mapping[str, Any]
) -> SimGateway:
    try:
        cls = GATEWAY_TYPES[config["type"]]
    except KeyError:
        raise ValueError(f"channel {channel}: unknown type {config.get('type')!r}") from None
    return cls(channel, config, keys, options)
