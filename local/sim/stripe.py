"""Stripe as the simulator plays it: webhooks signed with `Stripe-Signature`, the API —
PaymentIntents (by id and by search on the order id), charges by id (for paytrack's lookup),
refunds and their list, balance transactions (the statement, settled into the account currency)
— each caller checked by its secret key.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qs

from ..sim_model import (
    SimPayment,
    SimRefund,
    TradeBook,
    WireNotice,
    minor_digits,
)
from ..sim_refunds import RefundDesk, RefundRefused, SimRefundRequest
from ..sim_server import SimRequest, SimResponse, SimServer
from ..sim_signing import (
    compact_json,
    stripe_signature_header,
)
from .base import (
    Entry,
    HttpCall,
    SimGateway,
    SimKeys,
    _after_answer,
    _alnum,
    _now,
    _refunded_trade,
    entries_between,
    exponential,
)


class StripeSim(SimGateway):
    type_name = "stripe"
    sim_path = "/stripe"
    retry_delays_s = exponential(60, 12)  # about 68 h: "up to 3 days"
    currencies = None
    settlement: StripeSettlement | None = None  # when the account settles in one currency

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
        event: dict[str, Any] = {
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
        api = StripeApi(book, gateways, desk)
        api.register(server)
        server.route(
            "/stripe",
            "GET",
            "/v1/charges/{charge}",
            api._authenticated(lambda gateway, request: _stripe_charge(api, gateway, request)),
        )


# --- Stripe ----------------------------------------------------------------------------------


class StripeApi:
    _ORDER_SEARCH = re.compile(r"metadata\['order_id'\]:'((?:[^'\\]|\\.)*)'")

    _REFUND_STATUS: ClassVar[dict[str, str]] = {
        "PROCESSING": "pending",
        "SUCCESS": "succeeded",
        "FAILED": "failed",
    }

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
        if not isinstance(gateway, StripeSim):
            raise TypeError(f"{gateway.channel} is not a Stripe channel")
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
            if trade.paid_at is not None
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


def _stripe_charge(api: StripeApi, gateway: SimGateway, request: SimRequest) -> SimResponse:
    charge_id = request.params["charge"]
    trade = api.book.by_trade_no(gateway.channel, charge_id)
    if trade is None or trade.refs.get("charge") != charge_id or not trade.paid_at:
        return SimResponse.json(
            {
                "error": {
                    "code": "resource_missing",
                    "type": "invalid_request_error",
                    "message": "No such charge",
                }
            },
            404,
        )
    charge = api._intent_object(trade, expand_charge=True)["latest_charge"]
    return SimResponse.json(
        {**charge, "currency": trade.currency.lower(), "status": "succeeded", "paid": True}
    )


@dataclass
class StripeSettlement:
    """A Stripe account that settles in `currency`: a charge in another currency is converted at
    `rates[charged currency]` (major units: 19.99 USD x 7.8 = 155.92 HKD) and its fee charged in
    the settlement currency; `account_fees` are Stripe's own charges (a Radar fee: when, minor)."""

    currency: str
    rates: dict[str, Decimal]
    account_fees: list[tuple[datetime, int]]

    def convert(self, minor: int, currency: str) -> tuple[int, Decimal | None]:
        if currency == self.currency:
            return minor, None
        rate = self.rates[currency]
        major = Decimal(minor).scaleb(-minor_digits(currency)) * rate
        settled = major.scaleb(minor_digits(self.currency)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return int(settled), rate


# --- Stripe: balance transactions -------------------------------------------------------------


def stripe_balance_transactions(
    entries: list[Entry],
    expand_source: bool,
    settlement: StripeSettlement | None = None,
    between: tuple[datetime, datetime] | None = None,
) -> list[dict[str, Any]]:
    """Newest first, as Stripe lists them. On an account settling in another currency, amount,
    fee and net are converted (`exchange_rate` set), the source keeps what the buyer was charged;
    Stripe's own fees in `between` are listed too (`reporting_category` fee)."""
    items = []
    for entry in entries:
        trade, refund = entry.trade, entry.refund
        currency = trade.currency.lower()
        amount, rate = (
            settlement.convert(entry.amount_minor, trade.currency)
            if settlement
            else (entry.amount_minor, None)
        )
        source: dict[str, Any]
        if refund:
            source = {
                "id": refund.refund_id,
                "object": "refund",
                "amount": refund.amount_minor,
                "charge": trade.refs["charge"],
                "payment_intent": trade.trade_no,
                "currency": currency,
                "metadata": {},
                "status": "succeeded",
            }
            amount, fee, category = -amount, 0, "refund"
        else:
            source = {
                "id": trade.refs["charge"],
                "object": "charge",
                "amount": entry.amount_minor,
                "payment_intent": trade.trade_no,
                "currency": currency,
                "metadata": {"order_id": trade.out_trade_no},
                "paid": True,
                "status": "succeeded",
            }
            category = "charge"
            fee = int(trade.fee.scaleb(minor_digits(trade.currency)))
            if rate is not None and settlement is not None:
                fee = settlement.convert(fee, trade.currency)[0]
        items.append(
            {
                "id": f"txn_{source['id'].split('_', 1)[1]}",
                "object": "balance_transaction",
                "amount": amount,
                "currency": settlement.currency.lower() if settlement else currency,
                "exchange_rate": float(rate) if rate is not None else None,
                "fee": fee,
                "net": amount - fee,
                "type": category,
                "reporting_category": category,
                "status": "available",
                "created": int(entry.at.timestamp()),
                "source": source if expand_source else source["id"],
            }
        )
    if settlement and between:
        items += [
            {
                "id": f"txn_fee{int(at.timestamp())}{minor}",
                "object": "balance_transaction",
                "amount": -minor,
                "currency": settlement.currency.lower(),
                "exchange_rate": None,
                "fee": 0,
                "net": -minor,
                "type": "stripe_fee",
                "reporting_category": "fee",
                "description": "Radar (simulated): Radar for Fraud Teams",
                "status": "available",
                "created": int(at.timestamp()),
                "source": None,
            }
            for at, minor in settlement.account_fees
            if between[0] <= at < between[1]
        ]
    return sorted(items, key=lambda item: item["created"], reverse=True)
