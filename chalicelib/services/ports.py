"""The ports the services reach the world through: each a small Protocol. The real
implementation of each lives beside the service that uses it, naming its resource (so the IAM
scan, infra/iam.py, still reads each function's calls and resources from the code), and is what
every Lambda handler uses. A test sets in-memory fakes for a block instead (`with ports.use(
clock=…, shop_events=…): …`; tests/support/clock.py, tests/support/fakes.py); nothing else does.

| port | protocol | real | service |
|---|---|---|---|
| clock | domain/clock.Clock | the system clock | every service |
| shop_events | Publisher | the events topic (SNS) | events |
| paging | Publisher | the paging topic (SNS) | digest |
| export_files | ExportFiles | the bucket: multipart uploads, presigned links (S3) | exports |
| channels_secret | Secret | the channels secret (Secrets Manager) | channels |
| verification_secret | Secret | the verification secret (Secrets Manager) | reply_tokens |
| claims | Claims | the claims table (store/claims.py, DynamoDB) | events |

The other repositories stay modules of store/, proven on moto.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from ..domain.clock import SYSTEM_CLOCK, Clock


class Publisher(Protocol):
    """Messages onto one topic: the body as text, string attributes subscribers filter on."""

    def send(
        self, message: str, attributes: Mapping[str, str], subject: str | None = None
    ) -> None: ...


class ExportSink(Protocol):
    """One export file being written: parts in order, then closed (kept) or aborted (gone)."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class ExportUploads(Protocol):
    """Where export files are written."""

    def open(self, key: str, content_type: str) -> ExportSink: ...


class ExportLinks(Protocol):
    """The links their requesters fetch export files by."""

    def link(self, key: str, expires_s: int) -> str: ...


class ExportFiles(ExportUploads, ExportLinks, Protocol):
    """Both: what a fake of the `export_files` port is."""


class Secret(Protocol):
    """One secret's text."""

    def text(self) -> str: ...


class Claims(Protocol):
    """What has been done once for an order."""

    def is_claimed(self, order_no: str, key: str) -> bool: ...
    def claim(self, order_no: str, key: str) -> bool: ...


PORTS = frozenset(
    {
        "clock",
        "shop_events",
        "paging",
        "export_files",
        "channels_secret",
        "verification_secret",
        "claims",
    }
)
_set: dict[str, Any] = {}  # a test's own ports, by name

P = TypeVar("P")


def port(name: str, real: P) -> P:
    """The port `name`: a test's own while one is set, else the `real` one."""
    found: P = _set.get(name, real)
    return found


def clock() -> Clock:
    """The clock services read the time from."""
    return port("clock", SYSTEM_CLOCK)


@contextmanager
def use(**ports: Any) -> Iterator[None]:
    """The given ports (by name, PORTS) instead of the real ones for the block; the ports set
    before it are restored after it."""
    unknown = set(ports) - PORTS
    if unknown:
        raise TypeError(f"no port {', '.join(sorted(unknown))}")
    saved = dict(_set)
    _set.update(ports)
    try:
        yield
    finally:
        _set.clear()
        _set.update(saved)
