"""Statements in each gateway's exact format, built from the trades the simulator processed.

Written from GATEWAYS.md alone — independent of chalicelib's parsers, so a misreading on one
side shows up as a failed parse or reconciliation instead of hiding behind its twin. A day's
entries are the trades paid in it (at the amount the gateway's books hold, unless left off the
statement) and the refunds made in it, each with its fee; a day not over yet is covered up to
the moment the statement is made.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .sim_model import SimPayment, SimRefund, minor_digits, to_major

BEIJING = timezone(timedelta(hours=8))

ALIPAY_DETAIL_HEADER = (
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
)
WECHAT_HEADER = (
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
)
WECHAT_SUMMARY_HEADER = (
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
)
_FEN = Decimal("0.01")
_WECHAT_FEE_DIGITS = Decimal("0.00001")


@dataclass
class StripeSettlement:
    """A Stripe account that settles in `currency`: a charge in another currency is converted at
    `rates[charged currency]` (major units: 19.99 USD x 7.8 = 155.92 HKD) and its fee charged in
    the settlement currency; `account_fees` are Stripe's own charges (a Radar fee: when, minor)."""

    currency: str
    rates: dict[str, Decimal]
    account_fees: list[tuple[datetime, int]]

    def convert(self, minor: int, currency: str) -> tuple[int, Decimal | None]:
        if currency == self.currency:
            return minor, None
        rate = self.rates[currency]
        major = Decimal(minor).scaleb(-minor_digits(currency)) * rate
        settled = major.scaleb(minor_digits(self.currency)).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return int(settled), rate


@dataclass(frozen=True)
class Entry:
    """One line of a day's statement."""

    kind: str  # payment / refund
    trade: SimPayment
    amount_minor: int
    at: datetime
    refund: SimRefund | None = None

    @property
    def amount(self) -> str:
        return to_major(self.amount_minor, self.trade.currency)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), BEIJING)
    return start, start + timedelta(days=1)


def day_entries(trades: Iterable[SimPayment], day: date, until: datetime) -> list[Entry]:
    start, end = day_bounds(day)
    return entries_between(trades, start, min(end, until))


def entries_between(trades: Iterable[SimPayment], start: datetime, end: datetime) -> list[Entry]:
    entries = []
    for trade in trades:
        if trade.paid_at and trade.in_statement and start <= trade.paid_at < end:
            entries.append(Entry("payment", trade, trade.booked_minor, trade.paid_at))
        entries += [
            Entry("refund", trade, refund.amount_minor, refund.at, refund)
            for refund in trade.refunds
            if start <= refund.at < end
        ]
    return sorted(entries, key=lambda e: e.at)


def returned_fee(entry: Entry, quantum: Decimal) -> Decimal:
    """The part of the fee a refund gives back: proportional to the amount refunded."""
    share = entry.trade.fee * entry.amount_minor / entry.trade.amount_minor
    return share.quantize(quantum, rounding=ROUND_HALF_UP)


def _bj(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}"


def _cn_time(moment: datetime) -> str:
    return f"{moment.astimezone(BEIJING):%Y年%m月%d日 %H:%M:%S}"


# --- Alipay: ZIP of two GBK CSVs ----------------------------------------------------------------


class _GbkNamedInfo(zipfile.ZipInfo):
    """Alipay writes GBK file names without the UTF-8 flag; zipfile would write UTF-8 with it."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits


def _alipay_row(entry: Entry) -> list[str]:
    trade, refund = entry.trade, entry.refund
    sign = "-" if refund else ""
    fee = returned_fee(entry, _FEN) if refund else trade.fee.quantize(_FEN)
    buyer = f"{trade.payer[:3]}***" if trade.payer else ""
    return [
        f"{trade.trade_no}\t",
        f"{trade.out_trade_no}\t",
        "退款" if refund else "交易",
        trade.subject,
        _bj(trade.created_at),
        _bj(entry.at),
        "",
        "",
        "",
        "",
        buyer,
        f"{sign}{entry.amount}",
        f"{sign}{entry.amount}",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "",
        "0.00",
        "0.00",
        f"{refund.refund_no}\t" if refund else "",
        f"{sign}{fee}",
        "0.00",
        "",
    ]


def alipay_detail_csv(entries: list[Entry], day: date, account: str, made_at: datetime) -> str:
    start, end = day_bounds(day)
    out = io.StringIO()
    out.write(
        f"#支付宝业务明细查询\r\n#账号：[{account}]\r\n"
        f"#起始日期：[{_cn_time(start)}]   终止日期：[{_cn_time(min(end, made_at))}]\r\n"
        f"#-----------------------------------------业务明细列表----------------------------------------\r\n"
    )
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ALIPAY_DETAIL_HEADER)
    writer.writerows(_alipay_row(e) for e in entries)
    payments = [e for e in entries if e.kind == "payment"]
    refunds = [e for e in entries if e.kind == "refund"]
    paid = to_major(sum(e.amount_minor for e in payments), "CNY")
    returned = to_major(sum(e.amount_minor for e in refunds), "CNY")
    out.write(
        "#-----------------------------------------业务明细列表结束------------------------------------\r\n"
        f"#交易合计：{len(payments)}笔，商家实收共{paid}元，商家优惠共0.00元\r\n"
        f"#退款合计：{len(refunds)}笔，商家实收共{'-' if refunds else ''}{returned}元，商家优惠共0.00元\r\n"
        f"#导出时间：[{_cn_time(made_at)}]\r\n"
    )
    return out.getvalue()


def alipay_summary_csv(entries: list[Entry], day: date, account: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["#支付宝业务汇总查询"])
    writer.writerow(
        [
            "门店编号",
            "门店名称",
            "交易订单总笔数",
            "退款订单总笔数",
            "订单金额（元）",
            "商家实收（元）",
        ]
    )
    payments = [e for e in entries if e.kind == "payment"]
    refunds = [e for e in entries if e.kind == "refund"]
    net = sum(e.amount_minor for e in payments) - sum(e.amount_minor for e in refunds)
    writer.writerow(
        ["", "合计", len(payments), len(refunds), to_major(net, "CNY"), to_major(net, "CNY")]
    )
    return out.getvalue()


def alipay_bill_zip(entries: list[Entry], day: date, account: str, made_at: datetime) -> bytes:
    stem = f"{account}_{day:%Y%m%d}"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (
            (f"{stem}_业务明细.csv", alipay_detail_csv(entries, day, account, made_at)),
            (f"{stem}_业务明细(汇总).csv", alipay_summary_csv(entries, day, account)),
        ):
            info = _GbkNamedInfo(name, date_time=made_at.astimezone(BEIJING).timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("gbk"))
    return buffer.getvalue()


# --- WeChat Pay: backticked CSV, summary row, GZIP + SHA-1 --------------------------------------


def _wechat_row(entry: Entry, appid: str, mchid: str) -> list[str]:
    trade, refund = entry.trade, entry.refund
    if refund:
        fee = f"-{returned_fee(entry, _WECHAT_FEE_DIGITS)}"
        values = [
            _bj(entry.at),
            appid,
            mchid,
            "0",
            "",
            trade.trade_no,
            trade.out_trade_no,
            trade.payer,
            "NATIVE",
            "REFUND",
            "OTHERS",
            trade.currency,
            "0.00",
            "0.00",
            refund.refund_id,
            refund.refund_no,
            entry.amount,
            "0.00",
            "ORIGINAL",
            "SUCCESS",
            trade.subject,
            "",
            fee,
            "0.60%",
            "0.00",
            entry.amount,
            "",
        ]
    else:
        values = [
            _bj(entry.at),
            appid,
            mchid,
            "0",
            "",
            trade.trade_no,
            trade.out_trade_no,
            trade.payer,
            "NATIVE",
            "SUCCESS",
            "OTHERS",
            trade.currency,
            entry.amount,
            "0.00",
            "0",
            "0",
            "0.00",
            "0.00",
            "",
            "",
            trade.subject,
            "",
            f"{trade.fee.quantize(_WECHAT_FEE_DIGITS)}",
            "0.60%",
            entry.amount,
            "0.00",
            "",
        ]
    return ["`" + v for v in values]


def wechat_bill_csv(entries: list[Entry], appid: str, mchid: str, bom: bool = True) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WECHAT_HEADER)
    writer.writerows(_wechat_row(e, appid, mchid) for e in entries)
    payments = [e for e in entries if e.kind == "payment"]
    refunds = [e for e in entries if e.kind == "refund"]
    fees = sum((e.trade.fee.quantize(_WECHAT_FEE_DIGITS) for e in payments), Decimal(0)) - sum(
        (returned_fee(e, _WECHAT_FEE_DIGITS) for e in refunds), Decimal(0)
    )
    paid = to_major(sum(e.amount_minor for e in payments), "CNY")
    returned = to_major(sum(e.amount_minor for e in refunds), "CNY")
    writer.writerow(WECHAT_SUMMARY_HEADER)
    writer.writerow(
        [
            "`" + v
            for v in (
                str(len(entries)),
                paid,
                returned,
                "0.00",
                f"{fees.quantize(_WECHAT_FEE_DIGITS)}",
                paid,
                returned,
            )
        ]
    )
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode("utf-8")


def gzip_with_sha1(raw: bytes) -> tuple[bytes, str]:
    """The download (GZIP) and the hash_value the bill API announces (SHA-1 of the CSV)."""
    return gzip.compress(raw, mtime=0), hashlib.sha1(raw).hexdigest()


# --- Stripe: balance transactions -------------------------------------------------------------


def stripe_balance_transactions(
    entries: list[Entry],
    expand_source: bool,
    settlement: StripeSettlement | None = None,
    between: tuple[datetime, datetime] | None = None,
) -> list[dict[str, Any]]:
    """Newest first, as Stripe lists them. On an account settling in another currency, amount,
    fee and net are converted (`exchange_rate` set), the source keeps what the buyer was charged;
    Stripe's own fees in `between` are listed too (`reporting_category` fee)."""
    items = []
    for entry in entries:
        trade, refund = entry.trade, entry.refund
        currency = trade.currency.lower()
        amount, rate = (
            settlement.convert(entry.amount_minor, trade.currency)
            if settlement
            else (entry.amount_minor, None)
        )
        if refund:
            source = {
                "id": refund.refund_id,
                "object": "refund",
                "amount": refund.amount_minor,
                "charge": trade.refs["charge"],
                "payment_intent": trade.trade_no,
                "currency": currency,
                "metadata": {},
                "status": "succeeded",
            }
            amount, fee, category = -amount, 0, "refund"
        else:
            source = {
                "id": trade.refs["charge"],
                "object": "charge",
                "amount": entry.amount_minor,
                "payment_intent": trade.trade_no,
                "currency": currency,
                "metadata": {"order_id": trade.out_trade_no},
                "paid": True,
                "status": "succeeded",
            }
            category = "charge"
            fee = int(trade.fee.scaleb(minor_digits(trade.currency)))
            if rate is not None:
                fee = settlement.convert(fee, trade.currency)[0]
        items.append(
            {
                "id": f"txn_{source['id'].split('_', 1)[1]}",
                "object": "balance_transaction",
                "amount": amount,
                "currency": settlement.currency.lower() if settlement else currency,
                "exchange_rate": float(rate) if rate is not None else None,
                "fee": fee,
                "net": amount - fee,
                "type": category,
                "reporting_category": category,
                "status": "available",
                "created": int(entry.at.timestamp()),
                "source": source if expand_source else source["id"],
            }
        )
    if settlement and between:
        items += [
            {
                "id": f"txn_fee{int(at.timestamp())}{minor}",
                "object": "balance_transaction",
                "amount": -minor,
                "currency": settlement.currency.lower(),
                "exchange_rate": None,
                "fee": 0,
                "net": -minor,
                "type": "stripe_fee",
                "reporting_category": "fee",
                "description": "Radar (simulated): Radar for Fraud Teams",
                "status": "available",
                "created": int(at.timestamp()),
                "source": None,
            }
            for at, minor in settlement.account_fees
            if between[0] <= at < between[1]
        ]
    return sorted(items, key=lambda item: item["created"], reverse=True)


# --- epay: the order list ---------------------------------------------------------------------


def epay_order(trade: SimPayment, pid: str) -> dict[str, Any]:
    """An order as `act=order` / `act=orders` show it: status 0 unpaid, 1 paid, 2 refunded (with
    `refundmoney`, as 彩虹易支付 lists it)."""
    paid = trade.paid_at is not None
    status = 2 if trade.refunded_minor else 1 if paid else 0
    refunded = (
        {"refundmoney": to_major(trade.refunded_minor, "CNY")} if trade.refunded_minor else {}
    )
    return {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "api_trade_no": "",
        "type": trade.method or "alipay",
        "pid": int(pid),
        "addtime": _bj(trade.created_at),
        "endtime": _bj(trade.paid_at) if paid else None,
        "name": trade.subject,
        "money": to_major(trade.booked_minor, "CNY"),
        "status": status,
        "param": "",
        "buyer": "",
        **refunded,
    }
