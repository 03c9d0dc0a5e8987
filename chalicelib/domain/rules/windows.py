"""The rules that look at time: a window of orders (ip_burst, channel_failure) or the clock
(slow_delivery). Pure: the caller reads the window with one bounded index query and passes it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..anomaly import Finding, Severity
from ..clock import to_api
from ..order import DeliveryStatus, EntryType, Order, PayStatus
from .config import ChannelFailureConfig, IpBurstConfig, SlowDeliveryConfig
from .registry import rule


def in_window(moment: datetime, end: datetime, length: timedelta) -> bool:
    """`end - length <= moment <= end`: both edges belong to the window."""
    return end - length <= moment <= end


def linked_anomalies(order: Order, rule: str) -> list[str]:
    """Ids of the `rule` anomalies already noted on the order's timeline, oldest first."""
    return [
        entry.data["anomaly_id"]
        for entry in order.timeline
        if entry.type == EntryType.ANOMALY and entry.data.get("rule") == rule
    ]


# ------------------------------------------------------------------------------- ip_burst


def burst_orders(trigger: Order, window: Iterable[Order], config: IpBurstConfig) -> list[Order]:
    """The orders from the trigger's IP in the window ending at its creation, oldest first."""
    return sorted(
        (
            o
            for o in window
            if o.buyer_ip == trigger.buyer_ip
            and in_window(o.created_at, trigger.created_at, config.window)
        ),
        key=lambda o: (o.created_at, o.order_no),
    )


def distinct_buyers(orders: Sequence[Order]) -> int:
    """Distinct buyers by e-mail (case-insensitive) or by buyer id, whichever shows more."""
    emails = {o.buyer_email.casefold() for o in orders if o.buyer_email}
    ids = {o.buyer_id for o in orders if o.buyer_id}
    return max(len(emails), len(ids))


@rule(IpBurstConfig(Severity.WARNING, hold=True), zh="同 IP 短时多单", en="Many orders from one IP")
def ip_burst(trigger: Order, window: Iterable[Order], config: IpBurstConfig) -> Finding | None:
    """One IP placing at least `min_orders` orders for at least `min_buyers` buyers within
    `window_minutes` (seed: 短时间内同一IP多笔不同账户交易).

    One anomaly per burst: while the window still holds an order linked to a burst anomaly, a
    new order joins that anomaly; otherwise the burst is named after its oldest order. The id
    carries no IP (ids are shown to viewers and logged).
    """
    if not (config.enabled and trigger.buyer_ip):
        return None
    orders = burst_orders(trigger, window, config)
    if len(orders) < config.min_orders or distinct_buyers(orders) < config.min_buyers:
        return None
    known = [anomaly for o in orders for anomaly in linked_anomalies(o, "ip_burst")]
    subject = known[0].split("#", 1)[1] if known else orders[0].order_no
    return Finding(
        rule="ip_burst",
        severity=config.severity,
        subject=subject,
        order_no=trigger.order_no,
        channel=trigger.channel,
        hold=config.hold,
        details={
            "expected": f"fewer than {config.min_orders} orders for {config.min_buyers} or more "
            f"buyers from one IP in {config.window_minutes} minutes",
            "seen": f"{len(orders)} orders, {distinct_buyers(orders)} buyers",
            "ip": trigger.buyer_ip,
            "orders": [o.order_no for o in orders],
            "emails": sorted({o.buyer_email for o in orders if o.buyer_email}),
            "buyer_ids": sorted({o.buyer_id for o in orders if o.buyer_id}),
            "first_at": to_api(orders[0].created_at),
            "last_at": to_api(orders[-1].created_at),
        },
    )


# ------------------------------------------------------------------------------- channel_failure

FAILED_STATES = frozenset({PayStatus.EXPIRED, PayStatus.CLOSED})


@dataclass(frozen=True)
class ChannelTally:
    """Orders created on a channel within the window whose outcome is known (pending ones are
    still undecided and not counted), and how many of them failed (expired or closed)."""

    attempts: int
    failed: int


def tally(statuses: Iterable[PayStatus]) -> ChannelTally:
    decided = [s for s in statuses if s is not PayStatus.PENDING]
    return ChannelTally(len(decided), sum(s in FAILED_STATES for s in decided))


@rule(ChannelFailureConfig(Severity.CRITICAL), zh="渠道失败率过高", en="Channel failing")
def channel_failure(
    channel: str, counted: ChannelTally, now: datetime, config: ChannelFailureConfig
) -> Finding | None:
    """A failed share strictly above `max_failure_percent` over at least `min_attempts`
    attempts (seed: 某渠道失败率持续高于15%). One anomaly per channel and UTC hour."""
    if not config.enabled or counted.attempts < config.min_attempts:
        return None
    if counted.failed * 100 <= config.max_failure_percent * counted.attempts:
        return None
    return Finding(
        rule="channel_failure",
        severity=config.severity,
        subject=f"{channel}#{now.strftime('%Y-%m-%dT%H')}",
        channel=channel,
        hold=False,
        details={
            "expected": f"at most {config.max_failure_percent}% failed",
            "seen": f"{counted.failed} of {counted.attempts} failed "
            f"({counted.failed * 100 // counted.attempts}%)",
            "attempts": counted.attempts,
            "failed": counted.failed,
            "window_minutes": config.window_minutes,
        },
    )


# ------------------------------------------------------------------------------- slow_delivery

UNDELIVERED = frozenset({DeliveryStatus.PENDING, DeliveryStatus.FAILED})


@rule(SlowDeliveryConfig(Severity.WARNING), zh="发货超时", en="Slow delivery")
def slow_delivery(order: Order, now: datetime, config: SlowDeliveryConfig) -> Finding | None:
    """Paid, not held, and not delivered `after_minutes` or more after payment (seed: 支付到发货的
    时间差是否过长). A held order waits for an operator on purpose and is not slow."""
    if not (config.enabled and order.pay_status is PayStatus.PAID and order.paid_at):
        return None
    if order.delivery_status not in UNDELIVERED or now - order.paid_at < config.after:
        return None
    waited = int((now - order.paid_at).total_seconds())
    return Finding(
        rule="slow_delivery",
        severity=config.severity,
        subject=order.order_no,
        order_no=order.order_no,
        channel=order.channel,
        hold=config.hold,
        details={
            "expected": f"delivered within {config.after_minutes} minutes of payment",
            "seen": f"{order.delivery_status.value} {waited} s after payment",
            "paid_at": to_api(order.paid_at),
            "delivery_status": order.delivery_status.value,
        },
    )
