"""`make run`: the whole paytrack stage on one machine, no AWS account.

Starts the embedded AWS (moto's server, in two child processes: local/aws_process.py — DynamoDB
and its streams in one, every other service in the other, on $PAYTRACK_AWS_PORT, which passes
DynamoDB's requests on to the first; the stack's own clients reach the DynamoDB process
directly, through botocore's AWS_ENDPOINT_URL_DYNAMODB(_STREAMS)), the bootstrap
of every resource, a stream pump per table stream and function (in a child process:
local/pump_process.py), then, in this process: the API (chalice's local server) on
$PAYTRACK_PORT, a scheduler for the scheduled functions, a listener printing what the SNS topics publish, the gateway simulator on
$PAYTRACK_SIM_PORT and (unless PAYTRACK_DEMO=0) demo traffic. Ctrl-C stops everything.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalice.local import ChaliceRequestHandler

    from local.aws_process import EmbeddedAws

REPO = Path(__file__).resolve().parents[1]
log = logging.getLogger("paytrack.local")
#: the app's log lines (each request, stream record, scheduled run, shop event); warnings also on the console
APP_LOG = Path(os.environ.get("PAYTRACK_APP_LOG", REPO / "out" / "app.log"))


@dataclass
class StackConfig:
    api_port: int = int(os.environ.get("PAYTRACK_PORT", "8000"))
    sim_port: int = int(os.environ.get("PAYTRACK_SIM_PORT", "9000"))
    aws_port: int = int(os.environ.get("PAYTRACK_AWS_PORT", "0"))
    channels_file: Path = Path(
        os.environ.get("PAYTRACK_CHANNELS_FILE", REPO / "local" / "channels.dev.json")
    )
    admin_key: str = os.environ.get("PAYTRACK_ADMIN_KEY") or f"pt_admin_{secrets.token_urlsafe(24)}"
    shop_key: str = os.environ.get("PAYTRACK_SHOP_KEY") or f"pt_shop_{secrets.token_urlsafe(24)}"
    demo: bool = os.environ.get("PAYTRACK_DEMO", "1") != "0"
    demo_rate: float = float(os.environ.get("PAYTRACK_DEMO_RATE", "0.5"))
    schedule_scale: float = float(os.environ.get("PAYTRACK_SCHEDULE_SCALE", "1"))
    stream_lanes: int = int(
        os.environ.get("PAYTRACK_STREAM_LANES", "4")
    )  # concurrent batches per stream
    api_concurrency: int = int(
        os.environ.get("PAYTRACK_API_CONCURRENCY", "8")
    )  # requests the API function handles at once (invocations_at_most)
    keys_file: Path = Path(
        os.environ.get("PAYTRACK_LOCAL_KEYS_FILE", REPO / "out" / "local-keys.env")
    )
    demo_log: Path = Path(
        os.environ.get("PAYTRACK_DEMO_LOG", REPO / "out" / "demo.log")
    )  # each demo order
    demo_summary_s: float = float(
        os.environ.get("PAYTRACK_DEMO_SUMMARY_S", "60")
    )  # console summary period


def invocations_at_most(
    handler_cls: type[ChaliceRequestHandler], slots: int
) -> type[ChaliceRequestHandler]:
    """The API's request handler, invoking the app for at most `slots` requests at once; the
    others wait their turn, connected. In Lambda each concurrent request has an execution
    environment of its own. Here they share one interpreter: 64 invocations at once in a flash
    sale each held it a sliver at a time and kept as many requests waiting in the embedded
    AWS, where the stream consumers' requests queued behind them. Measured 60 s at 20 pairs a
    second (docs/internals.md, "The flash sale"): with 8 at once, answers p99 0.7 s and
    `order.ready` p99 3.3 s, against 3.6 s and 50 s unbounded; with 4, too few for the rate."""
    invocations = threading.BoundedSemaphore(slots)

    class AtMost(handler_cls):  # type: ignore[valid-type,misc]  # a base passed in
        def _generic_handle(self) -> None:
            self.local_gateway = _Invocation(self.local_gateway, invocations)  # type: ignore[has-type]  # chalice's, set in __init__
            super()._generic_handle()

    return AtMost


class _Invocation:
    """The handler's gateway, its app invoked once a slot is free (reading the request and
    writing the answer stay outside: a slow client holds no slot)."""

    def __init__(self, gateway: Any, slots: threading.BoundedSemaphore):
        self._gateway = gateway
        self._slots = slots

    def handle_request(self, **request: Any) -> Any:
        with self._slots:
            return self._gateway.handle_request(**request)


def _point_aws_at(aws: EmbeddedAws) -> None:
    """Every boto3/PynamoDB client created after this, in this process or a child started after
    it, talks to the embedded AWS: DynamoDB's and its streams' straight to the DynamoDB process
    (botocore's AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_DYNAMODB_STREAMS), the others to
    the public endpoint (AWS_ENDPOINT_URL)."""
    os.environ.update(
        {
            **aws.environment,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "ap-east-1"),
            "PAYTRACK_STAGE": "local",
        }
    )
    os.environ.pop("AWS_PROFILE", None)


def load_app():
    """chalice's CLI factory and the app it loads from the repo, as `chalice local` does."""
    from chalice.cli.factory import CLIFactory

    factory = CLIFactory(project_dir=str(REPO))
    return factory, factory.load_chalice_app()


def app_handlers(app, config_type: str) -> list[tuple[Any, Callable]]:
    """The app's registered event handlers of one kind, as Lambda would call them."""
    module = sys.modules["app"]
    return [
        (source, getattr(module, source.handler_string.split(".")[-1]))
        for source in app.event_sources
        if type(source).__name__ == config_type
    ]


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("werkzeug", "botocore", "pynamodb", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@dataclass
class Stack:
    config: StackConfig
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    channels: dict[str, Any] = field(default_factory=dict)  # the channels file, validated
    simulator: Any = None

    def start(self) -> None:
        from local.channels_file import load_checked_channels

        self.channels = load_checked_channels(self.config.channels_file)  # before anything starts
        self._start_aws()
        from local.bootstrap import bootstrap_keys, provision, write_keys_file

        provision(self.config.channels_file, self.config.sim_port)
        bootstrap_keys(self.config.admin_key, self.config.shop_key)
        write_keys_file(self.config.keys_file, self.config.admin_key, self.config.shop_key)
        factory, app = load_app()
        self._start_pumps()
        self._start_scheduler(app)
        self._start_sns_listener()
        self._start_paging()
        self._start_simulator()
        self._serve_api(
            factory, app
        )  # reachable only once everything behind it runs (streams, paging, simulator)
        self._start_demo()

    # -- parts

    def _start_aws(self) -> None:
        from local import aws_process, fidelity

        fidelity.accept_bursts_of_connections()
        aws = aws_process.start(self.config.aws_port or aws_process.free_port())
        self.stoppers.append(aws.stop)
        _point_aws_at(aws)
        log.info("embedded AWS (moto) on %s, DynamoDB on %s", aws.endpoint, aws.dynamodb_endpoint)

    def _serve_api(self, factory, app) -> None:
        from chalice.local import ChaliceRequestHandler

        from local import console
        from local.fidelity import answer_unsupported_methods_like_api_gateway
        from local.gateway_responses import answer_unknown_paths_like_the_template

        answer_unsupported_methods_like_api_gateway()
        answer_unknown_paths_like_the_template()
        config = factory.create_config_obj(chalice_stage_name="local")
        server = factory.create_local_server(app, config, "127.0.0.1", self.config.api_port)
        handler: type[ChaliceRequestHandler] = ChaliceRequestHandler
        if not console.access_log():
            handler = console.quiet_handler(handler)
        server.server.RequestHandlerClass = functools.partial(
            invocations_at_most(handler, self.config.api_concurrency),
            app_object=app,
            config=config,
        )
        thread = threading.Thread(target=server.serve_forever, name="api", daemon=True)
        thread.start()
        self.stoppers.append(server.shutdown)

    def _start_pumps(self) -> None:
        """The stream pumps, in a process of their own (local/pump_process.py)."""
        from local import pump_process

        self.stoppers.append(pump_process.start(self.config.stream_lanes))

    def _start_scheduler(self, app) -> None:
        from local.scheduler import Scheduler

        scheduler = Scheduler(app_handlers(app, "ScheduledEventConfig"), self.config.schedule_scale)
        scheduler.start()
        self.stoppers.append(scheduler.stop)

    def _start_sns_listener(self) -> None:
        from local.demo_shop import DemoShop
        from local.sns_listener import SnsListener

        shop = DemoShop(f"http://127.0.0.1:{self.config.api_port}", self.config.shop_key)
        listener = SnsListener(on_event=shop.on_event)
        listener.start()
        self.stoppers.append(listener.stop)

    def _start_paging(self) -> None:
        """CloudWatch's part, which moto does not play: the alarms on paytrack's metrics page
        the paging topic (local/alarms.py)."""
        import boto3

        from chalicelib.platform.settings import get_settings
        from local.alarms import AlarmEvaluator, LocalPaging, load_alarms

        settings = get_settings()
        sns = boto3.client("sns")
        paging = LocalPaging(
            AlarmEvaluator(load_alarms(settings.stage), settings.region),
            lambda subject, message: sns.publish(
                TopicArn=settings.paging_topic_arn,
                Subject=subject[:100],
                Message=json.dumps(message),
            ),
        )
        paging.start()
        self.stoppers.append(paging.stop)

    def _start_simulator(self) -> None:
        """The simulator plays the channels whose keys it holds; the others are real (banner)."""
        from local.simulator import GatewaySimulator

        api_url = f"http://127.0.0.1:{self.config.api_port}"
        self.simulator = GatewaySimulator.from_files(
            api_url, channels_file=self.config.channels_file
        )
        self.simulator.start_server(self.config.sim_port)
        self.stoppers.append(self.simulator.close)

    def _start_demo(self) -> None:
        """Demo traffic on the simulated channels only: a real gateway is never sent fake payments."""
        if self._demo_state() != "on":
            return
        from local.console import DemoReport
        from local.demo import DemoTraffic, ReconciliationShowcase

        api_url, simulator = f"http://127.0.0.1:{self.config.api_port}", self.simulator
        report = DemoReport(self.config.demo_log, self.essentials())
        demo = DemoTraffic(
            api_url, self.config.shop_key, simulator, log=report.log, tally=report.count
        )
        showcase = ReconciliationShowcase(
            api_url,
            self.config.shop_key,
            self.config.admin_key,
            simulator,
            log=report.log,
            tally=report.count,
        )
        for name, target, args in (
            ("demo", demo.run, (self.stop_event, self.config.demo_rate)),
            ("showcase", showcase.run_once, (self.stop_event,)),
            ("demo-summary", self._print_summaries, (report,)),
        ):
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _print_summaries(self, report) -> None:
        period = self.config.demo_summary_s
        while not self.stop_event.wait(period):
            sys.stdout.write(
                report.summary(period) + "\n"
            )  # one write: no log line lands inside it
            sys.stdout.flush()

    def stop(self) -> None:
        """Stop the demo first and wait for it (each step notices the stop within a request's
        time), then every part in reverse order of starting."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=30)
            if thread.is_alive():
                log.warning("%s thread still running after 30 s", thread.name)
        for stopper in reversed(self.stoppers):
            try:
                stopper()
            except Exception:  # stopping must go on through every part
                log.exception("while stopping")

    def _demo_state(self) -> str:
        if not self.config.demo:
            return "off"
        return "on" if self.simulator.channels else "off: no simulated channel"

    def _channel_lines(self) -> list[str]:
        """Which channels the simulator plays, and where each real one calls."""
        from local.sim_channels import SIM_PATHS

        lines = [f"  simulated     {', '.join(self.simulator.channels) or '(none)'}"]
        for channel_id, why in self.simulator.real.items():
            config = self.channels[channel_id]
            url = config.get(SIM_PATHS.get(config.get("type"), ("gateway_url",))[0])
            lines.append(f"  real          {channel_id} → {url} ({why})")
        return lines

    def _demo_line(self) -> str:
        state, c = self._demo_state(), self.config
        if state != "on":
            return state
        return f"on: each order in {c.demo_log}, a summary here every {c.demo_summary_s:.0f} s"

    def essentials(self) -> str:
        """The banner's line an operator looks for again: repeated under every demo summary."""
        c = self.config
        enter = " · Enter: the whole banner" if sys.stdin.isatty() else ""
        return (
            f"  API http://127.0.0.1:{c.api_port} · admin page http://127.0.0.1:{c.api_port}/admin"
            f" · keys {c.keys_file}{enter}"
        )

    def banner(self) -> str:
        c = self.config
        return "\n".join(
            [
                "",
                "paytrack local stack is up (everything in memory: a restart starts empty)",
                f"  API           http://127.0.0.1:{c.api_port}",
                f"  notify        http://127.0.0.1:{c.api_port}/notify/<channel>",
                f"  simulator     http://127.0.0.1:{c.sim_port}/sim/events",
                f"  AWS (moto)    {os.environ['AWS_ENDPOINT_URL']} (every service, DynamoDB passed on)",
                f"  DynamoDB      {os.environ['AWS_ENDPOINT_URL_DYNAMODB']} (its own process: the stack's clients)",
                f"  channels      {c.channels_file}",
                *self._channel_lines(),
                f"  admin key     {c.admin_key}",
                f"  shop key      {c.shop_key}",
                f"  keys file     {c.keys_file} (source it before the next make run to keep these keys)",
                f"  admin page    http://127.0.0.1:{c.api_port}/admin",
                f"  demo traffic  {self._demo_line()}",
                f"  app log       {APP_LOG} (each request, stream record and event; warnings also here)",
                "",
                f"  try: curl -H 'Authorization: Bearer {c.shop_key}' http://127.0.0.1:{c.api_port}/orders/<order_no>",
                "  Ctrl-C stops everything.",
                "",
            ]
        )


def reprint_banner_on_enter(stack: Stack) -> None:
    """At a terminal, Enter prints the whole banner again (nothing to read when stdin is not one)."""
    if not sys.stdin.isatty():
        return

    def listen() -> None:
        for _ in sys.stdin:
            print(stack.banner(), flush=True)

    threading.Thread(target=listen, name="banner-on-enter", daemon=True).start()


def main() -> None:
    configure_logging()
    sys.path.insert(0, str(REPO))
    os.chdir(REPO)
    from chalicelib.platform.observability import logger
    from local import console, heap
    from local.channels_file import InvalidChannelsFile

    console.split_app_logs(logger, APP_LOG, fresh=True)
    stack = Stack(StackConfig())
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    unusable = None
    try:
        stack.start()
        heap.freeze_long_lived_objects()
        print(stack.banner(), flush=True)
        reprint_banner_on_enter(stack)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    except InvalidChannelsFile as error:
        unusable = error
    finally:
        print("stopping paytrack local stack…", flush=True)
        stack.stop()
        print("stopped.", flush=True)
    if unusable:
        sys.exit(f"paytrack: {unusable}")


if __name__ == "__main__":
    main()
