"""One gateway instance per channel type: the channels file's `type` picks it."""

from __future__ import annotations

from ..domain.errors import ChannelMisconfigured
from .alipay import AlipayGateway
from .base import Gateway
from .epay import EpayGateway
from .stripe_gateway import StripeGateway
from .wechatpay import WechatPayGateway

GATEWAYS: dict[str, Gateway] = {
    gateway.type_name: gateway
    for gateway in (AlipayGateway(), WechatPayGateway(), EpayGateway(), StripeGateway())
}


def get_gateway(type_name: str) -> Gateway:
    """The gateway for a channel type; an unknown type is a channel configuration error."""
    gateway = GATEWAYS.get(type_name) if isinstance(type_name, str) else None
    if gateway is None:
        raise ChannelMisconfigured(
            f"unknown gateway type {type_name!r}; known: {', '.join(sorted(GATEWAYS))}"
        )
    return gateway
