"""Flash-sale benchmark of the local stack (issue 11 §2): `make run`'s stack, started as its own
process, under the load a 发卡 shop's flash sale sends, each figure reported against its target.

1. Idle: the stack's CPU over `--idle-seconds` with nothing to do (target: it does not keep a
   core busy; reported as % of one core).
2. Connections: 64 clients connect at once and each registers an order (target: no reset).
   Then a warm-up (`--warm-up` pairs, each announced ready) runs every code path once, so what
   is loaded or cached on first use (botocore's and moto's service models, ~60 MB in the pumps'
   process alone) is not counted as memory per order.
3. Load: `--rate` pairs a second for `--seconds`, each pair an order registered by the shop and
   paid by a signed epay notice (open loop: a pair starts on time whether or not earlier ones
   have been answered). Targets: the rate sustained, p99 answer ≤ 2 s, `order.ready` reaching the
   shop (an SQS queue subscribed to the events topic, as a shop would) p99 ≤ 10 s after the
   payment was answered, the stack's resident memory growing ≤ 20 MB per 1,000 orders, nothing
   lost (every paid order announced ready, no stream batch discarded). The shop delivers each
   order when its `order.ready` arrives and reports the delivery (`POST /orders/{no}/delivery`),
   as a 发卡 shop does: those answers are reported apart (`delivery_p99_s`). Reported beside them, as
   they hold on a loaded machine where times do not: each process's CPU and memory per order,
   and the AWS requests per order by operation and table (`aws_requests_per_order`); and the
   machine's speed before and after the load (`machine_probe_ms`: this VM's drifts by up to 2×).

    make bench        # or: .venv/bin/python -m bench.flash_sale [--seconds 600] [--rate 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TOPIC = "arn:aws:sns:ap-east-1:123456789012:paytrack-local-events"
FAILURES_QUEUE = "paytrack-local-stream-failures"
CHANNEL = "epay-main"
CHANNELS_FILE = REPO / "local" / "channels.dev.json"  # the stack's default: its epay key signs
WARM_UP_FIRST = 2 * 10**6  # warm-up order numbers: after the load's and the burst's (10**6 on)
TARGETS = {
    "p99_answer_s": 2.0,
    "ready_p99_s": 10.0,
    "mb_per_1000_orders": 20.0,
    "idle_cpu_pct": 10.0,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1]


# ------------------------------------------------------------------------------ the stack process


_ROLES = ((b"local.aws_process", "aws"), (b"local.pump_process", "pumps"))


@dataclass
class ProcessMeter:
    """CPU and resident memory of a process and its children (the embedded AWS), from /proc."""

    pid: int

    def pids(self) -> list[int]:
        found, queue = [], [self.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                queue.extend(int(child) for child in task.read_text().split())
        return found

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.pids())

    def by_role(self, measure: Callable[[int], float]) -> dict[str, float]:
        """`measure` summed over the processes of each role: the stack, its embedded AWS, its
        stream pumps (told apart by their command lines)."""
        roles: dict[str, float] = {}
        for pid in self.pids():
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            role = next((name for module, name in _ROLES if module in command), "stack")
            roles[role] = roles.get(role, 0.0) + measure(pid)
        return roles

    def rss_mb(self) -> float:
        return sum(_rss_mb(pid) for pid in self.pids())

    def cpu_percent_over(self, seconds: float) -> float:
        before = self.cpu_seconds()
        time.sleep(seconds)
        return 100 * (self.cpu_seconds() - before) / seconds


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """This benchmark's own CPU (its shop, its load's clients): it shares the machine's cores
    with the stack, so it is reported beside the stack's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_probe_ms() -> float:
    """The CPU time (median of five) a fixed piece of pure Python takes in this process. This
    VM's speed drifts by up to 2× within minutes (its neighbours' load), and every CPU figure
    and time of a run moves with it: the probe, taken before the load and after it, says what
    speed the run had, so two runs can be compared."""

    def work() -> int:
        counts: dict[str, int] = {}
        for i in range(50_000):
            key = f"k{i % 512}"
            counts[key] = counts.get(key, 0) + i
        return len(counts)

    took = []
    for _ in range(5):
        started = time.process_time()
        work()
        took.append(time.process_time() - started)
    return round(1000 * sorted(took)[2], 1)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class StackProcess:
    """`python -m local.stack` with demo traffic off, on free ports, its output in a log file."""

    def __init__(self, log_path: Path):
        self.api_port, self.sim_port, self.aws_port = _free_port(), _free_port(), _free_port()
        self.shop_key = f"pt_shop_{secrets.token_urlsafe(24)}"
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the stack is not started (use StackProcess as a context manager)")
        return self._process

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def aws(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def __enter__(self) -> StackProcess:
        env = {
            **os.environ,
            "PAYTRACK_PORT": str(self.api_port),
            "PAYTRACK_SIM_PORT": str(self.sim_port),
            "PAYTRACK_AWS_PORT": str(self.aws_port),
            "PAYTRACK_SHOP_KEY": self.shop_key,
            "PAYTRACK_DEMO": "0",
        }
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "local.stack"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up(timeout_s=180)
        return self

    def _wait_until_up(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the stack exited ({self.process.returncode}); see {self.log_path}"
                )
            if b"local stack is up" in self.log_path.read_bytes():
                return
            time.sleep(0.5)
        raise RuntimeError(f"the stack did not come up in {timeout_s:.0f} s; see {self.log_path}")

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def aws_client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.aws,
            region_name="ap-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


# ------------------------------------------------------------------------------ the shop's side


class ShopInbox:
    """The shop's subscription to the events topic: when each (event, order_no) first arrived,
    and when paytrack published it (the event's `at`), read by RECEIVERS threads as a shop runs
    several consumers of one queue (one alone reads ~40 messages a second from a busy embedded
    AWS: as many as a 20 pairs/s sale sends, so its own backlog would be timed as paytrack's)."""

    RECEIVERS = 4
    PAUSE_S = 0.5

    def __init__(self, stack: StackProcess, on_ready: Callable[[str], None] | None = None):
        self.on_ready = on_ready
        self.sqs = stack.aws_client("sqs")
        self.url = self.sqs.create_queue(QueueName=f"bench-shop-{secrets.token_hex(4)}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        stack.aws_client("sns").subscribe(
            TopicArn=TOPIC, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        self.arrived: dict[tuple[str, str], float] = {}
        self.published: dict[tuple[str, str], float] = {}
        self.deliveries = 0
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self.receive, name=f"shop-inbox-{n}", daemon=True)
            for n in range(self.RECEIVERS)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def receive(self) -> None:
        """Short polls, again at once while they come back full, else after PAUSE_S, as a shop
        batching its reads would: a poll for each message or two was a fifth of the embedded
        AWS's requests in a sale, load the stack does not make (the queue is the shop's). The
        pause adds at most PAUSE_S to an arrival; publication is timed by the event's `at`."""
        while not self.stop_event.is_set():
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            now = time.time()
            with self._lock:
                for message in messages:
                    self._note(json.loads(message["Body"]), now)
            if messages:
                self.sqs.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
            if len(messages) < 10:
                self.stop_event.wait(self.PAUSE_S)

    def _note(self, body: dict, now: float) -> None:
        self.deliveries += 1
        key = (str(body.get("event")), str(body.get("order", {}).get("order_no")))
        if key not in self.arrived:
            self.arrived[key] = now
            if key[0] == "order.ready" and self.on_ready is not None:
                self.on_ready(key[1])
            at = body.get("at")
            if at:
                self.published[key] = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()

    def stop(self) -> None:
        self.stop_event.set()


@dataclass
class Pair:
    order_no: str
    register_s: float = 0.0
    notify_s: float = 0.0
    paid_at: float = 0.0
    error: str = ""
    registered_again: bool = False
    """Answered 200, the same order (API.md): the API's call to DynamoDB timed out after the
    write and its retry found the order there; the shop has its order, as with a 201."""


@dataclass
class Delivery:
    order_no: str
    answer_s: float = 0.0
    error: str = ""


class Shop:
    """Registers orders and pays them with signed epay notices, as the shop and the gateway do,
    and delivers each order on its `order.ready` (reporting the delivery, as a 发卡 shop does
    once it has sent the card key)."""

    DELIVERERS = 8

    def __init__(self, stack: StackProcess):
        self.api = stack.api
        self.headers = {"Authorization": f"Bearer {stack.shop_key}"}
        self.epay = json.loads(CHANNELS_FILE.read_text(encoding="utf-8"))[CHANNEL]
        self.run_id = secrets.token_hex(3).upper()
        self.rng = random.Random(7)
        self.deliveries: dict[str, Delivery] = {}
        self._delivering = ThreadPoolExecutor(self.DELIVERERS, thread_name_prefix="shop-deliver")

    def deliver_later(self, order_no: str) -> None:
        """Called by the inbox's receivers: the delivery is reported off their threads."""
        self._delivering.submit(self.deliver, order_no)

    def deliver(self, order_no: str) -> Delivery:
        delivery = Delivery(order_no)
        started = time.perf_counter()
        try:
            answer = requests.post(
                f"{self.api}/orders/{order_no}/delivery",
                json={"status": "delivered"},
                headers=self.headers,
                timeout=30,
            )
            if answer.status_code != 200:
                delivery.error = f"delivery HTTP {answer.status_code} {answer.text[:60]}"
        except requests.RequestException as error:
            delivery.error = type(error).__name__
        delivery.answer_s = time.perf_counter() - started
        self.deliveries[order_no] = delivery
        return delivery

    def stop_delivering(self) -> None:
        self._delivering.shutdown(wait=True)

    def order(self, i: int) -> dict:
        rng = self.rng
        return {
            "order_no": f"FS{self.run_id}{i:07d}",
            "product_id": "card-30",
            "product_name": "30元充值卡",
            "quantity": 1,
            "amount": "30.00",
            "currency": "CNY",
            "channel": CHANNEL,
            "buyer_email": f"buyer{i}.{rng.randrange(10**6)}@qq.com",
            "buyer_ip": f"{rng.choice((36, 39, 58, 110, 113, 183))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "user_agent": "Mozilla/5.0",
            "expires_in_s": 900,
        }

    def register(self, order: dict) -> requests.Response:
        return requests.post(f"{self.api}/orders", json=order, headers=self.headers, timeout=30)

    def pay(self, order: dict) -> requests.Response:
        from local.sim_signing import epay_signed_query

        params = {
            "pid": self.epay["pid"],
            "trade_no": self.trade_no(order),
            "out_trade_no": order["order_no"],
            "type": "alipay",
            "name": order["product_name"],
            "money": order["amount"],
            "trade_status": "TRADE_SUCCESS",
        }
        return requests.get(
            f"{self.api}/notify/{CHANNEL}?{epay_signed_query(params, self.epay['key'])}", timeout=30
        )

    @staticmethod
    def trade_no(order: dict) -> str:
        """The aggregator's number for the order's payment, as 彩虹易支付 makes them (the time,
        then digits), unique to the order: with random digits, two payments in one second
        shared a number about once in ten minutes, and the second was taken for a retry of the
        first (its dedupe key is the channel and the trade number) and never paid."""
        return f"{time.strftime('%Y%m%d%H%M%S')}{order['order_no'][-7:]}"

    def pair(self, i: int) -> Pair:
        order = self.order(i)
        pair = Pair(order["order_no"])
        try:
            started = time.perf_counter()
            registered = self.register(order)
            pair.register_s = time.perf_counter() - started
            pair.registered_again = registered.status_code == 200
            if registered.status_code not in (200, 201):
                pair.error = f"register HTTP {registered.status_code}"
                return pair
            started = time.perf_counter()
            paid = self.pay(order)
            pair.notify_s = time.perf_counter() - started
            pair.paid_at = time.time()
            if paid.status_code != 200 or "success" not in paid.text:
                pair.error = f"notify HTTP {paid.status_code} {paid.text[:60]}"
        except requests.RequestException as error:
            pair.error = type(error).__name__
        return pair


# ------------------------------------------------------------------------------ the measurements


def connection_burst(shop: Shop, clients: int) -> dict:
    """`clients` connections opened at the same moment, each registering an order."""
    barrier = threading.Barrier(clients)
    outcomes: list[str] = []

    def one(i: int) -> None:
        order = shop.order(10**6 + i)
        barrier.wait()
        try:
            outcomes.append(str(shop.register(order).status_code))
        except requests.RequestException as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [o for o in outcomes if o != "201"]
    return {"clients": clients, "answered_201": clients - len(failed), "failed": sorted(failed)}


def run_load(shop: Shop, rate: float, seconds: float, first: int = 0) -> tuple[list[Pair], float]:
    """Open loop: pair i starts at start + i / rate (order numbers from `first` on). Returns the
    pairs and the seconds from the first start to the last answer."""
    count = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=128) as pool:
        start = time.monotonic()
        futures = []
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(shop.pair, first + i))
        pairs = [future.result() for future in futures]
    return pairs, time.monotonic() - start


def wait_for_ready(inbox: ShopInbox, paid: list[Pair], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(("order.ready", p.order_no) in inbox.arrived for p in paid):
            return
        time.sleep(0.5)


def lag_by_tenth(lags: list[float]) -> list[float]:
    """The median of each tenth of the lags, given in payment order: flat when the consumers
    fell behind once and kept pace, rising when their backlog grows."""
    tenth = max(len(lags) // 10, 1)
    return [round(percentile(lags[i : i + tenth], 50), 1) for i in range(0, len(lags), tenth)][:10]


def _lags(paid: list[Pair], seen: dict[tuple[str, str], float]) -> list[float]:
    """Seconds from each payment to its `order.ready` as `seen` (arrival or publication)."""
    return [
        seen[("order.ready", p.order_no)] - p.paid_at
        for p in paid
        if ("order.ready", p.order_no) in seen
    ]


def load_report(
    pairs: list[Pair],
    elapsed_s: float,
    inbox: ShopInbox,
    rate: float,
    deliveries: dict[str, Delivery],
) -> dict:
    paid = sorted((p for p in pairs if not p.error), key=lambda p: p.paid_at)
    delivered = [deliveries[p.order_no] for p in paid if p.order_no in deliveries]
    answers = [p.register_s for p in paid] + [p.notify_s for p in paid]
    ready = _lags(paid, inbox.arrived)
    published = _lags(paid, inbox.published)
    return {
        "pairs": len(pairs),
        "paid": len(paid),
        "errors": sorted({p.error for p in pairs if p.error}),
        "registered_again": sum(p.registered_again for p in pairs),
        "offered_per_s": rate,
        "sustained_per_s": round(len(paid) / elapsed_s, 2),
        "answer_p50_s": round(percentile(answers, 50), 3),
        "answer_p99_s": round(percentile(answers, 99), 3),
        "register_p99_s": round(percentile([p.register_s for p in paid], 99), 3),
        "notify_p99_s": round(percentile([p.notify_s for p in paid], 99), 3),
        "ready_p50_s": round(percentile(ready, 50), 2),
        "ready_p99_s": round(percentile(ready, 99), 2),
        "ready_published_p50_s": round(percentile(published, 50), 2),
        "ready_published_p99_s": round(percentile(published, 99), 2),
        "ready_published_by_tenth_s": lag_by_tenth(published),
        "ready_missing": len(paid) - len(ready),
        "delivered": sum(not d.error for d in delivered),
        "delivery_p99_s": round(percentile([d.answer_s for d in delivered], 99), 3),
        "delivery_errors": sorted({d.error for d in delivered if d.error}),
    }


def discarded_batches(stack: StackProcess) -> int | None:
    """Batches the stream pumps gave up on (None when the stack has no on-failure queue)."""
    sqs = stack.aws_client("sqs")
    try:
        url = sqs.get_queue_url(QueueName=FAILURES_QUEUE)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def aws_requests(stack: StackProcess) -> dict[str, int]:
    """The requests the embedded AWS has answered so far, by operation and table, queue or topic
    (local/aws_process.py's RequestCounter)."""
    from local.aws_process import COUNTS_PATH

    return requests.get(f"{stack.aws}{COUNTS_PATH}", timeout=30).json()


def per_order(after: dict[str, int], before: dict[str, int], orders: int) -> dict[str, float]:
    """Requests per order by name, largest first, with their total under "total"."""
    counts = {name: n - before.get(name, 0) for name, n in after.items()}
    rows = {
        name: round(n / max(orders, 1), 2)
        for name, n in sorted(counts.items(), key=lambda kv: -kv[1])
        if n
    }
    return {"total": round(sum(counts.values()) / max(orders, 1), 2), **rows}


def verdicts(report: dict) -> dict[str, bool]:
    load = report["load"]
    return {
        "idle CPU below 10% of a core": report["idle_cpu_pct"] <= TARGETS["idle_cpu_pct"],
        "64 simultaneous connections, no reset": not report["connections"]["failed"],
        f"{load['offered_per_s']:g} pairs/s sustained": load["sustained_per_s"]
        >= 0.95 * load["offered_per_s"],
        "p99 answer <= 2 s": load["answer_p99_s"] <= TARGETS["p99_answer_s"],
        "order.ready p99 <= 10 s after payment": load["ready_p99_s"] <= TARGETS["ready_p99_s"],
        "memory <= 20 MB per 1,000 orders": report["mb_per_1000_orders"]
        <= TARGETS["mb_per_1000_orders"],
        "nothing lost": (
            not load["errors"]
            and load["ready_missing"] == 0
            and not load.get("delivery_errors")
            and not report["discarded_stream_batches"]
        ),
    }


def run(
    rate: float,
    seconds: float,
    idle_seconds: float,
    clients: int,
    log_path: Path,
    warm_up: int = 100,
    deliver: bool = True,
) -> dict:
    from local import heap

    with StackProcess(log_path) as stack:
        meter = ProcessMeter(stack.process.pid)
        time.sleep(min(5.0, idle_seconds))  # let start-up work (the first schedules) settle
        idle_cpu = meter.cpu_percent_over(idle_seconds)
        probe_before = machine_probe_ms()
        shop = Shop(stack)
        inbox = ShopInbox(stack, on_ready=shop.deliver_later if deliver else None)
        inbox.start()
        connections = connection_burst(shop, clients)
        warm_pairs, _ = run_load(shop, rate, warm_up / rate, first=WARM_UP_FIRST)
        wait_for_ready(inbox, [p for p in warm_pairs if not p.error], timeout_s=120)
        heap.freeze_long_lived_objects()  # the benchmark's own pauses would count as answers'
        rss_before = meter.rss_mb()
        rss_roles_before = meter.by_role(_rss_mb)
        cpu_before = meter.cpu_seconds()
        bench_cpu_before = _own_cpu_seconds()
        roles_before = meter.by_role(_cpu_seconds)
        requests_before = aws_requests(stack)
        pairs, elapsed = run_load(shop, rate, seconds)
        load_cpu = meter.cpu_seconds() - cpu_before
        bench_cpu = _own_cpu_seconds() - bench_cpu_before
        wait_for_ready(inbox, [p for p in pairs if not p.error], timeout_s=120)
        roles_after = meter.by_role(_cpu_seconds)
        inbox.stop()
        shop.stop_delivering()
        probe_after = machine_probe_ms()
        requests_after = aws_requests(stack)
        rss_after = meter.rss_mb()
        rss_roles_after = meter.by_role(_rss_mb)
        orders = len(pairs)
        report = {
            "idle_cpu_pct": round(idle_cpu, 1),
            "machine_probe_ms": [probe_before, probe_after],
            "connections": connections,
            "warm_up_pairs": len(warm_pairs),
            "load": load_report(pairs, elapsed, inbox, rate, shop.deliveries),
            "stack_cpu_pct_under_load": round(100 * load_cpu / elapsed, 1),
            "benchmark_cpu_pct_under_load": round(100 * bench_cpu / elapsed, 1),
            "cpu_ms_per_order": {
                role: round(
                    1000 * (roles_after[role] - roles_before.get(role, 0.0)) / max(len(pairs), 1), 1
                )
                for role in roles_after
            },
            "aws_requests_per_order": per_order(requests_after, requests_before, len(pairs)),
            "rss_mb": [round(rss_before, 1), round(rss_after, 1)],
            "mb_per_1000_orders_by_role": {
                role: round(
                    (rss_roles_after[role] - rss_roles_before.get(role, 0.0))
                    * 1000
                    / max(orders, 1),
                    1,
                )
                for role in rss_roles_after
            },
            "mb_per_1000_orders": round((rss_after - rss_before) * 1000 / max(orders, 1), 1),
            "shop_deliveries": inbox.deliveries,
            "discarded_stream_batches": discarded_batches(stack),
        }
    report["verdicts"] = verdicts(report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="order+payment pairs per second")
    parser.add_argument("--seconds", type=float, default=600.0, help="how long the load lasts")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=64, help="simultaneous connections")
    parser.add_argument(
        "--warm-up", type=int, default=100, help="pairs before memory is first measured"
    )
    parser.add_argument(
        "--no-delivery",
        action="store_true",
        help="the shop does not report deliveries (the issue's pairs alone; from 5 minutes on the "
        "slow_delivery rule then flags every order)",
    )
    parser.add_argument("--log", type=Path, default=REPO / "out" / "bench-flash-sale-stack.log")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args(argv)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    report = run(
        args.rate,
        args.seconds,
        args.idle_seconds,
        args.clients,
        args.log,
        args.warm_up,
        deliver=not args.no_delivery,
    )
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps({k: v for k, v in report.items() if k != "verdicts"}, indent=2))
        for name, ok in report["verdicts"].items():
            print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
