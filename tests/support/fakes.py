"""In-memory fakes of the services' ports (services/ports.py), for service tests that run in
milliseconds without moto. Each keeps what it was given so a test asserts on it; `failing`
makes the next call refuse, as the AWS service would."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chalicelib.services import ports


class Refused(RuntimeError):
    """What a fake raises when told to fail: the AWS service refused."""


@dataclass
class Sent:
    message: dict[str, Any]
    attributes: dict[str, str]
    subject: str | None


@dataclass
class FakeTopic:
    """A topic (ports.Publisher): every message sent, parsed."""

    sent: list[Sent] = field(default_factory=list)
    failures: int = 0  # the next N sends are refused

    def send(self, message: str, attributes: Mapping[str, str], subject: str | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise Refused("the topic refused the message")
        self.sent.append(Sent(json.loads(message), dict(attributes), subject))


@dataclass
class _Upload:
    files: MemoryFiles
    key: str
    content_type: str
    parts: list[bytes] = field(default_factory=list)

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.files.objects[self.key] = (self.content_type, b"".join(self.parts))

    def abort(self) -> None:
        self.files.aborted.append(self.key)


@dataclass
class MemoryFiles:
    """A bucket (ports.ExportFiles): files by key, with their content type."""

    objects: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    aborted: list[str] = field(default_factory=list)

    def open(self, key: str, content_type: str) -> _Upload:
        return _Upload(self, key, content_type)

    def link(self, key: str, expires_s: int) -> str:
        return f"memory://{key}?expires={expires_s}"


@dataclass
class FakeSecret:
    """A secret (ports.Secret) holding `value`."""

    value: str

    def text(self) -> str:
        return self.value


@dataclass
class MemoryClaims:
    """The claims (ports.Claims): keys by order; a key is claimed once."""

    keys: dict[str, set[str]] = field(default_factory=dict)
    failures: int = 0  # the next N claims are refused

    def is_claimed(self, order_no: str, key: str) -> bool:
        return key in self.keys.get(order_no, set())

    def claim(self, order_no: str, key: str) -> bool:
        if self.failures:
            self.failures -= 1
            raise Refused("the claim write was refused")
        taken = self.keys.setdefault(order_no, set())
        if key in taken:
            return False
        taken.add(key)
        return True


@contextmanager
def wired(**fakes: Any) -> Iterator[None]:
    """The fakes as the services' ports for the block (by port name)."""
    with ports.use(**fakes):
        yield
