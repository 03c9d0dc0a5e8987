"""Settings from the environment, read once. Chalice puts each stage's values in the environment
(.chalice/config.json); the local stack and the tests set the same variables."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from ..domain.rules.config import InvalidRulesConfig, RulesConfig


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    bucket: str
    events_topic_arn: str
    paging_topic_arn: str
    channels_secret_id: str
    verification_secret_id: str
    shop_timezone: str
    audit_ttl_days: int
    max_notify_bytes: int
    default_expires_in_s: int
    channel_cache_seconds: int
    #: how long the notices stream leaves a new, unapplied notice to the request that stored it
    notice_repair_after_s: int
    orders_stream_arn: str
    notices_stream_arn: str
    exports_stream_arn: str
    rules: RulesConfig = RulesConfig()
    #: refunds above this (in the order's currency) wait for an admin's approval
    refund_approval_above: str = "200.00"

    def table(self, name: str) -> str:
        return f"{self.table_prefix}{name}"


class MissingRegion(RuntimeError):
    """No AWS region configured: nothing falls back to a default region (an opt-in region such as
    ap-east-1 would fail far from the cause, and any other would put data somewhere unintended)."""


def resolve_region() -> str:
    """AWS_DEFAULT_REGION, else AWS_REGION, else the AWS profile's region (as boto3 resolves it).
    Lambda sets both variables; the tests and the local stack set AWS_DEFAULT_REGION themselves."""
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    if region:
        return region
    import botocore.session  # deferred: only a command run on a workstation gets here

    region = botocore.session.Session().get_config_variable("region")
    if not region:
        raise MissingRegion(
            "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or a region in "
            "your AWS profile (aws configure set region <region>)"
        )
    return region


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    stage = os.environ.get("PAYTRACK_STAGE", "local")
    region = resolve_region()
    account = os.environ.get("PAYTRACK_ACCOUNT_ID", "123456789012")
    return Settings(
        stage=stage,
        region=region,
        table_prefix=os.environ.get("PAYTRACK_TABLE_PREFIX", f"paytrack-{stage}-"),
        bucket=os.environ.get("PAYTRACK_BUCKET", f"paytrack-{stage}-files"),
        events_topic_arn=os.environ.get(
            "PAYTRACK_EVENTS_TOPIC_ARN", f"arn:aws:sns:{region}:{account}:paytrack-{stage}-events"
        ),
        paging_topic_arn=os.environ.get(
            "PAYTRACK_PAGING_TOPIC_ARN", f"arn:aws:sns:{region}:{account}:paytrack-{stage}-paging"
        ),
        channels_secret_id=os.environ.get(
            "PAYTRACK_CHANNELS_SECRET_ID", f"paytrack/{stage}/channels"
        ),
        verification_secret_id=os.environ.get(
            "PAYTRACK_VERIFICATION_SECRET_ID", f"paytrack/{stage}/verification"
        ),
        shop_timezone=os.environ.get("PAYTRACK_SHOP_TZ", "Asia/Shanghai"),
        audit_ttl_days=_int("PAYTRACK_AUDIT_TTL_DAYS", 180),
        max_notify_bytes=_int("PAYTRACK_MAX_NOTIFY_BYTES", 64 * 1024),
        default_expires_in_s=_int("PAYTRACK_DEFAULT_EXPIRES_IN_S", 900),
        channel_cache_seconds=_int("PAYTRACK_CHANNEL_CACHE_SECONDS", 300),
        notice_repair_after_s=_int("PAYTRACK_NOTICE_REPAIR_AFTER_S", 2),
        # literals at load time (STACK.md): the merge template sets the real stream ARNs
        orders_stream_arn=os.environ.get(
            "PAYTRACK_ORDERS_STREAM_ARN", _stream_placeholder(region, account, stage, "orders")
        ),
        notices_stream_arn=os.environ.get(
            "PAYTRACK_NOTICES_STREAM_ARN", _stream_placeholder(region, account, stage, "notices")
        ),
        exports_stream_arn=os.environ.get(
            "PAYTRACK_EXPORTS_STREAM_ARN", _stream_placeholder(region, account, stage, "exports")
        ),
        rules=_rules(os.environ.get("PAYTRACK_RULES", "")),
        refund_approval_above=_decimal("PAYTRACK_REFUND_APPROVAL_ABOVE", "200.00"),
    )


def _decimal(name: str, default: str) -> str:
    """A non-negative decimal amount such as "200.00" (checked at start-up, not at the first use)."""
    value = os.environ.get(name, default).strip()
    if not re.fullmatch(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,4})?", value):
        raise ValueError(f"{name} must be a decimal amount such as 200.00, got {value!r}")
    return value


def _rules(text: str) -> RulesConfig:
    """The anomaly rules: defaults, with PAYTRACK_RULES (a JSON object, docs/operations.md "Configuration")
    merged over them per rule. Anything unknown or malformed stops the start-up, naming it."""
    if not text.strip():
        return RulesConfig()
    try:
        overrides = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidRulesConfig(f"PAYTRACK_RULES is not valid JSON: {error}") from None
    return RulesConfig().with_overrides(overrides)


def _stream_placeholder(region: str, account: str, stage: str, table: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/paytrack-{stage}-{table}/stream/1970-01-01T00:00:00.000"
