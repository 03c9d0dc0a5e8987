"""The channels file (PAYTRACK_CHANNELS_FILE) checked before the local stack starts anything.

Kept apart from bootstrap: it imports no store module, whose models read the settings at import,
before the stack has pointed them at the embedded AWS.
"""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.services.channel_config import validate_channels_document


class InvalidChannelsFile(ValueError):
    """The channels file cannot be used: the stack stops before starting anything."""


def load_checked_channels(channels_file: Path) -> dict:
    """The channels file, validated as the deployed stage validates its secret, except that plain
    http to this machine (the simulator) is allowed. Every problem is listed at once."""
    try:
        document = json.loads(Path(channels_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidChannelsFile(
            f"cannot read the channels file {channels_file}: {error}"
        ) from None
    problems = validate_channels_document(document, allow_http=True)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise InvalidChannelsFile(f"the channels file {channels_file} is not usable:\n{listed}")
    return document
