"""The anomaly engine: runs the rules (domain/rules) on what the streams show and on schedules,
records what they find (services/anomalies.py) and, once the rules for a change of a paid order
have run, tells the shop whether it may deliver (services/deliverability.py).

Requests per order record: none for a change no rule looks at; for the new orders of a stream
batch, one by_ip read per 50 of their addresses (`ip_counts`, a PartiQL SELECT: DynamoDB's pages
of 10 items make it a request per ~10 new orders) and a Query of its window when an IP nears a
burst; the deliverability claim for a payment, a hold or a release; a put and an order update
per finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..domain.clock import from_iso, to_iso
from ..domain.notice import Notice
from ..domain.order import Order
from ..domain.rules.change import OrderChange
from ..domain.rules.config import IpBurstConfig
from ..domain.rules.effects import ORDER_HELD
from ..domain.rules.notices import notice_conflict, unknown_order, unknown_order_id
from ..domain.rules.orders import order_findings
from ..domain.rules.windows import burst_orders, channel_failure, ip_burst, slow_delivery, tally
from ..platform.settings import get_settings
from ..store import orders as order_store
from . import anomalies, channels, deliverability, metrics, ports
from .ports import clock


def on_order_change(change: OrderChange, now: datetime, ip_counts: Mapping[str, int]) -> Order:
    """Everything one orders-stream record calls for (`ip_counts`: its batch's, for a new order).
    Returns the order as it is afterwards."""
    rules = get_settings().rules
    order = change.after
    for finding in order_findings(change, rules):
        order = anomalies.record_on_order(finding, order, now)
    if change.created:
        order = _screen_ip_burst(order, now, rules.ip_burst, ip_counts)
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


def ip_counts(new_orders: Iterable[tuple[str, str, str]]) -> dict[str, int]:
    """For a stream batch's new orders (order number, buyer IP, creation time as ISO text): how
    many orders from each one's IP the by_ip index shows in the ip_burst window ending at its
    creation, by order number — read for the whole batch at once (each address once), so that
    `_screen_ip_burst` reads nothing for almost every order. The orders are grouped by time (a
    group spans at most one window), and each group's addresses read together over the group's
    windows (store/orders.created_from_ips), then counted per order here."""
    config = get_settings().rules.ip_burst
    orders = sorted({(created_at, order_no, ip) for order_no, ip, created_at in new_orders})
    if not (config.enabled and orders):
        return {}
    counts: dict[str, int] = {}
    group = [orders[0]]
    for entry in orders[1:]:
        if from_iso(entry[0]) - from_iso(group[0][0]) > config.window:
            counts |= _group_counts(group, config)
            group = []
        group.append(entry)
    return counts | _group_counts(group, config)


def _group_counts(group: list[tuple[str, str, str]], config: IpBurstConfig) -> dict[str, int]:
    created = ports.windows(order_store).created_from_ips(
        (ip for _, _, ip in group), from_iso(group[0][0]) - config.window, from_iso(group[-1][0])
    )
    counts = {}
    for created_at, order_no, ip in group:
        since = to_iso(from_iso(created_at) - config.window)
        counts[order_no] = sum(1 for t in created[ip] if since <= t <= created_at)
    return counts


def _screen_ip_burst(
    order: Order, now: datetime, config: IpBurstConfig, ip_counts: Mapping[str, int]
) -> Order:
    """A new order: is its IP bursting? If so, hold it and every undelivered order of the burst.

    The count of its IP's orders in the window first (`ip_counts`, read for its batch): almost
    every IP has too few, and then nothing more is read. The index may not show the new order
    yet, hence the one order of slack."""
    if not (config.enabled and order.buyer_ip):
        return order
    since = order.created_at - config.window
    if ip_counts[order.order_no] + 1 < config.min_orders:
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


def on_conflicting_notice(
    notice: Notice, conflict: dict[str, list[str | None]], now: datetime
) -> None:
    """A verified notice came under a stored notice's key saying otherwise: applied nowhere."""
    finding = notice_conflict(notice, conflict, get_settings().rules.notice_conflict)
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
