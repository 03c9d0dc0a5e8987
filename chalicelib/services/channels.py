"""Channel credentials: one Secrets Manager secret per stage holding the channels JSON (API.md).

Read once and cached for `channel_cache_seconds`, so a notification costs no secret lookup.
Never logged: callers get the dict, and errors name the channel id only.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any

from ..domain.errors import NotFound
from ..platform.aws import client
from ..platform.settings import get_settings

_lock = threading.Lock()
_cache: dict[str, Any] = {"at": 0.0, "channels": None}

GATEWAY_TYPES = ("alipay", "wechatpay", "epay", "stripe")


def _load() -> dict[str, dict[str, Any]]:
    secret = client("secretsmanager").get_secret_value(SecretId=get_settings().channels_secret_id)
    channels = json.loads(secret["SecretString"])
    return {cid: cfg for cid, cfg in channels.items() if cfg.get("type") in GATEWAY_TYPES}


def all_channels() -> dict[str, dict[str, Any]]:
    with _lock:
        fresh = time.monotonic() - _cache["at"] < get_settings().channel_cache_seconds
        if _cache["channels"] is None or not fresh:
            _cache["channels"] = _load()
            _cache["at"] = time.monotonic()
        return _cache["channels"]


def get_channel(channel_id: str) -> dict[str, Any]:
    config = all_channels().get(channel_id)
    if config is None:
        raise NotFound(f"unknown channel {channel_id!r}", {"channel": channel_id})
    return config


def forget() -> None:
    with _lock:
        _cache["channels"] = None
