"""Reconciliation benchmark (issue 14: the cost model). Prints a table of figures against
baselines measured in the same run; asserts nothing.

A 100,000-line Alipay statement (the ZIP of GBK CSVs, written by the gateway simulator's own
code) is reconciled against 100,000 orders paid that day:

1. CPU time of our own code relative to merely parsing the same file with the csv module (unzip,
   decode, csv.reader), interleaved round by round without AWS, min and median over the rounds:
   the parse alone, and parse + the day's orders from DynamoDB's wire format (as the Query
   answers them, projected) + matching (target <= 3x); then once for the whole run on in-process moto — parse, the day's ledger,
   match, summarize, store the run, the S3 report, the anomalies — with the CPU spent inside
   AWS calls (botocore and moto) and in Python's cyclic garbage collector (which scans the objects
   moto keeps alive) taken out;
2. peak memory of the run: the growth of the process's resident set at its peak (Linux), moto's
   own working memory included, and the peak of our own structures alone (tracemalloc,
   replaying parse, ledger conversion and matching on the same data) (target <= 300 MB);
3. DynamoDB requests per statement line, counted exactly per operation, the fee write-back
   (手续费, 实际到账 onto each order, one TransactWriteItems per 100 orders) included at the rate
   measured over a few seconds of it (target <= 0.1).

Sized to finish in minutes on moto (STACK.md): the orders are written straight into moto's
backend, lean — what the day's read touches, without timelines; moto's cost per Query page grows
with every attribute of every item in the table, DynamoDB's does not — and the request count for
full-size orders is printed too.
Two of moto 5.2.5's own costs are taken out with the same results (`speed_up_moto`).

    .venv/bin/python -m bench.reconcile [--lines 100000] [--rounds 5] [--fee-seconds 20]
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import os
import re
import statistics
import sys
import time
import tracemalloc
import zipfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
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
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
    os.environ.pop(_name, None)

CHANNEL, DAY = "alipay-main", date(2026, 11, 24)
BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)  # the morning after: the day is complete
FULL_ORDER_BYTES = 1_200  # a paid order with its timeline, as stored


class AwsCalls:
    """Counts every AWS API call by service and operation and the CPU time spent inside them
    (request building, moto, response parsing), so our own CPU time is the rest."""

    def __init__(self):
        from botocore.client import BaseClient

        self.calls: Counter[tuple[str, str]] = Counter()
        self.seconds = 0.0
        original, counter = BaseClient._make_api_call, self

        def counting(client, operation_name, api_params):
            counter.calls[(client.meta.service_model.service_name, operation_name)] += 1
            started = time.process_time()
            try:
                return original(client, operation_name, api_params)
            finally:
                counter.seconds += time.process_time() - started

        BaseClient._make_api_call = counting

    def take(self) -> tuple[Counter, float]:
        taken = self.calls, self.seconds
        self.calls, self.seconds = Counter(), 0.0
        return taken


class CollectorTime:
    """CPU time spent in Python's cyclic garbage collector (gc.callbacks)."""

    def __init__(self):
        self.seconds, self._started = 0.0, 0.0
        gc.callbacks.append(self._observe)

    def _observe(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started


def speed_up_moto() -> None:
    """Four of moto 5.2.5's costs that real DynamoDB does not have, removed with the same results:
    answers are serialized with moto's own DynamoJsonEncoder instead of its generic model walker,
    a projection converts each item to plain JSON once instead of once per projected name, a
    Query page sorts its candidates by plain key values instead of comparing DynamoType objects,
    and a transaction backs up the items it names, not whole tables (local/fidelity.py)."""
    from botocore.utils import merge_dicts
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import dynamo_type, table
    from moto.dynamodb.models.utilities import dynamo_json_dump, find_nested_key

    from local.fidelity import transactions_back_up_their_items

    walker = ActionResult.execute_result

    def execute_result(self, context):
        if context.service_model.service_name == "dynamodb" and isinstance(self.result, dict):
            return 200, {}, dynamo_json_dump(self.result)
        return walker(self, context)

    def project(self, projection_expressions):
        plain = self.to_regular_json()
        result: dict[str, Any] = {}
        for expression in projection_expressions:
            merge_dicts(result, find_nested_key(expression, plain))
        return dynamo_type.Item(
            hash_key=self.hash_key,
            range_key=self.range_key,
            attrs=dynamo_type.serializer.serialize(result)["M"],
        )

    def sorted_items(self, hash_key_attrs, range_key_attrs, items):
        keys = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(
            key=lambda item: tuple((item.attrs[k].type, item.attrs[k].cast_value) for k in keys)
        )
        return items

    # moto's own methods replaced for the measurement
    ActionResult.execute_result = execute_result  # type: ignore[method-assign]
    dynamo_type.Item.project = project  # type: ignore[method-assign]
    table.Table.sorted_items = sorted_items  # type: ignore[method-assign]
    transactions_back_up_their_items()  # as on the local stack


def peak_rss_growth(work):
    """Run `work`; the growth of the process's resident memory at its peak (Linux: the high-water
    mark, reset first through /proc/self/clear_refs), in bytes, and the work's result."""

    def kilobytes(field: str) -> int:
        found = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
        if found is None:
            raise RuntimeError(f"no {field} in /proc/self/status")
        return int(found.group(1))

    Path("/proc/self/clear_refs").write_text("5")
    before = kilobytes("VmRSS")
    result = work()
    return (kilobytes("VmHWM") - before) * 1024, result


def trades(n: int):
    """The day's trades at the gateway, each with Alipay's 0.6% fee."""
    from local.sim_model import SimPayment

    start = datetime(2026, 11, 24, 0, 0, tzinfo=BEIJING)
    for i in range(n):
        paid_at = start + timedelta(seconds=i * 86_000 // n + 1)
        amount = (5800, 2500, 1990, 15800)[i % 4]
        yield SimPayment(
            channel=CHANNEL,
            out_trade_no=f"B{i:08d}",
            trade_no=f"2026112422001{i:015d}",
            amount_minor=amount,
            currency="CNY",
            subject="VIP会员 月卡",
            created_at=paid_at - timedelta(seconds=30),
            paid_at=paid_at,
            payer=f"2088{i:012d}",
            fee=(Decimal(amount) / 100 * Decimal("0.006")).quantize(Decimal("0.01")),
        )


def order_item(trade, full: bool = False) -> dict:
    """A paid order with what the day's read and the fee write-back touch; `full` adds what
    reading it as a whole order needs (the few orders whose anomalies flag them)."""
    from chalicelib.domain.clock import day_of, to_iso

    amount = str(trade.amount_minor)
    payment = {
        "M": {
            "payment_ref": {"S": trade.trade_no},
            "amount_minor": {"N": amount},
            "currency": {"S": "CNY"},
            "channel": {"S": CHANNEL},
            "notice_key": {"S": f"{CHANNEL}:{trade.trade_no}"},
        }
    }
    item = {
        "order_no": {"S": trade.out_trade_no},
        "channel": {"S": CHANNEL},
        "currency": {"S": "CNY"},
        "pay_status": {"S": "paid"},
        "paid_at": {"S": to_iso(trade.paid_at)},
        "paid_day": {"S": day_of(trade.paid_at)},
        "trade_no": {"S": trade.trade_no},
        "payments": {"L": [payment]},
        "timeline": {"L": []},
    }
    if full:
        created = trade.created_at
        item.update(
            {
                "amount_minor": {"N": amount},
                "product_id": {"S": "vip-month"},
                "product_name": {"S": "VIP会员 月卡"},
                "product_lc": {"S": "vip会员 月卡"},
                "quantity": {"N": "1"},
                "created_at": {"S": to_iso(created)},
                "created_day": {"S": day_of(created)},
                "expires_at": {"S": to_iso(created + timedelta(minutes=15))},
                "delivery_status": {"S": "delivered"},
                "version": {"N": "2"},
                "hold_reasons": {"L": []},
            }
        )
    return item


def seed(orders: list[dict]) -> float:
    """Straight into moto's backend, with the table's stream off meanwhile (a seeded day is not
    news to anyone); then moto's heap is frozen out of the cyclic garbage collector, which
    would otherwise rescan its millions of objects on behalf of the code under measure."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.store.models import OrderModel

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["ap-east-1"]
    table = backend.get_table(OrderModel.Meta.table_name)
    stream, table.stream_shard = table.stream_shard, None
    started = time.perf_counter()
    for item in orders:
        backend.put_item(OrderModel.Meta.table_name, item)
    table.stream_shard = stream
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started


def statement_zip(day_trades: list) -> bytes:
    from local.sim.alipay import alipay_bill_zip
    from local.sim.base import day_entries

    made_at = datetime(2026, 11, 25, 10, 30, tzinfo=BEIJING)
    return alipay_bill_zip(
        day_entries(day_trades, DAY, made_at), DAY, "20880000000000010156", made_at
    )


def csv_baseline(data: bytes) -> float:
    """Merely parsing the same file with the csv module: unzip, decode, iterate every row (CPU)."""
    started = time.process_time()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        raw = archive.read(archive.infolist()[0])
    rows = sum(1 for _ in csv.reader(io.StringIO(raw.decode("gbk"))))
    assert rows > 0
    return time.process_time() - started


def as_queried(orders: list[dict]) -> list[dict]:
    """The orders as the day's Query answers them: projected to what the ledger asks for."""
    from chalicelib.store import ledger

    return [{k: v for k, v in item.items() if k in ledger._ATTRIBUTES} for item in orders]


def day_ledger(orders: list[dict]):
    """The day's orders from DynamoDB's wire format (`as_queried`) as `ledger.paid_between`
    reads its pages (one page: the pages' boundaries do not change the work)."""
    from chalicelib.domain.reconcile import DayLedger
    from chalicelib.store import ledger

    day = DayLedger()
    ledger.add_to_day(day, orders)
    return day


def interleaved(data: bytes, orders: list[dict], rounds: int) -> dict[str, list[float]]:
    """Round by round, the csv baseline then our own code on the same day without AWS — the
    parse alone, and parse + the day's orders from DynamoDB's wire format + matching — each
    subject's CPU ÷ the baseline's of its round (the cyclic collector paused, as the run does)."""
    from chalicelib.domain.reconcile import reconcile as match
    from chalicelib.domain.statement import day_bounds
    from chalicelib.gateways import alipay_bill

    def parse() -> None:
        alipay_bill.parse(data, CHANNEL, DAY)

    def whole() -> None:
        statement = alipay_bill.parse(data, CHANNEL, DAY)
        match(statement, day_ledger(orders), [], day_bounds(DAY))

    ratios: dict[str, list[float]] = {"parse": [], "parse, ledger, matching": []}
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, work in (("parse", parse), ("parse, ledger, matching", whole)):
                base = csv_baseline(data)
                started = time.process_time()
                work()
                ratios[name].append((time.process_time() - started) / base)
    finally:
        if was_enabled:
            gc.enable()
    return ratios


def own_structures_peak(data: bytes, orders: list[dict]) -> int:
    """Peak bytes allocated by our own code for the day, without moto: the statement parsed, the
    day's orders converted from DynamoDB's wire format (as the Query pages bring them) and
    matched (tracemalloc; the pages themselves are transient, one 1 MB page at a time)."""
    from chalicelib.domain.reconcile import reconcile as match
    from chalicelib.domain.statement import day_bounds
    from chalicelib.gateways import alipay_bill

    tracemalloc.start()
    statement = alipay_bill.parse(data, CHANNEL, DAY)
    day = day_ledger(orders)
    match(statement, day, [], day_bounds(DAY))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def serve_statement(data: bytes) -> None:
    """The gateway's download, served from memory: the parse stays in the measured run."""
    from chalicelib.gateways import alipay_bill
    from chalicelib.gateways.alipay import AlipayGateway

    AlipayGateway.fetch_statement = staticmethod(
        lambda ctx, day: alipay_bill.parse(data, ctx.channel, day)
    )


def the_day(n: int) -> tuple[list, list[dict]]:
    """The gateway's trades and our orders, with a real day's discrepancies: a payment our ledger
    lacks, one the gateway leaves off, an amount booked differently, a second payment."""
    day_trades = list(trades(n))
    orders = [order_item(t, full=i < 5) for i, t in enumerate(day_trades[1:], 1)]
    day_trades[2].in_statement = False
    day_trades[3].statement_amount_minor = day_trades[3].amount_minor - 100
    day_trades.append(replace(day_trades[4], trade_no="2026112422009999999999999999", refunds=[]))
    return day_trades, orders


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds without AWS")
    parser.add_argument("--fee-seconds", type=float, default=20.0)
    args = parser.parse_args()

    from moto import mock_aws

    day_trades, orders = the_day(args.lines)
    data = statement_zip(day_trades)
    ratios = interleaved(data, as_queried(orders), args.rounds)
    speed_up_moto()
    with mock_aws():
        run(data, orders, args.fee_seconds, ratios)


def run(data: bytes, orders: list[dict], fee_seconds: float, ratios) -> None:
    from chalicelib.services import reconcile as service
    from chalicelib.services import statement_fees
    from local.bootstrap import provision

    provision()
    print(f"seeding {len(orders):,} paid orders into moto …", flush=True)
    seed_s = seed(orders)
    serve_statement(data)
    baselines = [csv_baseline(data) for _ in range(3)]
    aws, collector = AwsCalls(), CollectorTime()

    started = time.process_time()
    peak, stored = peak_rss_growth(lambda: service.reconcile(CHANNEL, DAY, actor="bench", now=NOW))
    cpu = time.process_time() - started
    calls, aws_s = aws.take()
    gc_s = collector.seconds
    own_peak = own_structures_peak(data, as_queried(orders))

    started = time.perf_counter()
    fees = statement_fees.apply_fees(stored, timedelta(seconds=fee_seconds), NOW)
    fee_s = time.perf_counter() - started
    fee_calls, _ = aws.take()
    report(
        len(orders),
        seed_s,
        (min(baselines), statistics.median(baselines)),
        ratios,
        (cpu, aws_s, gc_s),
        calls,
        (peak, own_peak),
        stored,
        fees,
        fee_s,
        fee_calls,
    )


def _span(values: list[float]) -> str:
    return f"{min(values):.2f}× / {statistics.median(values):.2f}×"


def report(
    orders, seed_s, baseline, ratios, cpu_split, calls, peaks, stored, fees, fee_s, fee_calls
) -> None:
    summary = stored.data["summary"]
    lines = summary["statement_lines"]
    dynamo = {op: count for (service, op), count in calls.items() if service == "dynamodb"}
    requests, pages = sum(dynamo.values()), dynamo.get("Query", 0)
    (cpu, aws_s, gc_s), (peak, own_peak) = cpu_split, peaks
    own = cpu - aws_s - gc_s
    full_pages = -(-orders * FULL_ORDER_BYTES // 2**20) + 1
    written = max(fees["fees_written"], 1)
    fee_dynamo = sum(n for (service, _), n in fee_calls.items() if service == "dynamodb")
    # the whole write-back at the measured rate: every fee the run found new to its order
    fee_requests = fee_dynamo / written * summary["fees_to_write"]
    print(f"statement: {lines:,} lines; ledger: {orders:,} orders (seeded in {seed_s:.0f} s)")
    print(
        f"results: {summary['counts']}; balanced {summary['balanced']}, unexplained "
        f"{summary['currencies']['CNY']['unexplained']} CNY"
    )
    print(
        f"the run on moto: {cpu:.2f} s CPU, of which inside AWS calls (botocore + moto) {aws_s:.2f} s, "
        f"cyclic garbage collection {gc_s:.2f} s; our own code {own:.2f} s (csv baseline "
        f"{baseline[0]:.2f} s min, {baseline[1]:.2f} s median); DynamoDB {dynamo}"
    )
    print(
        f"fee write-back measured for {fee_s:.1f} s: {fees['fees_written']:,} orders, "
        f"{dict(fee_calls)}; {fees['fees_pending']:,} left to the apply_statement_fees schedule\n"
    )
    rows = [
        (
            "reconcile ÷ bare csv parse, our own code, interleaved (min / median): parse",
            _span(ratios["parse"]),
            "—",
        ),
        (
            "  … parse, the day's ledger from the wire format, matching",
            _span(ratios["parse, ledger, matching"]),
            "≤ 3×",
        ),
        (
            "  … the whole run on moto, AWS calls and GC taken out (one run; min / median baseline)",
            f"{own / baseline[0]:.2f}× / {own / baseline[1]:.2f}×",
            "≤ 3×",
        ),
        (
            "peak memory growth of the run (resident, moto's included); our own structures",
            f"{peak / 2**20:.0f} MB; {own_peak / 2**20:.0f} MB",
            "≤ 300 MB",
        ),
        (
            "DynamoDB requests per statement line, the run",
            f"{requests / lines:.4f} ({requests}); full-size orders "
            f"{(requests - pages + full_pages) / lines:.4f}",
            "—",
        ),
        (
            "  … the fee write-back, per order written",
            f"{fee_dynamo / written:.3f}",
            "—",
        ),
        (
            "  … incl. the whole fee write-back (at that rate, full-size orders)",
            f"{(requests - pages + full_pages + fee_requests) / lines:.4f}",
            "≤ 0.1",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"| {'measure':<{width}} | figure | target |\n|{'-' * (width + 2)}|---|---|")
    for measure, figure, target in rows:
        print(f"| {measure:<{width}} | {figure} | {target} |")


if __name__ == "__main__":
    main()
