"""Ingestion benchmark (issue: foundation). Prints ratios against baselines measured in the same
run; asserts nothing.

1. DynamoDB requests per accepted notification and per duplicate (exact counts).
2. In-process handler time per notification vs a bare PutItem on the same moto.
3. Import time of app.py vs importing chalice + boto3 alone (fresh interpreters).

    make bench            # or: .venv/bin/python -m bench.ingest [--n 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
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
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
    os.environ.pop(_name, None)


class RequestCounter:
    """Counts DynamoDB API calls made through PynamoDB (the only DynamoDB client on the path) and
    the time spent inside them, so our own code can be timed apart from moto (STACK.md)."""

    def __init__(self):
        from pynamodb.connection.base import Connection

        self.calls: Counter[str] = Counter()
        self.seconds = 0.0
        original = Connection._make_api_call

        def counting(conn, operation_name, operation_kwargs):
            self.calls[operation_name] += 1
            started = time.perf_counter()
            try:
                return original(conn, operation_name, operation_kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        Connection._make_api_call = counting  # type: ignore[method-assign]  # patched to count calls

    def take(self) -> tuple[Counter[str], float]:
        taken = self.calls, self.seconds
        self.calls, self.seconds = Counter(), 0.0
        return taken


def _request(wire):
    from chalicelib.gateways.base import Headers, InboundRequest

    return InboundRequest(wire.method, Headers(wire.headers), wire.body, {}, "127.0.0.1")


def measure_ingest(n: int) -> dict:
    from moto import mock_aws

    with mock_aws():
        import boto3

        from chalicelib.services import ingest, orders
        from local.bootstrap import provision
        from tests.support import notifications as wires

        provision()
        counter = RequestCounter()
        numbers = []
        for i in range(n):
            order, _ = orders.register(
                orders.read_registration(
                    {
                        "order_no": f"B{i:06d}",
                        "product_id": "p",
                        "product_name": "P",
                        "amount": "58.00",
                        "channel": "alipay-main",
                    }
                )
            )
            numbers.append(order.order_no)
        prepared = [_request(wires.alipay(no, "58.00")) for no in numbers]
        counter.take()

        started = time.perf_counter()
        for request in prepared:
            answer = ingest.handle_notification("alipay-main", request)
            assert answer.body == "success"
        handler_s = (time.perf_counter() - started) / n
        accepted_calls, dynamo_s = counter.take()

        for request in prepared:
            ingest.handle_notification("alipay-main", request)
        duplicate_calls, _ = counter.take()

        client = boto3.client("dynamodb")
        table = "paytrack-bench-notices"
        started = time.perf_counter()
        for i in range(n):
            client.put_item(
                TableName=table,
                Item={
                    "dedupe_key": {"S": f"bare-{i}"},
                    "channel": {"S": "alipay-main"},
                    "gateway": {"S": "alipay"},
                    "kind": {"S": "payment"},
                    "source": {"S": "notify"},
                    "out_trade_no": {"S": f"B{i:06d}"},
                    "gateway_status": {"S": "TRADE_SUCCESS"},
                    "received_at": {"S": "2026-11-25T00:00:00.000000Z"},
                    "received_day": {"S": "2026-11-25"},
                    "raw": {"S": "{}"},
                },
            )
        put_s = (time.perf_counter() - started) / n
    return {
        "accepted": accepted_calls,
        "duplicate": duplicate_calls,
        "n": n,
        "handler_ms": handler_s * 1000,
        "own_ms": (handler_s - dynamo_s / n) * 1000,
        "dynamo_ms": dynamo_s / n * 1000,
        "put_ms": put_s * 1000,
    }


def import_seconds(statement: str, runs: int = 5) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", statement],
            cwd=REPO,
            check=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"},
        )
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    result = measure_ingest(args.n)
    n = result["n"]
    per_accepted = sum(result["accepted"].values()) / n
    per_duplicate = sum(result["duplicate"].values()) / n
    base_import = import_seconds("import chalice, boto3")
    app_import = import_seconds("import app")
    print(f"notifications: {n} accepted, then the same {n} again as duplicates")
    print(
        f"DynamoDB requests per accepted notification: {per_accepted:.2f} "
        f"{dict(result['accepted'])}  (target <= 2)"
    )
    print(
        f"DynamoDB requests per duplicate:             {per_duplicate:.2f} "
        f"{dict(result['duplicate'])}  (target <= 2)"
    )
    put = result["put_ms"]
    print(
        f"handler {result['handler_ms']:.2f} ms vs bare PutItem {put:.2f} ms: "
        f"ratio {result['handler_ms'] / put:.2f}x  (target <= 3x)"
    )
    print(
        f"  of which inside moto's DynamoDB: {result['dynamo_ms']:.2f} ms "
        f"({result['dynamo_ms'] / put:.2f}x a bare PutItem, for 2 requests)"
    )
    print(
        f"  of which our own code (verify, parse, decide, serialize): {result['own_ms']:.2f} ms "
        f"= {result['own_ms'] / put:.2f}x a bare PutItem"
    )
    print(
        f"import app.py {app_import * 1000:.0f} ms vs chalice+boto3 {base_import * 1000:.0f} ms: "
        f"ratio {app_import / base_import:.2f}x  (target <= 2x)"
    )


if __name__ == "__main__":
    main()
