"""A notice delivered again under a stored notice's dedupe key is the gateway's retry only when
it says the same of the event (domain/notice.py `differences`); anything else is a conflict."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.money import Money
from chalicelib.domain.notice import (
    IDENTITY,
    SUBSTANCE,
    Notice,
    NoticeKind,
    NoticeSource,
    differences,
)

STORED = Notice(
    channel="epay-main",
    gateway="epay",
    kind=NoticeKind.PAYMENT,
    dedupe_key="epay-main:2026120700001:TRADE_SUCCESS",
    out_trade_no="FS0000001",
    trade_no="2026120700001",
    amount=Money.parse("30.00", "CNY"),
    gateway_status="TRADE_SUCCESS",
    event_time=None,
    raw={"money": "30.00"},
    payment_ref="2026120700001",
)

texts = st.text(min_size=1, max_size=12)
money = st.builds(Money, st.integers(min_value=1, max_value=10**9), st.sampled_from(["CNY", "USD"]))
OTHER_VALUES = {
    "kind": st.sampled_from([k for k in NoticeKind if k is not STORED.kind]),
    "out_trade_no": texts.filter(lambda t: t != STORED.out_trade_no),
    "trade_no": st.none() | texts.filter(lambda t: t != STORED.trade_no),
    "amount": st.none() | money.filter(lambda m: m != STORED.amount),
    "refunded_total": money,
    "refund_ref": texts,
}
RETOLD = {  # what a retry, or a query beside the notification, may tell differently
    "raw": st.dictionaries(texts, texts, max_size=3),
    "event_time": st.none() | st.datetimes(timezones=st.just(UTC)),
    "received": st.none() | money,
    "fee": st.none() | money,
    "method": st.none() | texts,
    "payer": st.none() | texts,
    "source": st.sampled_from(NoticeSource),
    "gateway_status": texts,
}


def test_every_field_that_makes_the_event_is_compared() -> None:
    assert set(SUBSTANCE) == set(OTHER_VALUES)


@given(st.fixed_dictionaries({}, optional=RETOLD))
def test_a_retry_that_retells_the_rest_differs_in_nothing(retold) -> None:
    assert differences(STORED, replace(STORED, **retold)) == {}


@given(st.fixed_dictionaries({}, optional=OTHER_VALUES).filter(bool))
def test_each_field_that_says_otherwise_is_named_with_both_values(changed) -> None:
    again = replace(STORED, **changed)
    found = differences(STORED, again)
    assert set(found) == set(changed)
    for name, (stored_value, again_value) in found.items():
        shown = getattr(again, name)
        assert again_value == (None if shown is None else str(shown))
        assert stored_value == (
            None if getattr(STORED, name) is None else str(getattr(STORED, name))
        )


def test_values_are_shown_as_an_operator_reads_them() -> None:
    again = replace(STORED, out_trade_no="FS0000002", amount=Money.parse("99.00", "CNY"))
    assert differences(STORED, again) == {
        "out_trade_no": ["FS0000001", "FS0000002"],
        "amount": ["30.00 CNY", "99.00 CNY"],
    }


@given(
    st.fixed_dictionaries({}, optional=OTHER_VALUES).filter(bool),
    st.sampled_from(["stored", "again", "both"]),
)
def test_beside_a_query_answer_only_the_order_and_the_payment_must_agree(changed, queried) -> None:
    """A query's key is the trade's state as we key it: a Stripe payment refunded since is
    still `succeeded`, its answer now a refund's. Another order or payment is still a conflict."""
    stored = replace(STORED, source=NoticeSource.QUERY) if queried != "again" else STORED
    again = replace(STORED, **changed)
    if queried != "stored":
        again = replace(again, source=NoticeSource.QUERY)
    found = differences(stored, again)
    assert set(found) == set(changed) & set(IDENTITY)
