"""Export records: what was asked, by whom, and where the file is."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from ..domain.clock import day_of, from_iso, to_iso
from .models import ExportModel

RECORD_DAYS = 30  # the file itself expires earlier, by the bucket's lifecycle rule


@dataclass(frozen=True)
class ExportRecord:
    export_id: str
    kind: str
    format: str
    filters: dict[str, Any]
    masked: bool
    requested_by: str
    created_at: datetime
    s3_key: str
    status: str = "running"
    rows: int = 0
    finished_at: datetime | None = None
    error: str | None = None

    def finished(self, rows: int, at: datetime) -> ExportRecord:
        return replace(self, status="ready", rows=rows, finished_at=at)


def _to_record(item: ExportModel) -> ExportRecord:
    return ExportRecord(
        export_id=item.export_id,
        kind=item.kind,
        format=item.format,
        filters=item.filters or {},
        masked=item.masked,
        requested_by=item.requested_by,
        created_at=from_iso(item.created_at),
        s3_key=item.s3_key,
        status=item.status,
        rows=int(item.rows or 0),
        finished_at=from_iso(item.finished_at) if item.finished_at else None,
        error=item.error,
    )


def create(record: ExportRecord) -> None:
    ExportModel(
        record.export_id,
        kind=record.kind,
        format=record.format,
        status=record.status,
        filters=record.filters,
        rows=record.rows,
        s3_key=record.s3_key,
        masked=record.masked,
        requested_by=record.requested_by,
        created_at=to_iso(record.created_at),
        created_day=day_of(record.created_at),
        finished_at=to_iso(record.finished_at) if record.finished_at else None,
        expires=record.created_at + timedelta(days=RECORD_DAYS),
    ).save(condition=ExportModel.export_id.does_not_exist())


def get(export_id: str) -> ExportRecord | None:
    try:
        return _to_record(ExportModel.get(export_id, consistent_read=True))
    except ExportModel.DoesNotExist:
        return None


def claim(export_id: str, at: datetime, token: str) -> ExportRecord | None:
    """Take a running export for writing, for one stream record (`token`): None if it is not
    running, or is being written for another record. The same record delivered again — Lambda
    retrying it after a crash, or after this claim's answer was lost — takes it again and writes
    it anew; otherwise a crash after the claim would leave the export `writing` for ever."""
    item = ExportModel(export_id)
    mine = (ExportModel.status == "writing") & (ExportModel.claimed_by == token)
    try:
        item.update(
            actions=[ExportModel.status.set("writing"), ExportModel.claimed_by.set(token)],
            condition=(ExportModel.status == "running") | mine,
        )
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return _to_record(item)


def mark_progress(export_id: str, rows: int) -> None:
    """Rows written so far, while the export is being written (never over a finished one)."""
    try:
        ExportModel(export_id).update(
            actions=[ExportModel.rows.set(rows)], condition=(ExportModel.status == "writing")
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise


def mark_ready(export_id: str, rows: int, at: datetime) -> None:
    ExportModel(export_id).update(
        actions=[
            ExportModel.status.set("ready"),
            ExportModel.rows.set(rows),
            ExportModel.finished_at.set(to_iso(at)),
        ]
    )


def mark_failed(export_id: str, error: str, at: datetime) -> None:
    ExportModel(export_id).update(
        actions=[
            ExportModel.status.set("failed"),
            ExportModel.error.set(error),
            ExportModel.finished_at.set(to_iso(at)),
        ]
    )
