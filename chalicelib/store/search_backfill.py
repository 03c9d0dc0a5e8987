"""The derived keys (store/search_keys.py) written onto orders stored before they existed: a pass
over `by_created`, one UTC creation day at a time from the newest, each order's keys computed
from its sources and written only where they differ, on the condition that the order is still at
the version read (a write in between is never overwritten: the order is read again and its keys
computed from what it is now).

Idempotent (a second pass finds every key in place and writes nothing) and resumable: a pass
reads at most `max_items` orders and `max_days` days, and returns where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from .models import OrderModel
from .search_keys import AWAITING_DELIVERY, amount_keys, awaiting_delivery_keys, email_keys

#: every attribute search_keys derives (amount_keys and email_keys)
KEYS = (
    "amount_band",
    "amount_at",
    "channel_band",
    "channel_status",
    "status_band",
    "email_domain",
    "email_head",
    "email_at",
    AWAITING_DELIVERY,
)
_SOURCES = (
    "order_no",
    "channel",
    "pay_status",
    "delivery_status",
    "paid_day",
    "amount_minor",
    "created_at",
    "buyer_email",
)
_READ = [*_SOURCES, "version", *KEYS]
_ATTEMPTS = 5  # reads and writes of one order while others keep changing it


@dataclass(frozen=True)
class Position:
    """Where a pass is: the creation day being read, the last order read on it (its index key),
    and the oldest day to reach."""

    day: date
    since: date
    after: dict[str, Any] | None = None


@dataclass
class Pass:
    read: int = 0
    written: int = 0
    conflicts: int = 0  # writes refused because the order changed: read again and redone
    days: int = 0
    position: Position | None = field(default=None)  # None: the oldest day is done


def expected_keys(item: OrderModel) -> dict[str, str]:
    return (
        amount_keys(item.channel, item.pay_status, int(item.amount_minor), item.created_at)
        | email_keys(item.buyer_email, item.created_at)
        | awaiting_delivery_keys(item.pay_status, item.delivery_status, item.paid_day)
    )


def missing_keys(item: OrderModel) -> dict[str, str]:
    """The keys the order should hold and does not (or holds with another value)."""
    return {
        name: value for name, value in expected_keys(item).items() if getattr(item, name) != value
    }


def _write(item: OrderModel) -> tuple[bool, int]:
    """(written, conflicts): the order's missing keys set on the condition that it is still at
    the version read; on a conflict it is read again (consistently) and its keys computed anew."""
    for conflicts in range(_ATTEMPTS):
        keys = missing_keys(item)
        if not keys:
            return False, conflicts
        attrs = OrderModel.get_attributes()
        unchanged = (
            OrderModel.version.does_not_exist()
            if item.version is None
            else OrderModel.version == item.version
        )
        try:
            OrderModel(item.order_no).update(
                actions=[attrs[name].set(value) for name, value in keys.items()],
                condition=OrderModel.order_no.exists() & unchanged,
            )
            return True, conflicts
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            item = OrderModel.get(item.order_no, consistent_read=True, attributes_to_get=_READ)
        except OrderModel.DoesNotExist:
            return False, conflicts + 1
    raise RuntimeError(f"order {item.order_no} kept changing: its keys are left to the next pass")


def _days(position: Position) -> Iterator[date]:
    day = position.day
    while day >= position.since:
        yield day
        if day == date.min:
            return
        day -= timedelta(days=1)


def backfill(position: Position, max_items: int, max_days: int) -> Pass:
    """One bounded pass from `position`, newest first; `Pass.position` is where the next starts."""
    done = Pass(position=position)
    after = position.after
    for day in _days(position):
        if done.read >= max_items or done.days >= max_days:
            done.position = Position(day, position.since, after)
            return done
        done.days += 1
        found = OrderModel.by_created.query(
            day.isoformat(),
            scan_index_forward=False,
            last_evaluated_key=after,
            limit=max_items - done.read,
            page_size=min(max_items - done.read, 500),
            attributes_to_get=_READ,
        )
        for item in found:
            done.read += 1
            written, conflicts = _write(item)
            done.written += written
            done.conflicts += conflicts
        if found.last_evaluated_key is not None:  # stopped inside the day: resume there
            done.position = Position(day, position.since, found.last_evaluated_key)
            return done
        after = None
    done.position = None
    return done
