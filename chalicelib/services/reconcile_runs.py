"""The operators' reconciliation use cases: list runs, read one with its unmatched lines and
fresh links to its files, run a channel's day now. Each takes its command (domain/commands.py)
and returns what it found; the edge renders it (services/render.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..domain.commands import GetRun, ListRuns, RunReconciliation
from ..domain.errors import NotFound, ValidationFailed
from ..domain.statement import beijing_day
from ..store import audit
from ..store import reconciliations as run_store
from ..store.reconciliations import StoredRun
from . import channels, reconcile_report
from .auth import Principal
from .ports import clock
from .reconcile import reconcile
from .render import api_run_id
from .statement_fees import apply_fees

API_BUDGET = timedelta(seconds=20)  # fee write-back inside an API request; the rest runs later


@dataclass(frozen=True)
class RunDetail:
    run: StoredRun
    lines: dict[str, list[dict[str, Any]]]  # unmatched lines by result
    links: dict[str, str] = field(default_factory=dict)  # url, statement_url
    links_expire_in_s: int = reconcile_report.LINK_SECONDS


@dataclass(frozen=True)
class RunDone:
    run: StoredRun
    fees: dict[str, int]


def _audit(
    principal: Principal, action: str, target: str | None, detail: dict[str, Any] | None = None
) -> None:
    audit.record_api(clock().now(), principal.key_id, principal.role, action, target, detail)


def list_runs(principal: Principal, command: ListRuns) -> list[StoredRun]:
    """Runs by channel and/or day; without either, the last 7 days."""
    channel, day = command.channel, command.day
    today = beijing_day(clock().now())
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
        principal,
        "list_reconciliations",
        None,
        {"channel": channel, "date": day.isoformat() if day else None},
    )
    return runs


def _stored_id(api_run_id: str) -> str:
    channel, _, day = api_run_id.rpartition(":")
    if not channel:
        raise NotFound(
            f"no reconciliation {api_run_id!r}: ids look like alipay-main:2026-11-24",
            {"id": api_run_id},
        )
    return run_store.run_id_of(channel, day)


def get_run(principal: Principal, command: GetRun) -> RunDetail:
    """A run, its unmatched lines by result (one result when the command names it) and fresh
    links to the CSV report and the gateway's statement file."""
    run = run_store.get(_stored_id(command.run_id))
    if run is None:
        raise NotFound(f"no reconciliation {command.run_id!r}", {"id": command.run_id})
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in run_store.lines(run):
        if command.result in (None, line["result"]):
            lines.setdefault(line["result"], []).append(line)
    links: dict[str, str] = {}
    report = run.data.get("report")
    if report:
        links["url"] = reconcile_report.link(report["key"])
        if "statement_key" in report:
            links["statement_url"] = reconcile_report.link(report["statement_key"])
    _audit(principal, "read_reconciliation", api_run_id(run.run_id))
    return RunDetail(run, lines, links)


def run_now(principal: Principal, command: RunReconciliation) -> RunDone:
    """Reconcile a configured channel's day (begun already) now; fees within a short budget."""
    channel, day = command.channel, command.day
    if channel not in channels.all_channels():
        raise ValidationFailed(
            f"channel: {channel!r} is not a configured channel",
            {"field": "channel", "allowed": sorted(channels.all_channels())},
        )
    if day > beijing_day(clock().now()):
        raise ValidationFailed("date: a day that has not begun has no statement", {"field": "date"})
    _audit(
        principal, "run_reconciliation", api_run_id(run_store.run_id_of(channel, day.isoformat()))
    )
    run = reconcile(channel, day, actor=principal.key_id)
    fees = apply_fees(run, API_BUDGET)
    return RunDone(run_store.get(run.run_id) or run, fees)
