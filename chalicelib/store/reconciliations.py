"""Reconciliation runs: one item group per channel and Beijing day (`run_id` = "<channel>#<date>").

- `summary`: the run's summary, status, history of every run of that day, and the sort keys of
  its other items; the only item with the sparse `summary_channel` / `summary_date` index keys;
- `line#<attempt>#<n>`: a result line that is not matched (every line is in the S3 report);
- `fees#<attempt>#<n>`: a chunk of statement fees to write onto orders (`result` pending/written).

Re-running a day replaces its results in place: the new items are written under a new attempt
id, the summary is switched to them with a condition on the summary it replaces (two runs at
once cannot interleave: the loser deletes its own items), then the old attempt's items go.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError

from ..domain.clock import to_iso
from .models import ReconciliationModel

SUMMARY = "summary"
HISTORY_KEPT = 30


class RunStatus:
    DONE = "done"  # reconciled; statement fees all written onto orders
    FEES_PENDING = "fees_pending"  # reconciled; fee write-back still under way
    FAILED = "failed"  # no result: the statement could not be fetched or read


class RunReplaced(Exception):
    """Another run of the same day switched the summary first: this run's items are discarded."""


def run_id_of(channel: str, date: str) -> str:
    return f"{channel}#{date}"


@dataclass
class StoredRun:
    run_id: str
    channel: str
    date: str
    status: str
    data: dict[str, Any]
    created_at: str | None = None

    attempt: str | None = None

    @property
    def history(self) -> list[dict[str, Any]]:
        return list(self.data.get("history") or [])


@dataclass
class NewRun:
    channel: str
    date: str
    summary: dict[str, Any]
    lines: list[dict[str, Any]]  # unmatched lines (line_view)
    fee_chunks: list[Sequence[Sequence[Any]]] = field(
        default_factory=list
    )  # [order_no, currency, fee, net]
    extra: dict[str, Any] = field(default_factory=dict)  # report key, statement facts, actor


def _to_run(item: ReconciliationModel) -> StoredRun:
    return StoredRun(
        item.run_id,
        item.channel,
        item.date,
        item.result or RunStatus.DONE,
        item.data or {},
        item.created_at,
        item.attempt,
    )


def get(run_id: str) -> StoredRun | None:
    try:
        return _to_run(ReconciliationModel.get(run_id, SUMMARY))
    except ReconciliationModel.DoesNotExist:
        return None


def _summary_item(
    run_id: str,
    channel: str,
    date: str,
    status: str,
    data: dict[str, Any],
    now: datetime,
    attempt: str | None,
) -> ReconciliationModel:
    return ReconciliationModel(
        run_id,
        SUMMARY,
        channel=channel,
        date=date,
        result=status,
        data=data,
        attempt=attempt,
        summary_channel=channel,
        summary_date=date,
        created_at=to_iso(now),
    )


def _switch_summary(item: ReconciliationModel, previous: StoredRun | None) -> None:
    """Save the summary unless someone switched it since `previous` was read."""
    condition = (
        ReconciliationModel.run_id.does_not_exist()
        if previous is None
        else ReconciliationModel.created_at == previous.created_at
    )
    try:
        item.save(condition=condition)
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise RunReplaced(item.run_id) from None
        raise


def save(run: NewRun, history_entry: dict[str, Any], now: datetime) -> StoredRun:
    """Write the run's items under a new attempt, switch the summary to them, drop the old ones."""
    run_id, attempt = run_id_of(run.channel, run.date), uuid.uuid4().hex[:12]
    previous = get(run_id)
    line_sks = [f"line#{attempt}#{line['n']:07d}" for line in run.lines]
    fee_sks = [f"fees#{attempt}#{n:05d}" for n in range(1, len(run.fee_chunks) + 1)]
    with ReconciliationModel.batch_write() as batch:
        for sk, line in zip(line_sks, run.lines, strict=True):
            batch.save(
                ReconciliationModel(
                    run_id,
                    sk,
                    channel=run.channel,
                    date=run.date,
                    result=line["result"],
                    attempt=attempt,
                    data={"line": line},
                )
            )
        for sk, chunk in zip(fee_sks, run.fee_chunks, strict=True):
            batch.save(
                ReconciliationModel(
                    run_id,
                    sk,
                    channel=run.channel,
                    date=run.date,
                    result="pending",
                    attempt=attempt,
                    data={"fees": chunk},
                )
            )
    status = RunStatus.FEES_PENDING if fee_sks else RunStatus.DONE
    history = [
        {**history_entry, "attempt": attempt, "status": status},
        *(previous.history if previous else []),
    ]
    data = {
        "summary": run.summary,
        "line_sks": line_sks,
        "fee_sks": fee_sks,
        "history": history[:HISTORY_KEPT],
        **run.extra,
    }
    try:
        _switch_summary(
            _summary_item(run_id, run.channel, run.date, status, data, now, attempt), previous
        )
    except RunReplaced:
        _delete(run_id, line_sks + fee_sks)
        raise
    if previous is not None:
        _delete(run_id, previous.data.get("line_sks", []) + previous.data.get("fee_sks", []))
    return StoredRun(run_id, run.channel, run.date, status, data, to_iso(now), attempt)


def record_failure(
    channel: str, date: str, history_entry: dict[str, Any], now: datetime
) -> StoredRun:
    """A run that produced no result: kept in the day's history; a day without an earlier result
    gets a `failed` summary, an earlier result is left standing."""
    run_id = run_id_of(channel, date)
    previous = get(run_id)
    history = [
        {**history_entry, "status": RunStatus.FAILED},
        *(previous.history if previous else []),
    ]
    if previous is None or previous.status == RunStatus.FAILED:
        status, data, attempt = (
            RunStatus.FAILED,
            {"history": history[:HISTORY_KEPT], "error": history_entry},
            None,
        )
    else:
        status, data = previous.status, {**previous.data, "history": history[:HISTORY_KEPT]}
        attempt = previous.attempt
    _switch_summary(_summary_item(run_id, channel, date, status, data, now, attempt), previous)
    return StoredRun(run_id, channel, date, status, data, to_iso(now), attempt)


def _delete(run_id: str, sks: Iterable[str]) -> None:
    with ReconciliationModel.batch_write() as batch:
        for sk in sks:
            batch.delete(ReconciliationModel(run_id, sk))


def lines(run: StoredRun) -> list[dict[str, Any]]:
    """The run's unmatched lines, in order (BatchGetItem on the keys the summary lists)."""
    keys = [(run.run_id, sk) for sk in run.data.get("line_sks", [])]
    found = {item.sk: item.data["line"] for item in ReconciliationModel.batch_get(keys)}
    return [found[sk] for _, sk in keys if sk in found]


def pending_fee_chunks(run: StoredRun) -> list[tuple[str, list[list[Any]]]]:
    keys = [(run.run_id, sk) for sk in run.data.get("fee_sks", [])]
    items = sorted(ReconciliationModel.batch_get(keys), key=lambda item: item.sk)
    return [
        (item.sk, item.data["fees"])
        for item in items
        if item.result == "pending" and item.attempt == run.attempt
    ]


def mark_fees_written(run_id: str, sk: str) -> None:
    ReconciliationModel(run_id, sk).update(
        actions=[ReconciliationModel.result.set("written")],
        condition=ReconciliationModel.run_id.exists(),
    )


def mark_done(run: StoredRun) -> None:
    """Every fee written: the run is done (unless a newer attempt replaced it meanwhile)."""
    ReconciliationModel(run.run_id, SUMMARY).update(
        actions=[ReconciliationModel.result.set(RunStatus.DONE)],
        condition=ReconciliationModel.attempt == run.attempt,
    )


def by_channel(channel: str, date_from: str, date_to: str) -> list[StoredRun]:
    return [
        _to_run(item)
        for item in ReconciliationModel.by_channel.query(
            channel,
            ReconciliationModel.summary_date.between(date_from, date_to),
            scan_index_forward=False,
        )
    ]


def by_date(date: str) -> list[StoredRun]:
    return [_to_run(item) for item in ReconciliationModel.by_date.query(date)]
