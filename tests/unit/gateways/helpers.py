"""Plain helpers the gateway tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.gateways.base import Headers, InboundRequest

#: the vectors' notification time (2024-01-01 12:00:06 Beijing)
VECTOR_TS = 1704081606
VECTOR_NOW = datetime.fromtimestamp(VECTOR_TS, UTC)


def vectors_dir() -> Path:
    """The gateway vectors committed under tests/fixtures (made with each gateway's own SDK)."""
    return Path(__file__).resolve().parents[2] / "fixtures" / "vectors"


def read_vector(name: str) -> Any:
    return json.loads((vectors_dir() / name).read_text(encoding="utf-8"))


def read_pem(name: str) -> str:
    return (vectors_dir() / name).read_text(encoding="ascii")


def inbound(
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
    query: Mapping[str, str] | None = None,
    raw_query_string: str | None = None,
) -> InboundRequest:
    return InboundRequest(
        method=method,
        headers=Headers(headers),
        body=body,
        query=query or {},
        raw_query_string=raw_query_string,
    )


def _other(char: str) -> str:
    """Another character of the same class (digit, lower, upper), so encodings stay valid."""
    for alphabet in ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
        if char in alphabet:
            return alphabet[(alphabet.index(char) + 1) % len(alphabet)]
    raise ValueError(char)


def char_tampers(text: str) -> Iterator[tuple[int, str]]:
    """Each variant of `text` with one ASCII letter or digit changed.

    Hex digits inside %XX escapes are skipped: `%3a` and `%3A` decode to the same byte, so
    changing their case would not change what was sent.
    """
    for i, char in enumerate(text):
        in_escape = "%" in text[max(0, i - 2) : i]
        if char.isascii() and char.isalnum() and not in_escape:
            yield i, text[:i] + _other(char) + text[i + 1 :]


def byte_tampers(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Each variant of `data` with one byte's lowest bit flipped."""
    for i in range(len(data)):
        yield i, data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
