"""The gateways' "find a trade by its trade number" APIs, as the simulator serves them (paytrack's
GET /admin/lookup asks these): Alipay's `alipay.trade.query` by `trade_no`, WeChat Pay's
`GET /v3/pay/transactions/id/{transaction_id}` and Stripe's `GET /v1/charges/{id}`. Stripe's
PaymentIntent by id and epay's `act=order&trade_no=` are the order queries' own routes
(local/sim_apis.py). Each answers in its API's format, signed and caller-checked the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .sim_model import SimPayment, TradeBook
from .sim_server import SimRequest, SimResponse, SimServer

if TYPE_CHECKING:
    from .sim_apis import StripeApi, WechatApi
    from .sim_gateways import SimGateway


def alipay_queried_trade(
    book: TradeBook, channel: str, biz: Mapping[str, Any]
) -> SimPayment | None:
    """`alipay.trade.query` names the trade by `trade_no` (Alipay's) or by `out_trade_no`; Alipay
    reads `trade_no` first when both are given."""
    if biz.get("trade_no"):
        trade = book.by_trade_no(channel, biz["trade_no"])
        return trade if trade is not None and trade.trade_no == biz["trade_no"] else None
    paid = book.paid(channel, biz.get("out_trade_no", ""))
    return paid[0] if paid else book.closed(channel, biz.get("out_trade_no", ""))


def register_trade_lookups(server: SimServer, wechat: WechatApi, stripe: StripeApi) -> None:
    server.route(
        "/wechat",
        "GET",
        "/v3/pay/transactions/id/{transaction_id}",
        wechat._authenticated(
            lambda gateway, request: _wechat_transaction(wechat, gateway, request)
        ),
    )
    server.route(
        "/stripe",
        "GET",
        "/v1/charges/{charge}",
        stripe._authenticated(lambda gateway, request: _stripe_charge(stripe, gateway, request)),
    )


def _wechat_transaction(api: WechatApi, gateway: SimGateway, request: SimRequest) -> SimResponse:
    if request.arg("mchid") != gateway.config["mchid"]:
        return api._answer(gateway, 400, {"code": "PARAM_ERROR", "message": "mchid 与请求方不一致"})
    transaction_id = request.params["transaction_id"]
    trade = api.book.by_trade_no(gateway.channel, transaction_id)
    if trade is None or trade.trade_no != transaction_id or not trade.paid_at:
        return api._answer(gateway, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
    return api._answer(gateway, 200, api._transaction(gateway, trade))


def _stripe_charge(api: StripeApi, gateway: SimGateway, request: SimRequest) -> SimResponse:
    charge_id = request.params["charge"]
    trade = api.book.by_trade_no(gateway.channel, charge_id)
    if trade is None or trade.refs.get("charge") != charge_id or not trade.paid_at:
        return SimResponse.json(
            {
                "error": {
                    "code": "resource_missing",
                    "type": "invalid_request_error",
                    "message": "No such charge",
                }
            },
            404,
        )
    charge = api._intent_object(trade, expand_charge=True)["latest_charge"]
    return SimResponse.json(
        {**charge, "currency": trade.currency.lower(), "status": "succeeded", "paid": True}
    )
