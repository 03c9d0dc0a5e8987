"""PII masking for viewers, exports and logs (seed: 信息脱敏处理).

email `ab***@qq.com`, IPv4 `1.2.*.*` (IPv6: the first two groups), buyer id and payer ids keep
their first and last two characters, and so does a buyer's verification answer (which is often
the last four digits of an account: all starred). Pure functions; None stays None.
"""

from __future__ import annotations


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return mask_id(email)
    local, domain = email.rsplit("@", 1)
    return f"{local[:2]}***@{domain}"


def mask_ip(ip: str | None) -> str | None:
    if not ip:
        return ip
    if "." in ip:
        parts = ip.split(".")
        return ".".join(parts[:2] + ["*"] * (len(parts) - 2))
    groups = ip.split(":")
    return ":".join(groups[:2]) + ":*"


def mask_id(value: str | None) -> str | None:
    if not value:
        return value
    if len(value) <= 4:
        return "*" * len(value)
    return f"{value[:2]}{'*' * min(len(value) - 4, 8)}{value[-2:]}"


def mask_answer(answer: str | None) -> str | None:
    """A buyer's answer to a verification question (domain/verification.py), as a viewer sees it."""
    return mask_id(answer)
