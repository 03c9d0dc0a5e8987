"""WeChat Pay's trade bill (bill_type=ALL), parsed into a `Statement`.

The download is GZIP; its SHA-1 (over the decompressed bytes) must equal the `hash_value` the
bill API gave. The CSV is UTF-8, may start with a BOM, prefixes every field with a backtick, and
ends with a summary header and one summary row whose totals are checked against the rows. Fees
have five decimals (they are settled per transaction to the fen): each line's fee is rounded
half up to the fen; the total is checked exactly.

A cross-border merchant's statement (`/v3/global/statements`, `GLOBAL_HEADER`) is recognised by
its header: each row names its pricing currency (标价币种, what the order says) and its settlement
currency (结算币种) with the rate; a row converted from one into the other gives a line whose
`amount` is the priced one and whose `settled`, fee and net are in the settlement currency. See
docs/internals.md ("Cross-border statements") for the document and what it leaves unsaid.
"""

from __future__ import annotations

import _csv
import csv
import gzip
import hashlib
import zlib
from datetime import date
from functools import lru_cache

from ..domain.errors import InvalidMoney
from ..domain.money import Money, minor_digits, parse_scaled
from ..domain.statement import (
    LineKind,
    Statement,
    StatementLine,
    StatementUnparseable,
    beijing_time,
    stated_rate,
)

HEADER = (
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
SUMMARY_HEADER = (
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
)
(
    TIME,
    MCHID,
    TRANSACTION_ID,
    OUT_TRADE_NO,
    STATE,
    CURRENCY,
    SETTLED,
    OUT_REFUND_NO,
    REFUNDED,
    FEE,
    TOTAL,
) = (0, 2, 5, 6, 9, 11, 12, 15, 16, 22, 24)
#: the cross-border statement's header (WeChat Pay Global API v3 "下载对账单", /v3/global/statements)
GLOBAL_HEADER = (
    "交易时间",
    "公众账号ID",
    "商户号",
    "子商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "充值券币种",
    "充值券金额",
    "优惠券币种",
    "优惠券金额",
    "微信退款单号",
    "商户退款单号",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "标价币种",
    "订单金额(标价币种)",
    "用户支付币种",
    "用户支付金额",
    "结算币种",
    "应结订单金额",
    "支付汇率",
    "退款汇率",
    "申请退款金额",
    "用户退款币种",
    "用户退款金额",
    "退款结算币种",
    "退款应结订单金额",
    "充值券退款金额",
    "优惠券退款金额",
)
(
    G_TIME,
    G_TRANSACTION_ID,
    G_OUT_TRADE_NO,
    G_STATE,
    G_OUT_REFUND_NO,
    G_FEE,
    G_PRICED_CURRENCY,
    G_PRICED,
    G_SETTLEMENT_CURRENCY,
    G_SETTLED,
    G_RATE,
    G_REFUND_RATE,
    G_REFUND_APPLIED,
    G_REFUND_SETTLEMENT_CURRENCY,
    G_REFUND_SETTLED,
) = (0, 5, 6, 9, 16, 21, 23, 24, 27, 28, 29, 30, 31, 34, 35)
_KINDS = {
    "SUCCESS": LineKind.PAYMENT,
    "REFUND": LineKind.REFUND,
    "REVOKED": LineKind.CLOSED,
    "CLOSED": LineKind.CLOSED,
}
#: the bill's fee columns carry five decimals; every amount is read as an integer of 10^-5
_BILL_PLACES = 5


@lru_cache(maxsize=16384)
def _yuan(text: str, currency: str) -> Money:
    return Money.parse(text, currency)


@lru_cache(maxsize=16384)
def _scaled(text: str) -> int:
    """A bill figure in 10^-5 units, exactly (fees and their totals may be negative)."""
    return parse_scaled(text, _BILL_PLACES, allow_negative=True)


def _fee(text: str, currency: str) -> Money:
    """手续费 ("0.34800") to the currency's minor unit, half up, as WeChat settles it; positive."""
    step = 10 ** (_BILL_PLACES - minor_digits(currency))
    return Money((abs(_scaled(text)) + step // 2) // step, currency)


def decompress(data: bytes, hash_type: str, hash_value: str, source: str) -> bytes:
    """Gunzip the download and check its SHA-1 against the bill API's `hash_value`."""
    if hash_type.upper() != "SHA1":
        raise StatementUnparseable(source, None, f"unsupported hash_type {hash_type}")
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise StatementUnparseable(source, None, f"not a readable GZIP file ({error})") from None
    if hashlib.sha1(raw).hexdigest() != hash_value.lower():
        raise StatementUnparseable(
            source,
            None,
            "SHA-1 of the bill does not match hash_value: corrupted or altered download",
        )
    return raw


def _fields(row: list[str], width: int, line_no: int, source: str) -> list[str]:
    if len(row) != width:
        raise StatementUnparseable(source, line_no, f"{len(row)} fields, expected {width}")
    for n, field in enumerate(row, 1):
        if not field.startswith("`"):
            raise StatementUnparseable(source, line_no, f"field {n} lacks the backtick prefix")
    return [field[1:] for field in row]


def _line(values: list[str], line_no: int, source: str) -> StatementLine:
    kind = _KINDS.get(values[STATE])
    if kind is None:
        raise StatementUnparseable(
            source, line_no, f"交易状态 {values[STATE]!r} is not SUCCESS, REFUND, REVOKED or CLOSED"
        )
    currency = values[CURRENCY] or "CNY"
    try:
        at = beijing_time(values[TIME])
        fee = _fee(values[FEE] or "0", currency)
        if kind is LineKind.REFUND:
            return StatementLine(
                line_no,
                kind,
                values[OUT_TRADE_NO],
                values[TRANSACTION_ID],
                _yuan(values[REFUNDED], currency),
                fee,
                None,
                at,
                values[STATE],
                values[OUT_REFUND_NO] or None,
            )
        return StatementLine(
            line_no,
            kind,
            values[OUT_TRADE_NO],
            values[TRANSACTION_ID],
            _yuan(values[TOTAL], currency),
            fee,
            _yuan(values[SETTLED], currency),
            at,
            values[STATE],
        )
    except (InvalidMoney, ValueError) as error:
        raise StatementUnparseable(
            source, line_no, getattr(error, "message", None) or f"unreadable value ({error})"
        ) from None


class _Totals:
    """The summary row's measures, summed over the rows as they are read."""

    def __init__(self) -> None:
        self.count = 0
        self.sums = {"应结订单总金额": 0, "退款总金额": 0, "手续费总金额": 0, "订单总金额": 0}

    def add(self, values: list[str]) -> None:
        self.count += 1
        self.sums["手续费总金额"] += _scaled(values[FEE] or "0")
        if values[STATE] == "SUCCESS":
            self.sums["应结订单总金额"] += _scaled(values[SETTLED])
            self.sums["订单总金额"] += _scaled(values[TOTAL])
        elif values[STATE] == "REFUND":
            self.sums["退款总金额"] += _scaled(values[REFUNDED])

    def check(self, values: list[str], line_no: int, source: str) -> None:
        try:
            stated = dict(
                zip(
                    SUMMARY_HEADER,
                    [parse_scaled(values[0], 0)] + [_scaled(v) for v in values[1:]],
                    strict=True,
                )
            )
        except InvalidMoney:
            raise StatementUnparseable(source, line_no, "the summary row is not numbers") from None
        counted = {"总交易单数": self.count, **self.sums}
        for name, value in counted.items():
            if stated[name] != value:
                raise StatementUnparseable(
                    source,
                    line_no,
                    f"{name} says {_shown(name, stated[name])}, "
                    f"the rows give {_shown(name, value)}",
                )


def _shown(name: str, value: int) -> str:
    if name == "总交易单数":
        return str(value)
    whole, fraction = divmod(abs(value), 10**_BILL_PLACES)
    return f"{'-' if value < 0 else ''}{whole}.{fraction:0{_BILL_PLACES}d}".rstrip("0").rstrip(".")


def _column(name: str) -> str:
    """A header cell as compared: trimmed, full-width parentheses as ASCII ones."""
    return name.strip().replace("（", "(").replace("）", ")")


def _converted(
    priced: Money, settled: Money, rate: str, what: str
) -> tuple[Money | None, str | None]:
    """(settled, rate) of a row converted from its pricing into its settlement currency; (None,
    None) when both are one currency (the rate column then holds the buyer's rate, not ours)."""
    if priced.currency == settled.currency:
        return None, None
    if not rate.strip():
        raise ValueError(
            f"{priced.currency} settled as {settled.currency} without {what}: cannot tell the rate"
        )
    return settled, stated_rate(rate)


def _global_line(values: list[str], line_no: int, source: str) -> StatementLine:
    """A cross-border row: priced amount and currency for matching; settled gross, fee and rate
    in the settlement currency (the refund's own columns for a refund)."""
    kind = _KINDS.get(values[G_STATE])
    if kind is None:
        raise StatementUnparseable(
            source,
            line_no,
            f"交易状态 {values[G_STATE]!r} is not SUCCESS, REFUND, REVOKED or CLOSED",
        )
    try:
        at = beijing_time(values[G_TIME])
        priced_currency = values[G_PRICED_CURRENCY] or "CNY"
        if kind is LineKind.REFUND:
            amount = _yuan(values[G_REFUND_APPLIED], priced_currency)
            booked = _yuan(values[G_REFUND_SETTLED], values[G_REFUND_SETTLEMENT_CURRENCY])
            settled, rate = _converted(amount, booked, values[G_REFUND_RATE], "退款汇率")
            refund_ref = values[G_OUT_REFUND_NO] or None
        else:
            amount = _yuan(values[G_PRICED], priced_currency)
            booked = _yuan(values[G_SETTLED], values[G_SETTLEMENT_CURRENCY])
            settled, rate = _converted(amount, booked, values[G_RATE], "支付汇率")
            refund_ref = None
        return StatementLine(
            line_no,
            kind,
            values[G_OUT_TRADE_NO],
            values[G_TRANSACTION_ID],
            amount,
            _fee(values[G_FEE] or "0", booked.currency),
            booked if settled is None and kind is LineKind.PAYMENT else None,
            at,
            values[G_STATE],
            refund_ref,
            settled,
            rate,
        )
    except (InvalidMoney, ValueError) as error:
        raise StatementUnparseable(
            source, line_no, getattr(error, "message", None) or f"unreadable value ({error})"
        ) from None


def _parse_global(
    reader: _csv.Reader, raw: bytes, channel: str, day: date, source: str
) -> Statement:
    """The rows to the end: the document shows no totals section (the download's SHA-1, from
    the Wechatpay-Statement-Sha1 header, is what proves it whole)."""
    lines: list[StatementLine] = []
    for row in reader:
        if not row:
            continue
        values = _fields(row, len(GLOBAL_HEADER), reader.line_num, source)
        lines.append(_global_line(values, reader.line_num, source))
    return Statement(channel, day, lines, source, raw=raw, raw_suffix="csv")


def check_sha1(raw: bytes, stated: str | None, source: str) -> bytes:
    """The cross-border statement comes as the response body: its SHA-1 must equal the
    Wechatpay-Statement-Sha1 header."""
    if not stated:
        raise StatementUnparseable(source, None, "the answer has no Wechatpay-Statement-Sha1")
    if hashlib.sha1(raw).hexdigest() != stated.strip().lower():
        raise StatementUnparseable(
            source,
            None,
            "SHA-1 of the statement does not match Wechatpay-Statement-Sha1: "
            "corrupted or altered download",
        )
    return raw


def parse(raw: bytes, channel: str, day: date, source: str = "wechatpay trade bill") -> Statement:
    """The domestic ALL trade bill, or a cross-border merchant's statement: told by the header."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise StatementUnparseable(
            source, raw[: error.start].count(b"\n") + 1, "not UTF-8 text"
        ) from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    columns = tuple(_column(h) for h in header) if header is not None else ()
    if columns == GLOBAL_HEADER:
        return _parse_global(reader, raw, channel, day, source)
    if columns != HEADER:
        raise StatementUnparseable(
            source,
            1,
            "the header is neither WeChat Pay's ALL trade bill header nor its cross-border one",
        )
    totals = _Totals()
    lines: list[StatementLine] = []
    for row in reader:
        if tuple(row) == SUMMARY_HEADER:
            summary = next(reader, None)
            if summary is None:
                raise StatementUnparseable(
                    source, reader.line_num, "the summary header has no summary row"
                )
            totals.check(
                _fields(summary, len(SUMMARY_HEADER), reader.line_num, source),
                reader.line_num,
                source,
            )
            return Statement(channel, day, lines, source, raw=raw, raw_suffix="csv")
        if not row:
            continue
        values = _fields(row, len(HEADER), reader.line_num, source)
        lines.append(_line(values, reader.line_num, source))
        totals.add(values)
    raise StatementUnparseable(
        source, reader.line_num, "the bill ends without its summary rows (truncated?)"
    )
