"""DynamoDB stream consumers. Each record is handled on its own (Powertools BatchProcessor) and
a failing record is reported alone (`batchItemFailures`); every handler is idempotent, so a
replayed record or batch changes nothing twice.

Orders stream: `order.paid` once per order (the payment fact), then the anomaly engine
(services/screening.py): rules, holds, `order.ready`/`order.held`; then buyer verification's
follow-ups (services/verification.py: `order.verification_requested`, its inbox items). The
batch's events go out together when its records are done (services/events.batched).
Notices stream: crash repair of the notices left unapplied (one read per batch finds the
others), and the unknown_order rule (raised when a notice starts waiting, resolved when it stops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from datetime import datetime, timedelta
from time import sleep
from typing import Any, NamedTuple, TypeVar

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from ..domain.clock import from_iso
from ..domain.notice import IngestOutcome
from ..domain.rules.change import OrderChange
from ..platform.observability import correlated, logger
from ..platform.settings import get_settings
from ..platform.tracing import traced
from ..store import claims
from ..store import notices as notice_store
from ..store import orders as order_store
from . import events, ingest, metrics, refunds, screening, verification
from .ports import clock

T = TypeVar("T")

# What an order record must change for any rule or event to care; anything else (a fee from a
# statement, a query's next time, the version alone) is skipped before the images are parsed.
WATCHED_ORDER_ATTRIBUTES = (
    "pay_status",
    "delivery_status",
    "hold_reasons",
    "timeline",
    "payments",
    "refunded_at",
    "delivered_at",
)


def _raw_image(record: DynamoDBRecord, which: str) -> dict | None:
    """The untouched attribute-value map: PynamoDB deserializes it, not Powertools."""
    return (record.raw_event.get("dynamodb") or {}).get(which)


def _watched_change(old_image: dict | None, new_image: dict) -> bool:
    return old_image is None or any(
        old_image.get(name) != new_image.get(name) for name in WATCHED_ORDER_ATTRIBUTES
    )


def handle_order_record(record: DynamoDBRecord, ip_counts: Mapping[str, int]) -> None:
    """One orders-stream record (`ip_counts`: its batch's, screening.ip_counts)."""
    new_image = _raw_image(record, "NewImage")
    if record.event_name == DynamoDBRecordEventName.REMOVE or not new_image:
        return
    old_image = _raw_image(record, "OldImage")
    if not _watched_change(old_image, new_image):
        return
    change = OrderChange(
        before=order_store.prior_state_from_stream_image(old_image) if old_image else None,
        after=order_store.from_stream_image(new_image),
    )
    if (
        change.newly_paid
        and not change.after.on_hold
        and events.publish_once(change.after, "order.paid")
    ):
        logger.info("order.paid published", extra={"order_no": change.after.order_no})
    refunds.announce_succeeded(change)
    screening.on_order_change(change, clock().now(), ip_counts)
    verification.on_order_change(change, clock().now())


def process_orders(event: dict[str, Any], context: Any = None) -> PartialItemFailureResponse:
    """The orders stream's batch, with the claims of its orders read ahead in one request (the
    check before each shop event is answered from them: services/events.py), and its new
    orders' same-IP counts for ip_burst read together (screening.ip_counts)."""
    records = event.get("Records") or []
    order_nos = [
        ((record.get("dynamodb") or {}).get("Keys") or {}).get("order_no", {}).get("S")
        for record in records
    ]
    counts = screening.ip_counts(_new_orders(records))
    with claims.read_ahead(no for no in order_nos if no), events.batched() as outbox:

        def handle(record: DynamoDBRecord) -> None:
            with outbox.handling(_sequence(record.raw_event)):
                handle_order_record(record, counts)

        response = process(event, handle, context)
        return _also_failed(event, response, outbox.send())


def _also_failed(
    event: dict[str, Any], response: PartialItemFailureResponse, sequences: Set[str]
) -> PartialItemFailureResponse:
    """The batch's response with these records reported failed too (each once)."""
    failed = [entry["itemIdentifier"] for entry in response.get("batchItemFailures", [])]
    more = sorted(sequences - set(failed))
    if not more:
        return response
    metrics.stream_records_failed(_stream_name(event), len(more))
    return {"batchItemFailures": [{"itemIdentifier": s} for s in [*failed, *more]]}


def _new_orders(records: list[dict[str, Any]]) -> Iterator[tuple[str, str, str]]:
    """(order number, buyer IP, creation time) of each record that creates an order (no old
    image: the records `OrderChange.created` holds for) from an IP. A record missing any of
    them is left out: it fails alone when it is handled."""
    for record in records:
        data = record.get("dynamodb") or {}
        image = data.get("NewImage") or {}
        if record.get("eventName") == "REMOVE" or not image or data.get("OldImage"):
            continue
        order_no, ip, created_at = (
            (image.get(name) or {}).get("S") for name in ("order_no", "buyer_ip", "created_at")
        )
        if order_no and ip and created_at:
            yield order_no, ip, created_at


def process_notices(event: dict[str, Any], context: Any = None) -> PartialItemFailureResponse:
    """The notices stream's batch: the new notices their orders applied already — almost all of
    them, by the ingestion that stored them — are found with one read for the whole batch and
    skipped, so crash repair writes only for a notice left unapplied. A new notice not applied yet
    is left to its own request until it is `notice_repair_after_s` old (that request applies it
    a moment after storing it; repairing it sooner would race it, both writing the order), then
    read again."""
    records = event.get("Records") or []
    inserted = _inserted(records)
    applied = _applied(inserted)
    waiting = {key: new for key, new in inserted.items() if key not in applied}
    if _wait_for_requests(waiting.values()):
        applied |= _applied(waiting)
    return process(event, lambda record: handle_notice_record(record, applied), context)


class _NewNotice(NamedTuple):
    order_no: str
    received_at: datetime


def _inserted(records: list[dict[str, Any]]) -> dict[str, _NewNotice]:
    """The batch's new, not awaiting notices by dedupe key: the order each names, and when."""
    inserted: dict[str, _NewNotice] = {}
    for record in records:
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        order_no = (image.get("out_trade_no") or {}).get("S")
        received_at = (image.get("received_at") or {}).get("S")
        if (
            record.get("eventName") == "INSERT"
            and "awaiting_day" not in image
            and "dedupe_key" in image
            and order_no
            and received_at
        ):
            try:
                at = from_iso(received_at)
            except ValueError:  # left to the record's own handling, which fails it alone
                continue
            inserted[image["dedupe_key"]["S"]] = _NewNotice(order_no, at)
    return inserted


def _applied(inserted: Mapping[str, _NewNotice]) -> set[str]:
    """Those of the new notices that their order holds as applied (one read for them all)."""
    if not inserted:
        return set()
    held = order_store.applied_notices(new.order_no for new in inserted.values())
    return {key for key, new in inserted.items() if key in held.get(new.order_no, ())}


def _wait_for_requests(notices: Iterable[_NewNotice]) -> bool:
    """Wait until the youngest of these notices is old enough to repair, never longer than the
    setting itself (a time ahead of the clock waits no more). False when none is younger than
    that (nothing was waited for)."""
    after = timedelta(seconds=get_settings().notice_repair_after_s)
    youngest = max((new.received_at for new in notices), default=None)
    if youngest is None or youngest + after <= clock().now():
        return False
    sleep(min(after, youngest + after - clock().now()).total_seconds())
    return True


def handle_notice_record(record: DynamoDBRecord, applied: Set[str] = frozenset()) -> None:
    """Repair what a crash or a race can leave — a new notice stored but not applied (`applied`:
    the new notices known to be applied, skipped), a notice marked as awaiting its order just
    after the order arrived — and raise or resolve unknown_order."""
    image = _raw_image(record, "NewImage")
    if record.event_name == DynamoDBRecordEventName.REMOVE or not image:
        return
    old = _raw_image(record, "OldImage") or {}
    if (
        record.event_name == DynamoDBRecordEventName.INSERT
        and image.get("dedupe_key", {}).get("S") in applied
    ):
        return
    notice, awaiting = notice_store.from_stream_image(image)
    now = clock().now()
    if awaiting and "awaiting_day" not in old:
        if ingest.apply_awaiting(notice, awaiting, now).outcome is IngestOutcome.UNKNOWN_ORDER:
            screening.on_unknown_order(notice, now)
    elif record.event_name == DynamoDBRecordEventName.INSERT:
        ingest.apply_awaiting(notice, awaiting, now)
    elif not awaiting and "awaiting_day" in old:
        screening.on_notice_matched(notice, now)


def _stream_name(event: dict[str, Any]) -> str:
    """`orders` or `notices`, from the records' source ARN (…:table/<prefix>orders/stream/…)."""
    records = event.get("Records") or [{}]
    table = (records[0].get("eventSourceARN") or "").split(":table/")[-1].split("/stream")[0]
    return table.rsplit("-", 1)[-1] or "unknown"


def record_keys(record: dict[str, Any]) -> dict[str, Any]:
    """A stream record's log correlation: its item's key (an order number, a notice's dedupe key,
    an export id) as `correlation_id` and by name, and the order a notice names as `order_no`."""
    data = record.get("dynamodb") or {}
    keys = {
        name: next(iter(value.values()), None) for name, value in (data.get("Keys") or {}).items()
    }
    image = data.get("NewImage") or data.get("OldImage") or {}
    return {
        "order_no": (image.get("out_trade_no") or {}).get("S") or None,
        **keys,
        "correlation_id": "#".join(str(value) for value in keys.values()) or _sequence(record),
        "stream_event": record.get("eventName"),
    }


def _correlated(handler: Callable[[DynamoDBRecord], None]) -> Callable[[DynamoDBRecord], None]:
    """The handler with every line of a record correlated to it, and a failing record logged
    (with its stack trace) before BatchProcessor reports it failed."""

    def handle(record: DynamoDBRecord) -> None:
        keys = record_keys(record.raw_event)
        with correlated(**keys), traced("## record", correlation_id=keys["correlation_id"]):
            try:
                handler(record)
            except Exception:
                logger.exception(
                    "stream record failed", extra={"sequence": _sequence(record.raw_event)}
                )
                raise

    return handle


def process(
    event: dict[str, Any], handler: Callable[[DynamoDBRecord], None], context: Any = None
) -> PartialItemFailureResponse:
    """Each record handled on its own (Powertools BatchProcessor), failures reported alone."""
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    response = process_partial_response(
        event=event, record_handler=_correlated(handler), processor=processor, context=context
    )
    metrics.stream_records_failed(_stream_name(event), len(response.get("batchItemFailures", [])))
    return response


def process_together(
    event: dict[str, Any],
    read: Callable[[dict[str, Any]], list[T]],
    write: Callable[[list[T]], Any],
) -> dict[str, Any]:
    """For a consumer whose effects add up (stats): each record is read on its own, and a record
    that cannot be read fails alone, as in `process`; what the others yield is written together,
    once per batch. When that write fails every record is reported failed: Lambda retries from
    the first, and the write is idempotent (what was written is claimed)."""
    records = event.get("Records") or []
    failed: list[str] = []
    gathered: list[T] = []
    for record in records:
        with correlated(**record_keys(record)):
            try:
                gathered.extend(read(record))
            except Exception:
                logger.exception("stream record failed", extra={"sequence": _sequence(record)})
                failed.append(_sequence(record))
    try:
        if gathered:
            write(gathered)
    except Exception:
        logger.exception("stream batch write failed", extra={"records": len(records)})
        failed = [_sequence(record) for record in records]
    metrics.stream_records_failed(_stream_name(event), len(failed))
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}


def _sequence(record: dict[str, Any]) -> str:
    return (record.get("dynamodb") or {}).get("SequenceNumber", "")
