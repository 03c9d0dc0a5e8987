"""The embedded AWS's DynamoDB process (local/aws_process.py): CPU per DynamoDB request, the lean
way `make run` serves it (local/dynamodb_wsgi.py) ÷ moto's own application, in one run. Asserts
nothing.

Two DynamoDB servers, each a process of its own with moto made like AWS (local/fidelity.py)
behind cheroot: `moto` (moto's application: Flask, its dispatcher, its `setup_class`), and
`lean` (the hot operations straight to moto's handler). Each round sends both, in turn, the
same flash-sale mix of requests per order (the order's PutItem, the API key's GetItem, the
payment's UpdateItem, an index Query, a counter's UpdateItem, a BatchGetItem; then the stream's
GetRecords) from `--clients` threads, each with its own connection as the stack's request
threads have. A server's CPU (from /proc) and this process's (the clients': botocore) are
divided by the requests sent; the median time an order's six requests took is the clients'
view of the server's throughput. The ratios are taken round by round, the servers' order
alternating, and reported as the min and the median over the rounds: this VM's speed drifts by
up to 2× within minutes, which a ratio taken in the same round cancels.

    .venv/bin/python -m bench.local_aws [--orders 200] [--rounds 5] [--clients 64]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from local import aws_process  # noqa: E402  # after the path is set

VARIANTS = {"moto": False, "lean": True}  # name: the lean way taken


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    endpoint: str
    iterators: dict = field(default_factory=dict)  # where each stream shard was left

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def start(name: str) -> Server:
    port = aws_process.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.local_aws", "--serve", name, "--port", str(port)],
        stdin=subprocess.PIPE,
        cwd=REPO,
    )
    if not aws_process.accepts(process, port, time.monotonic() + 60):
        raise RuntimeError(f"the {name} server did not start")
    return Server(name, process, f"http://127.0.0.1:{port}")


def serve(name: str, port: int) -> None:
    aws_process.serve_until_parent_closes(
        port, lambda: aws_process.moto_app(lean_dynamodb=VARIANTS[name])
    )


def _client(service: str, endpoint: str, clients: int):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="ap-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(max_pool_connections=clients, retries={"mode": "standard"}),
    )


def create_tables(endpoint: str) -> str:
    """The orders table (a stream, one index) and the keys and stats tables; the stream's ARN."""
    db = _client("dynamodb", endpoint, 1)
    db.create_table(
        TableName="orders",
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        KeySchema=[{"AttributeName": "order_no", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("order_no", "buyer_email")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_email",
                "Projection": {"ProjectionType": "KEYS_ONLY"},
                "KeySchema": [{"AttributeName": "buyer_email", "KeyType": "HASH"}],
            }
        ],
    )
    for table in ("keys", "stats"):
        db.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
    db.put_item(TableName="keys", Item={"pk": {"S": "key-hash"}, "role": {"S": "shop"}})
    arn: str = db.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    return arn


def _order(order_no: str) -> dict:
    item = {
        "order_no": {"S": order_no},
        "buyer_email": {"S": f"{order_no}@qq.com"},
        "amount": {"N": "3000"},
        "currency": {"S": "CNY"},
        "pay_status": {"S": "pending"},
        "delivery_status": {"S": "pending"},
        "version": {"N": "1"},
        "timeline": {"L": [{"M": {"at": {"S": "2026-12-07T01:00:00Z"}, "what": {"S": "new"}}}]},
    }
    item.update({f"field_{n}": {"S": f"{order_no}-value-{n}" * 2} for n in range(20)})
    return item


def one_order(db, order_no: str) -> int:
    """The DynamoDB requests a flash sale makes of one order, in its order; how many."""
    db.put_item(
        TableName="orders",
        Item=_order(order_no),
        ConditionExpression="attribute_not_exists(order_no)",
    )
    db.get_item(TableName="keys", Key={"pk": {"S": "key-hash"}})
    db.update_item(
        TableName="orders",
        Key={"order_no": {"S": order_no}},
        UpdateExpression="SET pay_status = :paid, paid_at = :at, channel = :ch, "
        "timeline = list_append(timeline, :entry) ADD version :one",
        ConditionExpression="pay_status = :pending",
        ExpressionAttributeValues={
            ":paid": {"S": "paid"},
            ":pending": {"S": "pending"},
            ":at": {"S": "2026-12-07T01:00:01Z"},
            ":ch": {"S": "epay-main"},
            ":one": {"N": "1"},
            ":entry": {"L": [{"M": {"at": {"S": "2026-12-07T01:00:01Z"}, "what": {"S": "paid"}}}]},
        },
        ReturnValues="ALL_NEW",
    )
    db.query(
        TableName="orders",
        IndexName="by_email",
        KeyConditionExpression="buyer_email = :e",
        ExpressionAttributeValues={":e": {"S": f"{order_no}@qq.com"}},
        Limit=1,
    )
    db.update_item(
        TableName="stats",
        Key={"pk": {"S": "day#2026-12-07"}},
        UpdateExpression="ADD paid_orders :one, paid_amount :amount",
        ExpressionAttributeValues={":one": {"N": "1"}, ":amount": {"N": "3000"}},
    )
    db.batch_get_item(
        RequestItems={"orders": {"Keys": [{"order_no": {"S": order_no}}], "ConsistentRead": True}}
    )
    return 6


def read_stream(streams, arn: str, iterators: dict) -> int:
    """One GetRecords per shard, from where the last one stopped: the pumps' reading."""
    sent = 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = (
            iterators.get(shard["ShardId"])
            or streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        )
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        iterators[shard["ShardId"]] = page.get("NextShardIterator")
        sent += 1
    return sent


def measure(server: Server, arn: str, round_no: int, orders: int, clients: int) -> dict:
    """One round on one server: its CPU and the clients' per request."""
    db = _client("dynamodb", server.endpoint, clients)
    streams = _client("dynamodbstreams", server.endpoint, 1)
    server_before, client_before = server.cpu_seconds(), time.process_time()
    took: list[float] = []

    def timed(n: int) -> int:
        started = time.perf_counter()
        sent = one_order(db, f"r{round_no}-o{n}")
        took.append(time.perf_counter() - started)
        return sent

    with ThreadPoolExecutor(clients) as pool:
        sent = sum(pool.map(timed, range(orders)))
    sent += read_stream(streams, arn, server.iterators)
    return {
        "server_ms": 1000 * (server.cpu_seconds() - server_before) / sent,
        "client_ms": 1000 * (time.process_time() - client_before) / sent,
        "order_ms": 1000 * statistics.median(took),
    }


def run(orders: int, rounds: int, clients: int) -> dict:
    servers = [start(name) for name in VARIANTS]
    try:
        arns = {s.name: create_tables(s.endpoint) for s in servers}
        for server in servers:  # warm: models loaded, expressions parsed, pools filled
            measure(server, arns[server.name], 0, clients, clients)
        per_round = []
        for round_no in range(1, rounds + 1):
            ordered = servers if round_no % 2 else servers[::-1]
            per_round.append(
                {s.name: measure(s, arns[s.name], round_no, orders, clients) for s in ordered}
            )
    finally:
        for server in servers:
            server.stop()
    return report(per_round)


def report(per_round: list[dict]) -> dict:
    def summary(values: list[float]) -> dict:
        return {"min": round(min(values), 3), "median": round(statistics.median(values), 3)}

    out: dict = {"rounds": len(per_round)}
    for name in VARIANTS:
        out[name] = {
            "server_cpu_ms_per_request": summary([r[name]["server_ms"] for r in per_round]),
            "client_cpu_ms_per_request": summary([r[name]["client_ms"] for r in per_round]),
            "order_requests_ms_median": summary([r[name]["order_ms"] for r in per_round]),
        }
        if name != "moto":
            out[name]["server_cpu_vs_moto"] = summary(
                [r[name]["server_ms"] / r["moto"]["server_ms"] for r in per_round]
            )
            out[name]["order_requests_time_vs_moto"] = summary(
                [r[name]["order_ms"] / r["moto"]["order_ms"] for r in per_round]
            )
            out[name]["server_and_client_cpu_vs_moto"] = summary(
                [
                    (r[name]["server_ms"] + r[name]["client_ms"])
                    / (r["moto"]["server_ms"] + r["moto"]["client_ms"])
                    for r in per_round
                ]
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per server per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--clients", type=int, default=24, help="client threads, one connection each"
    )
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return 0
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    print(json.dumps(run(args.orders, args.rounds, args.clients), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
