"""Alipay's trade bill (业务明细): a ZIP of two GBK CSVs, parsed into a `Statement`.

The detail file: `#` comment lines (account, period), a 25-column header with full-width
parentheses, one row per 交易 (payment) or 退款 (refund, amounts negative) whose id fields end in
a TAB, then a closing block with the totals (`#交易合计：N笔，商家实收共X元`, `#退款合计：…`). The
totals are checked against the rows: a truncated or altered file fails with the line and reason.

A cross-border (境外收单) merchant's transaction file — `Partner:…|Payment_time: …|Total_count:…`,
then a `|`-separated header and one row per PAYMENT, REFUND, REVERSAL or CANCEL — is recognised by
its first line: each row is priced in Trans_currency (what the order says) and booked in the
settlement Currency with Trans_forex_rate; see docs/internals.md ("Cross-border statements").
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from functools import lru_cache
from itertools import compress, count, islice, repeat

from ..domain.errors import InvalidMoney
from ..domain.money import Money, shared
from ..domain.statement import (
    BEIJING,
    LineKind,
    Statement,
    StatementLine,
    StatementUnparseable,
    beijing_time,
    day_bounds,
    stated_rate,
)

DETAIL_HEADER = (
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
(TRADE_NO, OUT_TRADE_NO, BIZ_TYPE, CREATED, FINISHED, ORDER_AMOUNT, RECEIVED, REFUND_REF, FEE) = (
    0,
    1,
    2,
    4,
    5,
    11,
    12,
    21,
    22,
)
_KINDS = {"交易": LineKind.PAYMENT, "退款": LineKind.REFUND}
#: per kind: [rows, their 商家实收 in fen, as the lines carry it]
Tally = dict[LineKind, list[int]]
_END_MARK = "业务明细列表结束"
_TOTAL = re.compile(r"#(交易|退款)合计：([0-9]+)笔，商家实收共(-?[0-9]+(?:\.[0-9]+)?)元")
_ACCOUNT = re.compile(r"#账号：\[(\d+)\]")
_PERIOD_END = re.compile(r"终止日期：\[(\d{4})年(\d{2})月(\d{2})日 (\d{2}):(\d{2}):(\d{2})\]")


@lru_cache(maxsize=16384)
def _yuan(text: str) -> Money:
    """Amounts repeat (a shop has a few prices): parse each distinct text once, into the Money
    shared with the ledger's equal amounts."""
    parsed = Money.parse(text.strip(), "CNY", allow_negative=True)
    return shared(parsed.minor, parsed.currency)


def _positive(amount: Money) -> Money:
    return amount if amount.minor >= 0 else shared(-amount.minor, amount.currency)


@lru_cache(maxsize=16384)
def _amounts(kind: LineKind, amount: str, received: str, fee: str) -> tuple[Money, Money, Money]:
    """A row's (订单金额, 服务费, 商家实收) as positive amounts, the sign checked against its kind
    (refund rows are negative): one cached look-up per row, a shop's rows repeating a few
    combinations. An InvalidMoney or ValueError says what is wrong."""
    gross, net, charged = _yuan(amount), _yuan(received), _yuan(fee or "0")
    if kind is LineKind.PAYMENT and gross.minor < 0:
        raise ValueError(
            f"payment row with amount {gross.format()}: refund rows are negative, payments positive"
        )
    if kind is LineKind.REFUND and gross.minor > 0:
        raise ValueError(
            f"refund row with amount {gross.format()}: refund rows are negative, payments positive"
        )
    return _positive(gross), _positive(charged), net if kind is LineKind.PAYMENT else _positive(net)


def member_name(info: zipfile.ZipInfo) -> str:
    """Alipay writes GBK file names without the ZIP UTF-8 flag; zipfile read them as cp437."""
    if info.flag_bits & 0x800:
        return info.filename
    return info.filename.encode("cp437").decode("gbk", errors="replace")


def _detail_text(data: bytes, source: str) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        info = next(
            (
                i
                for i in archive.infolist()
                if member_name(i).endswith("业务明细.csv") and "汇总" not in member_name(i)
            ),
            None,
        )
        if info is None:
            raise StatementUnparseable(source, None, "the ZIP holds no …业务明细.csv detail file")
        raw = archive.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise StatementUnparseable(source, None, f"not a readable ZIP file ({error})") from None
    try:
        return raw.decode("gbk")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise StatementUnparseable(source, line, "not GBK text") from None


def _bounds(lines: list[str], source: str) -> tuple[int, int]:
    """(header index, index of the closing block): the rows lie between them."""
    header = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), None
    )
    if header is None:
        raise StatementUnparseable(source, None, "no header line")
    columns = tuple(c.strip() for c in next(csv.reader([lines[header]])))
    if columns != DETAIL_HEADER:
        raise StatementUnparseable(
            source, header + 1, "the header is not Alipay's 25-column detail header"
        )
    # the first `#` line after the header, scanned by C iterators (a hundred thousand lines)
    comments = map(str.startswith, islice(lines, header + 1, None), repeat("#"))
    end = next(compress(count(header + 1), comments), len(lines))
    if not any(_END_MARK in line for line in lines[end:]):
        raise StatementUnparseable(
            source, len(lines), f"the file ends without {_END_MARK} (truncated?)"
        )
    return header, end


def _numbered_rows(body: list[str], offset: int) -> Iterator[tuple[int, list[str]]]:
    """The detail rows as the csv module reads them, each with its physical line number (the
    body starts after line `offset`). A body without a quote, a blank line or a line longer than
    the module's field limit is one row per line, split at its commas: that is what csv.reader
    gives for it, read in C at half its cost; any other body through csv.reader itself."""
    plain = (
        "" not in body
        and not any(map(str.__contains__, body, repeat('"')))
        and max(map(len, body), default=0) <= csv.field_size_limit()
    )
    if plain:
        return zip(count(offset + 1), map(str.split, body, repeat(",")))
    reader = csv.reader(body)
    return ((offset + reader.line_num, row) for row in reader)


def _rows(rows: Iterable[tuple[int, list[str]]], source: str) -> tuple[list[StatementLine], Tally]:
    """The detail rows (with their line numbers) as lines, and per kind their count and 商家实收
    total (signed as stated) for the closing block's check. One pass, the hot loop of a hundred
    thousand rows: the fields are read by position, the amounts by one cached look-up per row."""
    lines: list[StatementLine] = []
    append = lines.append
    tally: Tally = {kind: [0, 0] for kind in _KINDS.values()}
    width, kinds, new, line, from_iso, refund = (
        len(DETAIL_HEADER),
        _KINDS,
        tuple.__new__,
        StatementLine,
        datetime.fromisoformat,
        LineKind.REFUND,
    )
    for line_no, row in rows:
        if not row:
            continue
        if len(row) != width:
            raise StatementUnparseable(source, line_no, f"{len(row)} columns, expected {width}")
        biz_type = row[BIZ_TYPE]
        kind = kinds.get(biz_type)
        if kind is None:
            biz_type = biz_type.strip()
            kind = kinds.get(biz_type)
            if kind is None:
                raise StatementUnparseable(
                    source, line_no, f"业务类型 {biz_type!r} is neither 交易 nor 退款"
                )
        trade_no = row[TRADE_NO].strip()
        if not trade_no:
            raise StatementUnparseable(source, line_no, "支付宝交易号 is empty")
        try:
            amount, fee, received = _amounts(kind, row[ORDER_AMOUNT], row[RECEIVED], row[FEE])
            moment = (row[FINISHED] or row[CREATED]).strip()
            if len(moment) != 19 or moment[10] != " ":
                beijing_time(moment)  # raises, saying what it expects
            at = from_iso(moment + "+08:00")  # beijing_time inlined
        except (InvalidMoney, ValueError) as error:
            raise StatementUnparseable(
                source, line_no, getattr(error, "message", str(error))
            ) from None
        counted = tally[kind]
        counted[0] += 1
        counted[1] += received.minor
        append(
            new(  # StatementLine's fields in order, without its Python-level __new__
                line,
                (
                    line_no,
                    kind,
                    row[OUT_TRADE_NO].strip(),
                    trade_no,
                    amount,
                    fee,
                    received,
                    at,
                    biz_type,
                    (row[REFUND_REF].strip() or None) if kind is refund else None,
                    None,
                    None,
                ),
            )
        )
    return lines, tally


def _check_totals(closing: Iterable[tuple[int, str]], tally: Tally, source: str) -> None:
    """The closing block's 合计 lines must agree with the rows (count and 商家实收)."""
    for line_no, text in closing:
        match = _TOTAL.match(text.strip())
        if not match:
            continue
        kind = _KINDS[match.group(1)]
        count, received = tally[kind]
        total = -received if kind is LineKind.REFUND else received
        stated_count, stated_sum = int(match.group(2)), _yuan(match.group(3)).minor
        if (count, total) != (stated_count, stated_sum):
            raise StatementUnparseable(
                source,
                line_no,
                f"{match.group(1)}合计 says {stated_count} rows, {match.group(3)} yuan; "
                f"the rows give {count}, {Money(total, 'CNY').format()}",
            )


def _comment_facts(comments: list[str]) -> tuple[str | None, datetime | None]:
    account = period_end = None
    for text in comments:
        if found := _ACCOUNT.search(text):
            account = found.group(1)
        if found := _PERIOD_END.search(text):
            year, month, day, hour, minute, second = map(int, found.groups())
            period_end = datetime(year, month, day, hour, minute, second, tzinfo=BEIJING)
    return account, period_end


# ------------------------------------------------------------------ cross-border transaction file

#: Alipay Global's transaction file (境外收单, SFTP `<partner>_transaction_<yyyyMMdd>`): the
#: columns paytrack reads, found by name in the file's header line
GLOBAL_COLUMNS = (
    "Partner_transaction_id",
    "Transaction_id",
    "Transaction_amount",
    "Charge_amount",
    "Currency",
    "Payment_time",
    "Transaction_type",
)
#: the pricing columns, appended to the layout later: all three or none
PRICING_COLUMNS = ("Trans_currency", "Trans_amount", "Trans_forex_rate")
_GLOBAL_HEAD = re.compile(
    r"Partner:\s*(\d+)\s*\|\s*Payment_time:\s*(\d{4}-\d{2}-\d{2})\s*\|\s*Total_count:\s*(\d+)\s*"
)
_GLOBAL_KINDS = {
    "PAYMENT": LineKind.PAYMENT,
    "REFUND": LineKind.REFUND,
    "REVERSAL": LineKind.CLOSED,
    "CANCEL": LineKind.CLOSED,
}


def _global_columns(header: str, source: str) -> dict[str, int]:
    names = [name.strip() for name in header.split("|")]
    where = {name: i for i, name in enumerate(names)}
    missing = [name for name in GLOBAL_COLUMNS if name not in where]
    priced = [name for name in PRICING_COLUMNS if name in where]
    if missing or len(priced) not in (0, len(PRICING_COLUMNS)):
        lacking = missing or [name for name in PRICING_COLUMNS if name not in where]
        raise StatementUnparseable(
            source, 2, f"the header lacks {', '.join(lacking)}: not Alipay's transaction file"
        )
    return where


def _global_line(fields: list[str], where: dict[str, int], line_no: int) -> StatementLine:
    """One row; amounts may carry a sign (a refund's), the line's are positive."""

    def value(name: str) -> str:
        return fields[where[name]].strip() if name in where else ""

    kind = _GLOBAL_KINDS.get(value("Transaction_type"))
    if kind is None:
        raise ValueError(
            f"Transaction_type {value('Transaction_type')!r} is none of {', '.join(_GLOBAL_KINDS)}"
        )
    currency = value("Currency")
    booked = _positive(Money.parse(value("Transaction_amount"), currency, allow_negative=True))
    fee = _positive(Money.parse(value("Charge_amount") or "0", currency, allow_negative=True))
    priced, settled, rate = booked, None, None
    if value("Trans_currency"):
        priced = _positive(
            Money.parse(value("Trans_amount"), value("Trans_currency"), allow_negative=True)
        )
        if priced.currency != booked.currency:
            settled, rate = booked, stated_rate(value("Trans_forex_rate"))
    ours = value("Partner_transaction_id")
    trade_no = value("Transaction_id")
    if not trade_no:
        raise ValueError("Transaction_id is empty")
    return StatementLine(
        line_no,
        kind,
        "" if kind is LineKind.REFUND else ours,
        trade_no,
        priced,
        fee,
        booked if settled is None and kind is LineKind.PAYMENT else None,
        beijing_time(value("Payment_time")),
        value("Transaction_type"),
        (ours or None) if kind is LineKind.REFUND else None,
        settled,
        rate,
    )


def _parse_global(text: str, data: bytes, channel: str, day: date, source: str) -> Statement:
    physical = text.splitlines()
    head = _GLOBAL_HEAD.fullmatch(physical[0].strip())
    if head is None:
        raise StatementUnparseable(
            source, 1, "the first line is not Partner:…|Payment_time: …|Total_count:…"
        )
    partner, stated_day, stated_count = head.group(1), head.group(2), int(head.group(3))
    if stated_day != day.isoformat():
        raise StatementUnparseable(
            source, 1, f"the file is of {stated_day}, not of {day.isoformat()}"
        )
    if len(physical) < 2:
        raise StatementUnparseable(source, 2, "no header line")
    where = _global_columns(physical[1], source)
    lines: list[StatementLine] = []
    for line_no, row in enumerate(physical[2:], 3):
        if not row.strip():
            continue
        fields = row.split("|")
        if len(fields) != len(where):
            raise StatementUnparseable(
                source, line_no, f"{len(fields)} columns, expected {len(where)}"
            )
        try:
            lines.append(_global_line(fields, where, line_no))
        except (InvalidMoney, ValueError) as error:
            raise StatementUnparseable(
                source, line_no, getattr(error, "message", str(error))
            ) from None
    if len(lines) != stated_count:
        raise StatementUnparseable(
            source,
            1,
            f"Total_count says {stated_count} rows, the file holds {len(lines)} (truncated?)",
        )
    return Statement(channel, day, lines, source, account=partner, raw=data, raw_suffix="txt")


def parse(data: bytes, channel: str, day: date, source: str = "alipay trade bill") -> Statement:
    """The ZIP's detail file, or a cross-border transaction file (told by its first line), as a
    `Statement`; `StatementUnparseable` names the line and reason."""
    if data.removeprefix(b"\xef\xbb\xbf").startswith(b"Partner:"):
        try:
            text = data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise StatementUnparseable(source, line, "not UTF-8 text") from None
        return _parse_global(text, data, channel, day, source)
    text = _detail_text(data, source)
    physical = text.splitlines()
    header, end = _bounds(physical, source)
    lines, tally = _rows(_numbered_rows(physical[header + 1 : end], header + 1), source)
    _check_totals(((i + 1, physical[i]) for i in range(end, len(physical))), tally, source)
    account, period_end = _comment_facts(physical[:header] + physical[end:])
    day_end = day_bounds(day)[1]
    covers_until = period_end if period_end is not None and period_end < day_end else None
    return Statement(
        channel,
        day,
        lines,
        source,
        covers_until=covers_until,
        account=account,
        raw=data,
        raw_suffix="zip",
    )
