"""The cursor a paged listing gives out: where its Query resumes (DynamoDB's LastEvaluatedKey),
the index that key belongs to and, for a listing that walks partitions, the partition it is in
(a UTC day), in the one cursor codec (domain/params.py): `{"i": index, "d": day, "k": key}`.

A cursor comes back from the client, so it is untrusted input: bounded in size, parsed with the
bounded JSON reader, and accepted only when it names the listing's index and its key has exactly
that index's key attributes, each a string. Anything else is `InvalidCursor` (400), never a
Query with a key the client made up.
"""

from __future__ import annotations

from typing import Any

from ..domain.errors import ValidationFailed
from ..domain.params import decode_cursor, encode_cursor

Key = dict[str, dict[str, str]]


class InvalidCursor(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            "cursor: not a cursor this listing issued (or for other filters)", {"field": "cursor"}
        )


def encode(index: str, key: Key | None, day: str | None = None) -> str:
    return encode_cursor({"i": index, "d": day, "k": key})


def decode(cursor: str, index: str, key_names: frozenset[str]) -> tuple[str | None, Key | None]:
    """The (day, key) a cursor of `index` carries; InvalidCursor for anything else."""
    try:
        data: Any = decode_cursor(cursor)
    except ValueError:
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
