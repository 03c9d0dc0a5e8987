"""Rule configuration: the issue's defaults, PAYTRACK_RULES merged over them, and every mistake
refused at start-up with a message that names it."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.anomaly import Severity
from chalicelib.domain.money import Money
from chalicelib.domain.rules.config import InvalidRulesConfig, RulesConfig
from chalicelib.platform import settings as settings_module


def test_defaults_are_the_issues():
    rules = RulesConfig()
    critical_holding = (
        "amount_mismatch",
        "channel_mismatch",
        "currency_mismatch",
        "duplicate_payment",
        "late_payment",
    )
    assert all(
        getattr(rules, r).severity is Severity.CRITICAL and getattr(rules, r).hold
        for r in critical_holding
    )
    assert rules.unknown_order.severity is Severity.CRITICAL and not rules.unknown_order.hold
    assert rules.status_conflict.severity is Severity.CRITICAL and not rules.status_conflict.hold
    assert (
        rules.ip_burst.severity,
        rules.ip_burst.hold,
        rules.ip_burst.min_orders,
        rules.ip_burst.min_buyers,
        rules.ip_burst.window_minutes,
    ) == (Severity.WARNING, True, 5, 3, 10)
    assert (rules.suspicious_email.severity, rules.suspicious_email.hold) == (
        Severity.WARNING,
        False,
    )
    assert (rules.quick_refund.severity, rules.quick_refund.within_minutes) == (
        Severity.WARNING,
        30,
    )
    assert (rules.large_amount.severity, rules.large_amount.hold) == (Severity.INFO, False)
    assert (
        rules.large_amount.threshold("CNY") == Money(50000)
        and rules.large_amount.threshold("USD") is None
    )
    assert (rules.slow_delivery.severity, rules.slow_delivery.after_minutes) == (
        Severity.WARNING,
        5,
    )
    assert (
        rules.channel_failure.severity,
        rules.channel_failure.max_failure_percent,
        rules.channel_failure.min_attempts,
        rules.channel_failure.window_minutes,
    ) == (Severity.CRITICAL, 15, 20, 60)
    assert all(getattr(rules, name).enabled for name in rules.rule_names())


def test_overrides_merge_per_setting_and_keep_the_rest():
    rules = RulesConfig().with_overrides(
        {
            "large_amount": {
                "hold": True,
                "severity": "warning",
                "thresholds": {"cny": "800", "USD": "100.00"},
            },
            "ip_burst": {"min_orders": 8},
            "suspicious_email": {"enabled": False, "extra_disposable_domains": ["Spam.Example"]},
        }
    )
    assert rules.large_amount.hold and rules.large_amount.severity is Severity.WARNING
    assert rules.large_amount.threshold("CNY") == Money(80000)
    assert rules.large_amount.threshold("USD") == Money(10000, "USD")
    assert (rules.ip_burst.min_orders, rules.ip_burst.min_buyers) == (8, 3)
    assert not rules.suspicious_email.enabled
    assert rules.suspicious_email.extra_disposable_domains == ("spam.example",)
    assert rules.quick_refund == RulesConfig().quick_refund


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"ip_brust": {}}, "unknown rule 'ip_brust'"),
        ({"ip_burst": {"min_order": 4}}, "ip_burst: unknown setting 'min_order'"),
        ({"ip_burst": {"min_orders": 0}}, "ip_burst.min_orders: a whole number of at least 1"),
        ({"ip_burst": {"min_orders": "5"}}, "ip_burst.min_orders"),
        ({"ip_burst": {"hold": "yes"}}, "ip_burst.hold: true or false"),
        (
            {"quick_refund": {"severity": "high"}},
            "quick_refund.severity: one of info, warning, critical",
        ),
        ({"amount_mismatch": {"hold": False}}, "amount_mismatch: always holds"),
        ({"large_amount": {"thresholds": {"CNY": "500.001"}}}, "large_amount.thresholds.CNY"),
        ({"large_amount": {"thresholds": {"YEN": "x"}}}, "large_amount.thresholds.YEN"),
        ({"large_amount": {"thresholds": ["500"]}}, "large_amount.thresholds"),
        ({"ip_burst": 5}, "ip_burst: settings must be a JSON object"),
        ([], "must be a JSON object"),
    ],
)
def test_mistakes_are_refused_by_name(overrides, message):
    with pytest.raises(InvalidRulesConfig, match=message.replace("(", r"\(").replace(".", r"\.")):
        RulesConfig().with_overrides(overrides)


def test_settings_read_paytrack_rules(monkeypatch):
    monkeypatch.setenv("PAYTRACK_RULES", json.dumps({"quick_refund": {"within_minutes": 10}}))
    settings_module.get_settings.cache_clear()
    try:
        assert settings_module.get_settings().rules.quick_refund.within_minutes == 10
        monkeypatch.setenv("PAYTRACK_RULES", "{not json")
        settings_module.get_settings.cache_clear()
        with pytest.raises(InvalidRulesConfig, match="PAYTRACK_RULES is not valid JSON"):
            settings_module.get_settings()
    finally:
        monkeypatch.delenv("PAYTRACK_RULES")
        settings_module.get_settings.cache_clear()
    assert settings_module.get_settings().rules == RulesConfig()


def test_the_registry_is_the_one_list_of_rules():
    """Each rule is declared once, with its function: the configuration, the fixed holds and the
    per-order rules all come from it."""
    from chalicelib.domain.rules import orders
    from chalicelib.domain.rules.registry import RULES, order_rules

    rules = RulesConfig()
    assert rules.rule_names() == tuple(RULES) and len(RULES) == 14
    assert all(
        rules.of(name) == r.default and r.check.__name__ == name for name, r in RULES.items()
    )
    assert all(r.label.zh and r.label.en for r in RULES.values())
    assert {r.name for r in RULES.values() if r.fixed_hold} == {
        "amount_mismatch",
        "channel_mismatch",
        "currency_mismatch",
        "duplicate_payment",
        "late_payment",
    }
    assert [r.check for r in order_rules()] == [
        orders.amount_mismatch,
        orders.channel_mismatch,
        orders.currency_mismatch,
        orders.late_payment,
        orders.duplicate_payment,
        orders.status_conflict,
        orders.suspicious_email,
        orders.quick_refund,
        orders.large_amount,
    ]


def test_a_rule_registered_twice_is_refused():
    from chalicelib.domain.rules.registry import rule

    def large_amount(change, config):
        return []

    with pytest.raises(ValueError, match="registered twice"):
        rule(RulesConfig().large_amount, zh="x", en="x")(large_amount)
