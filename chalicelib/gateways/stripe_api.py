"""Stripe API calls: an order's PaymentIntent (补单) and the day's balance transactions (对账).

Stripe signs no API answer (TLS and our secret key, sent as a Bearer token, are the trust). An
order's PaymentIntent is found by the id we already know (the order's trade number) or by
searching `metadata['order_id']` — Checkout must create it with
`payment_intent_data[metadata][order_id]` (docs/operations.md, "Configuration"). Balance transactions carry
the fee and the net of each charge and refund; their `source` is expanded to reach the order.

A balance transaction is in the account's settlement currency. A charge in another currency
(US$19.99 on an account settling in HKD) has `exchange_rate` set (source amount x rate = amount,
in major units) and its `source` (the charge or refund) holds what the buyer was charged: that
is the line's amount, the balance transaction's amount its `settled` gross, fee and net stay in
the settlement currency. Stripe's own charges that are no trade (`reporting_category` `fee`:
Radar, Billing) are kept apart as account fees.

Paging is by cursor (`starting_after` the last id read), not by offset: a transaction created
while the day is read is listed before the cursor (newest first) and cannot shift the pages
after it, so nothing is read twice or skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from ..domain.errors import InvalidMoney
from ..domain.lookup import GatewayTrade
from ..domain.money import Money
from ..domain.notice import Notice, NoticeKind, NoticeSource
from ..domain.query import QueryResult, QueryStatus, query_dedupe_key
from ..domain.refunds import RefundAnswer, RefundCall, RefundState
from ..domain.statement import (
    LineKind,
    Statement,
    StatementLine,
    StatementUnparseable,
    day_bounds,
    read_at,
)
from ._http import GatewayHttp, invalid_answer, readable
from ._signing import config_value, redact_keys
from .base import CallContext

GATEWAY = "stripe"
_NOT_PAID = (
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
)
_TRADES = {"charge": LineKind.PAYMENT, "refund": LineKind.REFUND}
_ACCOUNT_FEES = "fee"  # reporting_category of Stripe's charges that are no trade (Radar, Billing)


def _get(
    config: Mapping[str, Any], path: str, params: Mapping[str, Any], http: GatewayHttp, what: str
) -> tuple[int, dict[str, Any]]:
    response = http.call(
        "GET",
        config_value(config, "api_base").rstrip("/") + path,
        what,
        params=params,
        headers={"Authorization": f"Bearer {config_value(config, 'api_key')}"},
    )
    with readable(what):
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
    if response.status_code not in (200, 404):
        code = (document.get("error") or {}).get("code", "")
        raise invalid_answer(what, f"HTTP {response.status_code} {code}".strip())
    return response.status_code, document


def _id(value: Any) -> str | None:
    """A reference field: an id, or an expanded object's id."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value or None


# ------------------------------------------------------------------ 补单


def _intents(
    config: Mapping[str, Any], out_trade_no: str, trade_no: str | None, http: GatewayHttp
) -> list[dict[str, Any]]:
    what = "stripe payment intent query"
    if trade_no:
        status, intent = _get(
            config,
            f"/v1/payment_intents/{quote(trade_no, safe='')}",
            {"expand[]": "latest_charge"},
            http,
            what,
        )
        return [intent] if status == 200 else []
    quoted = out_trade_no.replace("'", "\\'")
    search = f"metadata['order_id']:'{quoted}'"
    status, found = _get(
        config,
        "/v1/payment_intents/search",
        {"query": search, "expand[]": "data.latest_charge"},
        http,
        what,
    )
    if status != 200:
        raise invalid_answer(what, "HTTP 404 on search")
    return list(found.get("data") or [])


def query(ctx: CallContext, out_trade_no: str, trade_no: str | None = None) -> QueryResult:
    config, channel, http = ctx.config, ctx.channel, ctx.http
    what = "stripe payment intent query"
    intents = _intents(config, out_trade_no, trade_no, http)
    with readable(what):
        intents = [
            i
            for i in intents
            if (i.get("metadata") or {}).get("order_id", out_trade_no) == out_trade_no
        ]
        if not intents:
            return QueryResult(QueryStatus.NOT_FOUND, "no PaymentIntent")
        succeeded = sorted(
            (i for i in intents if i["status"] == "succeeded"), key=lambda i: i["created"]
        )
        if succeeded:
            intent = succeeded[0]
            if _refunded(intent):
                return QueryResult(
                    QueryStatus.REFUNDED,
                    "succeeded, refunded",
                    _notice(intent, channel, out_trade_no, NoticeKind.INFO),
                )
            return QueryResult(
                QueryStatus.PAID,
                "succeeded",
                _notice(intent, channel, out_trade_no, NoticeKind.PAYMENT),
            )
        waiting = next((i["status"] for i in intents if i["status"] in _NOT_PAID), None)
        if waiting:
            return QueryResult(QueryStatus.NOT_PAID, waiting)
        latest = max(intents, key=lambda i: i["created"])
        return QueryResult(
            QueryStatus.CLOSED,
            latest["status"],
            _notice(latest, channel, out_trade_no, NoticeKind.CLOSED),
        )


def _refunded(intent: Mapping[str, Any]) -> bool:
    charge = intent.get("latest_charge")
    return isinstance(charge, Mapping) and bool(
        charge.get("refunded") or charge.get("amount_refunded")
    )


def _notice(intent: Mapping[str, Any], channel: str, out_trade_no: str, kind: NoticeKind) -> Notice:
    charge = intent.get("latest_charge")
    paid_at = charge.get("created") if isinstance(charge, Mapping) else None
    amount_field = "amount_received" if kind is NoticeKind.PAYMENT else "amount"
    return Notice(
        channel=channel,
        gateway=GATEWAY,
        kind=kind,
        dedupe_key=query_dedupe_key(channel, intent["id"], intent["status"]),
        out_trade_no=out_trade_no,
        trade_no=intent["id"],
        amount=Money.from_minor(intent[amount_field], intent["currency"].upper()),
        gateway_status=intent["status"],
        event_time=datetime.fromtimestamp(paid_at or intent["created"], UTC),
        raw=redact_keys(intent),
        payment_ref=intent["id"],
        method="stripe",
        payer=_id(intent.get("customer")),
        source=NoticeSource.QUERY,
    )


# ------------------------------------------------------------------ a payment by its Stripe id


def find_trade(ctx: CallContext, trade_no: str) -> GatewayTrade | None:
    """A PaymentIntent (`pi_…`) or a Charge (`ch_…`, `py_…`) by its id: the trade, or None.
    The order it belongs to is its `metadata['order_id']` (empty when Checkout set none)."""
    config, channel, http = ctx.config, ctx.channel, ctx.http
    kind = "payment_intents" if trade_no.startswith("pi_") else "charges"
    what = f"stripe {kind} lookup"
    status, found = _get(
        config,
        f"/v1/{kind}/{quote(trade_no, safe='')}",
        {"expand[]": "latest_charge"} if kind == "payment_intents" else {},
        http,
        what,
    )
    if status == 404:
        return None
    with readable(what):
        if found["id"] != trade_no:
            raise invalid_answer(what, "the answer names another payment")
        charge = found.get("latest_charge") if kind == "payment_intents" else found
        state = _intent_status(found) if kind == "payment_intents" else _charge_status(found)
        took_money = state in (QueryStatus.PAID, QueryStatus.REFUNDED)
        paid_at = charge.get("created") if took_money and isinstance(charge, Mapping) else None
        return GatewayTrade(
            channel,
            trade_no,
            (found.get("metadata") or {}).get("order_id", ""),
            state,
            found["status"],
            Money.from_minor(found["amount"], found["currency"].upper()),
            datetime.fromtimestamp(paid_at, UTC) if paid_at else None,
        )


def _intent_status(intent: Mapping[str, Any]) -> QueryStatus:
    if intent["status"] == "succeeded":
        return QueryStatus.REFUNDED if _refunded(intent) else QueryStatus.PAID
    return QueryStatus.NOT_PAID if intent["status"] in _NOT_PAID else QueryStatus.CLOSED


def _charge_status(charge: Mapping[str, Any]) -> QueryStatus:
    if charge["status"] == "succeeded" and charge.get("paid", True):
        return QueryStatus.REFUNDED if charge.get("refunded") else QueryStatus.PAID
    return QueryStatus.NOT_PAID if charge["status"] == "pending" else QueryStatus.CLOSED


# ------------------------------------------------------------------ 对账


def fetch_balance(ctx: CallContext, day: date) -> Statement:
    """Every charge and refund balance transaction created in the Beijing day (paged)."""
    config, channel, http, now = ctx.config, ctx.channel, ctx.http, ctx.now
    what, source = (
        "stripe balance transactions",
        f"stripe balance transactions {channel} {day.isoformat()}",
    )
    start, end = day_bounds(day)
    until = datetime.fromtimestamp(int(min(end, now).timestamp()), UTC)  # whole seconds
    params: dict[str, Any] = {
        "created[gte]": int(start.timestamp()),
        "created[lt]": int(until.timestamp()),
        "limit": 100,
        "expand[]": "data.source",
    }
    lines: list[StatementLine] = []
    account_fees: list[Money] = []
    seen = 0
    while True:
        status, page = _get(config, "/v1/balance_transactions", params, http, what)
        items = page.get("data")
        if status != 200 or not isinstance(items, list):
            raise invalid_answer(what, "no list of balance transactions")
        for item in items:
            seen += 1
            line = _line(item, seen, source)
            if line is not None:
                lines.append(line)
            elif isinstance(item, Mapping) and item.get("reporting_category") == _ACCOUNT_FEES:
                account_fees.append(_account_fee(item, seen, source))
        if not page.get("has_more") or not items:
            return read_at(
                Statement(channel, day, lines, source, account_fees=tuple(account_fees)), until
            )
        params["starting_after"] = items[-1]["id"]


def _account_fee(item: Mapping[str, Any], n: int, source: str) -> Money:
    """Stripe's own charge (a Radar fee): what it took from the balance, positive."""
    try:
        return Money.from_minor(-int(item["net"]), item["currency"].upper())
    except InvalidMoney as error:
        raise StatementUnparseable(source, n, error.message) from None
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise StatementUnparseable(
            source, n, f"unreadable fee ({type(error).__name__}: {error})"
        ) from None


def _line(item: Mapping[str, Any], n: int, source: str) -> StatementLine | None:
    """A charge or refund as a statement line; payouts, Stripe's own fees and transfers are not
    trades (None)."""
    try:
        kind = _TRADES.get(item.get("reporting_category") or item["type"])
        if kind is None:
            return None
        amount, fee, net = int(item["amount"]), int(item["fee"]), int(item["net"])
        if amount - fee != net:
            raise StatementUnparseable(source, n, f"amount {amount} - fee {fee} != net {net}")
        origin = item["source"]
        if not isinstance(origin, Mapping):
            raise StatementUnparseable(source, n, "source is not expanded: cannot tell the order")
        currency = item["currency"].upper()
        metadata = origin.get("metadata") or {}
        trade_no = _id(origin.get("payment_intent")) or _id(origin.get("charge")) or origin["id"]
        booked = Money.from_minor(abs(amount), currency)
        charged, rate = _presentment(item, origin, booked, n, source)
        return StatementLine(
            n,
            kind,
            metadata.get("order_id") or "",
            trade_no,
            charged,
            Money.from_minor(abs(fee), currency),
            at=datetime.fromtimestamp(int(item["created"]), UTC),
            status=item.get("type", ""),
            refund_ref=origin["id"] if kind is LineKind.REFUND else None,
            settled=booked if rate is not None else None,
            rate=rate,
        )
    except StatementUnparseable:
        raise
    except InvalidMoney as error:
        raise StatementUnparseable(source, n, error.message) from None
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise StatementUnparseable(
            source, n, f"unreadable balance transaction ({type(error).__name__}: {error})"
        ) from None


def _presentment(
    item: Mapping[str, Any], origin: Mapping[str, Any], booked: Money, n: int, source: str
) -> tuple[Money, str | None]:
    """What the buyer was charged (or refunded) and the conversion rate; the booked amount itself
    with no rate when the transaction was not converted."""
    rate = item.get("exchange_rate")
    charged_currency = str(origin.get("currency") or booked.currency).upper()
    if rate is None and charged_currency == booked.currency:
        return booked, None
    if rate is None or "amount" not in origin:
        raise StatementUnparseable(
            source,
            n,
            f"a {charged_currency} {origin.get('object', 'source')} booked in "
            f"{booked.currency} without exchange_rate and source amount",
        )
    try:
        value = (
            Decimal(str(rate))
            if isinstance(rate, (int, float, str)) and not isinstance(rate, bool)
            else None
        )
    except ArithmeticError:  # decimal.InvalidOperation: not a number at all
        value = None
    if value is None or not value.is_finite() or value <= 0:
        raise StatementUnparseable(
            source, n, f"exchange_rate {str(rate)[:20]!r} is not a positive number"
        )
    text = format(value.normalize(), "f")
    # a charge captured in part moved only `amount_captured`; a refund's `amount` is what it gave back
    charged = origin.get("amount_captured") if origin.get("object") == "charge" else None
    return Money.from_minor(
        abs(int(charged if charged is not None else origin["amount"])), charged_currency
    ), text


# ------------------------------------------------------------------ 退款

REFUND_STATES = {
    "succeeded": RefundState.SUCCEEDED,
    "pending": RefundState.PENDING,
    "requires_action": RefundState.PENDING,
    "failed": RefundState.FAILED,
    "canceled": RefundState.FAILED,
}


def refund_answer(refund: Mapping[str, Any], what: str) -> RefundAnswer:
    """A Refund object in our terms (the refund API's answer, its list, the refund.* events)."""
    with readable(what):
        status = refund["status"]
        if status not in REFUND_STATES:
            raise invalid_answer(what, f"unknown refund status {status}")
        detail = status + (f" {refund['failure_reason']}" if refund.get("failure_reason") else "")
        return RefundAnswer(
            REFUND_STATES[status],
            detail,
            refund["id"],
            Money.from_minor(refund["amount"], refund["currency"].upper()),
        )


def refund(ctx: CallContext, call: RefundCall) -> RefundAnswer:
    """`POST /v1/refunds` of the PaymentIntent, with `Idempotency-Key` = the request id (Stripe
    answers a retry with the first refund) and the id in `metadata[refund_request_id]`, which the
    refund.* webhooks carry back. A 4xx (charge_already_refunded, amount_too_large) is a refusal."""
    config, http = ctx.config, ctx.http
    what = "stripe refund"
    response = http.call(
        "POST",
        config_value(config, "api_base").rstrip("/") + "/v1/refunds",
        what,
        data={
            "payment_intent": call.trade_no,
            "amount": call.amount.minor,
            "metadata[refund_request_id]": call.request_id,
            "metadata[order_id]": call.out_trade_no,
            "metadata[reason]": call.reason[:500],
        },
        headers={
            "Authorization": f"Bearer {config_value(config, 'api_key')}",
            "Idempotency-Key": call.request_id,
        },
    )
    with readable(what):
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
    if 400 <= response.status_code < 500 and response.status_code not in (401, 403):
        error = document.get("error") or {}
        return RefundAnswer(
            RefundState.FAILED, f"HTTP {response.status_code} {error.get('code', '')}".strip()
        )
    if response.status_code != 200:
        raise invalid_answer(what, f"HTTP {response.status_code}")
    return refund_answer(document, what)


def query_refund(ctx: CallContext, call: RefundCall) -> RefundAnswer | None:
    """The PaymentIntent's refunds (`GET /v1/refunds?payment_intent=…`), the one whose metadata
    names the request; None when Stripe has none (it may be asked again with the same key)."""
    config, http = ctx.config, ctx.http
    what = "stripe refund query"
    _, listed = _get(
        config, "/v1/refunds", {"payment_intent": call.trade_no, "limit": 100}, http, what
    )
    with readable(what):
        for item in listed.get("data") or []:
            if (item.get("metadata") or {}).get("refund_request_id") == call.request_id:
                return refund_answer(item, what)
    return None
