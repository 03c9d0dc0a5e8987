"""`make run`'s console lines: human-readable by default, the fields as key=value."""

import io
import logging
from types import SimpleNamespace

from local.console import HumanFormatter, quiet_handler


def test_a_log_record_reads_as_one_line_with_its_fields():
    record = logging.makeLogRecord(
        {
            "msg": "anomaly recorded",
            "levelname": "WARNING",
            "created": 0,
            "anomaly_id": "amount_mismatch#O1",
            "hold": True,
            "why": "two words",
            "order_no": None,
        }
    )
    line = HumanFormatter().format(record)
    assert line.endswith(
        'WARN  anomaly recorded  anomaly_id=amount_mismatch#O1 hold=true why="two words"'
    )


def test_the_human_console_takes_each_invocations_keys(monkeypatch):
    """On `make run` the app's logger writes through this formatter: the middleware's
    correlation keys must work on it, and the order a line is about is shown."""
    from chalicelib.platform import observability

    handler = observability.logger.registered_handler
    written = io.StringIO()
    monkeypatch.setattr(handler, "formatter", HumanFormatter())
    monkeypatch.setattr(handler, "stream", written)
    event = SimpleNamespace(context=SimpleNamespace(aws_request_id="r-1", function_name="f"))

    def handle(_event):
        with observability.correlated("O-1", order_no="O-1"):
            observability.logger.info("order seen")
        return "done"

    assert observability.observe_invocation(event, handle) == "done"
    lines = written.getvalue().splitlines()
    assert any(line.endswith("INFO  order seen  order_no=O-1") for line in lines), lines


def test_the_quiet_handler_drops_only_the_access_line():
    class Handler:
        def __init__(self):
            self.lines = []

        def log_request(self, code="-", size="-"):
            self.lines.append("access")

    handler = quiet_handler(Handler)()
    handler.log_request(200)
    assert handler.lines == []


def test_the_app_log_takes_every_line_and_the_console_keeps_warnings_and_the_stacks_own(
    tmp_path, monkeypatch
):
    import io

    from aws_lambda_powertools import Logger

    from local import console

    monkeypatch.setenv("PAYTRACK_LOG_FORMAT", "human")
    screen = io.StringIO()
    app = Logger(service="paytrack-split-test", logger_handler=logging.StreamHandler(screen))
    monkeypatch.setattr(console, "CONSOLE_LOGGERS", frozenset({"paytrack-split-test.local"}))
    path = tmp_path / "out" / "app.log"
    path.parent.mkdir()
    path.write_text("from the last run\n", encoding="utf-8")
    console.split_app_logs(app, path, fresh=True)
    app.info("order.paid published", extra={"order_no": "O1"})
    logging.getLogger("paytrack-split-test.local.sns").info("event order.ready O1")
    logging.getLogger("paytrack-split-test.local.sns").warning("PAGE ALARM critical")
    logging.getLogger("paytrack-split-test.local").info("embedded AWS (moto) on …")
    app.warning("anomaly recorded")
    on_screen = screen.getvalue().splitlines()
    in_file = path.read_text(encoding="utf-8").splitlines()
    assert [line[9:] for line in on_screen] == [
        "WARN  PAGE ALARM critical",
        "INFO  embedded AWS (moto) on …",
        "WARN  anomaly recorded",
    ]
    assert [line[9:] for line in in_file] == [
        "INFO  order.paid published  order_no=O1",
        "INFO  event order.ready O1",
        *(line[9:] for line in on_screen),
    ]
