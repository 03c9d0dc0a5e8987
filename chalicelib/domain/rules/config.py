"""Per-rule configuration: severity, whether a finding holds delivery, whether the rule runs at
all, and its thresholds. The defaults are declared with each rule (registry.py);
`RulesConfig.with_overrides` merges the operator's JSON (settings: PAYTRACK_RULES) over them and
refuses anything it does not know, so a typo fails at start-up instead of silently keeping a
default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..anomaly import Severity
from ..errors import InvalidMoney
from ..money import Money, normalize_currency
from .registry import RULES


class InvalidRulesConfig(ValueError):
    """PAYTRACK_RULES names an unknown rule or setting, or gives a value of the wrong kind."""


@dataclass(frozen=True)
class RuleConfig:
    severity: Severity
    hold: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class IpBurstConfig(RuleConfig):
    window_minutes: int = 10
    min_orders: int = 5
    min_buyers: int = 3

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


@dataclass(frozen=True)
class SuspiciousEmailConfig(RuleConfig):
    check_random_local_part: bool = True
    random_min_length: int = 8  # shorter local parts are not judged random
    extra_disposable_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuickRefundConfig(RuleConfig):
    within_minutes: int = 30

    @property
    def within(self) -> timedelta:
        return timedelta(minutes=self.within_minutes)


@dataclass(frozen=True)
class LargeAmountConfig(RuleConfig):
    """`thresholds`: currency -> amount (major units, a decimal string); a paid amount at or
    above its currency's threshold is large. Currencies without a threshold are never large."""

    thresholds: Mapping[str, str] = field(default_factory=lambda: {"CNY": "500.00"})

    def threshold(self, currency: str) -> Money | None:
        text = self.thresholds.get(currency)
        return Money.parse(text, currency) if text is not None else None


@dataclass(frozen=True)
class SlowDeliveryConfig(RuleConfig):
    after_minutes: int = 5
    lookback_hours: int = 24  # paid orders older than this are not checked any more

    @property
    def after(self) -> timedelta:
        return timedelta(minutes=self.after_minutes)

    @property
    def lookback(self) -> timedelta:
        return timedelta(hours=self.lookback_hours)


@dataclass(frozen=True)
class ChannelFailureConfig(RuleConfig):
    window_minutes: int = 60
    min_attempts: int = 20
    max_failure_percent: int = 15  # a failed share strictly above this is a failure

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)


@dataclass(frozen=True)
class RulesConfig:
    """Every registered rule's settings (domain/rules/registry.py): its defaults unless given.
    Read one as an attribute (`rules.ip_burst`) or with `of(name)`."""

    settings: Mapping[str, RuleConfig] = field(
        default_factory=lambda: {name: r.default for name, r in RULES.items()}
    )

    @staticmethod
    def rule_names() -> tuple[str, ...]:
        return tuple(RULES)

    def of(self, name: str) -> RuleConfig:
        return self.settings[name]

    def __getattr__(self, name: str) -> Any:
        settings = self.__dict__.get("settings")
        if settings is None or name not in settings:
            raise AttributeError(name)
        return settings[name]

    def with_overrides(self, overrides: Mapping[str, Any]) -> RulesConfig:
        """These rules with `{"<rule>": {"<setting>": value, …}, …}` merged over them."""
        if not isinstance(overrides, Mapping):
            raise InvalidRulesConfig(
                "PAYTRACK_RULES must be a JSON object of rule name -> settings"
            )
        changed = dict(self.settings)
        for rule, settings in overrides.items():
            if rule not in self.settings:
                raise InvalidRulesConfig(
                    f"unknown rule {rule!r}; rules: {', '.join(self.rule_names())}"
                )
            changed[rule] = _merge_rule(rule, self.settings[rule], settings)
        return RulesConfig(changed)


def _merge_rule(rule: str, current: RuleConfig, settings: Any) -> RuleConfig:
    if not isinstance(settings, Mapping):
        raise InvalidRulesConfig(f"{rule}: settings must be a JSON object")
    known = {f.name: f for f in dataclasses.fields(current)}
    values = {}
    for name, value in settings.items():
        if name not in known:
            raise InvalidRulesConfig(
                f"{rule}: unknown setting {name!r}; settings: {', '.join(known)}"
            )
        if name == "hold" and RULES[rule].fixed_hold and value is not True:
            raise InvalidRulesConfig(
                f"{rule}: always holds (the state machine holds it at ingestion)"
            )
        values[name] = _coerce(f"{rule}.{name}", getattr(current, name), value)
    if "thresholds" in values:
        values["thresholds"] = _thresholds(rule, values["thresholds"])
    return dataclasses.replace(current, **values)


def _coerce(where: str, default: Any, value: Any) -> Any:
    """Check `value` against the kind of the default it replaces."""
    if isinstance(default, Severity):
        try:
            return Severity(value)
        except ValueError:
            raise InvalidRulesConfig(
                f"{where}: one of {', '.join(s.value for s in Severity)}"
            ) from None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise InvalidRulesConfig(f"{where}: true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRulesConfig(f"{where}: a whole number of at least 1")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InvalidRulesConfig(f"{where}: a list of strings")
        return tuple(v.strip().lower() for v in value)
    if not isinstance(value, Mapping):
        raise InvalidRulesConfig(f"{where}: an object of currency -> amount string")
    return dict(value)


def _thresholds(rule: str, thresholds: Mapping[str, Any]) -> dict[str, str]:
    """Currency codes upper-cased; every amount a decimal string valid for its currency."""
    checked = {}
    for currency, amount in thresholds.items():
        try:
            checked[normalize_currency(currency)] = Money.parse(amount, currency).format()
        except InvalidMoney as error:
            raise InvalidRulesConfig(f"{rule}.thresholds.{currency}: {error.message}") from None
    return checked
