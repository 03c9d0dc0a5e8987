"""The one list of gateway types: the channels file's `type` picks one. Everything else that
depends on the type — the channel checks, whom to ask about a trade number, the display names of
the types and of their payment methods — is read from the gateway classes listed here."""

from __future__ import annotations

from ..domain.errors import ChannelMisconfigured
from ..domain.labels import Label
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


def gateway_types_for(trade_no: str) -> list[str]:
    """The gateway types whose trade numbers look like `trade_no` (digits may match several)."""
    return [name for name, g in GATEWAYS.items() if g.trade_no_format.fullmatch(trade_no)]


def payment_methods() -> dict[str, Label]:
    """Every payment method a gateway names, with its display name (the first gateway's)."""
    methods: dict[str, Label] = {}
    for gateway in GATEWAYS.values():
        for method, label in gateway.methods:
            methods.setdefault(method, label)
    return methods


def buyer_payment_name(method: str | None, gateway: str | None) -> str:
    """How a reply to the buyer names the way they paid: the method's name, else the gateway's
    word for it, else 在线支付."""
    label = payment_methods().get(method or "")
    if label is not None:
        return label.zh
    known = GATEWAYS.get(gateway or "")
    return known.buyer_name if known is not None else "在线支付"
