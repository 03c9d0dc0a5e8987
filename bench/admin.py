"""Operator API benchmark (issue: operator API). Prints figures against baselines measured in the
same run; asserts nothing. moto runs as a server in its own process, so the memory measured is
ours alone.

1. Items read per item returned on the first page of a search as the admin page asks it (50 rows,
   `totals=capped`), for every filter the page offers alone and the combinations the composite
   indexes serve, over orders drawn from realistic distributions: the items DynamoDB read, counted
   from its responses. What no index answers is listed apart (the bounded sweeps: partial
   matches, `flagged=false`, and `totals=true` reading the whole filtered set).
2. Export of every seeded order end to end (index reads, rows, CSV, multipart upload to S3) in a
   fresh process, as a Lambda invocation runs it: its CPU (that process's: our code and
   botocore, never moto's) against csv.writer writing as many rows to /dev/null, interleaved
   round by round, as a throughput ratio (min / median); and the first round's peak resident
   memory.
3. The export writer alone (rows in, CSV/XLSX parts out to S3), the same ratio.

    .venv/bin/python -m bench.admin [--orders 100000] [--rounds 3] [--search-only | --export-only]
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
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

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

DAYS = 30
LIMIT = 50  # the orders page's default page size

# Realistic shapes: dozens of price points, many channels, long-tailed products and buyers, each
# drawn with Zipf-like weights (the k-th most common value about 1/k as often as the first).
PRICES = [
    100, 200, 500, 660, 880, 990, 1000, 1200, 1500, 1880, 1990, 2500, 2990, 3000, 3800, 3990,
    4500, 4990, 5800, 5990, 6600, 6800, 8800, 9800, 9900, 12800, 16800, 19800, 25800, 29800,
    38800, 49900, 58800, 88800, 99900, 128800,
]  # fmt: skip
CHANNELS = [
    ("alipay-main", ["alipay"]),
    ("wxpay-main", ["wechat"]),
    ("epay-main", ["alipay", "wxpay", "qqpay"]),
    ("alipay-2", ["alipay"]),
    ("stripe-main", ["card"]),
    ("epay-backup", ["alipay", "wxpay"]),
    ("wxpay-2", ["wechat"]),
    ("alipay-3", ["alipay"]),
    ("epay-3", ["alipay", "wxpay", "qqpay"]),
    ("stripe-eu", ["card", "alipay"]),
    ("wxpay-3", ["wechat"]),
    ("epay-4", ["wxpay"]),
]
STATUSES = [
    ("paid", 70),
    ("expired", 15),
    ("pending", 6),
    ("closed", 4),
    ("refunded", 3),
    ("partially_refunded", 2),
]
DOMAINS = [("qq.com", 50), ("163.com", 18), ("gmail.com", 14), ("126.com", 6)]
DOMAINS += [("foxmail.com", 4), ("outlook.com", 4), ("icloud.com", 3), ("sina.com", 1)]
PINYIN = [
    "zhang",
    "wang",
    "li",
    "liu",
    "chen",
    "yang",
    "huang",
    "zhao",
    "wu",
    "zhou",
    "xu",
    "sun",
    "ma",
    "zhu",
    "hu",
    "guo",
    "he",
    "lin",
    "luo",
]
PRODUCTS, BUYERS = 300, 30_000


def _zipf(rng: random.Random, count: int) -> list[float]:
    """Cumulative weights (for `choices(cum_weights=…)`) of `count` values, the k-th most common
    about 1/k as often as the first, the popular ones anywhere in the list."""
    weights = [1 / (k + 1) for k in range(count)]
    rng.shuffle(weights)
    return list(accumulate(weights))


def _buyer(rng: random.Random, n: int) -> tuple[str, str, str]:
    domain = rng.choices([d for d, _ in DOMAINS], [w for _, w in DOMAINS])[0]
    if domain == "qq.com":
        local = str(rng.randrange(10_000, 3_000_000_000))
    else:
        local = f"{rng.choice(PINYIN)}{rng.choice(PINYIN)}{rng.randrange(100) if rng.random() < 0.6 else ''}"
    ip = f"{rng.choice([36, 58, 113, 117, 183, 223])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return f"{local}@{domain}", f"u{n:05d}", ip


def seed(count: int, now: datetime) -> list[dict]:
    """Orders drawn from the distributions above; returns the seeded orders' searchable fields
    (to pick filters that match something)."""
    from chalicelib.domain.clock import day_of, to_iso
    from chalicelib.store.models import OrderModel, PaymentMap
    from chalicelib.store.search_keys import amount_keys, email_keys

    rng = random.Random(42)
    price_w, channel_w = _zipf(rng, len(PRICES)), _zipf(rng, len(CHANNELS))
    product_w, buyer_w = _zipf(rng, PRODUCTS), _zipf(rng, BUYERS)
    buyers = [_buyer(rng, n) for n in range(BUYERS)]
    statuses, status_w = [s for s, _ in STATUSES], [w for _, w in STATUSES]
    seeded = []
    with OrderModel.batch_write() as batch:
        for i in range(count):
            created = now - timedelta(seconds=rng.randrange(DAYS * 86400))
            created_at = to_iso(created)
            status = rng.choices(statuses, status_w)[0]
            channel, methods = rng.choices(CHANNELS, cum_weights=channel_w)[0]
            amount = rng.choices(PRICES, cum_weights=price_w)[0]
            product = rng.choices(range(PRODUCTS), cum_weights=product_w)[0]
            email, buyer_id, ip = rng.choices(buyers, cum_weights=buyer_w)[0]
            paid = status not in ("pending", "expired", "closed")
            delivery = (
                rng.choices(["delivered", "pending", "held", "failed"], [95, 2, 1, 2])[0]
                if paid
                else "pending"
            )
            keys: dict[str, Any] = amount_keys(channel, status, amount, created_at)
            item = OrderModel(
                f"B{i:08d}",
                **keys | email_keys(email, created_at),
                amount_minor=amount,
                currency="CNY",
                channel=channel,
                gateway=channel.split("-")[0],
                product_id=f"p{product:03d}",
                product_name=f"商品 {product} {'VIP 月卡' if product % 3 else '充值卡'}",
                product_lc=f"商品 {product} {'vip 月卡' if product % 3 else '充值卡'}",
                quantity=1,
                buyer_email=email,
                email_lc=email,
                buyer_id=buyer_id,
                buyer_ip=ip,
                created_at=created_at,
                created_day=day_of(created),
                expires_at=to_iso(created + timedelta(minutes=15)),
                pay_status=status,
                delivery_status=delivery,
                hold_reasons=[],
                method=rng.choice(methods) if paid else None,
                trade_no=f"T{i:08d}" if paid else None,
                paid_at=to_iso(created + timedelta(minutes=1)) if paid else None,
                paid_day=day_of(created + timedelta(minutes=1)) if paid else None,
                flag="1" if rng.random() < 0.03 else None,
                payments=[
                    PaymentMap(
                        payment_ref=f"T{i:08d}",
                        amount_minor=amount,
                        currency="CNY",
                        channel=channel,
                        notice_key=f"k{i}",
                    )
                ]
                if paid
                else [],
                timeline=[],
                version=1,
            )
            batch.save(item)
            seeded.append(
                {
                    "email": email,
                    "ip": ip,
                    "buyer_id": buyer_id,
                    "order_no": f"B{i:08d}",
                    "paid": paid,
                }
            )
    return seeded


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


def _patient_reads() -> None:
    """On a busy machine one of moto's answers can take longer than the API's 5 s read timeout
    (the first Query of an index builds its index map over the whole table, holding moto's write
    lock). The benchmark counts items and CPU, not seconds, so every read waits: every model's
    connection and every boto3 client made from here on."""
    from chalicelib.platform import aws
    from chalicelib.store import models

    if models._Meta.read_timeout_seconds != 300:
        aws.READ_TIMEOUT_S = 300
        aws.client_config.cache_clear()
        aws.client.cache_clear()
        models._Meta.read_timeout_seconds = 300
        for model in vars(models).values():
            if isinstance(model, type) and issubclass(model, models.Model):
                model._connection = None  # made again with the new timeout


def first_page(params: dict) -> tuple[int, int, str, bool]:
    """(items returned, items DynamoDB read, index, totals capped) of one first page, asked as
    the admin page asks it (its page size, `totals=capped` unless the params say otherwise)."""
    from chalicelib.domain.commands import SearchOrders
    from chalicelib.services import order_search
    from chalicelib.services.auth import Principal

    principal = Principal("bench", "bench", "admin")
    statuses = params.get("status", [])
    query = {"limit": str(LIMIT), "totals": "capped"}
    _patient_reads()
    query |= {k: v for k, v in params.items() if k != "status"}
    with OrderReads() as reads:
        page = order_search.search(principal, SearchOrders.from_query(query, list(statuses)))
    capped = bool(page.totals and page.totals.get("capped"))
    return len(page.orders), reads.items, page.index, capped


def _iso(at: datetime) -> str:
    return at.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def filters(now: datetime, seeded: list[dict]) -> dict[str, dict]:
    """Every filter the orders page offers, alone over its 30-day preset, and the combinations
    the indexes are built for; the keyword ones pick a real buyer of the seeded orders."""
    day = {"from": _iso(now - timedelta(days=4)), "to": _iso(now - timedelta(days=3))}
    month = {"from": _iso(now - timedelta(days=DAYS))}
    buyer = next(s for s in seeded[len(seeded) // 3 :] if s["paid"])
    email = buyer["email"]
    qq = next(s["email"] for s in seeded[100:] if s["email"].endswith("@qq.com"))
    rare_channel, top_channel = CHANNELS[-1][0], CHANNELS[0][0]
    return {
        # the time ranges alone
        "created, one day": day,
        "created, 30 days (the preset)": month,
        "paid time, one day": {"paid_from": day["from"], "paid_to": day["to"]},
        # each filter alone, 30 days
        "status paid": {"status": ["paid"], **month},
        "status refunded": {"status": ["refunded"], **month},
        "status expired + closed": {"status": ["expired", "closed"], **month},
        "delivery held": {"delivery": "held", **month},
        "delivery failed": {"delivery": "failed", **month},
        f"channel {top_channel}": {"channel": top_channel, **month},
        f"channel {rare_channel}": {"channel": rare_channel, **month},
        "method qqpay": {"method": "qqpay", **month},
        "exact price 58.00": {"min_amount": "58.00", "max_amount": "58.00", **month},
        "exact price 1288.00": {"min_amount": "1288.00", "max_amount": "1288.00", **month},
        "amount 50.00–100.00": {"min_amount": "50", "max_amount": "100", **month},
        "amount ≥ 500.00": {"min_amount": "500", **month},
        "amount ≤ 10.00": {"max_amount": "10", **month},
        "flagged": {"flagged": "true", **month},
        "order no": {"order_no": buyer["order_no"]},
        "trade no": {"trade_no": "T" + buyer["order_no"][1:], "from": month["from"]},
        "buyer ip": {"ip": buyer["ip"], **month},
        "e-mail, whole address": {"email": email, **month},
        "e-mail, @domain": {"email": "@163.com", **month},
        "e-mail, local part and @": {"email": email.split("@")[0] + "@", **month},
        "e-mail, local-part prefix": {"email": qq[:5], **month},
        # the combinations
        "channel + status": {"channel": rare_channel, "status": ["refunded"], **month},
        "channel + status (two)": {
            "channel": top_channel,
            "status": ["pending", "closed"],
            **month,
        },
        "channel + time (one day)": {"channel": rare_channel, **day},
        "status + exact price": {
            "status": ["refunded"],
            "min_amount": "99",
            "max_amount": "99",
            **month,
        },
        "status + amount range": {
            "status": ["paid"],
            "min_amount": "100",
            "max_amount": "300",
            **month,
        },
        "channel + exact price": {
            "channel": rare_channel,
            "min_amount": "58",
            "max_amount": "58",
            **month,
        },
        "channel + amount range": {
            "channel": rare_channel,
            "min_amount": "20",
            "max_amount": "60",
            **month,
        },
    }


def sweeps(now: datetime, seeded: list[dict]) -> dict[str, dict]:
    """What no index answers (README, "Searches that remain bounded sweeps"): the partial
    matches and `flagged=false` read the time index with the filter applied to every item, and
    `totals=true` (the page's "count all") reads the whole filtered set on the first page."""
    month = {"from": _iso(now - timedelta(days=DAYS))}
    frequent = Counter(s["buyer_id"] for s in seeded).most_common(1)[0][0]
    return {
        "product name (partial)": {"product": "充值卡", **month},
        "product name (rare)": {"product": "商品 297 ", **month},
        "buyer id (partial)": {"buyer_id": "u0123", **month},
        "buyer id (the most frequent)": {"buyer_id": frequent, **month},
        "e-mail, 2-letter prefix": {"email": "zh", **month},
        "not flagged": {"flagged": "false", **month},
        "totals=true, 30 days": {"totals": "true", **month},
        "totals=true, channel (rare)": {"totals": "true", "channel": CHANNELS[-1][0], **month},
        "totals=true, status paid": {"totals": "true", "status": ["paid"], **month},
    }


def dashboard(now: datetime) -> dict[str, dict]:
    """The dashboard's two order polls, every 20 s."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "dashboard: recent payments": {
            "paid_from": _iso(midnight),
            "limit": "12",
            "totals": "false",
        },
        "dashboard: held": {"delivery": "held", "limit": "6"},
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

    _patient_reads()
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
    breakdown = _export_breakdown(lambda: exports._write(record(rounds), None))
    print(
        json.dumps(
            {
                "rows": rows,
                "export_cpu": export_cpu,
                "base_cpu": base_cpu,
                "before_mb": before,
                "peak_mb": peak,
                "breakdown": breakdown,
                "csv_writer": statistics.median(base_cpu),
            }
        )
    )


class _Timer:
    """CPU seconds spent inside the calls it wraps (not counted twice when they nest)."""

    def __init__(self) -> None:
        self.seconds, self.depth = 0.0, 0

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.depth += 1
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= 1
                if not self.depth:
                    self.seconds += time.process_time() - started

        return timed


def _export_breakdown(export: Callable[[], int]) -> dict[str, float]:
    """One more export, instrumented (its own round: the timers cost CPU too): where its CPU
    goes, in ms per 1,000 rows. `dynamodb` is the Query requests inside botocore (building,
    signing, sending, parsing), `of which parsing` botocore's response parse with the items'
    json.loads; `rows` our code between the pages and the writer (merge, filter, cells);
    `csv` the writer's own; `s3` the multipart upload's calls."""
    from botocore import parsers
    from pynamodb.connection.base import Connection

    from chalicelib.services import export_sources, export_writer

    timers = {name: _Timer() for name in ("total", "rows", "dynamodb", "parse", "s3")}
    originals: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, timer: str) -> None:
        original = getattr(owner, name)
        originals.append((owner, name, original))
        setattr(owner, name, timers[timer].wrap(original))

    def rows_timed(*args: Any, **kwargs: Any) -> tuple[list[str], Any]:
        header, rows = orders(*args, **kwargs)
        iterator = iter(rows)
        return header, iter(timers["rows"].wrap(lambda: next(iterator, _END)), _END)

    orders = export_sources.orders
    originals.append((export_sources, "orders", orders))
    export_sources.orders = rows_timed
    patch(Connection, "_make_api_call", "dynamodb")
    patch(parsers.BaseJSONParser, "parse", "parse")
    patch(json, "loads", "parse")  # the items' json.loads (store/order_search.py) and botocore's
    for name in ("__init__", "write", "close"):
        patch(export_writer.MultipartSink, name, "s3")
    try:
        count = timers["total"].wrap(export)()
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)
    per_k = 1e6 / max(count, 1)  # seconds per row -> ms per 1,000 rows
    seconds = {name: timer.seconds for name, timer in timers.items()}
    return {
        "total": seconds["total"] * per_k,
        "dynamodb": seconds["dynamodb"] * per_k,
        "of which parsing": seconds["parse"] * per_k,
        "rows": (seconds["rows"] - seconds["dynamodb"]) * per_k,
        "csv": (seconds["total"] - seconds["rows"] - seconds["s3"]) * per_k,
        "s3": seconds["s3"] * per_k,
    }


_END = object()


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
        stdout=subprocess.PIPE,  # its errors go to ours
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


def start_moto() -> Callable[[], None]:
    """moto's server as the local stack runs it (local/aws_process.py: made faithful by
    local/fidelity.py, whose Queries read their partition or index map instead of walking the
    whole table, so a search at 100,000 orders answers as fast as at 2,000); its stopper."""
    from local import aws_process

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    aws = aws_process.start(port)
    os.environ.update(aws.environment)
    return aws.stop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--search-only", action="store_true", help="the search figures alone")
    parser.add_argument("--export-only", action="store_true", help="the export figures alone")
    parser.add_argument("--export-since", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_since:
        export_in_this_process(args.export_since, args.rounds)  # a child of this benchmark
        return
    stop = start_moto()
    try:
        run(args.orders, args.rounds, args.search_only, args.export_only)
    finally:
        stop()


def _span(values: list[float]) -> str:
    return f"{min(values):.2f}× / {statistics.median(values):.2f}×"


def run(orders: int, rounds: int, search_only: bool = False, export_only: bool = False) -> None:
    from local.bootstrap import provision

    _patient_reads()
    provision()
    now = datetime.now(UTC)
    started = time.perf_counter()
    seeded = seed(orders, now)
    print(f"seeded {orders} orders over {DAYS} days in {time.perf_counter() - started:.0f} s")
    if not export_only:
        search_figures(now, seeded)
    if not search_only:
        export_figures(now, orders, rounds)


def search_figures(now: datetime, seeded: list[dict]) -> None:
    print(f"first page of {LIMIT} as the admin page asks it (totals=capped): items read ÷ returned")
    worst = 0.0
    for group, cases in (
        ("indexed", filters(now, seeded)),
        ("dashboard", dashboard(now)),
        ("sweep", sweeps(now, seeded)),
    ):
        for name, params in cases.items():
            returned, read, index, capped = first_page(params)
            ratio = read / max(returned, 1)
            if group != "sweep":
                worst = max(worst, ratio)
            print(
                f"  {group:9s} {name:34s} {index:18s} returned {returned:4d}{'+' if capped else ' '} "
                f"read {read:6d}  read/returned {ratio:6.2f}"
            )
    print(
        f"items read ÷ items returned, first page, worst filter or combination: {worst:.2f}  "
        "(target ≤ 3; the sweeps apart)"
    )


def export_figures(now: datetime, orders: int, rounds: int) -> None:
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
        (
            "  … its CPU in ms per 1,000 rows (one more, instrumented round): "
            + ", ".join(f"{k} {v:.1f}" for k, v in export["breakdown"].items())
            + f"; csv.writer {export['csv_writer'] * 1e6 / export['rows']:.1f}",
            "",
            "—",
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
