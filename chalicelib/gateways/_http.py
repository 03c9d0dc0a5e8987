"""Calls to the gateways' APIs: timeouts, bounded retries, and failures that never leak a secret.
Each attempt is an X-Ray subsegment `gateway <what>` on Lambda (platform/tracing.py).

A gateway that cannot be reached, times out or answers 5xx raises `GatewayUnavailable`: the
caller reports it and never reads it as "unpaid". Its message names what was asked and what went
wrong, never the URL — epay sends the merchant key in the query string. For the same reason
urllib3's own log lines are passed through a filter that masks `key=` values.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from ..domain.errors import GatewayUnavailable, InvalidMoney, NotificationRejected
from ..platform.tracing import traced

_SECRET_IN_URL = re.compile(r"(?i)((?:^|[?&])(?:key|sign)=)[^&\s\"']*")
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def redact_url(text: str) -> str:
    """`…?act=order&pid=1&key=abc` → `…?act=order&pid=1&key=***` (also `sign=`)."""
    return _SECRET_IN_URL.sub(r"\1***", text)


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_url(record.getMessage())
        record.args = ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactSecrets())


@dataclass
class GatewayHttp:
    """One HTTP client for every gateway call of a process (connection reuse across calls)."""

    timeout_s: float = 10.0
    attempts: int = 3
    backoff_s: float = 0.5
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep

    def call(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        """The response of the first attempt that is not a 5xx/429 or a transport error.

        4xx answers come back to the caller: for gateways they carry meaning (WeChat's 404
        ORDER_NOT_EXIST is "not paid yet")."""
        problem = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with traced(f"gateway {what}", attempt=attempt + 1):
                    response = self.session.request(
                        method,
                        url,
                        timeout=(min(3.05, self.timeout_s), self.timeout_s),
                        allow_redirects=False,
                        **kwargs,
                    )
            except requests.RequestException as error:
                problem = type(error).__name__
                continue
            if response.status_code not in _RETRY_STATUS:
                return response
            problem = f"HTTP {response.status_code}"
        raise GatewayUnavailable(
            f"{what}: {problem} after {self.attempts} attempts",
            {"what": what, "problem": problem, "attempts": self.attempts},
        )


def invalid_answer(what: str, why: str) -> GatewayUnavailable:
    """The gateway answered, but not in a way we can trust or read: reported, never 'unpaid'."""
    return GatewayUnavailable(f"{what}: {why}", {"what": what, "problem": why})


@contextmanager
def readable(what: str) -> Iterator[None]:
    """Inside: a gateway answer that lacks a field or holds garbage becomes `GatewayUnavailable`."""
    try:
        yield
    except (InvalidMoney, NotificationRejected) as error:
        raise invalid_answer(what, error.message) from None
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise invalid_answer(what, f"unreadable answer ({type(error).__name__}: {error})") from None
