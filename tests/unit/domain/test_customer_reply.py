from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.customer_reply import amount_words, customer_reply
from chalicelib.domain.money import Money
from chalicelib.domain.order import DeliveryStatus, Order, PayStatus
from chalicelib.gateways.registry import buyer_payment_name

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai


def order(**fields) -> Order:
    base = {
        "order_no": "20261125142300123456",
        "amount": Money(5800),
        "channel": "alipay-main",
        "gateway": "alipay",
        "product_id": "p",
        "product_name": "VIP",
        "quantity": 1,
        "created_at": NOW,
        "expires_at": NOW,
    }
    base.update(fields)
    return Order(**base)


def test_the_seed_example_sentence():
    paid_at = datetime(2026, 11, 25, 6, 23, tzinfo=UTC)
    text = customer_reply(
        order(
            pay_status=PayStatus.PAID,
            paid_at=paid_at,
            method="alipay",
            delivery_status=DeliveryStatus.DELIVERED,
            delivered_at=paid_at + timedelta(minutes=2),
        ),
        NOW,
        SHANGHAI,
        "支付宝",
    )
    assert text == (
        "您好，我们看到您在今天14:23通过支付宝支付的订单（编号20261125142300123456）已经成功，"
        "金额为58.00元，系统已于今天14:25自动发货，请您检查邮箱收件箱和垃圾箱。"
    )


def test_yesterday_held_and_wechat():
    paid_at = datetime(2026, 11, 24, 1, 5, tzinfo=UTC)
    text = customer_reply(
        order(
            pay_status=PayStatus.PAID,
            paid_at=paid_at,
            method="wechat",
            delivery_status=DeliveryStatus.HELD,
        ),
        NOW,
        SHANGHAI,
        "微信支付",
    )
    assert "昨天09:05通过微信支付" in text and "安全核对，暂未发货" in text


def test_unpaid_asks_for_proof():
    text = customer_reply(order(), NOW, SHANGHAI, "支付宝")
    assert "暂未收到" in text and "交易单号" in text and "58.00元" in text


def test_a_short_payment_says_both_amounts_and_that_nothing_was_delivered():
    text = customer_reply(
        order(
            pay_status=PayStatus.PAID,
            paid_at=NOW,
            paid_amount=Money(580),
            method="alipay",
            delivery_status=DeliveryStatus.HELD,
        ),
        NOW,
        SHANGHAI,
        "支付宝",
    )
    assert "金额为5.80元（订单金额为58.00元）" in text and "暂未发货" in text


def test_amount_words():
    assert amount_words(Money(5800)) == "58.00元" and amount_words(Money(6420)) == "64.20元"
    assert amount_words(Money(5850)) == "58.50元"
    assert amount_words(Money(1999, "USD")) == "19.99 USD"
    assert amount_words(Money(1999, "JPY")) == "1999 JPY"


@pytest.mark.parametrize(
    ("method", "gateway", "said"),
    [
        ("alipay", "alipay", "支付宝"),
        ("wechat", "wechatpay", "微信支付"),
        ("wxpay", "epay", "微信支付"),
        ("qqpay", "epay", "QQ钱包"),
        ("stripe", "stripe", "银行卡（Stripe）"),
        (None, "epay", "在线支付"),
        (None, "wechatpay", "微信支付"),
        ("card", None, "在线支付"),
    ],
)
def test_the_way_the_buyer_paid_is_named_by_the_gateway_registry(method, gateway, said):
    assert buyer_payment_name(method, gateway) == said
