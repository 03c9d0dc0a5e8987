"""PynamoDB models: the only place that names tables, keys and indexes.

Every admin access pattern of API.md is served by a key or an index (docs/internals.md: "Access patterns").
Filter indexes are keyed by the filtered value with the ISO creation time as sort key, so a
filter plus a time range is one bounded Query, newest first, never a Scan. Unfiltered listings
use the UTC creation day as partition (one Query per day) so no single key takes every write.
Derived keys (`paid_day`, `awaiting_delivery`, `flag`, `email_lc`, `product_lc`, the amount,
status, channel and e-mail composites) are written together with what they derive from
(store/orders.py, store/search_keys.py); sparse indexes simply omit the attribute. Composite sort keys `<value>#<created_at>` (amount,
e-mail) let one Query read exactly one price or one address in a time range, newest first.
"""

from __future__ import annotations

from typing import cast

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import MetaProtocol, Model

from ..platform.aws import (
    CONNECT_TIMEOUT_S,
    MAX_ATTEMPTS,
    MAX_POOL_CONNECTIONS,
    READ_TIMEOUT_S,
    share_session_with_pynamodb,
)
from ..platform.settings import get_settings

_settings = get_settings()
share_session_with_pynamodb()


class _Meta:
    region = _settings.region
    billing_mode = "PAY_PER_REQUEST"
    # platform/aws.py's limits (PynamoDB makes its botocore client with standard-mode retries)
    connect_timeout_seconds = CONNECT_TIMEOUT_S
    read_timeout_seconds = READ_TIMEOUT_S
    max_retry_attempts = MAX_ATTEMPTS - 1
    max_pool_connections = MAX_POOL_CONNECTIONS


def _meta(table: str, streamed: bool = False) -> MetaProtocol:
    attrs = {"table_name": _settings.table(table)}
    if streamed:
        attrs["stream_view_type"] = "NEW_AND_OLD_IMAGES"
    # a class pynamodb reads through its attributes, which is what MetaProtocol describes
    return cast(MetaProtocol, type("Meta", (_Meta,), attrs))


def _gsi(name: str, hash_attr: str, range_attr: str | None, range_number: bool = False):
    """A GlobalSecondaryIndex class with ALL projection: index reads never need a second GetItem."""
    attrs: dict = {
        "Meta": type("Meta", (), {"index_name": name, "projection": AllProjection()}),
        hash_attr: UnicodeAttribute(hash_key=True),
    }
    if range_attr:
        attrs[range_attr] = (NumberAttribute if range_number else UnicodeAttribute)(range_key=True)
    return type(f"Index_{name}", (GlobalSecondaryIndex,), attrs)()


# ------------------------------------------------------------------------------- orders


class TimelineMap(MapAttribute):
    at = UnicodeAttribute()
    type = UnicodeAttribute()
    source = UnicodeAttribute()
    message = UnicodeAttribute()
    data = JSONAttribute(null=True)
    actor = UnicodeAttribute(null=True)


class PaymentMap(MapAttribute):
    payment_ref = UnicodeAttribute()
    amount_minor = NumberAttribute()
    currency = UnicodeAttribute()
    channel = UnicodeAttribute()
    at = UnicodeAttribute(null=True)
    notice_key = UnicodeAttribute()
    received_minor = NumberAttribute(null=True)
    fee_minor = NumberAttribute(null=True)
    method = UnicodeAttribute(null=True)
    payer = UnicodeAttribute(null=True)


class OrderModel(Model):
    Meta = _meta("orders", streamed=True)

    order_no = UnicodeAttribute(hash_key=True)
    amount_minor = NumberAttribute()
    amount_band = UnicodeAttribute(null=True)
    amount_at = UnicodeAttribute(null=True)  # "<amount in minor units, 15 digits>#<created_at>"
    currency = UnicodeAttribute()
    channel = UnicodeAttribute()
    gateway = UnicodeAttribute(null=True)
    product_id = UnicodeAttribute()
    product_name = UnicodeAttribute()
    product_lc = UnicodeAttribute()
    quantity = NumberAttribute()
    buyer_email = UnicodeAttribute(null=True)
    email_lc = UnicodeAttribute(null=True)
    buyer_id = UnicodeAttribute(null=True)
    buyer_ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    device = UnicodeAttribute(null=True)
    browser = UnicodeAttribute(null=True)
    os = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_day = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    pay_status = UnicodeAttribute()
    delivery_status = UnicodeAttribute()
    hold_reasons = ListAttribute(of=UnicodeAttribute, default=list)
    paid_at = UnicodeAttribute(null=True)
    trade_no = UnicodeAttribute(null=True)
    fee_minor = NumberAttribute(
        null=True
    )  # the statement's fee (reconciliation); else the payment's
    net_minor = NumberAttribute(null=True)  # the statement's net (实际到账), written with fee_minor
    fee_currency = UnicodeAttribute(null=True)  # their settlement currency when not the paid one
    settled_minor = NumberAttribute(null=True)  # the payment converted into fee_currency
    exchange_rate = UnicodeAttribute(null=True)  # the gateway's rate for that conversion
    next_query_at = UnicodeAttribute(null=True)  # 补单: when requery_pending asks the gateway next
    refunded_minor = NumberAttribute(null=True)
    refunded_at = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    expired_at = UnicodeAttribute(null=True)
    delivered_at = UnicodeAttribute(null=True)
    method = UnicodeAttribute(null=True)
    fingerprint = UnicodeAttribute(null=True)
    payments = ListAttribute(of=PaymentMap, default=list)
    timeline = ListAttribute(of=TimelineMap, default=list)
    applied = UnicodeSetAttribute(null=True)
    version = NumberAttribute(default=0)
    # derived index keys, written with what they derive from (store/orders.py)
    paid_day = UnicodeAttribute(null=True)
    awaiting_delivery = UnicodeAttribute(null=True)  # paid_day while paid and not delivered
    flag = UnicodeAttribute(null=True)
    refund_open = UnicodeAttribute(
        null=True
    )  # "1" while a refund request is open (domain/refunds.py)
    channel_status = UnicodeAttribute(null=True)  # "<channel>#<pay_status>"
    status_band = UnicodeAttribute(null=True)  # "<pay_status>#<amount_band>"
    channel_band = UnicodeAttribute(null=True)  # "<channel>#<amount_band>"
    email_domain = UnicodeAttribute(null=True)  # the address's domain, case-folded
    email_head = UnicodeAttribute(null=True)  # its local part's first 3 characters, case-folded
    email_at = UnicodeAttribute(null=True)  # "<address, case-folded>#<created_at>"

    by_created = _gsi("by_created", "created_day", "created_at")
    by_amount = _gsi("by_amount", "amount_band", "amount_at")
    by_status = _gsi("by_status", "pay_status", "created_at")
    by_channel = _gsi("by_channel", "channel", "created_at")
    by_channel_status = _gsi("by_channel_status", "channel_status", "created_at")
    by_status_amount = _gsi("by_status_amount", "status_band", "amount_at")
    by_channel_amount = _gsi("by_channel_amount", "channel_band", "amount_at")
    by_delivery = _gsi("by_delivery", "delivery_status", "created_at")
    by_method = _gsi("by_method", "method", "created_at")
    by_paid = _gsi("by_paid", "paid_day", "paid_at")
    by_awaiting_delivery = _gsi("by_awaiting_delivery", "awaiting_delivery", "paid_at")
    by_flagged = _gsi("by_flagged", "flag", "created_at")
    by_refund_open = _gsi("by_refund_open", "refund_open", "created_at")
    by_trade_no = _gsi("by_trade_no", "trade_no", None)
    by_email = _gsi("by_email", "email_lc", "created_at")
    by_email_domain = _gsi("by_email_domain", "email_domain", "created_at")
    by_email_prefix = _gsi("by_email_prefix", "email_head", "email_at")
    by_buyer = _gsi("by_buyer", "buyer_id", "created_at")
    by_ip = _gsi("by_ip", "buyer_ip", "created_at")


# ------------------------------------------------------------------------------- notices


class AttemptMap(MapAttribute):
    """One delivery of the notice by the gateway: the audit record of an accepted request."""

    at = UnicodeAttribute()
    source_ip = UnicodeAttribute(null=True)
    source = UnicodeAttribute()


class NoticeModel(Model):
    """One verified gateway event, unique by its dedupe key. Kept forever (the money trail).

    Each delivery of it (first and every retry) is in `attempts`: that list is the audit record
    of accepted notify requests, written by the same request that stores the notice (first
    delivery) or that finds it stored (a retry).
    """

    Meta = _meta("notices", streamed=True)

    dedupe_key = UnicodeAttribute(hash_key=True)
    channel = UnicodeAttribute()
    gateway = UnicodeAttribute()
    kind = UnicodeAttribute()
    source = UnicodeAttribute()
    out_trade_no = UnicodeAttribute()
    trade_no = UnicodeAttribute(null=True)
    payment_ref = UnicodeAttribute(null=True)
    gateway_status = UnicodeAttribute()
    amount_minor = NumberAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    received_minor = NumberAttribute(null=True)
    fee_minor = NumberAttribute(null=True)
    refunded_minor = NumberAttribute(null=True)
    refund_ref = UnicodeAttribute(null=True)
    method = UnicodeAttribute(null=True)
    payer = UnicodeAttribute(null=True)
    event_time = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute()
    received_day = UnicodeAttribute()
    raw = JSONAttribute()
    attempts = ListAttribute(of=AttemptMap, default=list)
    awaiting_day = UnicodeAttribute(null=True)  # set while no order matches: the unmatched list

    by_order = _gsi("by_order", "out_trade_no", "received_at")
    by_awaiting = _gsi("by_awaiting", "awaiting_day", "received_at")
    by_day = _gsi("by_day", "received_day", "received_at")
    by_trade_no = _gsi("by_trade_no", "trade_no", "received_at")


# ------------------------------------------------------------------------------- audit


class AuditModel(Model):
    """Every inbound notify request (accepted or not) and every admin read, export and action.

    Partition `pk` is `<kind>#<UTC day>` (kind: notify, api), sort `sk` is `<ISO time>#<id>`.
    Raw notify payloads expire by TTL (PAYTRACK_AUDIT_TTL_DAYS); the admin trail has no TTL.
    """

    Meta = _meta("audit")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    at = UnicodeAttribute()
    actor = UnicodeAttribute(null=True)
    role = UnicodeAttribute(null=True)
    action = UnicodeAttribute()
    target = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)
    verification = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute(null=True)
    answer_status = NumberAttribute(null=True)
    answer_body = UnicodeAttribute(null=True)
    payload = UnicodeAttribute(null=True)
    detail = JSONAttribute(null=True)
    expires = TTLAttribute(null=True)

    by_actor = _gsi("by_actor", "actor", "sk")
    by_target = _gsi("by_target", "target", "sk")


# ------------------------------------------------------------------------------- API keys


class ApiKeyModel(Model):
    """A bearer key, stored as its SHA-256 only. `kind` is a constant so the list is one Query."""

    Meta = _meta("keys")

    key_hash = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    kind = UnicodeAttribute(default="key")
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    revoked_at = UnicodeAttribute(null=True)
    last_used_at = UnicodeAttribute(null=True)

    by_id = _gsi("by_id", "key_id", None)
    by_kind = _gsi("by_kind", "kind", "created_at")


# ------------------------------------------------------------------------------- anomalies


class AnomalyModel(Model):
    """One anomaly per (rule, subject): its id is deterministic so a replayed stream record
    creates nothing twice."""

    Meta = _meta("anomalies")

    anomaly_id = UnicodeAttribute(hash_key=True)
    rule = UnicodeAttribute()
    severity = UnicodeAttribute()
    status = UnicodeAttribute()
    order_no = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_day = UnicodeAttribute()
    details = JSONAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)

    by_status = _gsi("by_status", "status", "created_at")
    by_rule = _gsi("by_rule", "rule", "created_at")
    by_order = _gsi("by_order", "order_no", "created_at")
    by_day = _gsi("by_day", "created_day", "created_at")


# ------------------------------------------------------------------------------- reconciliation


class ReconciliationModel(Model):
    """A reconciliation run (`sk` = "summary"), its lines that are not matched (`sk` =
    "line#<n>"; every line is in the S3 report) and the fee write-back still to do (`sk` =
    "fees#<n>"), keyed `run_id` = "<channel>#<YYYY-MM-DD>" so re-running a day replaces it in
    place. Only the summary item carries the sparse index keys (store/reconciliations.py)."""

    Meta = _meta("reconciliations")

    run_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    channel = UnicodeAttribute()
    date = UnicodeAttribute()
    result = UnicodeAttribute(null=True)
    attempt = UnicodeAttribute(null=True)  # which run of the day wrote the item
    data = JSONAttribute(null=True)
    summary_channel = UnicodeAttribute(null=True)
    summary_date = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)

    by_channel = _gsi("by_channel", "summary_channel", "summary_date")
    by_date = _gsi("by_date", "summary_date", "summary_channel")


# ------------------------------------------------------------------------------- exports


class ExportModel(Model):
    """An export request. Streamed: a `running` export is written by the exports stream handler."""

    Meta = _meta("exports", streamed=True)

    export_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    format = UnicodeAttribute()
    status = UnicodeAttribute()
    filters = JSONAttribute(null=True)
    rows = NumberAttribute(default=0)
    s3_key = UnicodeAttribute(null=True)
    masked = BooleanAttribute(default=True)
    requested_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_day = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    expires = TTLAttribute(null=True)
    claimed_by = UnicodeAttribute(null=True)  # the stream record writing it (store/exports.claim)

    by_day = _gsi("by_day", "created_day", "created_at")


# ------------------------------------------------------------------------------- stats


class StatsModel(Model):
    """Pre-aggregated counters kept by the orders stream: one item per shop-time day
    (`bucket` = "day#2026-11-25", `dim` = "counters"), each counter a numeric attribute named
    `<dimension>|<metric>[|<currency>]` (store/stats.py writes and reads them)."""

    Meta = _meta("stats")

    bucket = UnicodeAttribute(hash_key=True)
    dim = UnicodeAttribute(range_key=True)


class ClaimModel(Model):
    """What the orders stream's consumers have done once for an order — an event published to
    the shop, a fact counted in the stats — as one item per order in the stats table
    (`bucket` = "claims#<order_no>", `dim` = "claims"), the claim keys in a string set
    (store/claims.py). Not on the order item: a claim written there would come back on the
    orders stream as a record every consumer reads and skips (DESIGN.md: one real change of an
    order is one stream record). Shares StatsModel's table, so it is not in ALL_MODELS."""

    Meta = _meta("stats")

    bucket = UnicodeAttribute(hash_key=True)
    dim = UnicodeAttribute(range_key=True)
    keys = UnicodeSetAttribute(null=True)


class RefundDayModel(Model):
    """An order whose refunded money moved at an instant: one item per channel, UTC day, instant
    and order in the stats table (`bucket` = "refunds#<channel>#<UTC day>", `dim` = "<ISO
    time>#<order_no>"), written with every change that settles a refund request or sets the
    refunded total (store/refund_days.py). Reconciliation finds a day's refunds by it, whatever
    day their orders were paid: a key per refund, where an order-level "refunded day" would
    lose the earlier of two partial refunds, and no index on the orders table. Shares StatsModel's
    table, so it is not in ALL_MODELS."""

    Meta = _meta("stats")

    bucket = UnicodeAttribute(hash_key=True)
    dim = UnicodeAttribute(range_key=True)
    order_no = UnicodeAttribute()


ALL_MODELS = (
    OrderModel,
    NoticeModel,
    AuditModel,
    ApiKeyModel,
    AnomalyModel,
    ReconciliationModel,
    ExportModel,
    StatsModel,
)
STREAMED_MODELS = (OrderModel, NoticeModel)
