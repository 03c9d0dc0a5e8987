"""`make run`'s console, for a person: one human-readable line per log record (time, level,
message, then its fields as key=value) instead of Lambda's JSON, and no HTTP access log.

PAYTRACK_LOG_FORMAT=json keeps the JSON lines (what Lambda writes; the e2e tests read them);
PAYTRACK_ACCESS_LOG=1 brings back one line per HTTP request."""
from __future__ import annotations

import json
import logging
import os
from typing import Any

# what every LogRecord carries (and what Powertools adds) — everything else is a field to show
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message", "asctime", "xray_trace_id", "cold_start", "function_name", "function_memory_size",
    "function_arn", "function_request_id", "sampling_rate", "service", "location", "timestamp"}


def _value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return f'"{text}"' if " " in text else text


class HumanFormatter(logging.Formatter):
    """`08:33:47 WARN  anomaly recorded  anomaly_id=amount_mismatch#2026… rule=amount_mismatch`"""

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: value for key, value in vars(record).items()
                  if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and value is not None}
        level = "WARN" if record.levelname == "WARNING" else record.levelname
        line = f"{self.formatTime(record, '%H:%M:%S')} {level:<5} {record.getMessage()}"
        if fields:
            line += "  " + " ".join(f"{key}={_value(value)}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def human_logs() -> bool:
    return os.environ.get("PAYTRACK_LOG_FORMAT", "human") != "json"


def use_human_logs(powertools_logger) -> None:
    """Give the app's Powertools logger the human formatter (in this process only)."""
    if human_logs():
        powertools_logger.registered_handler.setFormatter(HumanFormatter())


def access_log() -> bool:
    return os.environ.get("PAYTRACK_ACCESS_LOG") == "1"


def quiet_handler(handler_cls):
    """Chalice's request handler without the per-request access line (errors are still logged)."""
    class Quiet(handler_cls):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            return None
    return Quiet
