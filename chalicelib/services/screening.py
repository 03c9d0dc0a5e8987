"""The anomaly engine: runs the rules (domain/rules) on what the streams show and on schedules,
records what they find (services/anomalies.py) and, once the rules for a change of a paid order
have run, tells the shop whether it may deliver (services/deliverability.py).

Requests per order record: none for a change no rule looks at; one by_ip COUNT Query for a new
order (and a Query of its window when the IP nears a burst); the deliverability claim for a
payment, a hold or a release; a put and an order update per finding.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.notice import Notice
from ..domain.order import Order
from ..domain.rules.change import OrderChange
from ..domain.rules.config import IpBurstConfig
from ..domain.rules.effects import ORDER_HELD
from ..domain.rules.notices import unknown_order, unknown_order_id
from ..domain.rules.orders import order_findings
from ..domain.rules.windows import burst_orders, channel_failure, ip_burst, slow_delivery, tally
from ..platform.settings import get_settings
from ..store import orders as order_store
from . import anomalies, channels, deliverability, metrics, ports
from .ports import clock


def on_order_change(change: OrderChange, now: datetime) -> Order:
    """Everything one orders-stream record calls for. Returns the order as it is afterwards."""
    rules = get_settings().rules
    order = change.after
    for finding in order_findings(change, rules):
        order = anomalies.record_on_order(finding, order, now)
    if change.created:
        order = _screen_ip_burst(order, now, rules.ip_burst)
    if change.newly_paid or change.newly_held or change.released:
        _announce(change, order)
    if change.newly_delivered and order.paid_at is not None and order.delivered_at is not None:
        metrics.delivered((order.delivered_at - order.paid_at).total_seconds())
    return order


def _announce(change: OrderChange, order: Order) -> None:
    """Publish ready/held; the payment and hold figures count announcements, so a replayed
    record (which announces nothing new) is not counted twice."""
    published = deliverability.announce(order)
    if published is None:
        return
    if change.newly_paid:
        metrics.order_paid(order.channel)
    if published.event == ORDER_HELD:
        metrics.delivery_held(list(published.reasons))


def _screen_ip_burst(order: Order, now: datetime, config: IpBurstConfig) -> Order:
    """A new order: is its IP bursting? If so, hold it and every undelivered order of the burst.

    A COUNT Query first: almost every IP has too few orders, and then nothing is read. The
    index may not show the new order yet, hence the one order of slack."""
    if not (config.enabled and order.buyer_ip):
        return order
    since = order.created_at - config.window
    if (
        ports.windows(order_store).count_from_ip(order.buyer_ip, since, order.created_at) + 1
        < config.min_orders
    ):
        return order
    window = [
        o
        for o in ports.windows(order_store).from_ip(order.buyer_ip, since, order.created_at)
        if o.order_no != order.order_no
    ] + [order]
    finding = ip_burst(order, window, config)
    if finding is None:
        return order
    order = anomalies.record_on_order(finding, order, now)
    for other in burst_orders(order, window, config):
        if other.order_no != order.order_no:
            anomalies.apply_to_order(finding, other, now)
    return order


def on_unknown_order(notice: Notice, now: datetime) -> None:
    """A verified notice was left waiting: no order has its number."""
    finding = unknown_order(notice, get_settings().rules.unknown_order)
    if finding is not None:
        anomalies.record(finding, now)


def on_notice_matched(notice: Notice, now: datetime) -> None:
    """The awaited order arrived and the notice was applied: its unknown_order resolves itself."""
    anomalies.resolve_by_system(
        unknown_order_id(notice), now, "the order was registered and the notice applied to it"
    )


# ------------------------------------------------------------------------------- schedules


def slow_delivery_check(now: datetime | None = None) -> dict[str, Any]:
    """Paid orders still not delivered `after_minutes` after payment (scheduled every minute)."""
    now = now or clock().now()
    config = get_settings().rules.slow_delivery
    checked = slow = 0
    if config.enabled:
        for order in ports.windows(order_store).paid_undelivered(
            now - config.lookback, now - config.after
        ):
            checked += 1
            finding = slow_delivery(order, now, config)
            if finding is not None:
                anomalies.record_on_order(finding, order, now)
                slow += 1
    return {"job": "slow_delivery", "checked": checked, "slow": slow}


def channel_health(now: datetime | None = None) -> dict[str, Any]:
    """Each configured channel's failed share over the last window (scheduled hourly; also the
    `channel_health` job an operator can run on demand)."""
    now = now or clock().now()
    config = get_settings().rules.channel_failure
    report, failing = {}, []
    for channel in sorted(channels.all_channels()):
        counted = tally(
            ports.windows(order_store).pay_statuses_on_channel(channel, now - config.window, now)
        )
        report[channel] = {"attempts": counted.attempts, "failed": counted.failed}
        finding = channel_failure(channel, counted, now, config)
        if finding is not None:
            anomalies.record(finding, now)
            failing.append(channel)
    return {"job": "channel_health", "channels": report, "failing": failing}
