"""`make run`'s console, for a person: one human-readable line per log record (time, level,
message, then its fields as key=value) instead of Lambda's JSON, and no HTTP access log.

PAYTRACK_LOG_FORMAT=json keeps the JSON lines (what Lambda writes; the e2e tests read them);
PAYTRACK_ACCESS_LOG=1 brings back one line per HTTP request. What happens per order goes to files,
so the banner stays findable: the app's log lines (each request, stream record, scheduled run and
shop event) to the app log ($PAYTRACK_APP_LOG, out/app.log) with only warnings and errors also on
the console (`split_app_logs`); demo traffic's per-order lines to its own file and a summary a
period on the console (DemoReport)."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

_Handler = TypeVar("_Handler", bound=BaseHTTPRequestHandler)

# what every LogRecord carries (and what Powertools adds) — everything else is a field to show
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "xray_trace_id",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "sampling_rate",
    "service",
    "location",
    "timestamp",
}


_CONTEXT_SHOWN = ("order_no", "dedupe_key")


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return f'"{text}"' if " " in text else text


class HumanFormatter(LambdaPowertoolsFormatter):
    """`08:33:47 WARN  anomaly recorded  anomaly_id=amount_mismatch#2026… rule=amount_mismatch`

    A Powertools formatter underneath, so the logger's key API works on it (every invocation
    correlates its lines: chalicelib/platform/observability.py); of those keys the console shows
    the ones a person follows (`order_no`, `dedupe_key`), not the ids."""

    def format(self, record: logging.LogRecord) -> str:
        context = self.thread_safe_get_current_keys()
        fields = {key: context[key] for key in _CONTEXT_SHOWN if context.get(key) is not None}
        fields.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and value is not None
        )
        level = "WARN" if record.levelname == "WARNING" else record.levelname
        time_of_day = logging.Formatter.formatTime(self, record, "%H:%M:%S")
        line = f"{time_of_day} {level:<5} {record.getMessage()}"
        if fields:
            line += "  " + " ".join(f"{key}={_value(value)}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + logging.Formatter.formatException(self, record.exc_info)
        return line


def human_logs() -> bool:
    return os.environ.get("PAYTRACK_LOG_FORMAT", "human") != "json"


def use_human_logs(powertools_logger) -> None:
    """Give the app's Powertools logger the human formatter (in this process only)."""
    if human_logs():
        powertools_logger.registered_handler.setFormatter(HumanFormatter())


#: the stack's own INFO lines that stay on the console: its parts starting and stopping, paging
CONSOLE_LOGGERS = frozenset({"paytrack.local", "paytrack.local.alarms"})


class _ConsoleLines(logging.Filter):
    """Warnings and errors, and the stack's own lines: what a person watching the console needs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name in CONSOLE_LOGGERS


def split_app_logs(powertools_logger, path: Path, *, fresh: bool) -> None:
    """Every line of the app's logger (and the local parts logging under it, `paytrack.local.*`)
    into `path`, in the console's format; on the console only `_ConsoleLines`. `fresh` starts the
    file empty (the stack; its pump process appends to the same file)."""
    use_human_logs(powertools_logger)
    console = powertools_logger.registered_handler
    path.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(path, mode="w" if fresh else "a", encoding="utf-8")
    to_file.setFormatter(console.formatter)
    console.addFilter(_ConsoleLines())
    logging.getLogger(powertools_logger.service).addHandler(to_file)


def access_log() -> bool:
    return os.environ.get("PAYTRACK_ACCESS_LOG") == "1"


def quiet_handler(handler_cls: type[_Handler]) -> type[_Handler]:
    """Chalice's request handler without the per-request access line (errors are still logged)."""

    class Quiet(handler_cls):  # type: ignore[valid-type,misc]  # mypy cannot take a base passed in
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            return None

    return Quiet


class DemoReport:
    """Where demo traffic reports, so the banner is not scrolled away: each of its per-order lines
    goes to a file, and the console gets one summary line per period (what happened since the
    last one), each followed by the banner's essentials (API, admin page, keys file)."""

    #: what the demo counts, in the order the summary names them
    KINDS = ("paid", "delivered", "held", "failed")

    def __init__(
        self, log_path: Path, essentials: str, *, clock: Callable[[], datetime] = datetime.now
    ):
        self.log_path = log_path
        self.essentials = essentials
        self._clock = clock
        self._counts = dict.fromkeys(self.KINDS, 0)
        self._lock = threading.Lock()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("", encoding="utf-8")

    def log(self, line: str) -> None:
        """One demo line, time-stamped, into the demo's log file."""
        with self._lock, self.log_path.open("a", encoding="utf-8") as handle:
            handle.write(f"{self._clock():%H:%M:%S} {line}\n")

    def count(self, kind: str) -> None:
        if kind not in self._counts:
            raise ValueError(f"unknown demo outcome {kind!r}; one of {', '.join(self.KINDS)}")
        with self._lock:
            self._counts[kind] += 1

    def summary(self, period_s: float) -> str:
        """The summary of the period now ending and the essentials; the counts start again."""
        with self._lock:
            counts, self._counts = self._counts, dict.fromkeys(self.KINDS, 0)
        figures = " · ".join(f"{counts[kind]} {kind}" for kind in self.KINDS)
        return (
            f"{self._clock():%H:%M:%S} demo, last {period_s:.0f} s: {figures}  "
            f"(each order: {self.log_path})\n{self.essentials}"
        )
