"""A channel's statement of one Beijing day, fetched from its gateway — failing loudly.

An unparseable statement is never reconciled as a guess: it raises with the line and reason,
and is recorded as a critical anomaly and counted in the `StatementFailures` metric, whose
alarm pages. A gateway that lists only part of the day (epay's order list reaches back only so
far) is completed by asking about each of the day's ledger orders; one that lists refunds on
their payment's day is asked about the older orders refunded in the day.
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


def refunds_by_queries(statement: Statement, order_nos: Iterable[str], now: datetime) -> Statement:
    """For a statement that lists refunds on their payment's day (`refunds_dated` False: epay),
    a refund line for each order paid before the day and refunded here in it, when the gateway
    says it is refunded (one query each): its refunded total, compared with ours as a whole, as
    a refund line on the payment's day is. Said unrefunded, no line: our refund stays unmatched."""
    order_nos = sorted(set(order_nos))
    if statement.refunds_dated or not order_nos:
        return statement
    ctx, gateway = gateway_calls.reach(statement.channel, now)
    added: list[StatementLine] = []
    for order_no in order_nos:
        result = gateway.query_order(ctx, order_no)
        notice = result.notice
        if result.status is QueryStatus.REFUNDED and notice is not None and notice.amount:
            added.append(
                StatementLine(
                    len(statement.lines) + len(added) + 1,
                    LineKind.REFUND,
                    order_no,
                    notice.trade_no or "",
                    notice.refunded_total or notice.amount,
                    at=notice.event_time,
                    status="queried: refunded",
                )
            )
    return replace(
        statement,
        lines=[*statement.lines, *added],
        source=f"{statement.source} + {len(order_nos)} refund queries",
    )
