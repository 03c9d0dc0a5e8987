"""Gateway notifications on in-memory repositories (services/ingest.py through the orders,
notices and audit ports): the answer, the stored order and notice, the audit, and exactly once
under a repeated notice and under a write that lands between our read and our write. No moto:
milliseconds each. (The real tables are proven by tests/integration/test_ingest.py.)"""

from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.notice import IngestOutcome, NoticeKind, NoticeSource
from chalicelib.domain.order import DeliveryStatus, EntryType, PayStatus
from chalicelib.services import ingest, orders
from chalicelib.services.order_writes import MAX_ATTEMPTS
from tests.support.notifications import epay
from tests.unit.services.support import ORDER_NO, inbound, registration

TRADE_NO = "2026112522001400001234567890"


def _notify(wire):
    return ingest.handle_notification("epay-main", inbound(wire))


def _payment(amount: str = "58.00"):
    return epay(ORDER_NO, amount, trade_no=TRADE_NO)


def test_a_payment_notification_pays_the_order_and_is_audited_in_its_notice(world):
    orders.register(registration())
    answer = _notify(_payment())
    assert (answer.status, answer.body) == (200, "success")
    order = world.orders.orders[ORDER_NO]
    assert order.pay_status is PayStatus.PAID and order.paid_at == world.clock.now()
    assert order.trade_no == TRADE_NO and order.version == 1
    assert order.paid_amount is not None and order.paid_amount.format() == "58.00"
    assert [p.payment_ref for p in order.payments] == [TRADE_NO]
    (key,) = order.applied_notices
    stored = world.notices.notices[key]
    assert stored.attempts == [(world.clock.now(), "198.51.100.9")]
    assert stored.awaiting_day is None and stored.notice.out_trade_no == ORDER_NO
    assert world.audit.notify == []  # an accepted delivery's record is its notice's attempts


def test_a_repeated_notification_is_stored_once_and_applied_once(world):
    orders.register(registration())
    wire = _payment()
    _notify(wire)
    paid = world.orders.get(ORDER_NO)
    world.clock.advance(minutes=3)
    answer = _notify(wire)  # the gateway's retry
    assert (answer.status, answer.body) == (200, "success")
    assert world.orders.get(ORDER_NO) == paid  # not written again
    (stored,) = world.notices.notices.values()
    assert [at for at, _ in stored.attempts] == [paid.paid_at, world.clock.now()]
    assert world.audit.notify == []


def test_a_notice_applied_meanwhile_by_the_stream_is_not_applied_again(world):
    """The notices stream applies the stored notice between the request's store and its order
    write: the request's conditional write fails and hands back the order already paid."""
    orders.register(registration())
    wire = _payment()
    world.orders.concurrently.append(
        lambda: ingest.apply_awaiting(_stored(world), False, world.clock.now())
    )
    answer = _notify(wire)
    assert answer.status == 200
    order = world.orders.orders[ORDER_NO]
    assert order.pay_status is PayStatus.PAID and len(order.payments) == 1
    assert order.version == 1 and world.orders.conflicts == 1
    assert [e.type for e in order.timeline].count(EntryType.PAYMENT) == 1


def _stored(world):
    (stored,) = world.notices.notices.values()
    return stored.notice


def test_a_notice_before_its_order_is_kept_and_applied_when_the_order_is_registered(world):
    answer = _notify(_payment())
    assert answer.body == "fail"  # epay's retry-me, whatever the status
    (stored,) = world.notices.notices.values()
    assert stored.awaiting_day == "2026-11-25"
    (record,) = world.audit.notify
    assert (record.outcome, record.answer_body) == (IngestOutcome.UNKNOWN_ORDER, "fail")
    assert record.detail["out_trade_no"] == ORDER_NO and record.source_ip == "198.51.100.9"
    order, created = orders.register(registration())
    assert created and order.pay_status is PayStatus.PAID
    assert stored.awaiting_day is None  # matched: off the unmatched list
    assert world.orders.orders[ORDER_NO] == order


def test_a_payment_of_another_amount_is_recorded_and_held_not_applied_as_paid_in_full(world):
    orders.register(registration())
    answer = _notify(_payment("5.80"))
    assert answer.status == 200
    order = world.orders.orders[ORDER_NO]
    assert order.delivery_status is DeliveryStatus.HELD and order.hold_reasons
    assert len(order.payments) == 1 and world.orders.conflicts == 1  # the fast path refused


def test_a_forged_notification_is_rejected_stored_nowhere_and_audited(world):
    orders.register(registration())
    answer = _notify(epay(ORDER_NO, "58.00", forged=True))
    assert answer.body == "fail"
    assert world.notices.notices == {} and world.orders.orders[ORDER_NO].version == 0
    (record,) = world.audit.notify
    assert record.outcome is IngestOutcome.REJECTED and record.verification == "bad_signature"


def test_an_order_that_keeps_changing_is_answered_retry_and_the_stream_applies_the_notice_once(
    world,
):
    """Another writer lands before every write (the fast path's and each of the loop's): the
    request gives up, answers retry and is audited as contention; its notice is stored, and the
    notices stream applies it once."""
    orders.register(registration())

    def another_writer():
        stored = world.orders.orders[ORDER_NO]
        world.orders.orders[ORDER_NO] = replace(stored, version=stored.version + 1)

    world.orders.concurrently.extend([another_writer] * (1 + MAX_ATTEMPTS))
    answer = _notify(_payment("5.80"))  # another amount: past the fast path, into the loop
    assert answer.body == "fail" and world.orders.conflicts == 1 + MAX_ATTEMPTS
    (record,) = world.audit.notify
    assert record.outcome is IngestOutcome.CONTENTION
    assert world.orders.orders[ORDER_NO].payments == []
    notice = _stored(world)
    assert ingest.apply_awaiting(notice, False, world.clock.now()).outcome is IngestOutcome.APPLIED
    assert ingest.apply_awaiting(notice, False, world.clock.now()).outcome is (
        IngestOutcome.ALREADY_APPLIED
    )
    order = world.orders.orders[ORDER_NO]
    assert len(order.payments) == 1 and order.applied_notices == {notice.dedupe_key}


OTHER_ORDER_NO = "20261125140000000002"


def test_another_order_paid_under_a_stored_notices_key_is_refused_flagged_and_applied_nowhere(
    world,
):
    """The aggregator numbers a second payment like the first (its dedupe key is the channel,
    trade number and status): taken for a retry, it was answered success and never applied."""
    orders.register(registration())
    orders.register(registration(OTHER_ORDER_NO))
    _notify(_payment())
    first = world.notices.notices[_stored(world).dedupe_key]
    world.clock.advance(minutes=1)

    answer = _notify(epay(OTHER_ORDER_NO, "58.00", trade_no=TRADE_NO))

    assert answer.body == "fail"  # epay's retry-me
    other = world.orders.orders[OTHER_ORDER_NO]
    assert other.pay_status is PayStatus.PENDING and other.payments == []
    assert other.delivery_status is not DeliveryStatus.HELD
    assert len(world.notices.notices) == 1 and len(first.attempts) == 1  # not a retry of it
    assert first.notice.out_trade_no == ORDER_NO
    (record,) = world.audit.notify
    assert record.outcome is IngestOutcome.CONFLICT and record.answer_body == "fail"
    assert record.detail["differences"] == {"out_trade_no": [ORDER_NO, OTHER_ORDER_NO]}
    assert OTHER_ORDER_NO in record.payload
    (anomaly,) = world.anomalies.anomalies.values()
    assert (anomaly.rule, anomaly.order_no, anomaly.channel) == (
        "notice_conflict",
        OTHER_ORDER_NO,
        "epay-main",
    )
    assert anomaly.details["differences"] == {"out_trade_no": [ORDER_NO, OTHER_ORDER_NO]}
    assert anomaly.details["dedupe_key"] == first.notice.dedupe_key
    assert other.flagged
    (noted,) = [e for e in other.timeline if e.type is EntryType.ANOMALY]
    assert noted.data["anomaly_id"] == anomaly.anomaly_id


def test_the_same_conflicting_notice_again_is_one_anomaly_and_another_is_another(world):
    orders.register(registration())
    _notify(_payment())
    wire = epay(OTHER_ORDER_NO, "58.00", trade_no=TRADE_NO)
    _notify(wire)
    _notify(wire)  # the gateway's retry of the conflicting notice
    assert len(world.anomalies.anomalies) == 1 and len(world.audit.notify) == 2
    _notify(epay(ORDER_NO, "99.00", trade_no=TRADE_NO))
    assert len(world.anomalies.anomalies) == 2
    amounts = [a.details["differences"] for a in world.anomalies.anomalies.values()]
    assert {"amount": ["58.00 CNY", "99.00 CNY"]} in amounts
    order = world.orders.orders[ORDER_NO]
    assert order.paid_amount is not None and order.paid_amount.format() == "58.00"
    assert len(order.payments) == 1


def test_a_queried_payment_that_contradicts_the_stored_notice_is_a_conflict_too(world):
    """补单 stores what the gateway answers through the same ingestion: epay's query shares the
    notification's key, so a query answer naming another order under it is the same conflict."""
    orders.register(registration())
    _notify(_payment())
    queried = replace(_stored(world), out_trade_no=OTHER_ORDER_NO)

    result = ingest.ingest_verified(queried, world.clock.now())

    assert result.outcome is IngestOutcome.CONFLICT and result.order is None
    assert result.conflict == {"out_trade_no": [ORDER_NO, OTHER_ORDER_NO]}
    (anomaly,) = world.anomalies.anomalies.values()
    assert anomaly.rule == "notice_conflict" and anomaly.details["source"] == "notify"
    assert world.audit.notify == []  # no request to audit: the anomaly is its record


def test_a_query_answer_that_the_trade_changed_since_is_a_duplicate_not_a_conflict(world):
    """A Stripe payment refunded after 补单 stored it: the intent is still `succeeded`, so the
    next query answer (an info notice of the refund, its amount the charge's) comes under the
    same key. Same order, same payment: the duplicate it always was, no anomaly."""
    orders.register(registration())
    _notify(_payment())
    queried = replace(
        _stored(world), source=NoticeSource.QUERY, dedupe_key=f"epay-main:query:{TRADE_NO}:paid"
    )
    ingest.ingest_verified(queried, world.clock.now())
    refunded = replace(queried, kind=NoticeKind.INFO, amount=None)

    result = ingest.ingest_verified(refunded, world.clock.now())

    assert result.outcome is IngestOutcome.DUPLICATE and result.conflict == {}
    assert world.anomalies.anomalies == {}
