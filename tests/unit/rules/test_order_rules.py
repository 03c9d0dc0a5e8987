"""The per-order rules, each fed the change a stream record shows: fires when it should, once per
subject, and not when it should not (thresholds exactly at and just past their edges)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.anomaly import Severity
from chalicelib.domain.money import Money
from chalicelib.domain.order import PayStatus, TimelineEntry
from chalicelib.domain.rules import orders as rules
from chalicelib.domain.rules.config import RulesConfig

from .factories import NOW, change, order, paid, payment

CONFIG = RulesConfig()
US = timedelta(microseconds=1)


def ids(findings):
    return [f.anomaly_id for f in findings]


# ------------------------------------------------------------------ ingestion holds become anomalies


@pytest.mark.parametrize(
    "rule,reason",
    [
        ("amount_mismatch", "amount_mismatch"),
        ("channel_mismatch", "channel_mismatch"),
        ("currency_mismatch", "currency_mismatch"),
        ("late_payment", "late_payment"),
    ],
)
def test_a_new_ingestion_hold_reason_is_one_critical_holding_anomaly(rule, reason):
    before = order()
    after = paid(before, amount=Money(5220), hold=[reason])
    found = getattr(rules, rule)(change(before, after), getattr(CONFIG, rule))
    assert ids(found) == [f"{rule}#{before.order_no}"]
    assert (
        found[0].severity is Severity.CRITICAL
        and found[0].hold
        and found[0].order_no == before.order_no
    )


def test_amount_mismatch_says_what_was_expected_and_seen():
    before = order()
    (found,) = rules.amount_mismatch(
        change(before, paid(before, amount=Money(5220), hold=["amount_mismatch"])),
        CONFIG.amount_mismatch,
    )
    assert found.details["expected"] == {"amount": "58.00", "currency": "CNY"}
    assert found.details["seen"] == {"amount": "52.20", "currency": "CNY"}


def test_channel_mismatch_names_the_channel_the_money_arrived_on():
    before = order()
    after = paid(
        before, hold=["channel_mismatch"], payments=[replace(payment("T9"), channel="epay-main")]
    )
    (found,) = rules.channel_mismatch(change(before, after), CONFIG.channel_mismatch)
    assert found.details["paid_channel"] == "epay-main" and found.details["trade_no"] == "T9"
    assert (
        found.details["expected"] == "a payment on alipay-main" and found.channel == "alipay-main"
    )
    assert [f.rule for f in rules.order_findings(change(before, after), CONFIG)] == [
        "channel_mismatch"
    ]


def test_a_hold_reason_that_was_there_before_is_not_found_again():
    before = paid(order(), amount=Money(5220), hold=["amount_mismatch"])
    after = replace(
        before, timeline=[*before.timeline, TimelineEntry(NOW, "delivery", "shop", "x")]
    )
    assert rules.amount_mismatch(change(before, after), CONFIG.amount_mismatch) == []


def test_other_reasons_do_not_trigger_each_other():
    before = order()
    after = paid(before, hold=["late_payment"])
    assert rules.amount_mismatch(change(before, after), CONFIG.amount_mismatch) == []
    assert rules.currency_mismatch(change(before, after), CONFIG.currency_mismatch) == []


def test_late_payment_names_the_deadline():
    before = replace(order(), pay_status=PayStatus.EXPIRED, expired_at=NOW + timedelta(minutes=15))
    after = paid(before, at=NOW + timedelta(minutes=20), hold=["late_payment"])
    (found,) = rules.late_payment(change(before, after), CONFIG.late_payment)
    assert found.details["expected"] == "paid by 2026-11-25T06:15:00Z"
    assert found.details["seen"] == "paid at 2026-11-25T06:20:00Z"


def test_a_disabled_rule_finds_nothing():
    before = order()
    after = paid(before, amount=Money(5220), hold=["amount_mismatch"])
    off = replace(CONFIG.amount_mismatch, enabled=False)
    assert rules.amount_mismatch(change(before, after), off) == []


# ------------------------------------------------------------------ duplicate_payment


def test_every_payment_after_the_first_is_a_duplicate_with_its_refund_due():
    first = paid(order())
    second = replace(
        first,
        payments=[*first.payments, payment("T2", Money(5800))],
        hold_reasons=["duplicate_payment"],
    )
    (found,) = rules.duplicate_payment(change(first, second), CONFIG.duplicate_payment)
    assert found.anomaly_id == f"duplicate_payment#{first.order_no}#T2"
    assert found.details["refund_due"] == {"amount": "58.00", "currency": "CNY"} and found.hold
    third = replace(second, payments=[*second.payments, payment("T3", Money(100))])
    assert ids(rules.duplicate_payment(change(second, third), CONFIG.duplicate_payment)) == [
        f"duplicate_payment#{first.order_no}#T3"
    ]


def test_the_first_payment_is_not_a_duplicate():
    before = order()
    assert rules.duplicate_payment(change(before, paid(before)), CONFIG.duplicate_payment) == []


# ------------------------------------------------------------------ status_conflict


def test_each_conflict_entry_is_a_status_conflict():
    before = paid(order())
    entry = TimelineEntry(
        NOW,
        "conflict",
        "notify",
        "not applied: gateway closed a trade that is paid here",
        {"pay_status": "paid", "gateway_status": "TRADE_CLOSED", "notice": "alipay-main:n9"},
    )
    after = replace(before, timeline=[*before.timeline, entry])
    (found,) = rules.status_conflict(change(before, after), CONFIG.status_conflict)
    assert found.anomaly_id == f"status_conflict#{before.order_no}#alipay-main:n9"
    assert found.details["ledger_status"] == "paid" and found.details["seen"] == "TRADE_CLOSED"
    assert found.severity is Severity.CRITICAL and not found.hold
    assert rules.status_conflict(change(after, after), CONFIG.status_conflict) == []


def test_other_timeline_entries_are_not_conflicts():
    before = order()
    assert rules.status_conflict(change(before, paid(before)), CONFIG.status_conflict) == []


# ------------------------------------------------------------------ suspicious_email


@pytest.mark.parametrize(
    "email,reasons",
    [
        ("zhangwei1988@mailinator.com", ["disposable_domain"]),
        ("li@inbox.yopmail.com", ["disposable_domain"]),
        ("x7k2q9vbn3@qq.com", ["random_local_part"]),
        ("a8f3kd9slq@guerrillamail.com", ["disposable_domain", "random_local_part"]),
    ],
)
def test_suspicious_email_on_a_new_order(email, reasons):
    created = order(buyer_email=email)
    (found,) = rules.suspicious_email(change(None, created), CONFIG.suspicious_email)
    assert found.details["seen"] == reasons and found.details["email"] == email
    assert found.severity is Severity.WARNING and not found.hold


@pytest.mark.parametrize("email", ["zhangwei1988@qq.com", "1234567890@qq.com", None])
def test_ordinary_or_missing_email_is_fine(email):
    assert (
        rules.suspicious_email(change(None, order(buyer_email=email)), CONFIG.suspicious_email)
        == []
    )


def test_email_is_judged_once_when_the_order_is_created():
    created = order(buyer_email="x7k2q9vbn3@mailinator.com")
    assert rules.suspicious_email(change(created, paid(created)), CONFIG.suspicious_email) == []


def test_shop_added_disposable_domains_and_switching_the_heuristic_off():
    config = replace(
        CONFIG.suspicious_email,
        extra_disposable_domains=("burner.example",),
        check_random_local_part=False,
    )
    assert (
        rules.suspicious_email(change(None, order(buyer_email="x7k2q9vbn3@qq.com")), config) == []
    )
    (found,) = rules.suspicious_email(change(None, order(buyer_email="li@burner.example")), config)
    assert found.details["seen"] == ["disposable_domain"]


# ------------------------------------------------------------------ quick_refund


def refunded(base, after):
    return replace(
        base,
        pay_status=PayStatus.REFUNDED,
        refunded_at=base.paid_at + after,
        refunded_amount=Money(5800),
    )


@pytest.mark.parametrize(
    "after,fires",
    [
        (timedelta(minutes=30), True),
        (timedelta(minutes=30) + US, False),
        (timedelta(0), True),
        (timedelta(minutes=29, seconds=59), True),
    ],
)
def test_quick_refund_boundary(after, fires):
    before = paid(order())
    found = rules.quick_refund(change(before, refunded(before, after)), CONFIG.quick_refund)
    assert bool(found) is fires
    if fires:
        assert (
            found[0].anomaly_id == f"quick_refund#{before.order_no}"
            and found[0].severity is Severity.WARNING
        )


def test_a_second_partial_refund_is_not_a_new_quick_refund():
    before = refunded(paid(order()), timedelta(minutes=5))
    later = replace(before, refunded_at=before.refunded_at + timedelta(minutes=1))
    assert rules.quick_refund(change(before, later), CONFIG.quick_refund) == []


# ------------------------------------------------------------------ large_amount


@pytest.mark.parametrize("minor,fires", [(50000, True), (49999, False), (50001, True)])
def test_large_amount_boundary(minor, fires):
    before = order(amount=Money(minor))
    found = rules.large_amount(change(before, paid(before)), CONFIG.large_amount)
    assert bool(found) is fires
    if fires:
        assert found[0].severity is Severity.INFO and not found[0].hold
        assert found[0].details["threshold"] == {"amount": "500.00", "currency": "CNY"}


def test_large_amount_only_in_currencies_with_a_threshold_and_only_when_paid():
    usd = order(amount=Money(99900, "USD"))
    assert rules.large_amount(change(usd, paid(usd)), CONFIG.large_amount) == []
    big = order(amount=Money(90000))
    assert rules.large_amount(change(None, big), CONFIG.large_amount) == []
    assert rules.large_amount(change(paid(big), paid(big)), CONFIG.large_amount) == []


def test_large_amount_hold_is_configurable():
    before = order(amount=Money(60000))
    (found,) = rules.large_amount(
        change(before, paid(before)), replace(CONFIG.large_amount, hold=True)
    )
    assert found.hold


# ------------------------------------------------------------------ all together


def test_order_findings_runs_every_per_order_rule_with_its_own_configuration():
    before = order(buyer_email="x7k2q9vbn3@mailinator.com", amount=Money(60000))
    after = paid(before, amount=Money(50000), hold=["amount_mismatch"])
    found = rules.order_findings(change(before, after), CONFIG)
    assert sorted(f.rule for f in found) == ["amount_mismatch", "large_amount"]
    assert sorted(f.rule for f in rules.order_findings(change(None, before), CONFIG)) == [
        "suspicious_email"
    ]
