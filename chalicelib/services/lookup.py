"""GET /admin/lookup: find a payment by the gateway's trade number — the number on the buyer's
receipt when "I paid but the order says unpaid".

paytrack's own orders and notices are searched first. When none carries the number, the
gateways are asked (every channel whose trade numbers look like it, or the channel named), each
in its own protocol with its answer verified, and what they say is shown beside paytrack's order
of the same merchant order number. Nothing is applied here: a paid answer on a pending order is
applied by the operator through the order's `confirm_paid` action (`can_apply`). Every lookup is
audited, whatever it found. A gateway that could not answer is never read as "not found": with
nothing found elsewhere, the lookup is a 502 that names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.commands import LookupTrade
from ..domain.errors import GatewayUnavailable, NotFound, PaytrackError, ValidationFailed
from ..domain.lookup import GatewayTrade
from ..domain.order import PAID_STATES, Order
from ..gateways.registry import gateway_types_for
from ..platform.observability import logger
from ..store import audit
from ..store import lookup as lookup_store
from ..store import orders as order_store
from . import channels, gateway_calls, ports
from .auth import Principal
from .ports import clock

MAX_CHANNELS = 8  # asked at once; more channels of one type than that is not a shop's setup

FOUND, NOT_FOUND, UNAVAILABLE = "found", "not_found", "unavailable"


@dataclass(frozen=True)
class _Answer:
    channel: str
    answer: str  # found, not_found, unavailable
    trade: GatewayTrade | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"channel": self.channel, "answer": self.answer, "detail": self.detail}


def _channels_to_ask(trade_no: str, channel: str | None) -> list[str]:
    if channel is not None:
        channels.get_channel(channel)  # NotFound / ChannelMisconfigured, said as such
        return [channel]
    types = gateway_types_for(trade_no)
    asked = sorted(c for c, config in channels.all_channels().items() if config["type"] in types)
    if not asked:
        raise ValidationFailed(
            "trade_no: no configured channel's trade numbers look like this one; "
            "name the channel (channel=…)",
            {"field": "trade_no", "gateway_types": types},
        )
    return asked[:MAX_CHANNELS]


def _ask(channel: str, trade_no: str, now: datetime) -> _Answer:
    try:
        ctx, gateway = ports.gateways(gateway_calls).reach(channel, now)
        trade = gateway.find_trade(ctx, trade_no)
    except PaytrackError as error:  # unreachable, unverifiable, or a channel unfit to ask
        logger.warning("trade lookup unanswered", extra={"channel": channel, "why": error.message})
        return _Answer(channel, UNAVAILABLE, detail=error.message)
    return _Answer(channel, FOUND, trade) if trade else _Answer(channel, NOT_FOUND)


def _can_apply(trade: GatewayTrade, order: Order | None) -> bool:
    """The gateway took the money for an order paytrack still has as unpaid, on that channel:
    the order's `confirm_paid` (which asks the gateway by the order number) will apply it."""
    return (
        trade.paid
        and order is not None
        and order.channel == trade.channel
        and order.pay_status not in PAID_STATES
    )


@dataclass(frozen=True)
class Found:
    """A trade the gateway knows, beside paytrack's order of its merchant order number."""

    trade: GatewayTrade
    order: Order | None

    @property
    def can_apply(self) -> bool:
        return _can_apply(self.trade, self.order)


@dataclass(frozen=True)
class Lookup:
    """What a lookup found: paytrack's own orders carrying the number (`source` paytrack), or
    what the gateways asked said (`source` gateway)."""

    trade_no: str
    source: str  # paytrack, gateway
    masked: bool
    asked: list[dict[str, str]]
    found: list[Found]
    orders: list[Order]


def refused(principal: Principal, said: Mapping[str, Any], error: PaytrackError) -> None:
    """A request refused before it was read (the edge's 400): audited like every lookup, with
    what it said (LookupTrade.said)."""
    _audit(principal, {**said, "refused": error.code})


def _audit(principal: Principal, detail: dict[str, Any]) -> None:
    ports.audit(audit).record_api(
        clock().now(),
        principal.key_id,
        principal.role,
        "lookup_trade",
        detail.pop("trade_no") or None,
        detail,
    )


def lookup(principal: Principal, command: LookupTrade) -> Lookup:
    """The lookup, audited whatever it found or refused (the trade number as the target)."""
    detail: dict[str, Any] = {"trade_no": command.trade_no, "channel": command.channel}
    try:
        return _lookup(principal, command, detail)
    except PaytrackError as error:
        detail["refused"] = error.code
        raise
    finally:
        _audit(principal, detail)


def _lookup(principal: Principal, command: LookupTrade, detail: dict[str, Any]) -> Lookup:
    trade_no, channel = command.trade_no, command.channel
    masked = not principal.sees_pii
    orders = [
        order
        for order_no in ports.trades(lookup_store).orders_of_trade(trade_no)
        if (order := ports.orders(order_store).get(order_no)) is not None
    ]
    if orders:  # a notice of an order never registered is no answer: the gateway is asked
        detail.update(source="paytrack", orders=[order.order_no for order in orders])
        return Lookup(trade_no, "paytrack", masked, [], [], orders)
    detail["source"] = "gateway"
    asked = _channels_to_ask(trade_no, channel)
    now = clock().now()
    with ThreadPoolExecutor(max_workers=min(MAX_CHANNELS, len(asked))) as pool:
        answers = list(pool.map(lambda c: _ask(c, trade_no, now), asked))
    detail["asked"] = [a.as_dict() for a in answers]
    found = [a.trade for a in answers if a.trade is not None]
    unanswered = [a for a in answers if a.answer == UNAVAILABLE]
    if not found and unanswered:
        raise GatewayUnavailable(
            "no trade found, and "
            + "; ".join(f"{a.channel} did not answer: {a.detail}" for a in unanswered),
            {"asked": detail["asked"]},
        )
    if not found:
        raise NotFound(
            f"no gateway asked knows trade {trade_no} ({', '.join(asked)})",
            {"asked": detail["asked"]},
        )
    detail["found"] = [trade.out_trade_no for trade in found]
    return Lookup(
        trade_no,
        "gateway",
        masked,
        detail["asked"],
        [
            Found(
                trade,
                ports.orders(order_store).get(trade.out_trade_no) if trade.out_trade_no else None,
            )
            for trade in found
        ],
        [],
    )
