"""DynamoDB stream consumers. Each record is handled on its own (Powertools BatchProcessor) and
a failing record is reported alone (`batchItemFailures`); every handler is idempotent, so a
replayed record or batch changes nothing twice."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord, DynamoDBRecordEventName,
)

from ..domain.clock import utcnow
from ..domain.order import PAID_STATES, PayStatus
from ..platform.observability import logger
from ..store import notices as notice_store, orders as order_store
from . import events, ingest


def _raw_image(record: DynamoDBRecord, which: str) -> dict | None:
    """The untouched attribute-value map: PynamoDB deserializes it, not Powertools."""
    return (record.raw_event.get("dynamodb") or {}).get(which)


def handle_order_record(record: DynamoDBRecord) -> None:
    new_image = _raw_image(record, "NewImage")
    if record.event_name == DynamoDBRecordEventName.REMOVE or not new_image:
        return
    order = order_store.from_stream_image(new_image)
    old_image = _raw_image(record, "OldImage")
    was_paid = bool(old_image) and order_store.from_stream_image(old_image).pay_status in PAID_STATES
    if order.pay_status is PayStatus.PAID and not was_paid and not order.on_hold:
        if events.publish_once(order, "order.paid"):
            logger.info("order.paid published", extra={"order_no": order.order_no})


def handle_notice_record(record: DynamoDBRecord) -> None:
    """Repair what a crash or a race can leave: a new notice stored but not applied, and a
    notice marked as awaiting its order just after the order arrived. Applying again is a no-op
    when it was applied, as it almost always was."""
    image = _raw_image(record, "NewImage")
    if record.event_name == DynamoDBRecordEventName.REMOVE or not image:
        return
    notice, awaiting = notice_store.from_stream_image(image)
    old = _raw_image(record, "OldImage") or {}
    newly_awaiting = awaiting and "awaiting_day" not in old
    if record.event_name == DynamoDBRecordEventName.INSERT or newly_awaiting:
        ingest.apply_awaiting(notice, awaiting, utcnow())


def process(event: dict[str, Any], handler, context: Any = None) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    return process_partial_response(event=event, record_handler=handler, processor=processor,
                                    context=context)
