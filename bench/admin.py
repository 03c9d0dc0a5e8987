"""Operator API benchmark (issue: operator API). Prints figures against baselines measured in the
same run; asserts nothing. moto runs as a server in its own process, so the memory measured is
ours alone.

1. Items read per item returned for index-served filters, paging through every page: the items
   DynamoDB read, counted from its responses (the first page also counts the whole-set totals).
2. Export of every seeded order end to end (index reads, rows, CSV, multipart upload to S3) in a
   fresh process, as a Lambda invocation runs it: its CPU (that process's: our code and
   botocore, never moto's) against csv.writer writing as many rows to /dev/null, interleaved
   round by round, as a throughput ratio (min / median); and the first round's peak resident
   memory.
3. The export writer alone (rows in, CSV/XLSX parts out to S3), the same ratio.

    .venv/bin/python -m bench.admin [--orders 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "ap-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PAYTRACK_STAGE": "bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
)

CHANNELS = ["alipay-main", "wxpay-main", "epay-main", "stripe-main"]
METHODS = ["alipay", "wechat", "wxpay", "stripe"]
STATUSES = ["paid"] * 7 + ["pending", "expired", "refunded"]
DAYS = 30


def seed(count: int, now: datetime) -> None:
    from chalicelib.domain.clock import day_of, to_iso
    from chalicelib.store.amount_bands import band_of
    from chalicelib.store.models import OrderModel, PaymentMap

    rng = random.Random(42)
    with OrderModel.batch_write() as batch:
        for i in range(count):
            created = now - timedelta(seconds=rng.randrange(DAYS * 86400))
            status = STATUSES[i % len(STATUSES)]
            channel = i % 4
            amount = [1000, 5800, 9900, 50000][rng.randrange(4)]
            paid = status != "pending" and status != "expired"
            item = OrderModel(
                f"B{i:08d}",
                amount_minor=amount,
                amount_band=band_of(amount),
                currency="CNY",
                channel=CHANNELS[channel],
                gateway="alipay",
                product_id=f"p{i % 20}",
                product_name=f"商品 {i % 20} VIP",
                product_lc=f"商品 {i % 20} vip",
                quantity=1,
                buyer_email=f"buyer{i % 2000}@qq.com",
                email_lc=f"buyer{i % 2000}@qq.com",
                buyer_id=f"u{i % 3000}",
                buyer_ip=f"36.{i % 200}.{i % 7}.{i % 250}",
                created_at=to_iso(created),
                created_day=day_of(created),
                expires_at=to_iso(created + timedelta(minutes=15)),
                pay_status=status,
                delivery_status="delivered" if paid else "pending",
                hold_reasons=[],
                method=METHODS[channel] if paid else None,
                trade_no=f"T{i:08d}" if paid else None,
                paid_at=to_iso(created + timedelta(minutes=1)) if paid else None,
                paid_day=day_of(created + timedelta(minutes=1)) if paid else None,
                flag="1" if i % 10 == 0 else None,
                payments=[
                    PaymentMap(
                        payment_ref=f"T{i:08d}",
                        amount_minor=amount,
                        currency="CNY",
                        channel=CHANNELS[channel],
                        notice_key=f"k{i}",
                    )
                ]
                if paid
                else [],
                timeline=[],
                version=1,
            )
            batch.save(item)


class OrderReads:
    """Items DynamoDB itself read from the orders table and its indexes, from each response
    (Query's ScannedCount, GetItem's item): what the bill counts, not what our code consumed."""

    def __init__(self) -> None:
        self.items = 0

    def __enter__(self) -> OrderReads:
        from pynamodb.connection.base import Connection

        from chalicelib.store.models import OrderModel

        table, original, reads = OrderModel.Meta.table_name, Connection._make_api_call, self

        def counting(connection, operation: str, kwargs: dict):
            answer = original(connection, operation, kwargs)
            if kwargs.get("TableName") == table:
                reads.items += (
                    answer.get("ScannedCount", 0)
                    if operation in ("Query", "Scan")
                    else int("Item" in answer)
                    if operation == "GetItem"
                    else 0
                )
            return answer

        self._restore = lambda: setattr(Connection, "_make_api_call", original)
        Connection._make_api_call = counting  # type: ignore[method-assign,assignment]  # patched to count calls
        return self

    def __exit__(self, *exc) -> None:
        self._restore()


def page_through(params: dict) -> tuple[int, int, int]:
    """(items returned, items DynamoDB read, pages) over every page of one filter."""
    from chalicelib.domain.commands import SearchOrders
    from chalicelib.services import order_search
    from chalicelib.services.auth import Principal

    principal = Principal("bench", "bench", "admin")
    returned, pages, cursor = 0, 0, None
    statuses = params.get("status", [])
    with OrderReads() as reads:
        while True:
            query = {
                **{k: v for k, v in params.items() if k != "status"},
                "limit": "200",
                **({"cursor": cursor} if cursor else {}),
            }
            page = order_search.search(principal, SearchOrders.from_query(query, list(statuses)))
            returned += len(page.orders)
            pages += 1
            cursor = page.next_cursor
            if not cursor:
                return returned, reads.items, pages


def filters(now: datetime) -> dict[str, dict]:
    day = (now - timedelta(days=3)).replace(microsecond=0)
    one_day = {
        "from": (day - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "to": day.isoformat().replace("+00:00", "Z"),
    }
    week = {"from": (now - timedelta(days=7)).isoformat().replace("+00:00", "Z")}
    return {
        "channel, one day": {"channel": "wxpay-main", **one_day},
        "status paid, one day": {"status": ["paid"], **one_day},
        "delivery pending, one day": {"delivery": "pending", **one_day},
        "method, one day": {"method": "stripe", **one_day},
        "flagged, a week": {"flagged": "true", **week},
        "buyer ip": {"ip": "36.17.3.17"},
        "buyer email (exact)": {"email": "buyer77@qq.com"},
        "trade no": {"trade_no": "T00000042"},
        "order no": {"order_no": "B00000042"},
        "paid time, one day": {"paid_from": one_day["from"], "paid_to": one_day["to"]},
        "amount range, one day": {"min_amount": "58.00", "max_amount": "99.00", **one_day},
        "created, one day": one_day,
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _writer_rows(count: int) -> list[list]:
    """Rows shaped like an orders export's (30 cells, Chinese text, amounts, times)."""
    return [
        [
            f"B{i:08d}",
            "2026-11-25 14:23:00",
            f"p{i % 20}",
            f"商品 {i % 20} VIP",
            1,
            "58.00",
            "CNY",
            "58.00",
            "0.35",
            "57.65",
            "",
            "paid",
            "delivered",
            "",
            "alipay-main",
            "alipay",
            f"T{i:08d}",
            "2026-11-25 14:24:00",
            "2026-11-25 14:25:00",
            60,
            "bu***@qq.com",
            "u1****9",
            "36.1.*.*",
            "mobile",
            "Chrome 120",
            "iOS 17",
            "CNY",
            "",
            "",
            "statement",
        ]
        for i in range(count)
    ]


def _csv_writer_cpu(rows: list[list]) -> float:
    """The baseline: csv.writer writing the rows to /dev/null (CPU seconds)."""
    with open(os.devnull, "w", newline="") as sink:
        started = time.process_time()
        writer = csv.writer(sink)
        writer.writerow([f"c{i}" for i in range(len(rows[0]))])
        writer.writerows(rows)
        return time.process_time() - started


def export_in_this_process(since: str, rounds: int) -> None:
    """The child's side: export every order since `since`, `rounds` times, each after a
    csv.writer baseline of as many rows; print the figures as JSON. CPU is this process's:
    our code and botocore, never moto's (a server of its own)."""
    from chalicelib.domain.clock import utcnow
    from chalicelib.services import exports
    from chalicelib.store import exports as export_store

    def record(n: int) -> export_store.ExportRecord:
        return export_store.ExportRecord(
            export_id=f"bench{n}",
            kind="orders",
            format="csv",
            filters={"from": since},
            masked=False,
            requested_by="bench",
            created_at=utcnow(),
            s3_key=f"exports/bench{n}.csv",
        )

    before = _rss_mb()
    started = time.process_time()
    rows = exports._write(record(0), None)
    export_cpu = [time.process_time() - started]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    baseline_rows = _writer_rows(rows)
    base_cpu = [_csv_writer_cpu(baseline_rows)]
    for n in range(1, rounds):
        base_cpu.append(_csv_writer_cpu(baseline_rows))
        started = time.process_time()
        exports._write(record(n), None)
        export_cpu.append(time.process_time() - started)
    print(
        json.dumps(
            {
                "rows": rows,
                "export_cpu": export_cpu,
                "base_cpu": base_cpu,
                "before_mb": before,
                "peak_mb": peak,
            }
        )
    )


def measure_export(now: datetime, rounds: int) -> dict:
    """The export runs in a fresh process, as in a Lambda invocation: its peak is the export's
    (the first round's, before the baseline's rows exist), not the seeding's leftovers here."""
    since = (now - timedelta(days=DAYS + 1)).isoformat().replace("+00:00", "Z")
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.admin",
            "--export-since",
            since,
            "--rounds",
            str(rounds),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


def measure_writer(count: int, rounds: int) -> dict[str, list[float]]:
    """The export writer alone (rows in, parts out to S3 by multipart upload), CPU ÷ csv.writer
    to /dev/null, interleaved round by round."""
    import boto3

    from chalicelib.platform.settings import get_settings
    from chalicelib.services import export_writer

    rows = _writer_rows(count)
    header = [f"c{i}" for i in range(len(rows[0]))]
    s3 = boto3.client("s3")
    ratios: dict[str, list[float]] = {"csv": [], "xlsx": []}
    for _ in range(rounds):
        for fmt in ratios:
            base = _csv_writer_cpu(rows)
            sink = export_writer.MultipartSink(
                s3, get_settings().bucket, f"bench/writer.{fmt}", export_writer.CONTENT_TYPES[fmt]
            )
            started = time.process_time()
            export_writer.write(sink, fmt, header, iter(rows))
            ratios[fmt].append(base / (time.process_time() - started))
    return ratios


def start_moto() -> subprocess.Popen:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--export-since", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_since:
        export_in_this_process(args.export_since, args.rounds)  # a child of this benchmark
        return
    server = start_moto()
    try:
        run(args.orders, args.rounds)
    finally:
        server.terminate()


def _span(values: list[float]) -> str:
    return f"{min(values):.2f}× / {statistics.median(values):.2f}×"


def run(orders: int, rounds: int) -> None:
    from local.bootstrap import provision

    provision()
    now = datetime.now(UTC)
    started = time.perf_counter()
    seed(orders, now)
    print(f"seeded {orders} orders over {DAYS} days in {time.perf_counter() - started:.0f} s")
    worst = 0.0
    for name, params in filters(now).items():
        returned, read, pages = page_through(params)
        ratio = read / returned if returned else float(read)
        worst = max(worst, ratio) if returned else worst
        print(
            f"  {name:28s} returned {returned:6d}  read {read:6d}  pages {pages:3d}  "
            f"read/returned {ratio:.2f}"
        )
    print(f"items read per item returned, worst index-served filter: {worst:.2f}  (target <= 3)")
    export = measure_export(now, rounds)
    end_to_end = [b / e for b, e in zip(export["base_cpu"], export["export_cpu"], strict=True)]
    writer = measure_writer(orders, rounds)
    rows = [
        (
            f"export of {export['rows']:,} orders to S3 end to end (index reads, rows, CSV, "
            "upload; a fresh process, moto apart): throughput ÷ csv.writer to /dev/null "
            "(CPU, interleaved; min / median)",
            _span(end_to_end) + f" ({statistics.median(export['export_cpu']):.1f} s vs "
            f"{statistics.median(export['base_cpu']):.2f} s)",
            "≥ 0.5",
        ),
        (
            "  … its peak resident memory (held before the export began)",
            f"{export['peak_mb']:.0f} MB ({export['before_mb']:.0f} MB)",
            "≤ 200 MB",
        ),
        ("the export writer alone, CSV to S3 ÷ csv.writer", _span(writer["csv"]), "—"),
        ("the export writer alone, XLSX to S3 ÷ csv.writer", _span(writer["xlsx"]), "—"),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"| {'measure':<{width}} | figure | target |\n|{'-' * (width + 2)}|---|---|")
    for measure, figure, target in rows:
        print(f"| {measure:<{width}} | {figure} | {target} |")


if __name__ == "__main__":
    main()
