"""GET /admin/meta: what the page would otherwise copy from the server — the anomaly rules with
their labels and current settings, the gateway types and payment methods with their display
names, the configured channels, and every currency with its minor digits. Read from the
registries (domain/rules/registry.py, gateways/registry.py), so a new rule or gateway shows up
without touching the page."""

from __future__ import annotations

from typing import Any

from ..domain.money import ISO_4217_MINOR_DIGITS
from ..domain.rules.registry import RULES
from ..domain.verification import INBOX_RULES
from ..gateways.registry import GATEWAYS, payment_methods
from ..platform.settings import get_settings
from . import channels


def describe() -> dict[str, Any]:
    settings = get_settings().rules
    return {
        "rules": [
            {
                "name": name,
                "label": rule.label.as_dict(),
                "severity": settings.of(name).severity.value,
                "hold": settings.of(name).hold,
                "enabled": settings.of(name).enabled,
            }
            for name, rule in RULES.items()
        ],
        # anomalies the inbox also holds that no rule raises (a buyer verification's)
        "inbox_rules": list(INBOX_RULES),
        "gateway_types": [
            {
                "type": name,
                "label": gateway.label.as_dict(),
                "methods": [method for method, _ in gateway.methods],
            }
            for name, gateway in GATEWAYS.items()
        ],
        "methods": [
            {"method": method, "label": label.as_dict()}
            for method, label in payment_methods().items()
        ],
        "channels": [
            {
                "id": channel_id,
                "name": config.get("name") if isinstance(config.get("name"), str) else None,
                "type": config["type"],
                "currencies": config.get("currencies") or None,
            }
            for channel_id, config in sorted(channels.all_channels().items())
        ],
        "currencies": dict(sorted(ISO_4217_MINOR_DIGITS.items())),
    }
