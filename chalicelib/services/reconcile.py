"""Reconciliation of one channel and Beijing day: "does every fen in the gateway's statement match
our ledger?"

The statement is fetched and parsed (services/statements.py), the day's ledger read by index
(store/ledger.py: a few paged Queries, never a request per line), matched (domain/reconcile.py),
stored with its history (store/reconciliations.py), reported to S3 as CSV, and every line that is
not `matched` raises an anomaly. The statement's fees and nets are then written onto the orders
(手续费, 实际到账) within a time budget; what is left is finished by `apply_statement_fees`.
Scheduled daily at 10:30 Beijing for yesterday and every channel; `POST /admin/reconciliations`
runs one now. Re-running a day replaces its results.
"""

from __future__ import annotations

import csv
import gc
import io
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, overload
from zoneinfo import ZoneInfo

from pynamodb.exceptions import UpdateError

from ..domain import validation as v
from ..domain.anomaly import Finding, Severity
from ..domain.clock import from_iso, to_api, utcnow
from ..domain.errors import GatewayUnavailable, NotFound, PaytrackError, ValidationFailed
from ..domain.money import Money
from ..domain.order import EntryType, TimelineEntry
from ..domain.params import parse_day
from ..domain.reconcile import (
    LedgerEntry,
    Reconciliation,
    Result,
    ResultLine,
    findings,
    line_view,
)
from ..domain.reconcile import (
    reconcile as match,
)
from ..domain.statement import (
    Statement,
    StatementNotReady,
    StatementUnparseable,
    beijing_day,
    day_bounds,
    yesterday,
)
from ..platform.aws import client
from ..platform.job_settings import get_job_settings
from ..platform.observability import logger
from ..platform.settings import get_settings
from ..store import audit, ledger
from ..store import reconciliations as run_store
from ..store.reconciliations import NewRun, RunStatus, StoredRun
from . import anomalies, channel_config, channels, job_metrics, statements
from .auth import Principal

REPORT_PREFIX = "reports/reconciliations"
REPORT_COLUMNS = (
    "n",
    "result",
    "kind",
    "statement_line",
    "out_trade_no",
    "trade_no",
    "order_no",
    "currency",
    "statement",
    "ledger",
    "difference",
    "fee",
    "net",
    "settlement_currency",
    "settled",
    "exchange_rate",
    "refund_ref",
    "at",
    "gateway_status",
    "ledger_status",
    "note",
)
SUMMARY_COLUMNS = ("currency", "result", "lines", "statement", "ledger", "difference")
FEE_CHUNK = 500
FEE_WRITERS = 8
API_BUDGET = timedelta(seconds=20)  # fee write-back inside an API request; the rest runs later
LINK_SECONDS = 900
RUN_FAILURES = (StatementUnparseable, StatementNotReady, GatewayUnavailable)


# ------------------------------------------------------------------ running


def reconcile(
    channel: str, day: date, *, actor: str = "schedule", now: datetime | None = None
) -> StoredRun:
    """Fetch the statement and reconcile it. A statement that cannot be had or read is recorded
    in the day's history and re-raised."""
    now = now or utcnow()
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
    day_entries = ledger.paid_between(statement.channel, *window)
    if not statement.complete:
        statement = statements.complete_by_queries(
            statement, (e.order_no for e in day_entries), now
        )
    rate = channel_config.fee_rate(channels.get_channel(statement.channel))
    run = match(statement, day_entries, _named_elsewhere(statement, day_entries), window, rate)
    stored = run_store.save(
        _new_run(statement, run, _archive(statement, run), actor, window),
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


def _window(statement: Statement) -> tuple[datetime, datetime]:
    start, end = day_bounds(statement.day)
    return start, min(end, statement.covers_until) if statement.covers_until else end


def _named_elsewhere(statement: Statement, day_entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """Orders the statement names that were not paid in the window (refunds of older payments,
    payments recorded late or not at all): looked up by order number, else trade number."""
    orders = {e.order_no for e in day_entries}
    refs = {p.ref for e in day_entries for p in e.payments}
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
        [line_view(n, line) for n, line in run.unmatched[: settings.max_stored_lines]],
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
    found = findings(run)
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


# ------------------------------------------------------------------ the S3 report


def _report_row(n: int, line: ResultLine, zone: ZoneInfo) -> tuple[Any, ...]:
    view = line_view(n, line)
    local = f"{line.at.astimezone(zone):%Y-%m-%d %H:%M:%S}" if line.at else ""
    return (
        n,
        view["result"],
        view["kind"],
        view["line"] or "",
        line.out_trade_no,
        line.trade_no,
        line.order_no or "",
        view["currency"],
        view["statement"],
        view["ledger"],
        view["difference"] or "",
        view["fee"] or "",
        view["net"] or "",
        view["settlement_currency"] or "",
        view["settled"] or "",
        view["exchange_rate"] or "",
        view["refund_ref"] or "",
        local,
        view["gateway_status"],
        line.ledger_status,
        line.note,
    )


def _report_csv(run: Reconciliation) -> bytes:
    """Every line that is not matched, then the summary per currency and result. (Matched lines
    are counted; they are in the gateway's statement, archived beside the report.)"""
    zone = ZoneInfo(get_settings().shop_timezone)
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads UTF-8 CSV with Chinese text by its BOM
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    writer.writerows(_report_row(n, line, zone) for n, line in run.unmatched)
    writer.writerow(())
    writer.writerow(SUMMARY_COLUMNS)
    for currency, totals in run.summary["currencies"].items():
        for result, sums in totals["results"].items():
            writer.writerow(
                (
                    currency,
                    result,
                    run.summary["counts"][result],
                    sums["statement"],
                    sums["ledger"],
                    sums["difference"],
                )
            )
        writer.writerow((currency, "difference", "", "", "", totals["difference"]))
        writer.writerow((currency, "unexplained", "", "", "", totals["unexplained"]))
        booked = totals["statement"]  # in this currency as the account's settlement currency
        for figure in ("settled", "fees", "net", "account_fees"):
            writer.writerow((currency, figure, "", booked[figure], "", ""))
    return out.getvalue().encode("utf-8")


def report_key(channel: str, day: str, suffix: str = "csv") -> str:
    return f"{REPORT_PREFIX}/{channel}/{day}.{suffix}"


def _archive(statement: Statement, run: Reconciliation) -> dict[str, str]:
    """The report, and the statement file as the gateway served it (when it serves one)."""
    day, bucket, s3 = statement.day.isoformat(), get_settings().bucket, client("s3")
    keys = {"key": report_key(statement.channel, day)}
    s3.put_object(
        Bucket=bucket, Key=keys["key"], Body=_report_csv(run), ContentType="text/csv; charset=utf-8"
    )
    if statement.raw is not None:
        keys["statement_key"] = report_key(
            statement.channel, day, f"statement.{statement.raw_suffix}"
        )
        s3.put_object(Bucket=bucket, Key=keys["statement_key"], Body=statement.raw)
    return keys


# ------------------------------------------------------------------ fees onto orders


def _write_fee(run: StoredRun, update: list[Any], now: datetime) -> bool:
    """One chunk entry: [order_no, currency, fee_minor, net_minor] and, for a converted payment,
    [settled_minor, rate] after them (chunks written before conversions were read have four)."""
    order_no, currency, fee_minor, net_minor, settled_minor, rate = (*update, None, None)[:6]
    fee, net = Money(fee_minor, currency), Money(net_minor, currency)
    settled = Money(settled_minor, currency) if settled_minor is not None else None
    data = {"run": run.run_id, "fee": fee.format(), "net": net.format(), "currency": fee.currency}
    converted = ""
    if settled is not None and rate:
        data.update(settled=settled.format(), exchange_rate=rate)
        converted = f"settled {settled} @ {rate}, "
    entry = TimelineEntry(
        at=now,
        type=EntryType.RECONCILIATION,
        source="system",
        message=f"statement of {run.date}: {converted}fee {fee}, net {net}",
        data=data,
    )
    try:
        ledger.write_statement_amounts(order_no, fee, net, entry, settled, rate)
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def apply_fees(run: StoredRun, budget: timedelta, now: datetime | None = None) -> dict[str, int]:
    """Write the run's pending statement fees onto their orders until `budget` is spent."""
    now = now or utcnow()
    deadline = time.monotonic() + budget.total_seconds()
    written = left = 0
    with ThreadPoolExecutor(max_workers=FEE_WRITERS) as pool:
        for sk, updates in run_store.pending_fee_chunks(run):
            if time.monotonic() > deadline:
                left += len(updates)
                continue
            written += sum(pool.map(lambda update: _write_fee(run, update, now), updates))
            run_store.mark_fees_written(run.run_id, sk)
    if not left and run.status == RunStatus.FEES_PENDING:
        run_store.mark_done(run)
    return {"fees_written": written, "fees_pending": left}


def apply_statement_fees(now: datetime | None = None, days: int = 3) -> dict[str, Any]:
    """The scheduled catch-up: finish the fee write-back of the last few days' runs."""
    now = now or utcnow()
    budget = get_job_settings().fee_writeback_budget
    deadline = time.monotonic() + budget.total_seconds()
    done: dict[str, dict[str, int]] = {}
    for back in range(days):
        for run in run_store.by_date((beijing_day(now) - timedelta(days=back)).isoformat()):
            remaining = timedelta(seconds=max(0.0, deadline - time.monotonic()))
            if run.status == RunStatus.FEES_PENDING and remaining:
                done[run.run_id] = apply_fees(run, remaining, now)
    return {"job": "apply_statement_fees", "runs": done}


# ------------------------------------------------------------------ the jobs and the API


def reconcile_day(
    day: date | None = None,
    channel: str | None = None,
    *,
    actor: str = "schedule",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Every channel (or one) for a day, yesterday by default; one failing channel does not stop
    the others and is listed under `failed` (its anomaly and metric page)."""
    now = now or utcnow()
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


def api_id(run_id: str) -> str:
    """`alipay-main#2026-11-24` (the table's key) is `alipay-main:2026-11-24` in URLs."""
    return run_id.replace("#", ":")


def _run_id(api_run_id: str) -> str:
    channel, _, day = api_run_id.rpartition(":")
    if not channel:
        raise NotFound(
            f"no reconciliation {api_run_id!r}: ids look like alipay-main:2026-11-24",
            {"id": api_run_id},
        )
    return run_store.run_id_of(channel, day)


def run_view(run: StoredRun) -> dict[str, Any]:
    data = run.data
    return {
        "id": api_id(run.run_id),
        "channel": run.channel,
        "date": run.date,
        "status": run.status,
        "ran_at": to_api(from_iso(run.created_at)) if run.created_at else None,
        "summary": data.get("summary"),
        "error": data.get("error"),
        "report": data.get("report"),
        "statement": data.get("statement"),
        "window": data.get("window"),
        "history": data.get("history", []),
    }


def _audit(
    principal: Principal, action: str, target: str | None, detail: dict[str, Any] | None = None
) -> None:
    audit.record_api(utcnow(), principal.key_id, principal.role, action, target, detail)


def list_runs(principal: Principal, params: Mapping[str, str]) -> dict[str, Any]:
    """Runs by `channel` and/or `date`; without either, the last 7 days."""
    channel, day = params.get("channel"), _date_param(params.get("date"))
    today = beijing_day(utcnow())
    if channel and day:
        run = run_store.get(run_store.run_id_of(channel, day.isoformat()))
        runs = [run] if run else []
    elif channel:
        runs = run_store.by_channel(
            channel, (today - timedelta(days=31)).isoformat(), today.isoformat()
        )
    else:
        dates = [day] if day else [today - timedelta(days=n) for n in range(7)]
        runs = [run for d in dates for run in run_store.by_date(d.isoformat())]
    _audit(
        principal, "list_reconciliations", None, {"channel": channel, "date": params.get("date")}
    )
    return {"items": [run_view(run) for run in runs]}


def get_run(principal: Principal, api_run_id: str, params: Mapping[str, str]) -> dict[str, Any]:
    """A run with its summary, its unmatched lines by result (`result` narrows them) and fresh
    links to the CSV report and the gateway's statement file."""
    run = run_store.get(_run_id(api_run_id))
    if run is None:
        raise NotFound(f"no reconciliation {api_run_id!r}", {"id": api_run_id})
    wanted = params.get("result")
    if wanted is not None and wanted not in {r.value for r in Result}:
        raise ValidationFailed(
            f"result must be one of {', '.join(r.value for r in Result)}", {"field": "result"}
        )
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in run_store.lines(run):
        if wanted in (None, line["result"]):
            lines.setdefault(line["result"], []).append(line)
    view = {**run_view(run), "lines": lines}
    report = run.data.get("report")
    if report:
        view["report"] = {**report, "url": _link(report["key"]), "expires_in_s": LINK_SECONDS}
        if "statement_key" in report:
            view["report"]["statement_url"] = _link(report["statement_key"])
    _audit(principal, "read_reconciliation", api_id(run.run_id))
    return view


def _link(key: str) -> str:
    return client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": get_settings().bucket, "Key": key}, ExpiresIn=LINK_SECONDS
    )


@overload
def _date_param(text: str) -> date: ...
@overload
def _date_param(text: str | None) -> date | None: ...
def _date_param(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return parse_day(text)
    except ValueError:
        raise ValidationFailed("date: expected YYYY-MM-DD", {"field": "date"}) from None


def run_now(principal: Principal, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST /admin/reconciliations {channel, date}: reconcile now (fees within a short budget)."""
    body = v.require_object(body)
    v.reject_unknown(body, {"channel", "date"})
    channel = v.text(body, "channel", max_len=64)
    if channel not in channels.all_channels():
        raise ValidationFailed(
            f"channel: {channel!r} is not a configured channel",
            {"field": "channel", "allowed": sorted(channels.all_channels())},
        )
    day = _date_param(v.text(body, "date", max_len=10))
    if day > beijing_day(utcnow()):
        raise ValidationFailed("date: a day that has not begun has no statement", {"field": "date"})
    _audit(principal, "run_reconciliation", api_id(run_store.run_id_of(channel, day.isoformat())))
    run = reconcile(channel, day, actor=principal.key_id)
    fees = apply_fees(run, API_BUDGET)
    return {**run_view(run_store.get(run.run_id) or run), "fees": fees}
