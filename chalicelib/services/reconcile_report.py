"""A reconciliation's files in S3: the CSV report of every line that is not matched with the
summary per currency, the statement file as the gateway served it, and short-lived links to
both."""

from __future__ import annotations

import csv
import io
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.reconcile import Reconciliation, ResultLine
from ..domain.statement import Statement
from ..platform.aws import client
from ..platform.settings import get_settings
from .export_sources import RECONCILIATION_COLUMNS
from .render import reconcile_line_view

REPORT_PREFIX = "reports/reconciliations"
# the result line's view keys (services/render.py), as export_sources lists them; the report
# names the statement's line number `statement_line`
REPORT_COLUMNS = tuple(
    "statement_line" if column == "line" else column for column in RECONCILIATION_COLUMNS
)
SUMMARY_COLUMNS = ("currency", "result", "lines", "statement", "ledger", "difference")
LINK_SECONDS = 900


def _report_row(n: int, line: ResultLine, zone: ZoneInfo) -> tuple[Any, ...]:
    view = reconcile_line_view(n, line)
    view["at"] = f"{line.at.astimezone(zone):%Y-%m-%d %H:%M:%S}" if line.at else ""
    return tuple("" if view[column] is None else view[column] for column in RECONCILIATION_COLUMNS)


def report_csv(run: Reconciliation) -> bytes:
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


def archive(statement: Statement, run: Reconciliation) -> dict[str, str]:
    """The report, and the statement file as the gateway served it (when it serves one)."""
    day, bucket, s3 = statement.day.isoformat(), get_settings().bucket, client("s3")
    keys = {"key": report_key(statement.channel, day)}
    s3.put_object(
        Bucket=bucket, Key=keys["key"], Body=report_csv(run), ContentType="text/csv; charset=utf-8"
    )
    if statement.raw is not None:
        keys["statement_key"] = report_key(
            statement.channel, day, f"statement.{statement.raw_suffix}"
        )
        s3.put_object(Bucket=bucket, Key=keys["statement_key"], Body=statement.raw)
    return keys


def link(key: str) -> str:
    """A link to one of the files, good for LINK_SECONDS."""
    return str(
        client("s3").generate_presigned_url(
            "get_object",
            Params={"Bucket": get_settings().bucket, "Key": key},
            ExpiresIn=LINK_SECONDS,
        )
    )
