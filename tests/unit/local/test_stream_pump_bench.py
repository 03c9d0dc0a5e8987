"""A smoke test of bench/flash_sale.py's harness (the benchmark itself runs in `make bench`):
its percentiles, its /proc meter, the verdicts against the issue's targets, and the
simultaneous-connections probe against a server that answers."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any, ClassVar

from bench import flash_sale


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert flash_sale.percentile(values, 50) == 50.0
    assert flash_sale.percentile(values, 99) == 99.0
    assert flash_sale.percentile([3.0], 99) == 3.0
    assert flash_sale.percentile([], 99) == 0.0


def test_the_meter_reads_this_process():
    meter = flash_sale.ProcessMeter(os.getpid())
    assert os.getpid() in meter.pids()
    assert meter.rss_mb() > 10
    assert meter.cpu_seconds() > 0


def _report(**changes) -> dict:
    report: dict[str, Any] = {
        "idle_cpu_pct": 4.0,
        "connections": {"failed": []},
        "mb_per_1000_orders": 12.0,
        "discarded_stream_batches": 0,
        "load": {
            "offered_per_s": 20.0,
            "sustained_per_s": 19.9,
            "answer_p99_s": 1.5,
            "ready_p99_s": 6.0,
            "errors": [],
            "ready_missing": 0,
            "delivery_errors": [],
        },
    }
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        target = report
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return report


def test_each_target_fails_on_its_own_figure():
    assert all(flash_sale.verdicts(_report()).values())
    for path, value in (
        ("idle_cpu_pct", 30.0),
        ("connections.failed", ["ConnectionError"]),
        ("load.sustained_per_s", 14.4),
        ("load.answer_p99_s", 3.6),
        ("load.ready_p99_s", 219.0),
        ("mb_per_1000_orders", 46.0),
        ("load.ready_missing", 1),
        ("load.delivery_errors", ["delivery HTTP 409"]),
        ("discarded_stream_batches", 2),
    ):
        failed = [
            name for name, ok in flash_sale.verdicts(_report(**{path: value})).items() if not ok
        ]
        assert len(failed) == 1, (path, failed)


class _Created(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # as the local API listens (with socketserver's 5 a burst gets resets)


def test_the_connection_burst_counts_every_answer():
    server = _Server(("127.0.0.1", 0), _Created)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        shop = flash_sale.Shop.__new__(flash_sale.Shop)
        shop.api, shop.headers, shop.run_id = f"http://127.0.0.1:{server.server_port}", {}, "T"
        shop.rng = flash_sale.random.Random(1)
        assert flash_sale.connection_burst(shop, 16) == {
            "clients": 16,
            "answered_201": 16,
            "failed": [],
        }
    finally:
        server.shutdown()


def test_the_embedded_aws_counts_requests_by_operation_and_what_they_name():
    import io

    from local.aws_process import COUNTS_PATH, RequestCounter

    seen = []

    def app(environ, start_response):
        seen.append(environ["wsgi.input"].read())
        start_response("200 OK", [])
        return [b"{}"]

    counter = RequestCounter(app)

    def call(target: str, body: bytes, path: str = "/") -> bytes:
        environ = {
            "PATH_INFO": path,
            "HTTP_X_AMZ_TARGET": target,
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        return b"".join(counter(environ, lambda *_: None))

    call("DynamoDB_20120810.GetItem", b'{"TableName": "paytrack-local-orders", "Key": {}}')
    call("DynamoDB_20120810.GetItem", b'{"TableName": "paytrack-local-orders", "Key": {}}')
    call(
        "DynamoDB_20120810.TransactWriteItems",
        b'{"TransactItems": [{"Update": {"TableName": "s"}}, {"Put": {"TableName": "o"}}]}',
    )
    call(
        "DynamoDBStreams_20120810.GetRecords",
        b'{"ShardIterator": "arn:aws:dynamodb:ap-east-1:1:table/paytrack-local-orders/stream/x|1|y"}',
    )
    call("DynamoDB_20120810.BatchGetItem", b'{"RequestItems": {"a": {"Keys": []}, "b": {}}}')
    call("AmazonSQS.ReceiveMessage", b'{"QueueUrl": "http://h/123456789012/local-event-listener"}')
    call("", b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aap-east-1%3A1%3Aevents&Message=m")
    assert seen[0] == b'{"TableName": "paytrack-local-orders", "Key": {}}'  # moto reads it all
    assert json.loads(call("", b"", path=COUNTS_PATH)) == {
        "GetItem paytrack-local-orders": 2,
        "TransactWriteItems o+s": 1,
        "GetRecords paytrack-local-orders": 1,
        "BatchGetItem a+b": 1,
        "ReceiveMessage local-event-listener": 1,
        "Publish events": 1,
    }
    assert flash_sale.per_order({"a": 30, "b": 5}, {"a": 10}, orders=10) == {
        "total": 2.5,
        "a": 2.0,
        "b": 0.5,
    }


def test_the_lag_by_tenth_tells_a_growing_backlog_from_a_stall():
    growing = [float(n) for n in range(100)]  # each order a second later (nearest-rank medians)
    stalled = [60.0] * 100

    assert flash_sale.lag_by_tenth(growing) == [
        4.0,
        14.0,
        24.0,
        34.0,
        44.0,
        54.0,
        64.0,
        74.0,
        84.0,
        94.0,
    ]
    assert flash_sale.lag_by_tenth(stalled) == [60.0] * 10
    assert flash_sale.lag_by_tenth([3.0]) == [3.0]


class _Deliveries(BaseHTTPRequestHandler):
    """The API's delivery report: 200, or 409 for an order on hold (its number ends in H)."""

    paths: ClassVar[list[str]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert body == {"status": "delivered"}
        _Deliveries.paths.append(self.path)
        held = self.path.split("/")[2].endswith("H")
        self.send_response(409 if held else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_shop_delivers_each_ready_order_once_and_reports_what_the_api_refused():
    server = _Server(("127.0.0.1", 0), _Deliveries)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack = SimpleNamespace(api=f"http://127.0.0.1:{server.server_port}", shop_key="k")
    try:
        shop = flash_sale.Shop(stack)  # type: ignore[arg-type]  # what Shop reads of a stack
        inbox = flash_sale.ShopInbox.__new__(flash_sale.ShopInbox)
        inbox.on_ready, inbox.deliveries = shop.deliver_later, 0
        inbox.arrived, inbox.published = {}, {}
        for order_no in ("A1", "A2", "A3H", "A1"):  # A1's ready arrives twice
            inbox._note({"event": "order.ready", "order": {"order_no": order_no}}, 1.0)
        inbox._note({"event": "order.paid", "order": {"order_no": "A4"}}, 1.0)
        shop.stop_delivering()
    finally:
        server.shutdown()
    assert sorted(_Deliveries.paths) == [
        "/orders/A1/delivery",
        "/orders/A2/delivery",
        "/orders/A3H/delivery",
    ]
    pairs = [flash_sale.Pair(no, paid_at=1.0) for no in ("A1", "A2", "A3H")]
    report = flash_sale.load_report(pairs, 1.0, inbox, 3.0, shop.deliveries)
    assert report["delivered"] == 2
    assert report["delivery_errors"] == ["delivery HTTP 409 "]


def test_the_machine_probe_measures_the_same_work_each_time():
    probes = [flash_sale.machine_probe_ms() for _ in range(3)]

    assert all(probe > 0 for probe in probes)
    assert max(probes) < 20 * min(probes)  # the same work: within the VM's drift, not another task


def test_every_order_of_a_sale_is_paid_under_a_trade_number_of_its_own():
    shop = flash_sale.Shop.__new__(flash_sale.Shop)
    shop.run_id, shop.rng = "ABC123", flash_sale.random.Random(1)
    orders = [shop.order(i) for i in [*range(12_000), *range(2_000_000, 2_000_100)]]
    numbers = {flash_sale.Shop.trade_no(order) for order in orders}
    assert len(numbers) == len(orders)
