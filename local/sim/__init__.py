"""The gateway simulator's gateway types: one module each (its notifications, its APIs — order
and trade queries, statements, refunds — and its statement files), over the machinery they share
(base.py, and local/sim_model, sim_server, sim_signing, sim_refunds). A new gateway type is one
module here and one line in `GATEWAY_TYPES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..sim_model import TradeBook
from ..sim_refunds import RefundDesk
from ..sim_server import SimServer
from .alipay import AlipaySim
from .base import SimGateway, SimKeys
from .epay import EpaySim
from .stripe import StripeSim
from .wechatpay import WechatPaySim

GATEWAY_TYPES: dict[str, type[SimGateway]] = {
    cls.type_name: cls for cls in (AlipaySim, WechatPaySim, EpaySim, StripeSim)
}


def build_gateway(
    channel: str, config: Mapping[str, Any], keys: SimKeys, options: Mapping[str, Any]
) -> SimGateway:
    try:
        cls = GATEWAY_TYPES[config["type"]]
    except KeyError:
        raise ValueError(f"channel {channel}: unknown type {config.get('type')!r}") from None
    return cls(channel, config, keys, options)


def register_gateway_apis(
    server: SimServer,
    book: TradeBook,
    gateways: Mapping[str, SimGateway],
    keys: SimKeys,
    options: Mapping[str, Any],
    desk: RefundDesk,
) -> None:
    """Every gateway type's API, each serving its own channels (the credentials of a call say
    which one it is for)."""
    for type_name, cls in GATEWAY_TYPES.items():
        mine = [gateway for gateway in gateways.values() if gateway.type_name == type_name]
        cls.register_api(server, book, mine, keys, options, desk)
