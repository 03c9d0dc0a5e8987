"""The failed digest (daily 09:00 Beijing): yesterday's orders that need a person — expired or
closed unpaid, delivery failed, held — exported to S3 as CSV and announced on the paging topic
(失败交易集中查看：每日固定时间处理支付失败订单).

The export carries no buyer PII (it travels by SNS and e-mail): order, product, amount, channel,
states and reasons; operators open the order in the admin API for the rest. `FailedDigestSent`
is counted on every run: its alarm pages when a day passes without one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..domain.order import Order
from ..domain.statement import day_bounds, yesterday
from ..platform.aws import client
from ..platform.settings import get_settings
from ..store import ledger
from . import job_metrics, ports
from .events import sns_attributes
from .ports import clock

REPORT_PREFIX = "reports/failed-digest"
COLUMNS = (
    "section",
    "order_no",
    "created_at",
    "channel",
    "product_id",
    "product_name",
    "amount",
    "currency",
    "pay_status",
    "delivery_status",
    "hold_reasons",
    "expired_at",
    "closed_at",
)


def _rows(sections: dict[str, list[Order]], zone: ZoneInfo) -> list[tuple[Any, ...]]:
    def local(moment: datetime | None) -> str:
        return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S}" if moment else ""

    return [
        (
            section,
            o.order_no,
            local(o.created_at),
            o.channel,
            o.product_id,
            o.product_name,
            o.amount.format(),
            o.amount.currency,
            o.pay_status.value,
            o.delivery_status.value,
            " ".join(o.hold_reasons),
            local(o.expired_at),
            local(o.closed_at),
        )
        for section, found in sections.items()
        for o in found
    ]


def _csv(rows: list[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


class _PagingTopic:
    """The paging topic (SNS): the real `paging` port."""

    def send(self, message: str, attributes: Mapping[str, str], subject: str | None = None) -> None:
        client("sns").publish(
            TopicArn=get_settings().paging_topic_arn,
            Message=message,
            MessageAttributes=sns_attributes(attributes),
            **({"Subject": subject} if subject is not None else {}),
        )


_PAGING_TOPIC = _PagingTopic()


def failed_digest(now: datetime | None = None, day: date | None = None) -> dict[str, Any]:
    now = now or clock().now()
    day = day or yesterday(now)
    settings = get_settings()
    sections = ledger.failed_created_between(*day_bounds(day))
    key = f"{REPORT_PREFIX}/{day.isoformat()}.csv"
    client("s3").put_object(
        Bucket=settings.bucket,
        Key=key,
        Body=_csv(_rows(sections, ZoneInfo(settings.shop_timezone))),
        ContentType="text/csv; charset=utf-8",
    )
    counts = {section: len(found) for section, found in sections.items()}
    message = {
        "event": "failed_digest",
        "date": day.isoformat(),
        "counts": counts,
        "summary": f"{day.isoformat()}: "
        + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items()),
        "report": {"bucket": settings.bucket, "key": key},
        "orders": {s: [o.order_no for o in found[:50]] for s, found in sections.items() if found},
    }
    paging: ports.Publisher = ports.port("paging", _PAGING_TOPIC)
    paging.send(
        json.dumps(message, ensure_ascii=False),
        {"event": "failed_digest"},
        subject=f"paytrack failed digest {day.isoformat()}",
    )
    job_metrics.failed_digest_sent()
    return {"job": "failed_digest", "date": day.isoformat(), "counts": counts, "report": key}
