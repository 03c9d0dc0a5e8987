"""Exports: orders, notifications, anomalies (and reconciliation lines) as CSV or XLSX in S3,
handed out as presigned links valid at most 15 minutes.

A request first tries to finish at once, up to INLINE_ROWS rows (201, ready). A larger export is
abandoned there and recorded as `running`: the exports table's stream hands the record to
`run_export`, which streams every row to S3 and marks it `ready` (202 until then). PII is masked
unless the caller is admin; every export is audited.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecordEventName,
)

from ..domain.commands import RequestExport
from ..domain.errors import Forbidden, NotFound, ReadBudgetExceeded
from ..domain.masking import mask_email, mask_id, mask_ip
from ..platform.aws import client
from ..platform.observability import logger
from ..platform.settings import get_settings
from ..store import audit
from ..store import exports as export_store
from . import export_sources, export_writer, ports
from .auth import Principal
from .export_words import Words
from .order_search import parse_filter
from .ports import clock

INLINE_ROWS = 5000
PROGRESS_ROWS = 10_000  # a running export's row count is brought up to date this often
LINK_SECONDS = 15 * 60


class _TooLargeForInline(Exception):
    pass


def _counted(
    rows: Iterable[list[Any]], budget: int | None, progress: Callable[[int], None] | None
) -> Iterator[list[Any]]:
    """The rows, stopping past `budget` (inline exports) and reporting every PROGRESS_ROWS."""
    for count, row in enumerate(rows, start=1):
        if budget is not None and count > budget:
            raise _TooLargeForInline
        if progress is not None and count % PROGRESS_ROWS == 0:
            progress(count)
        yield row


def _rows_for(
    kind: str, filters: dict[str, Any], masked: bool
) -> tuple[list[str], Iterable[list[Any]]]:
    zone = ZoneInfo(get_settings().shop_timezone)
    pii = _pii_masker(masked)
    word = Words(filters.get("lang") or "en")
    filters = {k: val for k, val in filters.items() if k != "lang"}
    if kind == "orders":
        params = {k: val for k, val in filters.items() if k != "status"}
        statuses = filters.get("status") or []
        order_filter = parse_filter(params, statuses if isinstance(statuses, list) else [statuses])
        return export_sources.orders(order_filter, zone, pii, word)
    return export_sources.SOURCES[kind](filters, zone, pii, word)


def _pii_masker(masked: bool) -> Callable[[str, str | None], str | None]:
    functions = {"email": mask_email, "ip": mask_ip, "id": mask_id}
    return (lambda k, value: functions[k](value)) if masked else (lambda k, value: value)


def _s3_key(export_id: str, kind: str, fmt: str, at: datetime) -> str:
    return f"exports/{at:%Y/%m/%d}/{kind}-{at:%Y%m%d-%H%M%S}-{export_id}.{fmt}"


class _BucketUploads:
    """The stage's bucket (S3), written: the real `export_files` port's uploads, a multipart
    upload per file."""

    def open(self, key: str, content_type: str) -> ports.ExportSink:
        return export_writer.MultipartSink(client("s3"), get_settings().bucket, key, content_type)


class _BucketLinks:
    """The stage's bucket (S3), fetched: the real `export_files` port's presigned links (apart
    from the uploads, so the exports stream's function is granted no read)."""

    def link(self, key: str, expires_s: int) -> str:
        url: str = client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": get_settings().bucket, "Key": key}, ExpiresIn=expires_s
        )
        return url


_UPLOADS = _BucketUploads()
_LINKS = _BucketLinks()


def _write(
    record: export_store.ExportRecord,
    budget: int | None,
    progress: Callable[[int], None] | None = None,
) -> int:
    header, rows = _rows_for(record.kind, record.filters, record.masked)
    uploads: ports.ExportUploads = ports.port("export_files", _UPLOADS)
    sink = uploads.open(record.s3_key, export_writer.CONTENT_TYPES[record.format])
    return export_writer.write(sink, record.format, header, _counted(rows, budget, progress))


@dataclass(frozen=True)
class ExportState:
    """An export as its requester sees it: the record, and a fresh link once it is ready."""

    record: export_store.ExportRecord
    url: str | None = None
    expires_at: datetime | None = None


def request_export(principal: Principal, command: RequestExport) -> ExportState:
    """Finish at once when the export is small (`ready`), else leave it `running` for the
    exports stream."""
    kind, fmt, filters = command.kind, command.format, command.filters
    now = clock().now()
    export_id = uuid.uuid4().hex[:20]
    record = export_store.ExportRecord(
        export_id=export_id,
        kind=kind,
        format=fmt,
        filters=filters,
        masked=principal.role != "admin",
        requested_by=principal.key_id,
        created_at=now,
        s3_key=_s3_key(export_id, kind, fmt, now),
    )
    _rows_for(kind, filters, record.masked)  # validate the filters before anything is written
    # too large or too costly for the request's read budget: the stream writes it, without that budget
    with contextlib.suppress(_TooLargeForInline, ReadBudgetExceeded):
        record = record.finished(_write(record, INLINE_ROWS), clock().now())
    export_store.create(record)
    audit.record_api(
        now,
        principal.key_id,
        principal.role,
        "export",
        export_id,
        {"kind": kind, "format": fmt, "filters": filters, "masked": record.masked},
    )
    return _state(record)


def run_export(export_id: str, claim_token: str) -> None:
    """The asynchronous half: claim a running export for this stream record, write it all,
    record the outcome. A retried record claims and writes it again (store/exports.claim)."""
    record = export_store.claim(export_id, clock().now(), claim_token)
    if record is None:
        return
    try:
        rows = _write(record, None, lambda count: export_store.mark_progress(export_id, count))
    except Exception as error:  # any failure is the export's outcome, shown to the operator
        logger.exception("export failed", extra={"export_id": export_id})
        export_store.mark_failed(export_id, f"{type(error).__name__}: {error}"[:500], clock().now())
        return
    export_store.mark_ready(export_id, rows, clock().now())


def get_export(principal: Principal, export_id: str) -> ExportState:
    """An export's state and a fresh link, for its creator and admins only: a link is the file,
    and an admin's file is unmasked. A refusal is audited too."""
    record = export_store.get(export_id)
    if record is None:
        raise NotFound(f"no export {export_id!r}", {"export_id": export_id})
    if not may_fetch(principal, record):
        audit.record_api(
            clock().now(),
            principal.key_id,
            principal.role,
            "read_export_refused",
            export_id,
            {"requested_by": record.requested_by, "masked": record.masked},
        )
        raise Forbidden(
            "only the key that requested this export, or an admin, may fetch it",
            {"export_id": export_id, "role": principal.role},
        )
    audit.record_api(clock().now(), principal.key_id, principal.role, "read_export", export_id)
    return _state(record)


def may_fetch(principal: Principal, record: export_store.ExportRecord) -> bool:
    """Admins fetch any export; anyone else only their own, and never an unmasked file."""
    return principal.role == "admin" or (record.requested_by == principal.key_id and record.masked)


def _state(record: export_store.ExportRecord) -> ExportState:
    """The export with a freshly signed link (at most 15 minutes) once it is ready."""
    if record.status != "ready":
        return ExportState(record)
    links: ports.ExportLinks = ports.port("export_files", _LINKS)
    url = links.link(record.s3_key, LINK_SECONDS)
    expires_at = clock().now().replace(microsecond=0) + timedelta(seconds=LINK_SECONDS)
    return ExportState(record, url, expires_at)


def handle_export_record(record) -> None:
    """Exports stream: a newly recorded running export is written in full here."""
    image = (record.raw_event.get("dynamodb") or {}).get("NewImage") or {}
    if (
        record.event_name == DynamoDBRecordEventName.INSERT
        and image.get("status", {}).get("S") == "running"
    ):
        run_export(image["export_id"]["S"], record.event_id)
