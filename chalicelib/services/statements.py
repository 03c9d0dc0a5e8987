"""A channel's statement of one Beijing day, fetched from its gateway — failing loudly.

An unparseable statement is never reconciled as a guess: it raises with the line and reason,
and is recorded as a critical anomaly and counted in the `StatementFailures` metric, whose
alarm pages. A gateway that lists only part of the day (epay's order list reaches back only so
far) is completed by asking about each of the day's ledger orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from ..domain.anomaly import Finding, Severity
from ..domain.query import QueryStatus
from ..domain.statement import LineKind, Statement, StatementLine, StatementUnparseable
from ..platform.observability import logger
from . import anomalies, gateway_calls, job_metrics


def fetch(channel: str, day: date, now: datetime) -> Statement:
    ctx, gateway = gateway_calls.reach(channel, now)
    try:
        return gateway.fetch_statement(ctx, day)
    except StatementUnparseable as error:
        report_unparseable(channel, day, error, now)
        raise


def report_unparseable(channel: str, day: date, error: StatementUnparseable, now: datetime) -> None:
    logger.error(
        "statement unparseable",
        extra={
            "channel": channel,
            "date": day.isoformat(),
            "line": error.line,
            "reason": error.reason,
            "source": error.source,
        },
    )
    job_metrics.statement_failed(channel)
    anomalies.record(
        Finding(
            rule="statement_unparseable",
            severity=Severity.CRITICAL,
            subject=f"{channel}#{day.isoformat()}",
            channel=channel,
            details={
                "date": day.isoformat(),
                "source": error.source,
                "line": error.line,
                "reason": error.reason,
            },
        ),
        now,
    )


def complete_by_queries(statement: Statement, order_nos: Iterable[str], now: datetime) -> Statement:
    """Add a line for each ledger order the statement does not list that the gateway says is
    paid — and a refund line when it says refunded since (one query each): a partial list can
    confirm our payments, not find others."""
    ctx, gateway = gateway_calls.reach(statement.channel, now)
    listed = {line.out_trade_no for line in statement.lines}
    added: list[StatementLine] = []
    for order_no in sorted(set(order_nos) - listed):
        result = gateway.query_order(ctx, order_no)
        notice = result.notice
        if (
            result.status in (QueryStatus.PAID, QueryStatus.REFUNDED)
            and notice is not None
            and notice.amount is not None
        ):
            payment = StatementLine(
                len(statement.lines) + len(added) + 1,
                LineKind.PAYMENT,
                order_no,
                notice.trade_no or "",
                notice.amount,
                at=notice.event_time,
                status="queried",
            )
            added.append(payment)
            if result.status is QueryStatus.REFUNDED:
                added.append(
                    payment._replace(
                        kind=LineKind.REFUND,
                        amount=notice.refunded_total or notice.amount,
                        status="queried: refunded",
                    )
                )
    confirmed = sum(line.kind is LineKind.PAYMENT for line in added)
    return replace(
        statement,
        lines=[*statement.lines, *added],
        complete=True,
        source=f"{statement.source} + {confirmed} per-order queries",
    )
