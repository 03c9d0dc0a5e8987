"""A smoke test of bench/flash_sale.py's harness (the benchmark itself runs in `make bench`):
its percentiles, its /proc meter, the verdicts against the issue's targets, and the
simultaneous-connections probe against a server that answers."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    report = {
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
