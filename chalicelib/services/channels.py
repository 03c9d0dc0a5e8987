"""Channel credentials: one Secrets Manager secret per stage holding the channels JSON (API.md).

Read once and cached for `channel_cache_seconds`, so a notification costs no secret lookup.
Every channel is validated when the secret is read (services/channel_config.py): an invalid one is
logged with its problems and, when asked for, raises `ChannelMisconfigured` (never "unknown
channel"), so its notifications get a failure answer the gateway retries until it is fixed.
Never logged: callers get the dict, and errors name the channel id and fields only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..domain.errors import ChannelMisconfigured, NotFound
from ..platform.aws import client
from ..platform.observability import logger
from ..platform.settings import get_settings
from . import channel_config, ports
from .channel_config import validate_channel, validate_channels_document

_lock = threading.Lock()


@dataclass(frozen=True)
class _Loaded:
    valid: dict[str, dict[str, Any]]
    broken: dict[str, list[str]] = field(default_factory=dict)  # channel id -> its problems
    types: dict[str, str] = field(default_factory=dict)  # of broken channels, when named
    document_problems: list[str] = field(default_factory=list)  # the whole secret is unusable


_cache: dict[str, Any] = {"at": 0.0, "loaded": None}


def _http_allowed() -> bool:
    """Plain http to loopback (the local simulator) only off AWS: in a Lambda every gateway URL
    must be https."""
    return "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


class _ChannelsSecret:
    """The channels secret (Secrets Manager): the real `channels_secret` port."""

    def text(self) -> str:
        value: str = client("secretsmanager").get_secret_value(
            SecretId=get_settings().channels_secret_id
        )["SecretString"]
        return value


_CHANNELS_SECRET = _ChannelsSecret()


def _load() -> _Loaded:
    secret = ports.port("channels_secret", _CHANNELS_SECRET).text()
    try:
        document = json.loads(secret)
    except json.JSONDecodeError as error:
        return _unusable([f"the channels secret is not JSON: {error.msg} at line {error.lineno}"])
    if not isinstance(document, dict) or not document:
        return _unusable(validate_channels_document(document))
    loaded = _Loaded({})
    for channel_id, config in document.items():
        problems = validate_channel(channel_id, config, allow_http=_http_allowed())
        if not problems:
            loaded.valid[channel_id] = config
            continue
        loaded.broken[channel_id] = problems
        if isinstance(config, dict) and isinstance(config.get("type"), str):
            loaded.types[channel_id] = config["type"]
        logger.error("channel misconfigured", extra={"channel": channel_id, "problems": problems})
    return loaded


def _unusable(problems: list[str]) -> _Loaded:
    logger.error("channels secret unusable", extra={"problems": problems})
    return _Loaded({}, document_problems=problems)


def _loaded() -> _Loaded:
    with _lock:
        fresh = time.monotonic() - _cache["at"] < get_settings().channel_cache_seconds
        if _cache["loaded"] is None or not fresh:
            _cache["loaded"] = _load()
            _cache["at"] = time.monotonic()
        return _cache["loaded"]


def all_channels() -> dict[str, dict[str, Any]]:
    """The channels fit to use (misconfigured ones are left out)."""
    return _loaded().valid


def get_channel(channel_id: str) -> dict[str, Any]:
    loaded = _loaded()
    config = loaded.valid.get(channel_id)
    if config is not None:
        return config
    problems = loaded.broken.get(channel_id) or loaded.document_problems
    if problems:
        raise ChannelMisconfigured(
            "; ".join(problems) + ". Fix the channels secret.",
            {"channel": channel_id, "type": loaded.types.get(channel_id), "problems": problems},
        )
    raise NotFound(f"unknown channel {channel_id!r}", {"channel": channel_id})


def fee_rate_of(channel_id: str) -> Decimal | None:
    """The channel's contracted fee rate; None when it states none or is not a usable channel
    (an order of a channel since removed still shows, without an estimate)."""
    config = _loaded().valid.get(channel_id)
    return channel_config.fee_rate(config) if config is not None else None


def forget() -> None:
    with _lock:
        _cache["loaded"] = None
