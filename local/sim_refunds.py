"""The gateways' refund side as the simulator plays it: refunds asked for through each gateway's
refund API, deduped on the merchant's refund request number the way the gateway dedupes, moved
into the TradeBook (so statements show them) and, where the gateway does, notified.

How a refund ends is scripted per channel (`script(channel, outcome)`, or POST
/sim/refund-outcome): the next refund of the channel

- `succeed` (the default): Alipay and epay answer success at once; WeChat Pay answers
  PROCESSING, then notifies REFUND.SUCCESS; Stripe answers succeeded and sends refund.updated
  and charge.refunded.
- `fail`: Alipay answers ACQ.SELLER_BALANCE_NOT_ENOUGH, epay code 0; WeChat Pay answers
  PROCESSING, then notifies REFUND.ABNORMAL; Stripe answers pending, then sends refund.failed.
- `pending`: the refund stays in progress until `settle(channel, refund_no, succeed)` (POST
  /sim/refund-settle): WeChat Pay PROCESSING, Stripe pending, Alipay an unknown outcome
  (ACQ.SYSTEM_ERROR, and a query that does not know the refund yet). epay has no such state.

Money never goes back twice for one request number, nor beyond what the trade took.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .sim_model import SimPayment, SimRefund, TradeBook, WireNotice

if TYPE_CHECKING:
    from .sim.base import SimGateway

OUTCOMES = ("succeed", "fail", "pending")
Notify = Callable[[str, str, str, str, WireNotice], object]


@dataclass
class SimRefundRequest:
    """One refund request number at one gateway: `state` PROCESSING, SUCCESS or FAILED."""

    channel: str
    trade: SimPayment
    refund: SimRefund
    state: str
    metadata: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "channel": self.channel,
            "out_trade_no": self.trade.out_trade_no,
            "trade_no": self.trade.trade_no,
            "refund_no": self.refund.refund_no,
            "refund_id": self.refund.refund_id,
            "amount_minor": self.refund.amount_minor,
            "state": self.state,
        }


class RefundRefused(Exception):
    """The gateway refuses the refund outright (no money moves): `code` in its own words."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class RefundDesk:
    def __init__(self, book: TradeBook, gateways: Mapping[str, SimGateway], notify: Notify):
        self.book, self.gateways, self.notify = book, gateways, notify
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[str]] = defaultdict(deque)
        self._requests: dict[tuple[str, str], SimRefundRequest] = {}

    def script(self, channel: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
        if outcome == "pending" and self.gateways[channel].type_name == "epay":
            raise ValueError("epay's act=refund answers at once: it has no pending refund")
        with self._lock:
            self._scripts[channel].append(outcome)

    def find(self, channel: str, refund_no: str) -> SimRefundRequest | None:
        with self._lock:
            return self._requests.get((channel, refund_no))

    def requests(self) -> list[SimRefundRequest]:
        with self._lock:
            return list(self._requests.values())

    def request(
        self,
        channel: str,
        trade: SimPayment,
        refund_no: str,
        amount_minor: int,
        metadata: Mapping[str, str] | None = None,
    ) -> tuple[SimRefundRequest, str]:
        """Take a refund request (or find the one with this number). Returns it and its scripted
        outcome (`repeat` for a request number already taken). Raises RefundRefused."""
        now = datetime.now(UTC)
        gateway = self.gateways[channel]
        with self._lock:
            known = self._requests.get((channel, refund_no))
            if known is not None:
                return known, "repeat"
            in_progress = sum(
                r.refund.amount_minor
                for r in self._requests.values()
                if r.trade is trade and r.state == "PROCESSING"
            )
            if (
                amount_minor <= 0
                or trade.refunded_minor + in_progress + amount_minor > trade.amount_minor
            ):
                raise RefundRefused("AMOUNT_TOO_LARGE", "退款金额超过可退金额")
            outcome = self._scripts[channel].popleft() if self._scripts[channel] else "succeed"
            if outcome == "fail" and gateway.type_name in ("alipay", "epay"):
                raise RefundRefused("SELLER_BALANCE_NOT_ENOUGH", "卖家余额不足")
            refund = SimRefund(
                refund_no, amount_minor, now, notified=False, refund_id=gateway.new_refund_id()
            )
            record = SimRefundRequest(channel, trade, refund, "PROCESSING", dict(metadata or {}))
            self._requests[(channel, refund_no)] = record
        if outcome == "succeed" and gateway.type_name in ("alipay", "epay", "stripe"):
            self._finish(record, True, notify=gateway.type_name == "stripe")
        return record, outcome

    def after_answer(self, record: SimRefundRequest, outcome: str) -> None:
        """What happens once the API has answered: WeChat Pay's PROCESSING becomes SUCCESS or
        ABNORMAL and is notified; Stripe's pending refund that is to fail fails."""
        if outcome == "succeed" and record.state == "PROCESSING":
            self._finish(record, True)
        elif outcome == "fail":
            self._finish(record, False)

    def settle(self, channel: str, refund_no: str, succeed: bool) -> SimRefundRequest:
        """End a refund left in progress (`pending`), notifying it where the gateway does."""
        record = self.find(channel, refund_no)
        if record is None:
            raise LookupError(f"{channel} has no refund {refund_no}")
        if record.state != "PROCESSING":
            raise ValueError(f"refund {refund_no} is already {record.state}")
        self._finish(record, succeed)
        return record

    def _finish(self, record: SimRefundRequest, succeed: bool, notify: bool = True) -> None:
        now = datetime.now(UTC)
        with self._lock:
            if record.state != "PROCESSING":
                return
            record.state = "SUCCESS" if succeed else "FAILED"
            if succeed:
                record.refund = replace(record.refund, at=now, notified=notify)
                self.book.add_refund(record.trade, record.refund)
        if not notify:
            return
        gateway = self.gateways[record.channel]
        notice = gateway.refund_result_notice(
            record.trade, record.refund, succeed, record.metadata, now
        )
        if notice is not None:
            self.notify(
                record.channel, "refund", record.trade.out_trade_no, record.trade.trade_no, notice
            )
        if succeed and gateway.type_name == "stripe":
            running = gateway.refund_notice(
                record.trade, record.refund, record.trade.refunded_minor, now, False
            )
            if running is not None:
                self.notify(
                    record.channel,
                    "refund",
                    record.trade.out_trade_no,
                    record.trade.trade_no,
                    running,
                )
