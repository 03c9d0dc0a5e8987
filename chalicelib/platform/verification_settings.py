"""Settings of buyer verification (docs/operations.md "Configuration"), read once from the environment: how
long the buyer has to answer, and the operators' question templates."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

DEFAULT_TEMPLATES = {
    "last4": "请提供您付款账户（支付宝账号、微信绑定的银行卡或信用卡）的后四位。",
    "pay_time": "请提供您付款的大致时间（精确到分钟）和所用的支付方式。",
    "payer_surname": "请提供付款账户实名认证的姓氏。",
}


class InvalidVerificationConfig(ValueError):
    """PAYTRACK_VERIFICATION_TEMPLATES or _TTL_S is unusable: the start-up stops, naming it."""


@dataclass(frozen=True)
class VerificationSettings:
    ttl: timedelta  # an unanswered request is expired after this
    templates: Mapping[str, str]  # name -> question; `free` is the operator's own question


def _templates(text: str) -> dict[str, str]:
    if not text.strip():
        return dict(DEFAULT_TEMPLATES)
    try:
        templates = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidVerificationConfig(
            f"PAYTRACK_VERIFICATION_TEMPLATES is not JSON: {error}"
        ) from None
    if (
        not isinstance(templates, dict)
        or not templates
        or not all(
            isinstance(k, str) and k != "free" and isinstance(q, str) and 0 < len(q) <= 500
            for k, q in templates.items()
        )
    ):
        raise InvalidVerificationConfig(
            "PAYTRACK_VERIFICATION_TEMPLATES must be a JSON object of name -> "
            "question (1 to 500 characters; `free` is reserved)"
        )
    return templates


@lru_cache(maxsize=1)
def get_verification_settings() -> VerificationSettings:
    ttl = float(os.environ.get("PAYTRACK_VERIFICATION_TTL_S", 24 * 3600))
    if ttl <= 0:
        raise InvalidVerificationConfig("PAYTRACK_VERIFICATION_TTL_S must be positive seconds")
    return VerificationSettings(
        ttl=timedelta(seconds=ttl),
        templates=_templates(os.environ.get("PAYTRACK_VERIFICATION_TEMPLATES", "")),
    )
