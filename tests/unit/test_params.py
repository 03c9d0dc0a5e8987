"""The query-parameter and untrusted-JSON readers (chalicelib/domain/params.py): whatever the
input, a value or a ValidationFailed — never another exception — and only well-formed input
is accepted."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain import params as p
from chalicelib.domain.errors import RangeTooLarge, ValidationFailed

ANY_TEXT = st.text(max_size=60) | st.from_regex(r"[0-9\-+:TZ.eE_ ]{0,40}", fullmatch=True)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _refused_or(reader, *args):
    try:
        return reader(*args)
    except ValidationFailed:
        return None


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT)
def test_whole_numbers_are_ascii_digits_in_range_or_refused(text):
    value = _refused_or(p.whole_number, {"limit": text}, "limit", 50, 1, 200)
    if text == "":
        assert value == 50
    elif value is not None:
        assert re.fullmatch(r"[0-9]+", text) and 1 <= value <= 200 and value == int(text)


@pytest.mark.parametrize(
    "text", ["²", "٣", "１０", "1e2", " 5", "+5", "-5", "5.0", "9" * 5000, "0", "201"]
)
def test_whole_number_refusals(text):
    with pytest.raises(ValidationFailed):
        p.whole_number({"limit": text}, "limit", 50, 1, 200)


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT)
def test_amounts_are_plain_decimals_or_refused(text):
    value = _refused_or(p.amount, {"min_amount": text}, "min_amount")
    if value is not None:
        assert re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,3})?", text) and value == Decimal(text)


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT | st.datetimes(timezones=st.timezones()).map(datetime.isoformat))
def test_times_are_aware_utc_within_range_or_refused(text):
    value = _refused_or(p.time_value, {"from": text}, "from")
    if value is not None:
        assert value.tzinfo == UTC and p.TIME_MIN <= value < p.TIME_MAX
        assert value - timedelta(days=366) < value + timedelta(
            days=366
        )  # arithmetic never overflows


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+14:00",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "２０２６-11-25",
        "x" * 41,
    ],
)
def test_time_refusals(text):
    with pytest.raises(ValidationFailed):
        p.time_value({"to": text}, "to")


def test_a_time_without_an_offset_is_utc():
    assert p.parse_time("2026-11-25T08:00:00") == datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert p.parse_time("2026-11-25T16:00:00+08:00") == datetime(2026, 11, 25, 8, tzinfo=UTC)


def test_ranges_are_ordered_and_capped_with_their_own_code():
    span, cap = timedelta(days=30), timedelta(days=366)
    since, until = p.time_range({}).resolve(NOW, span, cap)
    assert (since, until) == (NOW - timedelta(days=30), NOW)
    with pytest.raises(RangeTooLarge) as wide:
        p.time_range({"from": "2020-01-01T00:00:00Z"}).resolve(NOW, span, cap)
    assert wide.value.code == "range_too_large" and wide.value.details == {
        "field": "from",
        "max_days": 366,
    }
    with pytest.raises(ValidationFailed) as backwards:
        p.time_range({"from": "2026-11-26T00:00:00Z"}).resolve(NOW, span, cap)
    assert backwards.value.code == "validation_failed"


def test_a_range_with_both_ends_bad_names_its_end_first():
    with pytest.raises(ValidationFailed) as bad:
        p.time_range({"from": "yesterday", "to": "today"})
    assert bad.value.details == {"field": "to"}


@pytest.mark.parametrize(
    "data", [{"a": ["2026-11-25T00:00:00Z", "O-1"]}, [1, "二"], None], ids=["dict", "list", "null"]
)
def test_cursors_round_trip_and_anything_else_is_refused(data):
    cursor = p.encode_cursor(data)
    assert "=" not in cursor and p.decode_cursor(cursor) == data
    padded = cursor + "=" * (-len(cursor) % 4)
    assert p.decode_cursor(padded) == data
    for bad in ("!!!", "x" * (p.MAX_CURSOR + 1), p.encode_cursor(1)[:-1] + "é", "bm90IGpzb24"):
        with pytest.raises(ValueError):
            p.decode_cursor(bad)


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200)
    | st.text(alphabet='[]{}":,0123456789eE.-+ntrufalsNIy\\ud', max_size=200)
)
def test_any_bytes_are_json_or_a_validation_failure(raw):
    _refused_or(p.parse_json, raw)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_ordinary_json_reads_back_as_written(value):
    text = json.dumps(value)
    big_ints = any(len(tok.lstrip("-")) > p.MAX_INT_DIGITS for tok in re.findall(r"-?\d+", text))
    surrogate = re.search(r"\\ud[89a-f]", text) is not None
    if not big_ints and not surrogate:
        assert p.parse_json(text) == value


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 100_000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        "[" * 33 + "]" * 33,
        "1" * 5000,
        "1e999",
        "-1e999",
        "NaN",
        "Infinity",
        '"\\ud800"',
        '{"\\udfff": 1}',
        b"\xff\xfe\x00",
    ],
)
def test_hostile_json_is_a_validation_failure(raw):
    with pytest.raises(ValidationFailed) as refused:
        p.parse_json(raw)
    assert refused.value.details == {"field": "body"}
