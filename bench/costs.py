"""The cost model (issue 14): what an accepted notice, a duplicate, an order change and a cold
start cost, printed as one table. Asserts nothing.

moto runs as separate server processes (local/aws_process.py, as `make run` runs it), so the CPU
time taken here (`time.process_time`, this process only) is the client's: our code and botocore,
never moto's. Each ratio is taken in one run, baseline and subject interleaved round by round,
and reported as the min and the median over the rounds. Requests are counted exactly at the
botocore level (every DynamoDB call, PynamoDB's and boto3's alike).

1. DynamoDB requests per accepted notice, the notices stream included (its records fed to the
   stream handler in Lambda's batches of 100), and per duplicate (the same notifications again).
2. The ingest handler's CPU per notice ÷ a bare boto3 PutItem of the same notice item.
3. `import app` ÷ `import chalice, boto3`, fresh interpreters alternating (CPU of the child);
   also `import app` plus what the first /notify loads, for the whole cold start's share.
4. Orders-stream records per real order change (registered, paid, delivered: three changes),
   and DynamoDB requests per stream record for each consumer (events and rules; stats).
5. Each orders-stream consumer's CPU per record ÷ deserialising the same records' images with
   boto3's TypeDeserializer: the whole consumer, and our own code alone (the CPU spent inside
   AWS calls — botocore building, signing, sending and parsing each request — taken out).

    make bench            # or: .venv/bin/python -m bench.costs [--orders 300] [--rounds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "ap-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "PAYTRACK_STAGE": "bench",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
os.environ.update(ENVIRONMENT)
BATCH = 100


# ------------------------------------------------------------------------------ instruments


class AwsCalls:
    """Every DynamoDB request made through botocore, by operation, and the CPU spent inside all
    AWS calls (botocore's serialising, signing, sending and parsing: the client's share)."""

    def __init__(self):
        from botocore.client import BaseClient

        self.calls: Counter[str] = Counter()
        self.cpu = 0.0
        original = BaseClient._make_api_call

        def counting(client, operation, params):
            if client.meta.service_model.service_name == "dynamodb":
                self.calls[operation] += 1
            started = time.process_time()
            try:
                return original(client, operation, params)
            finally:
                self.cpu += time.process_time() - started

        BaseClient._make_api_call = counting

    def take(self) -> Counter[str]:
        taken, self.calls = self.calls, Counter()
        return taken

    def take_cpu(self) -> float:
        taken, self.cpu = self.cpu, 0.0
        return taken


class Stream:
    """A table's stream read from its start; `new()` returns the records not returned before."""

    def __init__(self, table: str):
        import boto3

        self.client = boto3.client("dynamodbstreams")
        self.arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"][
            "LatestStreamArn"
        ]
        self.seen: set[str] = set()

    def new(self) -> list[dict]:
        from local.stream_pump import read_all

        fresh = [
            r
            for r in read_all(self.client, self.arn)
            if r["dynamodb"]["SequenceNumber"] not in self.seen
        ]
        self.seen |= {r["dynamodb"]["SequenceNumber"] for r in fresh}
        return fresh

    def events(self, records: list[dict]) -> list[dict]:
        from local.stream_pump import to_lambda_event

        return [
            to_lambda_event(records[i : i + BATCH], self.arn) for i in range(0, len(records), BATCH)
        ]


T = TypeVar("T")


def _each(work: Callable[[T], object], batch: list[T]) -> Callable[[], object]:
    """`work` over each of `batch` (bound now, not when the loop that builds it moves on)."""
    return lambda: [work(x) for x in batch]


def cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def quiet():
    return contextlib.redirect_stdout(io.StringIO())  # the EMF metric lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------ the measures


def _orders(count: int, prefix: str) -> list[str]:
    from chalicelib.services import orders

    return [
        orders.register(
            orders.read_registration(
                {
                    "order_no": f"{prefix}{i:06d}",
                    "product_id": "vip-month",
                    "product_name": "VIP会员 月卡",
                    "amount": "58.00",
                    "channel": "alipay-main",
                    "buyer_email": f"buyer{i}@qq.com",
                    "buyer_ip": f"36.{i % 200}.{i // 200 % 250}.9",
                }
            )
        )[0].order_no
        for i in range(count)
    ]


def _requests_and_bare_puts(numbers: list[str]):
    """The notifications (as the gateway sends them) and, for the baseline, each notice's stored
    item under another key (as the notice store would write it)."""
    from chalicelib.domain.clock import utcnow
    from chalicelib.gateways.base import Headers, InboundRequest
    from chalicelib.gateways.registry import get_gateway
    from chalicelib.services.channels import get_channel
    from chalicelib.store import notices as notice_store
    from tests.support import notifications as wires

    requests, items = [], []
    for order_no in numbers:
        wire = wires.alipay(order_no, "58.00")
        request = InboundRequest(wire.method, Headers(wire.headers), wire.body, {}, "127.0.0.1")
        notice = get_gateway("alipay").parse_notification(
            request, get_channel("alipay-main"), "alipay-main", utcnow()
        )
        if notice is None:
            raise RuntimeError(f"the alipay wire for {order_no} parsed to no notice")
        item = notice_store._to_item(notice, utcnow()).serialize()
        item["dedupe_key"] = {"S": "bare-" + item["dedupe_key"]["S"]}
        requests.append(request)
        items.append(item)
    return requests, items


def measure_notices(orders: int, rounds: int, counter: AwsCalls) -> dict:
    import boto3

    import app
    from chalicelib.services import ingest
    from chalicelib.store.models import NoticeModel

    notices = Stream(NoticeModel.Meta.table_name)
    numbers = _orders(orders, "N")
    requests, items = _requests_and_bare_puts(numbers)
    notices.new()
    bare = boto3.session.Session().client("dynamodb")  # a session of its own: nothing shared
    table = NoticeModel.Meta.table_name
    counter.take()
    handler_cpu: list[float] = []
    own_cpu: list[float] = []
    put_cpu: list[float] = []
    accepted: Counter[str] = Counter()
    size = orders // rounds
    with quiet():
        for r in range(rounds):
            chunk = slice(r * size, (r + 1) * size)
            counter.take_cpu()
            handler_cpu.append(
                cpu(_each(lambda q: ingest.handle_notification("alipay-main", q), requests[chunk]))
                / size
            )
            own_cpu.append(handler_cpu[-1] - counter.take_cpu() / size)
            accepted += counter.take()
            put_cpu.append(
                cpu(_each(lambda i: bare.put_item(TableName=table, Item=i), items[chunk])) / size
            )
            counter.take()
        records = [
            r
            for r in notices.new()
            if not r["dynamodb"]["Keys"]["dedupe_key"]["S"].startswith("bare-")
        ]
        for event in notices.events(records):
            app.on_notices_stream(event, None)
        accepted += counter.take()
        for request in requests[: size * rounds]:
            ingest.handle_notification("alipay-main", request)
        duplicate = counter.take()
        for event in notices.events(notices.new()):
            app.on_notices_stream(event, None)
        duplicate += counter.take()
    n = size * rounds
    ratios = [h / p for h, p in zip(handler_cpu, put_cpu, strict=True)]
    return {
        "n": n,
        "accepted": accepted,
        "duplicate": duplicate,
        "ratios": ratios,
        "own_ratios": [o / p for o, p in zip(own_cpu, put_cpu, strict=True)],
        "handler_us": statistics.median(handler_cpu) * 1e6,
        "put_us": statistics.median(put_cpu) * 1e6,
    }


def measure_orders_stream(orders: int, counter: AwsCalls) -> dict:
    """Orders registered, paid and delivered through the services; their stream records through
    both consumers, batch by batch, each batch's CPU against deserialising it."""
    from boto3.dynamodb.types import TypeDeserializer

    import app
    from chalicelib.domain.commands import ReportDelivery
    from chalicelib.services import ingest
    from chalicelib.services import orders as order_service
    from chalicelib.store.models import OrderModel

    stream = Stream(OrderModel.Meta.table_name)
    stream.new()
    with quiet():
        numbers = _orders(orders, "S")
        requests, _ = _requests_and_bare_puts(numbers)
        for request in requests:
            ingest.handle_notification("alipay-main", request)
        for order_no in numbers:
            order_service.record_delivery(ReportDelivery(order_no, delivered=True))
    changes = 3 * orders
    records = stream.new()
    deserializer = TypeDeserializer()

    def deserialise(event: dict) -> None:
        for record in event["Records"]:
            for image in ("NewImage", "OldImage"):
                if image in record["dynamodb"]:
                    {
                        name: deserializer.deserialize(value)
                        for name, value in record["dynamodb"][image].items()
                    }

    counter.take()
    consumers = {"events and rules": app.on_orders_stream, "stats": app.on_orders_stats}
    ratios: dict[str, list[float]] = {name: [] for name in consumers}
    own: dict[str, list[float]] = {name: [] for name in consumers}
    totals: dict[str, list[float]] = {
        name: [0.0, 0.0, 0.0] for name in consumers
    }  # consumer, own, base
    requests_by: dict[str, Counter[str]] = {name: Counter() for name in consumers}
    with quiet():
        for event in stream.events(records):
            for name, handler in consumers.items():
                base = cpu(partial(deserialise, event))
                counter.take(), counter.take_cpu()
                spent = cpu(partial(handler, event, None))
                requests_by[name] += counter.take()
                inside_aws = counter.take_cpu()
                ratios[name].append(spent / base)
                own[name].append((spent - inside_aws) / base)
                totals[name] = [
                    totals[name][0] + spent,
                    totals[name][1] + spent - inside_aws,
                    totals[name][2] + base,
                ]
    return {
        "records": len(records),
        "changes": changes,
        "requests": requests_by,
        "ratios": ratios,
        "own": own,
        "totals": totals,
    }


def measure_imports(rounds: int) -> dict[str, list[float]]:
    """Fresh interpreters, the subjects alternating with the baseline; CPU of each child."""
    subjects = {
        "baseline": "import chalice, boto3",
        "app": "import app",
        "app+notify": "import app, chalicelib.services.ingest, chalicelib.services.auth",
    }
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for statement in subjects.values():  # compile once: every timed run reads .pyc files
        subprocess.run([sys.executable, "-c", statement], cwd=REPO, check=True, env=env)
    spent: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(rounds):
        for name, statement in subjects.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-c", statement], cwd=REPO, check=True, env=env)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return spent


# ------------------------------------------------------------------------------ the table


def _span(values: list[float], unit: str = "×") -> str:
    return f"{min(values):.2f}{unit} / {statistics.median(values):.2f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--orders", type=int, default=300, help="orders paid for the notice measures"
    )
    parser.add_argument(
        "--stream-orders", type=int, default=300, help="orders through the orders stream"
    )
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    imports = measure_imports(args.rounds)
    from local import aws_process

    port = free_port()
    aws = aws_process.start(port)
    os.environ.update(aws.environment)
    try:
        from local.bootstrap import provision

        provision()
        counter = AwsCalls()
        notices = measure_notices(args.orders, args.rounds, counter)
        stream = measure_orders_stream(args.stream_orders, counter)
    finally:
        aws.stop()

    n, records = notices["n"], stream["records"]
    per = lambda calls, count: f"{sum(calls.values()) / count:.2f} {dict(calls)}"  # noqa: E731
    base = imports["baseline"]
    rows = [
        (
            "DynamoDB requests per accepted notice, notices stream included",
            per(notices["accepted"], n),
            "2",
        ),
        (
            "DynamoDB requests per duplicate, notices stream included",
            per(notices["duplicate"], n),
            "≤ 2",
        ),
        (
            "ingest handler CPU ÷ bare boto3 PutItem (min / median)",
            _span(notices["ratios"])
            + f" ({notices['handler_us']:.0f} µs vs {notices['put_us']:.0f} µs)",
            "≤ 3×",
        ),
        (
            "  … of which our own code (CPU inside AWS calls taken out)",
            _span(notices["own_ratios"]),
            "—",
        ),
        (
            "`import app` ÷ `import chalice, boto3` (min / median)",
            _span([a / b for a, b in zip(imports["app"], base, strict=True)])
            + f" ({statistics.median(imports['app']) * 1000:.0f} ms vs {statistics.median(base) * 1000:.0f} ms)",
            "≤ 1.4×",
        ),
        (
            "  … with what the first /notify loads (ingest, gateways, models)",
            _span([a / b for a, b in zip(imports["app+notify"], base, strict=True)]),
            "—",
        ),
        (
            "orders-stream records per real order change",
            f"{records / stream['changes']:.2f} ({records} records, {stream['changes']} changes)",
            "1",
        ),
    ]
    rows.extend(
        (
            f"DynamoDB requests per orders-stream record: {name}",
            per(stream["requests"][name], records),
            "≤ 1.5",
        )
        for name in stream["requests"]
    )
    for name in stream["ratios"]:
        spent, own, base = stream["totals"][name]
        rows.append(
            (
                f"CPU per record ÷ deserialising it: {name} (min / median over batches; all)",
                f"{_span(stream['ratios'][name])}; {spent / base:.2f}×",
                "≤ 5×",
            )
        )
        rows.append(
            (
                "  … our own code alone (CPU inside AWS calls taken out)",
                f"{_span(stream['own'][name])}; {own / base:.2f}×",
                "≤ 5×",
            )
        )
    width = max(len(row[0]) for row in rows)
    print(
        f"moto as a separate server; {n} notices, {records} orders-stream records, {args.rounds} rounds\n"
    )
    print(f"| {'measure':<{width}} | figure | target |\n|{'-' * (width + 2)}|---|---|")
    for measure, figure, target in rows:
        print(f"| {measure:<{width}} | {figure} | {target} |")


if __name__ == "__main__":
    main()
