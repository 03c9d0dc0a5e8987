"""The one list of anomaly rules. A rule is its function, declared where it is defined with
`@rule(default settings, zh=…, en=…)`: its name (the function's), its settings type and defaults
(severity, hold, thresholds), whether its hold is fixed, and its labels. `RulesConfig`, the
PAYTRACK_RULES checks, the rule filter of the anomaly inbox and GET /admin/meta all read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..labels import Label

if TYPE_CHECKING:
    from .config import RuleConfig

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Rule:
    name: str
    check: Callable[..., Any]
    default: RuleConfig  # its type is the rule's settings type
    label: Label
    #: run on every order change (domain/rules/orders.py `order_findings`); the others are run
    #: by the service that reads their input (a notice, a window of orders, the clock)
    per_order_change: bool = False
    #: the state machine holds the order at ingestion: money is at stake, the hold is not optional
    fixed_hold: bool = False


RULES: dict[str, Rule] = {}


def rule(
    default: RuleConfig,
    *,
    zh: str,
    en: str,
    per_order_change: bool = False,
    fixed_hold: bool = False,
) -> Callable[[F], F]:
    """Register the decorated function as the rule of its name."""

    def register(check: F) -> F:
        name = check.__name__
        if name in RULES:
            raise ValueError(f"rule {name!r} is registered twice")
        RULES[name] = Rule(name, check, default, Label(zh, en), per_order_change, fixed_hold)
        return check

    return register


def order_rules() -> list[Rule]:
    """The rules run on every order change, in the order they are defined."""
    return [r for r in RULES.values() if r.per_order_change]
