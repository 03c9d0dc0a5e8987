"""WeChat Pay's trade bill (bill_type=ALL), parsed into a `Statement`.

The download is GZIP; its SHA-1 (over the decompressed bytes) must equal the `hash_value` the
bill API gave. The CSV is UTF-8, may start with a BOM, prefixes every field with a backtick, and
ends with a summary header and one summary row whose totals are checked against the rows. Fees
have five decimals (they are settled per transaction to the fen): each line's fee is rounded
half up to the fen; the total is checked exactly.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import zlib
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from ..domain.errors import InvalidMoney
from ..domain.money import Money
from ..domain.statement import LineKind, Statement, StatementLine, StatementUnparseable, beijing_time

HEADER = (
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型",
    "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
    "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额",
    "申请退款金额", "费率备注")
SUMMARY_HEADER = ("总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额",
                  "申请退款总金额")
(TIME, MCHID, TRANSACTION_ID, OUT_TRADE_NO, STATE, CURRENCY, SETTLED, OUT_REFUND_NO, REFUNDED,
 FEE, TOTAL) = (0, 2, 5, 6, 9, 11, 12, 15, 16, 22, 24)
_KINDS = {"SUCCESS": LineKind.PAYMENT, "REFUND": LineKind.REFUND, "REVOKED": LineKind.CLOSED,
          "CLOSED": LineKind.CLOSED}
_FEN = Decimal("0.01")


@lru_cache(maxsize=16384)
def _yuan(text: str, currency: str) -> Money:
    return Money.parse(text, currency)


@lru_cache(maxsize=16384)
def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


def _fee(text: str, currency: str) -> Money:
    """手续费 ("0.34800") to the fen, half up, as WeChat settles it; positive."""
    value = abs(_decimal(text)).quantize(_FEN, rounding=ROUND_HALF_UP)
    return Money.parse(str(value), currency)


def decompress(data: bytes, hash_type: str, hash_value: str, source: str) -> bytes:
    """Gunzip the download and check its SHA-1 against the bill API's `hash_value`."""
    if hash_type.upper() != "SHA1":
        raise StatementUnparseable(source, None, f"unsupported hash_type {hash_type}")
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise StatementUnparseable(source, None, f"not a readable GZIP file ({error})") from None
    if hashlib.sha1(raw).hexdigest() != hash_value.lower():
        raise StatementUnparseable(source, None, "SHA-1 of the bill does not match hash_value: "
                                                 "corrupted or altered download")
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
        raise StatementUnparseable(source, line_no, f"交易状态 {values[STATE]!r} is not SUCCESS, REFUND, "
                                                    "REVOKED or CLOSED")
    currency = values[CURRENCY] or "CNY"
    try:
        at = beijing_time(values[TIME])
        fee = _fee(values[FEE] or "0", currency)
        if kind is LineKind.REFUND:
            return StatementLine(line_no, kind, values[OUT_TRADE_NO], values[TRANSACTION_ID],
                                 _yuan(values[REFUNDED], currency), fee, None, at, values[STATE],
                                 values[OUT_REFUND_NO] or None)
        return StatementLine(line_no, kind, values[OUT_TRADE_NO], values[TRANSACTION_ID],
                             _yuan(values[TOTAL], currency), fee, _yuan(values[SETTLED], currency), at,
                             values[STATE])
    except (InvalidMoney, InvalidOperation, ValueError) as error:
        raise StatementUnparseable(source, line_no, getattr(error, "message", None) or
                                   f"unreadable value ({error})") from None


class _Totals:
    """The summary row's measures, summed over the rows as they are read."""

    def __init__(self) -> None:
        self.count = 0
        self.sums = {"应结订单总金额": Decimal(0), "退款总金额": Decimal(0), "手续费总金额": Decimal(0),
                     "订单总金额": Decimal(0)}

    def add(self, values: list[str]) -> None:
        self.count += 1
        self.sums["手续费总金额"] += _decimal(values[FEE] or "0")
        if values[STATE] == "SUCCESS":
            self.sums["应结订单总金额"] += _decimal(values[SETTLED])
            self.sums["订单总金额"] += _decimal(values[TOTAL])
        elif values[STATE] == "REFUND":
            self.sums["退款总金额"] += _decimal(values[REFUNDED])

    def check(self, values: list[str], line_no: int, source: str) -> None:
        try:
            stated = dict(zip(SUMMARY_HEADER, [int(values[0])] + [_decimal(v) for v in values[1:]]))
        except (ValueError, InvalidOperation):
            raise StatementUnparseable(source, line_no, "the summary row is not numbers") from None
        counted = {"总交易单数": self.count, **self.sums}
        for name, value in counted.items():
            if stated[name] != value:
                raise StatementUnparseable(source, line_no, f"{name} says {stated[name]}, the rows give {value}")


def parse(raw: bytes, channel: str, day: date, source: str = "wechatpay trade bill") -> Statement:
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise StatementUnparseable(source, raw[:error.start].count(b"\n") + 1, "not UTF-8 text") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise StatementUnparseable(source, 1, "the header is not WeChat Pay's ALL trade bill header")
    totals = _Totals()
    lines: list[StatementLine] = []
    for row in reader:
        if tuple(row) == SUMMARY_HEADER:
            summary = next(reader, None)
            if summary is None:
                raise StatementUnparseable(source, reader.line_num, "the summary header has no summary row")
            totals.check(_fields(summary, len(SUMMARY_HEADER), reader.line_num, source), reader.line_num, source)
            return Statement(channel, day, lines, source, raw=raw, raw_suffix="csv")
        if not row:
            continue
        values = _fields(row, len(HEADER), reader.line_num, source)
        lines.append(_line(values, reader.line_num, source))
        totals.add(values)
    raise StatementUnparseable(source, reader.line_num, "the bill ends without its summary rows (truncated?)")
