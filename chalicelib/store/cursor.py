"""The cursor a paged listing gives out: where its Query resumes (DynamoDB's LastEvaluatedKey),
the index that key belongs to and, for a listing that walks partitions, the partition it is in
(a UTC day), as URL-safe base64 of compact JSON: `{"i": index, "d": day, "k": key}`.

A cursor comes back from the client, so it is untrusted input: bounded in size, parsed with the
bounded JSON reader, and accepted only when it names the listing's index and its key has exactly
that index's key attributes, each a string. Anything else is `InvalidCursor` (400), never a
Query with a key the client made up.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..domain.errors import ValidationFailed
from ..domain.params import parse_json

MAX_CURSOR = 2048  # ours are a few hundred characters

Key = dict[str, dict[str, str]]


class InvalidCursor(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            "cursor: not a cursor this listing issued (or for other filters)", {"field": "cursor"}
        )


def encode(index: str, key: Key | None, day: str | None = None) -> str:
    raw = json.dumps({"i": index, "d": day, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, index: str, key_names: frozenset[str]) -> tuple[str | None, Key | None]:
    """The (day, key) a cursor of `index` carries; InvalidCursor for anything else."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        data: Any = parse_json(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), "cursor"
        )
    except (binascii.Error, ValueError, ValidationFailed):
        raise InvalidCursor() from None
    if not isinstance(data, dict) or data.get("i") != index:
        raise InvalidCursor()
    day, key = data.get("d"), data.get("k")
    if day is not None and not isinstance(day, str):
        raise InvalidCursor()
    if key is not None and not (
        isinstance(key, dict)
        and set(key) == key_names
        and all(
            isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
            for v in key.values()
        )
    ):
        raise InvalidCursor()
    return day, key
