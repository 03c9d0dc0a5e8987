"""What a finding does to its order (once), and which deliverability event the shop gets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.anomaly import AnomalyStatus, Finding, Severity, check_status_change
from chalicelib.domain.errors import TransitionRefused
from chalicelib.domain.order import DeliveryStatus, Outcome, PayStatus, release_hold
from chalicelib.domain.rules.effects import announcement, anomaly_changes

from .factories import NOW, order, paid


def finding(hold: bool, rule: str = "ip_burst", subject: str = "S1") -> Finding:
    return Finding(rule=rule, severity=Severity.WARNING, subject=subject, order_no="O", hold=hold)


def test_a_finding_flags_notes_and_holds_its_order():
    target = paid(order())
    changes = anomaly_changes(target, finding(hold=True), NOW)
    after = changes.apply_to(target)
    assert after.flagged and after.on_hold and after.hold_reasons == ["ip_burst"]
    assert [e.type for e in after.timeline[-2:]] == ["anomaly", "hold"]
    assert after.timeline[-2].data == {
        "anomaly_id": "ip_burst#S1",
        "rule": "ip_burst",
        "severity": "warning",
    }


def test_applied_once_even_after_an_operator_released_the_hold():
    held = anomaly_changes(paid(order()), finding(hold=True), NOW).apply_to(paid(order()))
    released = release_hold(held, NOW, "op", "checked").apply_to(held)
    again = anomaly_changes(released, finding(hold=True), NOW)
    assert again.outcome == Outcome.ALREADY_APPLIED and not again.writes


def test_a_non_holding_finding_only_flags_and_notes():
    target = order()
    after = anomaly_changes(target, finding(hold=False), NOW).apply_to(target)
    assert after.flagged and not after.on_hold and after.timeline[-1].type == "anomaly"


def test_a_delivered_order_is_noted_but_not_held():
    target = replace(paid(order()), delivery_status=DeliveryStatus.DELIVERED)
    after = anomaly_changes(target, finding(hold=True), NOW).apply_to(target)
    assert (
        after.delivery_status is DeliveryStatus.DELIVERED and after.timeline[-1].type == "anomaly"
    )


def test_an_order_held_for_the_reason_already_gets_no_second_hold_entry():
    target = paid(order(), hold=["amount_mismatch"])
    changes = anomaly_changes(target, finding(hold=True, rule="amount_mismatch"), NOW)
    assert [e.type for e in changes.timeline] == ["anomaly"]


def test_a_finding_made_before_a_release_notes_the_anomaly_but_does_not_hold_again():
    held = paid(order(), hold=["amount_mismatch"])  # as ingestion held it; the rule not run yet
    released = release_hold(held, NOW, "op", "checked").apply_to(held)
    stale = finding(hold=True, rule="amount_mismatch")
    after = anomaly_changes(released, stale, NOW, seen_generation=0).apply_to(released)
    assert not after.on_hold and after.hold_reasons == [] and after.flagged
    assert after.timeline[-1].type == "anomaly"
    assert after.timeline[-1].data["hold"] == "released_since"
    assert "not held" in after.timeline[-1].message
    assert announcement(after).key == "order.ready#1"


def test_a_finding_made_after_the_release_still_holds():
    held = paid(order(), hold=["amount_mismatch"])
    released = release_hold(held, NOW, "op", "checked").apply_to(held)
    later = finding(hold=True, rule="duplicate_payment")
    after = anomaly_changes(released, later, NOW, seen_generation=1).apply_to(released)
    assert after.on_hold and after.hold_reasons == ["duplicate_payment"]
    assert "hold" not in after.timeline[-2].data
    assert announcement(after).key == "order.held#1"


def test_announcement_ready_or_held_per_generation():
    ready = announcement(paid(order()))
    assert (ready.event, ready.key, ready.reasons) == ("order.ready", "order.ready#0", ())
    held_order = anomaly_changes(paid(order()), finding(hold=True), NOW).apply_to(paid(order()))
    held = announcement(held_order)
    assert (held.event, held.key, held.reasons) == ("order.held", "order.held#0", ("ip_burst",))
    released = release_hold(held_order, NOW, "op", None).apply_to(held_order)
    assert announcement(released).key == "order.ready#1"
    again = anomaly_changes(released, finding(hold=True, subject="S2"), NOW).apply_to(released)
    assert announcement(again).key == "order.held#1"


def test_nothing_to_announce_before_payment_after_delivery_or_after_refund():
    assert announcement(order()) is None
    assert announcement(replace(paid(order()), delivery_status=DeliveryStatus.DELIVERED)) is None
    assert announcement(replace(paid(order()), pay_status=PayStatus.REFUNDED)) is None


@pytest.mark.parametrize(
    "current,target,allowed",
    [
        ("open", "acknowledged", True),
        ("open", "resolved", True),
        ("acknowledged", "acknowledged", True),
        ("acknowledged", "resolved", True),
        ("resolved", "resolved", True),
        ("resolved", "acknowledged", False),
    ],
)
def test_anomaly_status_changes(current, target, allowed):
    if allowed:
        check_status_change(AnomalyStatus(current), AnomalyStatus(target))
    else:
        with pytest.raises(TransitionRefused):
            check_status_change(AnomalyStatus(current), AnomalyStatus(target))
