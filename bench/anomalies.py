"""Anomaly engine benchmark (issue 3). Prints figures against a baseline measured in the same run;
asserts nothing.

Real orders-stream records from a shop day on moto — orders registered, paid (a few with a wrong
amount, from a bursting IP or with a throwaway e-mail), delivered — are fed in Lambda-sized
batches of 100, through the same Powertools batch processing, to: a no-op record handler; a
parse-only one (each record's new image read into an order, the least a consumer that looks at
orders does); and the orders stream handler itself. Printed:

1. handler time vs the no-op handler (target <= 5x) and vs the parse-only one, for the whole
   handler and for our own code alone (the time inside AWS calls — moto's DynamoDB and SNS — taken
   out, as bench/ingest.py does: moto's costs are not Lambda's);
2. DynamoDB requests per record, by operation (target <= 3, no Scan), counted exactly by wrapping
   PynamoDB's Connection._make_api_call.

    make bench            # or: .venv/bin/python -m bench.anomalies [--records 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
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
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }
)
for _name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
    os.environ.pop(_name, None)

from bench.ingest import RequestCounter, _request  # noqa: E402  (after the environment is set)

BATCH = 100
RECORDS_PER_ORDER = 3  # created, paid, delivered (held ones are not delivered: 2)


class AwsClock:
    """Time spent inside botocore clients other than DynamoDB's (which RequestCounter times)."""

    def __init__(self):
        from botocore.client import BaseClient

        self.seconds = 0.0
        self.calls: Counter[str] = Counter()
        original = BaseClient._make_api_call

        def timed(client, operation_name, api_params):
            if client.meta.service_model.service_name == "dynamodb":
                return original(client, operation_name, api_params)
            started = time.perf_counter()
            try:
                return original(client, operation_name, api_params)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls[operation_name] += 1

        BaseClient._make_api_call = timed

    def take(self) -> tuple[Counter[str], float]:
        taken = self.calls, self.seconds
        self.calls, self.seconds = Counter(), 0.0
        return taken


def _shop_day(orders: int, rng: random.Random) -> None:
    """Orders through the real services: 2% paid short, a burst of 6 from one IP every 500
    orders, 1% throwaway e-mails; every correctly paid order not held is delivered."""
    from chalicelib.domain.commands import ReportDelivery
    from chalicelib.services import ingest
    from chalicelib.services import orders as order_service
    from tests.support import notifications as wires

    for i in range(orders):
        burst = i % 500 < 6
        email = "x7k2q9vbn3@mailinator.com" if rng.random() < 0.01 else f"zhangwei{i}@qq.com"
        order, _ = order_service.register(
            order_service.read_registration(
                {
                    "order_no": f"B{i:07d}",
                    "product_id": "vip-month",
                    "product_name": "VIP会员 月卡",
                    "amount": "58.00",
                    "channel": "alipay-main",
                    "buyer_email": email,
                    "buyer_ip": f"36.110.{i // 500}.9"
                    if burst
                    else f"36.{i % 200}.{i // 200 % 250}.{i % 7 + 1}",
                }
            )
        )
        short = rng.random() < 0.02
        answer = ingest.handle_notification(
            "alipay-main", _request(wires.alipay(order.order_no, "52.20" if short else "58.00"))
        )
        assert answer.body == "success"
        if not short and not burst:
            order_service.record_delivery(ReportDelivery(order.order_no, delivered=True))


def _order_records(limit: int) -> tuple[str, list[dict]]:
    import boto3

    from chalicelib.store.models import OrderModel
    from local.stream_pump import read_all

    arn = boto3.client("dynamodb").describe_table(TableName=OrderModel.Meta.table_name)["Table"][
        "LatestStreamArn"
    ]
    return arn, read_all(boto3.client("dynamodbstreams"), arn)[:limit]


def _feed(handler, arn: str, records: list[dict]) -> float:
    from local.stream_pump import to_lambda_event

    events = [to_lambda_event(records[i : i + BATCH], arn) for i in range(0, len(records), BATCH)]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the EMF lines
        for event in events:
            assert handler(event, None) == {"batchItemFailures": []}
    return time.perf_counter() - started


def _parse_only(record) -> None:
    from chalicelib.store import orders as order_store

    order_store.from_stream_image(record.raw_event["dynamodb"]["NewImage"])


def measure(records: int, seed: int) -> dict:
    from moto import mock_aws

    with mock_aws():
        from local.bootstrap import provision

        provision()
        with contextlib.redirect_stdout(io.StringIO()):  # the services' EMF lines
            _shop_day(
                records // RECORDS_PER_ORDER + records // 50, random.Random(seed)
            )  # some have 2 records
        arn, stream = _order_records(records)
        import app
        from chalicelib.services import streams

        counter, aws = RequestCounter(), AwsClock()
        noop_s = _feed(
            lambda event, context: streams.process(event, lambda record: None, context), arn, stream
        )
        parse_s = _feed(
            lambda event, context: streams.process(event, _parse_only, context), arn, stream
        )
        counter.take(), aws.take()
        handler_s = _feed(app.on_orders_stream, arn, stream)
        dynamo_calls, dynamo_s = counter.take()
        other_calls, other_s = aws.take()
    return {
        "records": len(stream),
        "noop_s": noop_s,
        "parse_s": parse_s,
        "handler_s": handler_s,
        "dynamo_calls": dynamo_calls,
        "dynamo_s": dynamo_s,
        "other_calls": other_calls,
        "other_s": other_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    r = measure(args.records, args.seed)
    n = r["records"]
    own_s = r["handler_s"] - r["dynamo_s"] - r["other_s"]
    dynamo = sum(r["dynamo_calls"].values())

    def per_record(seconds: float) -> str:
        return f"{seconds * 1e6 / n:8.1f} us/record"

    print(f"orders stream records: {n} (orders created, paid, delivered; batches of {BATCH})")
    print(f"no-op handler:        {per_record(r['noop_s'])}")
    print(f"parse-only handler:   {per_record(r['parse_s'])}")
    print(
        f"stream handler:       {per_record(r['handler_s'])}  = moto DynamoDB {r['dynamo_s'] * 1e6 / n:.1f}"
        f" + moto SNS {r['other_s'] * 1e6 / n:.1f} + our own code {own_s * 1e6 / n:.1f}"
    )
    print(
        f"  whole handler vs no-op: {r['handler_s'] / r['noop_s']:.0f}x, vs parse-only: "
        f"{r['handler_s'] / r['parse_s']:.1f}x"
    )
    print(
        f"  our own code  vs no-op: {own_s / r['noop_s']:.0f}x (target <= 5x), vs parse-only: "
        f"{own_s / r['parse_s']:.1f}x"
    )
    print(
        f"DynamoDB requests per record: {dynamo / n:.2f} {dict(r['dynamo_calls'])}  (target <= 3, "
        f"Scan: {r['dynamo_calls'].get('Scan', 0)})"
    )
    print(f"other AWS requests: {dict(r['other_calls'])}")


if __name__ == "__main__":
    main()
