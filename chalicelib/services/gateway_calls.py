"""What every call to a gateway's API starts from: the channel's config, its gateway module and
the process's one HTTP client (timeouts and retries from the job settings)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..gateways._http import GatewayHttp
from ..gateways.base import Gateway
from ..gateways.registry import get_gateway
from ..platform.job_settings import get_job_settings
from . import channels


@lru_cache(maxsize=1)
def http() -> GatewayHttp:
    settings = get_job_settings()
    return GatewayHttp(timeout_s=settings.gateway_timeout_s, attempts=settings.gateway_attempts)


def channel_gateway(channel: str) -> tuple[dict[str, Any], Gateway]:
    """The channel's credentials and its gateway; NotFound / ChannelMisconfigured otherwise."""
    config = channels.get_channel(channel)
    return config, get_gateway(config["type"])
