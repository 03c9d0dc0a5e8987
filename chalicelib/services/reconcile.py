"""Reconciliation of one channel and Beijing day: "does every fen in the gateway's statement match
our ledger?"

The statement is fetched and parsed (services/statements.py), the day's ledger read by index
(store/ledger.py: a few paged Queries, never a request per line — the orders paid in the day,
and those paid before it whose refunds moved money in it, store/refund_days.py), matched
(domain/reconcile.py), stored with its history (store/reconciliations.py), reported to S3 as
CSV, and every line that is not `matched` raises an anomaly. The statement's fees and nets are
then written onto the orders (手续费, 实际到账) within a time budget (services/statement_fees.py);
what is left is finished by `apply_statement_fees`. Scheduled daily at 10:30 Beijing for yesterday and every channel;
`POST /admin/reconciliations` runs one now (services/reconcile_runs.py, the operators' use
cases). Re-running a day replaces its results; the report is services/reconcile_report.py.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from ..domain.anomaly import Finding, Severity
from ..domain.clock import to_api
from ..domain.errors import GatewayUnavailable, PaytrackError
from ..domain.reconcile import (
    DayLedger,
    LedgerEntry,
    Reconciliation,
    findings,
    refund_orders,
)
from ..domain.reconcile import reconcile as match
from ..domain.refunds import RefundRequest
from ..domain.statement import (
    Statement,
    StatementNotReady,
    StatementUnparseable,
    day_bounds,
    yesterday,
)
from ..platform.job_settings import get_job_settings
from ..platform.observability import logger
from ..store import ledger, refund_days
from ..store import reconciliations as run_store
from ..store.reconciliations import NewRun, RunStatus, StoredRun
from . import anomalies, channel_config, channels, job_metrics, statements
from .ports import clock
from .reconcile_report import archive
from .render import reconcile_line_view
from .statement_fees import apply_fees

FEE_CHUNK = 500
RUN_FAILURES = (StatementUnparseable, StatementNotReady, GatewayUnavailable)


# ------------------------------------------------------------------ running


def reconcile(
    channel: str, day: date, *, actor: str = "schedule", now: datetime | None = None
) -> StoredRun:
    """Fetch the statement and reconcile it. A statement that cannot be had or read is recorded
    in the day's history and re-raised."""
    now = now or clock().now()
    with _bulk_allocation():
        try:
            statement = statements.fetch(channel, day, now)
        except RUN_FAILURES as error:
            run_store.record_failure(
                channel, day.isoformat(), _history(actor, now, error=error), now
            )
            raise
        return reconcile_statement(statement, actor=actor, now=now)


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """A day is a few hundred thousand small tuples (statement lines, ledger entries, result
    lines) that live until the run is stored and hold no reference cycles. Python's cyclic
    collector would rescan them again and again while they are built, for a third of the run's
    CPU, and find nothing to free; it is paused meanwhile (reference counting still frees)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def reconcile_statement(statement: Statement, *, actor: str, now: datetime) -> StoredRun:
    window = _window(statement)
    day = ledger.paid_between(statement.channel, *window)
    refunded = _refunded_elsewhere(statement.channel, window, day)
    if not statement.complete:
        statement = statements.complete_by_queries(statement, day.order_nos, now)
    statement = statements.refunds_by_queries(statement, (e.order_no for e in refunded), now)
    rate = channel_config.fee_rate(channels.get_channel(statement.channel))
    others = [*refunded, *_named_elsewhere(statement, day, refunded)]
    requests = ledger.refund_requests_of(refund_orders(statement, others, day))
    day.attach_refunds(requests)
    run = match(statement, day, _with_refunds(others, requests), window, rate)
    stored = run_store.save(
        _new_run(statement, run, archive(statement, run), actor, window),
        _history(actor, now, run.summary),
        now,
    )
    _raise_anomalies(run, now)
    for result, count in run.summary["counts"].items():
        job_metrics.lines_reconciled(statement.channel, result, count)
    logger.info(
        "reconciled",
        extra={
            "channel": statement.channel,
            "date": statement.day.isoformat(),
            "counts": run.summary["counts"],
            "balanced": run.summary["balanced"],
        },
    )
    return stored


def _with_refunds(
    entries: list[LedgerEntry], requests: Mapping[str, tuple[RefundRequest, ...]]
) -> list[LedgerEntry]:
    """The entries with their orders' refund requests, matched one by one to refund lines."""
    return [
        entry._replace(refunds=requests[entry.order_no]) if entry.order_no in requests else entry
        for entry in entries
    ]


def _window(statement: Statement) -> tuple[datetime, datetime]:
    start, end = day_bounds(statement.day)
    return start, min(end, statement.covers_until) if statement.covers_until else end


def _refunded_elsewhere(
    channel: str, window: tuple[datetime, datetime], day: DayLedger
) -> list[LedgerEntry]:
    """Orders paid on another day whose refunds moved money here in the window (one Query per
    UTC day of the refund days, one BatchGetItem per 100 orders): each refund request of theirs
    that succeeded in the window must be in the statement like the day's own orders'."""
    refunded = refund_days.orders_refunded_between(channel, *window)
    return ledger.by_order_nos(refunded.difference(day.order_nos))


def _named_elsewhere(
    statement: Statement, day: DayLedger, refunded: list[LedgerEntry]
) -> list[LedgerEntry]:
    """Orders the statement names that are neither the `day`'s (paid in the window) nor
    `refunded` in it: refunds of older payments, payments recorded late or not at all — looked
    up by order number, else trade number."""
    orders = {e.order_no for e in refunded}.union(day.order_nos)
    refs = day.payment_refs() | {p.ref for e in refunded for p in e.payments}
    unknown = [
        line
        for line in statement.lines
        if line.trade_no not in refs and line.out_trade_no not in orders
    ]
    found = ledger.by_order_nos(line.out_trade_no for line in unknown if line.out_trade_no)
    return found + ledger.by_trade_nos(line.trade_no for line in unknown if not line.out_trade_no)


def _history(
    actor: str,
    now: datetime,
    summary: Mapping[str, Any] | None = None,
    error: PaytrackError | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": to_api(now), "actor": actor}
    if summary is not None:
        entry.update(counts=summary["counts"], balanced=summary["balanced"])
    if error is not None:
        entry.update(error={"code": error.code, "message": error.message, "details": error.details})
    return entry


def _new_run(
    statement: Statement,
    run: Reconciliation,
    report: dict[str, str],
    actor: str,
    window: tuple[datetime, datetime],
) -> NewRun:
    settings = get_job_settings()
    fees = (
        run.fee_updates
    )  # JSON arrays [order_no, currency, fee_minor, net_minor, settled_minor, rate]
    summary = {**run.summary, "stored_lines": min(len(run.unmatched), settings.max_stored_lines)}
    return NewRun(
        statement.channel,
        statement.day.isoformat(),
        summary,
        [reconcile_line_view(n, line) for n, line in run.unmatched[: settings.max_stored_lines]],
        [fees[i : i + FEE_CHUNK] for i in range(0, len(fees), FEE_CHUNK)],
        {
            "report": report,
            "actor": actor,
            "window": [to_api(window[0]), to_api(window[1])],
            "statement": {"source": statement.source, "lines": len(statement.lines)},
        },
    )


def _raise_anomalies(run: Reconciliation, now: datetime) -> None:
    """One anomaly per unmatched line, up to a cap; past it one critical anomaly for the run (a
    statement that disagrees with everything needs a person, not ten thousand alerts)."""
    limit = get_job_settings().max_line_anomalies
    found = findings(run, reconcile_line_view)
    for finding in found[:limit]:
        anomalies.record(finding, now)
    if len(found) > limit:
        anomalies.record(
            Finding(
                rule="reconciliation_overflow",
                severity=Severity.CRITICAL,
                subject=f"{run.channel}#{run.day.isoformat()}",
                channel=run.channel,
                details={"unmatched": len(found), "recorded": limit},
            ),
            now,
        )


# ------------------------------------------------------------------ the job


def reconcile_day(
    day: date | None = None,
    channel: str | None = None,
    *,
    actor: str = "schedule",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every channel (or one) for a day, yesterday by default; one failing channel does not stop
    the others and is listed under `failed` (its anomaly and metric page)."""
    now = now or clock().now()
    day = day or yesterday(now)
    targets = [channel] if channel else sorted(channels.all_channels())
    results: dict[str, Any] = {}
    for target in targets:
        try:
            run = reconcile(target, day, actor=actor, now=now)
            results[target] = {
                "status": run.status,
                "counts": run.data["summary"]["counts"],
                "balanced": run.data["summary"]["balanced"],
                **apply_fees(run, get_job_settings().fee_writeback_budget, now),
            }
        except RUN_FAILURES as error:
            results[target] = {
                "status": RunStatus.FAILED,
                "error": error.code,
                "message": error.message,
            }
    failed = [c for c, r in results.items() if r["status"] == RunStatus.FAILED]
    return {"job": "reconcile", "date": day.isoformat(), "channels": results, "failed": failed}
