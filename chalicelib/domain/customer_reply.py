"""The sentence an operator can send the buyer (seed: 用户沟通 — 正确示范): when they paid, how
(`paid_with`: the payment method's name, from the gateway registry), the order number, the
amount, and what happened to delivery, in the shop's time zone."""

from __future__ import annotations

from datetime import datetime, tzinfo

from .money import Money
from .order import DeliveryStatus, Order, PayStatus


def amount_words(money: Money) -> str:
    """One format for every amount, with its minor digits: 58.00元, 58.50元; other currencies
    keep their code: 19.99 USD."""
    if money.currency != "CNY":
        return f"{money.format()} {money.currency}"
    return f"{money.format()}元"


def when_words(moment: datetime, now: datetime, zone: tzinfo) -> str:
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"今天{clock}"
    if (today - local.date()).days == 1:
        return f"昨天{clock}"
    return f"{local.month}月{local.day}日{clock}"


def customer_reply(order: Order, now: datetime, zone: tzinfo, paid_with: str) -> str:
    amount = amount_words(order.paid_amount or order.amount)
    number = f"（编号{order.order_no}）"
    if order.pay_status in (PayStatus.PENDING, PayStatus.EXPIRED, PayStatus.CLOSED):
        state = "已过期" if order.pay_status is PayStatus.EXPIRED else "尚未完成付款"
        return (
            f"您好，我们暂未收到订单{number}的付款记录，订单{state}，金额为{amount}。"
            "如您已经付款，请提供支付截图和支付平台的交易单号，我们会立即为您核实。"
        )
    if order.paid_amount is not None and order.paid_amount != order.amount:
        amount += f"（订单金额为{amount_words(order.amount)}）"
    paid = f"您好，我们看到您在{when_words(order.paid_at or now, now, zone)}通过{paid_with}支付的订单{number}已经成功，金额为{amount}，"
    if order.pay_status in (PayStatus.REFUNDED, PayStatus.PARTIALLY_REFUNDED):
        refunded = amount_words(order.refunded_amount) if order.refunded_amount else amount
        when = when_words(order.refunded_at, now, zone) if order.refunded_at else ""
        return paid + f"其中{refunded}已于{when}原路退回，到账时间以支付平台为准。"
    return paid + _delivery_words(order, now, zone)


def _delivery_words(order: Order, now: datetime, zone: tzinfo) -> str:
    if order.delivery_status is DeliveryStatus.DELIVERED and order.delivered_at:
        return (
            f"系统已于{when_words(order.delivered_at, now, zone)}自动发货，"
            "请您检查邮箱收件箱和垃圾箱。"
        )
    if order.delivery_status is DeliveryStatus.HELD:
        return "订单正在进行安全核对，暂未发货，核对完成后会尽快为您发货，请您耐心等待。"
    if order.delivery_status is DeliveryStatus.FAILED:
        return "发货时遇到问题，暂未发货成功，我们正在处理，会尽快为您补发。"
    return "系统正在为您发货，请稍候查收邮箱。"
