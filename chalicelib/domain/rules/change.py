"""One change of an order, as a stream record shows it: what the order was before (None when it
was just created) and the order after. Rules read what the change added — timeline entries,
payments, hold reasons — so the same record seen twice finds the same things.

The before side is a `PriorState`, not a whole order: the few facts needed to tell what changed.
The store reads it straight from the record's old image, which spares parsing a second full order
per record (most of a stream handler's own time).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..order import PAID_STATES, DeliveryStatus, Order, Payment, PayStatus, TimelineEntry


@dataclass(frozen=True)
class PriorState:
    pay_status: PayStatus
    delivery_status: DeliveryStatus
    hold_reasons: tuple[str, ...]
    refunded: bool
    delivered: bool
    timeline_length: int
    payment_count: int

    @classmethod
    def of(cls, order: Order) -> PriorState:
        return cls(
            order.pay_status,
            order.delivery_status,
            tuple(order.hold_reasons),
            order.refunded_at is not None,
            order.delivered_at is not None,
            len(order.timeline),
            len(order.payments),
        )

    @property
    def on_hold(self) -> bool:
        return self.delivery_status is DeliveryStatus.HELD


@dataclass(frozen=True)
class OrderChange:
    before: PriorState | None
    after: Order

    @property
    def created(self) -> bool:
        return self.before is None

    @property
    def newly_paid(self) -> bool:
        was_paid = self.before is not None and self.before.pay_status in PAID_STATES
        return self.after.pay_status in PAID_STATES and not was_paid

    @property
    def newly_held(self) -> bool:
        return self.after.on_hold and not (self.before is not None and self.before.on_hold)

    @property
    def released(self) -> bool:
        return self.before is not None and self.before.on_hold and not self.after.on_hold

    @property
    def newly_refunded(self) -> bool:
        """The first refund of the order (later partial refunds only move the same dates)."""
        return self.after.refunded_at is not None and not (
            self.before is not None and self.before.refunded
        )

    @property
    def newly_delivered(self) -> bool:
        return self.after.delivered_at is not None and not (
            self.before is not None and self.before.delivered
        )

    @property
    def new_entries(self) -> list[TimelineEntry]:
        return self.after.timeline[self.before.timeline_length if self.before else 0 :]

    @property
    def new_payments(self) -> list[tuple[int, Payment]]:
        """Payments this change added, with their position (0 = the order's first payment)."""
        return list(enumerate(self.after.payments))[
            self.before.payment_count if self.before else 0 :
        ]

    @property
    def new_hold_reasons(self) -> list[str]:
        before = set(self.before.hold_reasons) if self.before else set()
        return [reason for reason in self.after.hold_reasons if reason not in before]
