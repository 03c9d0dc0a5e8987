"""Whom to ask about a trade number, and how: each gateway type's `find_trade`, in its own
protocol (alipay_api, wechatpay_api, epay_api, stripe_api). Each returns the verified trade or
None ("no such trade", an answer), and raises `GatewayUnavailable` when it cannot tell."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ..domain.lookup import GatewayTrade
from . import alipay_api, epay_api, stripe_api, wechatpay_api
from ._http import GatewayHttp

FindTrade = Callable[[Mapping[str, Any], str, str, GatewayHttp, datetime], GatewayTrade | None]

FINDERS: dict[str, FindTrade] = {
    "alipay": alipay_api.find_trade,
    "wechatpay": wechatpay_api.find_trade,
    "epay": epay_api.find_trade,
    "stripe": stripe_api.find_trade,
}


def find_trade(
    config: Mapping[str, Any], channel: str, trade_no: str, http: GatewayHttp, now: datetime
) -> GatewayTrade | None:
    return FINDERS[config["type"]](config, channel, trade_no, http, now)
