"""The Alipay detail rows are read by splitting each line at its commas when the body allows it
(no quote, no blank line, no line past the csv module's field limit): the rows and their line
numbers are then exactly csv.reader's, and any other body is read by csv.reader itself."""

from __future__ import annotations

import csv

import pytest

from chalicelib.gateways.alipay_bill import _numbered_rows

BODIES = {
    "plain": ["2026\t,B1\t,交易,VIP,a", "2026\t,B2\t,退款,VIP,b", "x,,,,"],
    "quoted comma": ['2026\t,B1\t,交易,"VIP, 月卡",a', "2026\t,B2\t,交易,VIP,b"],
    "quoted line break": ['2026\t,B1\t,交易,"VIP', '月卡",a', "2026\t,B2\t,交易,VIP,b"],
    "blank line": ["2026\t,B1\t,交易,VIP,a", "", "2026\t,B2\t,交易,VIP,b"],
    "whitespace line": ["2026\t,B1\t,交易,VIP,a", "  ", "2026\t,B2\t,交易,VIP,b"],
    "nul": ["2026\t,B1\x00\t,交易,VIP,a"],
    "empty": [],
}


def csv_reads(body: list[str], offset: int) -> list[tuple[int, list[str]]]:
    reader = csv.reader(body)
    return [(offset + reader.line_num, row) for row in reader]


@pytest.mark.parametrize("name", sorted(BODIES))
def test_rows_and_line_numbers_are_csv_readers(name):
    body = BODIES[name]
    assert list(_numbered_rows(body, 5)) == csv_reads(body, 5)


def test_a_line_past_the_field_limit_is_left_to_csv_reader_which_refuses_it():
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(16)
        with pytest.raises(csv.Error):
            list(_numbered_rows(["a" * 20 + ",b"], 0))
    finally:
        csv.field_size_limit(limit)
