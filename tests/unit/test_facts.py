"""The page's structured facts, derived from what the domain records (entries and rule findings
made by the real domain functions, so a reworded message shows up here)."""

from dataclasses import replace
from datetime import timedelta

from chalicelib.domain.actions import mark_refunded, operator_release
from chalicelib.domain.money import Money
from chalicelib.domain.order import TimelineEntry, release_hold
from chalicelib.domain.rules import orders as order_rules
from chalicelib.domain.rules import windows
from chalicelib.domain.rules.config import RulesConfig
from chalicelib.domain.rules.windows import ChannelTally
from chalicelib.services.facts import anomaly_facts, timeline_facts
from tests.unit.rules.factories import NOW, change, order, paid, payment

CONFIG = RulesConfig()


def facts_of_last(changes, before):
    after = changes.apply_to(before)
    return timeline_facts(after.timeline[-1], after)


def test_created_names_product_amount_and_channel():
    base = order(
        timeline=[
            TimelineEntry(NOW, "created", "shop", "order registered: …", {"expires_in_s": 900})
        ]
    )
    assert timeline_facts(base.timeline[0], base) == {
        "product": "VIP会员 月卡",
        "quantity": 1,
        "amount": "58.00",
        "currency": "CNY",
        "channel": "alipay-main",
        "expires_in_s": 900,
    }


def test_payment_takes_channel_and_method_from_its_payment_and_drops_bookkeeping():
    entry = TimelineEntry(
        NOW,
        "payment",
        "notify",
        "late payment of 58.00 CNY via wx-b (wechat), trade T9",
        {"trade_no": "T9", "notice": "n-T9", "idempotency_key": "k"},
    )
    paying = replace(payment("T9"), channel="wx-b", method="wechat")
    facts = timeline_facts(entry, order(payments=[paying]))
    assert facts == {
        "trade_no": "T9",
        "channel": "wx-b",
        "method": "wechat",
        "late": True,
        "duplicate": False,
        "amount": "58.00",
        "currency": "CNY",
    }


def test_operator_words_come_out_as_notes():
    held = paid(order(), hold=["amount_mismatch"])
    released = facts_of_last(operator_release(held, NOW, "key-1", "已核实到账"), held)
    assert released == {"released": ["amount_mismatch"], "note": "已核实到账"}
    refunded = facts_of_last(
        mark_refunded(paid(order()), Money(1000), NOW, "key-1", "买家要求"), paid(order())
    )
    assert refunded == {
        "refunded": "10.00",
        "total": "10.00",
        "currency": "CNY",
        "note": "买家要求",
    }
    assert facts_of_last(release_hold(held, NOW, None, None), held) == {
        "released": ["amount_mismatch"]
    }


def test_an_unknown_entry_type_passes_its_data_through():
    entry = TimelineEntry(
        NOW,
        "refund_requested",
        "operator",
        "refund of 5.00 CNY requested",
        {"amount": "5.00", "currency": "CNY", "request": "abc"},
    )
    assert timeline_facts(entry, order()) == {"amount": "5.00", "currency": "CNY"}


def test_amount_rules_keep_amount_objects():
    finding = order_rules.amount_mismatch(
        change(order(), paid(order(), amount=Money(580), hold=["amount_mismatch"])),
        CONFIG.amount_mismatch,
    )[0]
    assert anomaly_facts(finding.rule, finding.details) == {
        "expected_amount": {"amount": "58.00", "currency": "CNY"},
        "seen_amount": {"amount": "5.80", "currency": "CNY"},
    }


def test_duplicate_payment_position_and_refs():
    once = paid(order())
    twice = replace(once, payments=[*once.payments, payment("T2")])
    finding = order_rules.duplicate_payment(change(once, twice), CONFIG.duplicate_payment)[0]
    assert anomaly_facts(finding.rule, finding.details) == {
        "first_ref": "T1",
        "position": 2,
        "extra_ref": "T2",
    }


def test_counted_rules_give_numbers():
    failing = windows.channel_failure(
        "alipay-main", ChannelTally(attempts=20, failed=8), NOW, CONFIG.channel_failure
    )
    assert anomaly_facts(failing.rule, failing.details) == {
        "max_percent": CONFIG.channel_failure.max_failure_percent,
        "failed": 8,
        "attempts": 20,
        "percent": 40,
    }
    slow = windows.slow_delivery(paid(order()), NOW + timedelta(hours=2), CONFIG.slow_delivery)
    assert anomaly_facts(slow.rule, slow.details) == {
        "after_minutes": CONFIG.slow_delivery.after_minutes,
        "delivery_status": "pending",
        "waited_s": 7200,
    }


def test_email_problems_are_codes_and_unknown_rules_give_nothing():
    assert anomaly_facts(
        "suspicious_email", {"expected": "a personal e-mail address", "seen": ["disposable_domain"]}
    ) == {"email_problems": ["disposable_domain"]}
    assert anomaly_facts("reconciliation_duplicate", {"statement": "1.00"}) == {}


def test_reconciliation_notes_become_codes():
    assert anomaly_facts(
        "reconciliation_missing_there", {"note": "paid here, not in the gateway's statement"}
    ) == {"note_code": "paid_here_only"}
    assert anomaly_facts(
        "reconciliation_status_mismatch",
        {"note": "refunded 5.00 CNY at the gateway, 2.00 CNY here"},
    ) == {"note_code": "refunds_differ", "gateway_refund": "5.00", "our_refund": "2.00"}
