"""What every call to a gateway's API starts from: the channel's config, its gateway and the
process's one HTTP client (timeouts and retries from the job settings), as one `CallContext`."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from ..gateways._http import GatewayHttp
from ..gateways.base import CallContext, Gateway
from ..gateways.registry import get_gateway
from ..platform.job_settings import get_job_settings
from . import channels


@lru_cache(maxsize=1)
def http() -> GatewayHttp:
    settings = get_job_settings()
    return GatewayHttp(timeout_s=settings.gateway_timeout_s, attempts=settings.gateway_attempts)


def reach(channel: str, now: datetime) -> tuple[CallContext, Gateway]:
    """The context of a call to the channel's gateway, and the gateway; NotFound /
    ChannelMisconfigured otherwise."""
    config = channels.get_channel(channel)
    return CallContext(config, channel, http(), now), get_gateway(config["type"])
