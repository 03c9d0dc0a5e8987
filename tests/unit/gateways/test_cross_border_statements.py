"""Cross-border statements built from the gateways' documented layouts (docs/internals.md,
"Cross-border statements"): Alipay Global's transaction file and WeChat Pay Global's
/v3/global/statements table. A converted row is matched on the priced amount and keeps its
settled gross, fee and net in the settlement currency with the rate; a malformed row fails with
its line and reason."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from chalicelib.domain.money import Money
from chalicelib.domain.statement import LineKind, StatementNotReady, StatementUnparseable
from chalicelib.gateways import alipay_bill, wechatpay_bill
from chalicelib.gateways.base import CallContext
from chalicelib.gateways.registry import get_gateway
from local.sim_signing import wechat_sign

from .helpers import read_pem
from .recorded import Recorded, fixture, http

DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def summary(statement) -> list[tuple]:
    return [
        (
            line.line_no,
            line.kind,
            line.out_trade_no,
            line.refund_ref,
            line.amount,
            line.settled,
            line.rate,
            line.fee,
            line.net,
        )
        for line in statement.lines
    ]


# ------------------------------------------------------------------ WeChat Pay Global


def wechat_text() -> str:
    return fixture("wechatpay_global_statements_20261124.csv").decode("utf-8")


def test_wechat_global_statement_gives_priced_amounts_and_settled_ones_with_the_rate():
    statement = wechatpay_bill.parse(wechat_text().encode(), "wxpay-global", DAY)
    hkd = lambda minor: Money(minor, "HKD")  # noqa: E731
    assert summary(statement) == [
        (2, LineKind.PAYMENT, "20261124093000000021", None, Money(1999, "USD"), hkd(15592), "7.8", hkd(94), hkd(15498)),
        (3, LineKind.PAYMENT, "20261124101500000022", None, Money(2000, "JPY"), hkd(10420), "0.0521", hkd(63), hkd(10357)),
        # priced and settled in HKD: not converted (支付汇率 is then the buyer's rate, not ours)
        (4, LineKind.PAYMENT, "20261124110000000023", None, hkd(10000), None, None, hkd(60), hkd(9940)),
        (5, LineKind.REFUND, "20261124093000000021", "20261124093000000021R1", Money(500, "USD"), hkd(3900), "7.8", hkd(23), hkd(-3877)),
    ]  # fmt: skip
    assert statement.lines[2].received == hkd(10000)
    assert [line.settlement_currency for line in statement.lines] == ["HKD"] * 4
    assert statement.lines[0].trade_no == "4200000001202611241111111111"


def test_wechat_global_header_with_full_width_parentheses_reads_the_same():
    text = wechat_text().replace("订单金额(标价币种)", "订单金额（标价币种）", 1)
    assert len(wechatpay_bill.parse(text.encode(), "wxpay-global", DAY).lines) == 4


@pytest.mark.parametrize(
    "mutate, line, reason",
    [
        (lambda t: t.replace("`HKD,`155.92,`7.80000000", "`HKD,`155.92,`", 1), 2, "without 支付汇率"),
        (lambda t: t.replace("`7.80000000,`,", "`-7.8,`,", 1), 2, "is not a positive number"),
        (lambda t: t.replace("`JPY,`2000,", "`JPY,`2000.50,", 1), 3, "decimal places"),
        (lambda t: t.replace("`HKD,`39.00", "`HKD,`abc", 1), 5, "not a decimal number"),
        (lambda t: t.replace("`SUCCESS,", "`PAYERROR,", 1), 2, "交易状态 'PAYERROR'"),
        (lambda t: t.replace(",`T-shirt", "", 1), 2, "37 fields, expected 38"),
        (lambda t: t.replace("结算币种,应结订单金额", "结算币种,应结金额", 1), 1, "neither"),
    ],
    ids=["no-rate", "negative-rate", "yen-with-decimals", "bad-amount", "unknown-state", "short-row", "header"],
)  # fmt: skip
def test_wechat_global_statement_malformed_fails_with_the_line_and_reason(mutate, line, reason):
    with pytest.raises(StatementUnparseable) as failure:
        wechatpay_bill.parse(mutate(wechat_text()).encode(), "wxpay-global", DAY)
    assert (failure.value.line, reason in failure.value.reason) == (line, True), (
        failure.value.reason
    )


def test_wechat_global_statement_whose_sha1_header_differs_or_is_missing():
    raw = wechat_text().encode()
    assert wechatpay_bill.check_sha1(raw, hashlib.sha1(raw).hexdigest().upper(), "t") == raw
    with pytest.raises(StatementUnparseable, match="does not match Wechatpay-Statement-Sha1"):
        wechatpay_bill.check_sha1(raw + b" ", hashlib.sha1(raw).hexdigest(), "t")
    with pytest.raises(StatementUnparseable, match="no Wechatpay-Statement-Sha1"):
        wechatpay_bill.check_sha1(raw, None, "t")


def signed(config: dict, status: int, body: bytes, **headers: str):
    """An answer signed with the platform key, as WeChat Pay signs every API answer."""
    key = load_pem_private_key(read_pem("wx_platform_key.pem").encode(), None)
    timestamp, nonce = str(int(NOW.timestamp())), "N" * 32
    return (
        status,
        {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": wechat_sign(key, timestamp, nonce, body),
            "Wechatpay-Serial": config["platform_public_key_id"],
            **headers,
        },
        body,
    )


def test_a_cross_border_wechat_channel_asks_global_statements_and_checks_the_sha1(wx_config):
    config = {**wx_config, "cross_border": True}
    raw = wechat_text().encode()
    sha1 = {"Wechatpay-Statement-Sha1": hashlib.sha1(raw).hexdigest()}
    adapter = Recorded([signed(config, 200, raw, **sha1)])
    statement = get_gateway("wechatpay").fetch_statement(
        CallContext(config, "wx-global", http(adapter), NOW), DAY
    )
    assert [line.settled for line in statement.lines][:2] == [
        Money(15592, "HKD"),
        Money(10420, "HKD"),
    ]
    assert adapter.sent[0].url == (
        f"https://api.mch.weixin.example/v3/global/statements?date=20261124&mchid={config['mchid']}"
    )
    assert adapter.sent[0].headers["Authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ")
    altered = Recorded([signed(config, 200, raw + b"`x", **sha1)])
    with pytest.raises(StatementUnparseable, match="Wechatpay-Statement-Sha1"):
        get_gateway("wechatpay").fetch_statement(
            CallContext(config, "wx-global", http(altered), NOW), DAY
        )
    not_yet = '{"code":"NO_STATEMENT_EXIST","message":"账单不存在"}'.encode()
    with pytest.raises(StatementNotReady, match="no statement for 2026-11-24"):
        get_gateway("wechatpay").fetch_statement(
            CallContext(config, "wx-global", http(Recorded([signed(config, 404, not_yet)])), NOW),
            DAY,
        )


# ------------------------------------------------------------------ Alipay Global


def alipay_text() -> str:
    return fixture("alipay_global_transaction_20261124.txt").decode("utf-8")


def test_alipay_global_transaction_file_gives_priced_amounts_and_settled_ones_with_the_rate():
    statement = alipay_bill.parse(alipay_text().encode(), "alipay-global", DAY)
    cny = lambda minor: Money(minor, "CNY")  # noqa: E731
    assert summary(statement) == [
        (3, LineKind.PAYMENT, "20261124093000000031", None, Money(1999, "USD"), cny(14393), "7.2", cny(72), cny(14321)),
        (4, LineKind.PAYMENT, "20261124101500000032", None, Money(2000, "JPY"), cny(9640), "0.0482", cny(48), cny(9592)),
        # a refund names our refund request, and the paid trade by Alipay's number
        (5, LineKind.REFUND, "", "20261124093000000031R1", Money(500, "USD"), cny(3600), "7.2", cny(18), cny(-3582)),
        (6, LineKind.CLOSED, "20261124120000000033", None, cny(1000), None, None, cny(0), cny(0)),
    ]  # fmt: skip
    assert statement.lines[2].trade_no == "2026112422001300001111111111"
    assert (statement.account, statement.raw_suffix) == ("2088101122136241", "txt")


def test_alipay_global_file_without_the_pricing_columns_is_read_unconverted():
    rows = ["|".join(row.split("|")[:12]) for row in alipay_text().splitlines()[1:]]
    text = "\n".join([alipay_text().splitlines()[0], *rows])
    statement = alipay_bill.parse(text.encode(), "alipay-global", DAY)
    first = statement.lines[0]
    assert (first.amount, first.settled, first.rate, first.received) == (
        Money(14393, "CNY"), None, None, Money(14393, "CNY"),
    )  # fmt: skip


@pytest.mark.parametrize(
    "mutate, line, reason",
    [
        (lambda t: t.replace("Total_count:4", "Total_count:5"), 1, "Total_count says 5 rows, the file holds 4"),
        (lambda t: t.replace("Payment_time: 2026-11-24", "Payment_time: 2026-11-23"), 1, "of 2026-11-23"),
        (lambda t: t.replace("Partner:", "Partner ", 1) + "", None, "not a readable ZIP"),
        (lambda t: t.replace("|USD|19.99|7.20000000", "|USD|19.99|", 1), 3, "is not a positive number"),
        (lambda t: t.replace("|JPY|2000|", "|JPY|2000.5|", 1), 4, "decimal places"),
        (lambda t: t.replace("|REFUND|", "|CHARGEBACK|", 1), 5, "Transaction_type 'CHARGEBACK'"),
        (lambda t: t.replace("|0.72|CNY|", "|0.72|", 1), 3, "14 columns, expected 15"),
        (lambda t: t.replace("2026-11-24 10:15:00", "2026/11/24 10:15", 1), 4, "yyyy-MM-dd HH:mm:ss"),
        (lambda t: t.replace("|Trans_forex_rate", "", 1), 2, "lacks Trans_forex_rate"),
        (lambda t: t.replace("Charge_amount|", "Fee|", 1), 2, "lacks Charge_amount"),
    ],
    ids=["count", "day", "first-line", "no-rate", "yen-with-decimals", "type", "short-row", "time", "pricing-columns", "header"],
)  # fmt: skip
def test_alipay_global_file_malformed_fails_with_the_line_and_reason(mutate, line, reason):
    with pytest.raises(StatementUnparseable) as failure:
        alipay_bill.parse(mutate(alipay_text()).encode(), "alipay-global", DAY)
    assert (failure.value.line, reason in failure.value.reason) == (line, True), (
        failure.value.reason
    )
