"""JSON views of domain objects, in the contract's conventions (API.md): money as a decimal string
with the currency's minor digits plus `currency`, times ISO 8601 UTC with Z."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..domain import stats as figures
from ..domain.anomaly import printed_id
from ..domain.clock import from_iso, to_api
from ..domain.money import Money
from ..domain.order import Order, Outcome
from ..domain.reconcile import ResultLine
from ..domain.refunds import RefundRequest, refund_requests
from ..domain.settlement import settlement_view
from ..domain.verification import ANSWERED, answered_message, mark_expired
from ..store.reconciliations import StoredRun
from . import channels, related
from .facts import anomaly_facts, timeline_facts
from .related import Related

if TYPE_CHECKING:
    from .actions import ActionDone
    from .admin import Caller, NewKey, OrderDetail
    from .anomalies import Found
    from .exports import ExportState
    from .lookup import Lookup
    from .order_search import OrderPage
    from .reconcile_runs import RunDetail
    from .refunds import RefundQueue
    from .stats import StatsReport
    from .verification import Answered, Review


def money(value: Money | None) -> str | None:
    return value.format() if value is not None else None


def channel_names() -> dict[str, str]:
    """Each configured channel's display name (`"name"` in the channels file), where it has one."""
    return {
        channel_id: config["name"]
        for channel_id, config in channels.all_channels().items()
        if isinstance(config.get("name"), str)
    }


def order_for_shop(order: Order) -> dict[str, Any]:
    """What the shop needs to decide delivery, and the fields it sent us."""
    return {
        "order_no": order.order_no,
        "pay_status": order.pay_status.value,
        "delivery_status": order.delivery_status.value,
        "hold": order.on_hold,
        "hold_reasons": list(order.hold_reasons),
        "amount": order.amount.format(),
        "currency": order.amount.currency,
        "paid_amount": money(order.paid_amount),
        "refunded_amount": money(order.refunded_amount),
        "channel": order.channel,
        "method": order.method,
        "trade_no": order.trade_no,
        "product_id": order.product_id,
        "product_name": order.product_name,
        "quantity": order.quantity,
        "buyer_email": order.buyer_email,
        "buyer_id": order.buyer_id,
        "created_at": to_api(order.created_at),
        "expires_at": to_api(order.expires_at),
        "paid_at": to_api(order.paid_at),
        "delivered_at": to_api(order.delivered_at),
    }


def _masker(masked: bool):
    from ..domain.masking import mask_answer, mask_email, mask_id, mask_ip

    if not masked:
        return lambda kind, value: value
    functions = {"email": mask_email, "ip": mask_ip, "id": mask_id, "answer": mask_answer}
    return lambda kind, value: functions[kind](value)


def refund_for_admin(request: RefundRequest) -> dict[str, Any]:
    return {
        "refund_request_id": request.refund_request_id,
        "payment": request.trade_no,
        "amount": request.amount.format(),
        "currency": request.amount.currency,
        "state": request.state.value,
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_at": to_api(request.requested_at),
        "approval_reasons": list(request.approval_reasons),
        "decided_by": request.decided_by,
        "gateway_refund_id": request.gateway_refund_id,
        "detail": request.detail,
        "updated_at": to_api(request.updated_at),
    }


def order_for_admin(
    order: Order,
    *,
    masked: bool,
    fee_rate: Decimal | None = None,
    actor_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every stored field of the order; buyer PII masked for viewers. The fee and net come with
    their currency and status (`fee_rate`: the channel's contracted rate, for an estimate);
    timeline actors are named by `actor_names` (key id -> key name) where known."""
    mask = _masker(masked)
    view = order_for_shop(order)
    view.update(
        {
            "refunds": [refund_for_admin(r) for r in refund_requests(order)],
            "buyer_email": mask("email", order.buyer_email),
            "buyer_id": mask("id", order.buyer_id),
            "buyer_ip": mask("ip", order.buyer_ip),
            "device": order.device,
            "browser": order.browser,
            "os": order.os,
            "user_agent": None if masked else order.user_agent,
            "gateway": order.gateway,
            "payer": mask("id", order.payer),
            "received_amount": money(order.received_amount),
            **settlement_view(order, fee_rate),
            "closed_at": to_api(order.closed_at),
            "expired_at": to_api(order.expired_at),
            "refunded_at": to_api(order.refunded_at),
            "payments": [payment_view(p, mask) for p in order.payments],
            "timeline": [timeline_view(e, order, mask, actor_names or {}) for e in order.timeline],
            "version": order.version,
        }
    )
    return view


def payment_view(payment, mask) -> dict[str, Any]:
    return {
        "payment_ref": payment.payment_ref,
        "amount": payment.amount.format(),
        "currency": payment.amount.currency,
        "channel": payment.channel,
        "at": to_api(payment.at),
        "received_amount": money(payment.received),
        "fee": money(payment.fee),
        "method": payment.method,
        "payer": mask("id", payment.payer),
        "notice": payment.notice_key,
    }


def timeline_view(entry, order: Order, mask, actor_names: Mapping[str, str]) -> dict[str, Any]:
    """One timeline entry with its facts (from what is shown: a buyer's verification answer, in its
    data and message, masked for viewers) and its actor's key name."""
    if entry.type == ANSWERED:
        shown = mask("answer", entry.data.get("answer"))
        entry = replace(
            entry, message=answered_message(shown), data={**entry.data, "answer": shown}
        )
    return {
        "at": to_api(entry.at),
        "type": entry.type,
        "source": entry.source,
        "message": entry.message,
        "data": entry.data,
        "facts": timeline_facts(entry, order),
        "actor": entry.actor,
        "actor_name": actor_names.get(entry.actor) if entry.actor else None,
    }


def notice_view(notice, masked: bool) -> dict[str, Any]:
    raw = notice.raw
    if masked:
        raw = {"masked": "raw payloads are shown to operators and admins"}
    return {
        "dedupe_key": notice.dedupe_key,
        "channel": notice.channel,
        "gateway": notice.gateway,
        "kind": notice.kind.value,
        "source": notice.source.value,
        "gateway_status": notice.gateway_status,
        "trade_no": notice.trade_no,
        "amount": money(notice.amount),
        "currency": notice.amount.currency if notice.amount else None,
        "refunded_total": money(notice.refunded_total),
        "event_time": to_api(notice.event_time),
        "raw": raw,
        "raw_masked": masked,
    }


# anomaly details that carry buyer PII (domain/rules), and how each is masked for viewers
_ANOMALY_PII = {
    "email": "email",
    "emails": "email",
    "ip": "ip",
    "buyer_ids": "id",
    "answer": "answer",
}


def _anomaly_details(details: dict[str, Any], masked: bool) -> dict[str, Any]:
    mask = _masker(masked)

    def shown(key: str, value: Any) -> Any:
        kind = _ANOMALY_PII.get(key)
        if kind is None:
            return value
        return (
            [mask(kind, item) for item in value] if isinstance(value, list) else mask(kind, value)
        )

    return {key: shown(key, value) for key, value in details.items()}


def anomaly_view(
    anomaly, *, masked: bool = True, names: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`names`: key id -> key name, to name who handled it (`updated_by_name`)."""
    return {
        "id": printed_id(anomaly.anomaly_id),
        "rule": anomaly.rule,
        "severity": anomaly.severity.value,
        "status": anomaly.status.value,
        "order_no": anomaly.order_no,
        "channel": anomaly.channel,
        "details": _anomaly_details(anomaly.details, masked),
        "facts": anomaly_facts(anomaly.rule, anomaly.details),
        "created_at": to_api(anomaly.created_at),
        "updated_at": to_api(anomaly.updated_at),
        "updated_by": anomaly.updated_by,
        "updated_by_name": (names or {}).get(anomaly.updated_by),
        "note": anomaly.note,
    }


def anomalies_page_view(found: Found) -> dict[str, Any]:
    """The inbox's page: each anomaly (a review past its answer time marked expired), the
    cursor to go on and the channels' names."""
    return {
        "items": [
            mark_expired(anomaly_view(a, masked=found.masked, names=found.names), found.now)
            for a in found.items
        ],
        "next_cursor": found.next_cursor,
        "channel_names": channel_names(),
    }


def found_anomaly_view(found: Found) -> dict[str, Any]:
    """The one anomaly read or changed."""
    return anomaly_view(found.items[0], masked=found.masked, names=found.names)


def new_key_view(new: NewKey) -> dict[str, Any]:
    return {"id": new.key_id, "name": new.name, "role": new.role, "key": new.key}


def key_view(stored) -> dict[str, Any]:
    return {
        "id": stored.key_id,
        "name": stored.name,
        "role": stored.role,
        "created_at": to_api(stored.created_at),
        "last_used_at": to_api(stored.last_used_at),
        "revoked_at": to_api(stored.revoked_at),
    }


def audit_view(item) -> dict[str, Any]:
    return {
        "at": item.at,
        "actor": item.actor,
        "role": item.role,
        "action": item.action,
        "target": item.target,
        "detail": item.detail,
    }


def order_row(order: Order, *, masked: bool) -> dict[str, Any]:
    """One line of the order list: what an operator scans for, PII masked for viewers."""
    mask = _masker(masked)
    fee = settlement_view(order)
    return {
        "order_no": order.order_no,
        "created_at": to_api(order.created_at),
        "paid_at": to_api(order.paid_at),
        "pay_status": order.pay_status.value,
        "delivery_status": order.delivery_status.value,
        "hold": order.on_hold,
        "amount": order.amount.format(),
        "currency": order.amount.currency,
        "paid_amount": money(order.paid_amount),
        "fee": fee["fee"],
        "fee_currency": fee["fee_currency"],
        "channel": order.channel,
        "method": order.method,
        "trade_no": order.trade_no,
        "product_id": order.product_id,
        "product_name": order.product_name,
        "quantity": order.quantity,
        "buyer_email": mask("email", order.buyer_email),
        "buyer_id": mask("id", order.buyer_id),
        "buyer_ip": mask("ip", order.buyer_ip),
        "device": order.device,
    }


def reconcile_line_view(n: int, line: ResultLine) -> dict[str, Any]:
    """One unmatched reconciliation line as JSON-able text (amounts in the contract's decimal
    strings): what a run stores, the API lists, the report and the line's anomaly show."""
    difference, fee, net, source = line.difference, line.fee, line.net, line.source
    settled = source.settled if source is not None else None
    return {
        "n": n,
        "result": line.result.value,
        "kind": line.kind.value,
        "line": source.line_no if source is not None else None,
        "out_trade_no": line.out_trade_no,
        "trade_no": line.trade_no,
        "order_no": line.order_no,
        "currency": line.statement.currency,
        "statement": line.statement.format(),
        "ledger": line.ledger.format(),
        "ledger_currency": line.ledger.currency,
        "difference": difference.format() if difference is not None else None,
        "fee": fee.format() if fee is not None else None,
        "net": net.format() if net is not None else None,
        "settlement_currency": source.settlement_currency
        if source is not None and fee is not None
        else None,
        "settled": settled.format() if settled is not None else None,
        "exchange_rate": source.rate if source is not None else None,
        "refund_ref": source.refund_ref if source is not None else None,
        "refund_request_id": line.refund_request_id,
        "at": to_api(line.at),
        "gateway_status": source.status if source is not None else "",
        "ledger_status": line.ledger_status,
        "note": line.note,
    }


def api_run_id(run_id: str) -> str:
    """`alipay-main#2026-11-24` (the table's key) is `alipay-main:2026-11-24` in URLs."""
    return run_id.replace("#", ":")


def run_view(run: StoredRun) -> dict[str, Any]:
    data = run.data
    return {
        "id": api_run_id(run.run_id),
        "channel": run.channel,
        "date": run.date,
        "status": run.status,
        "ran_at": to_api(from_iso(run.created_at)) if run.created_at else None,
        "summary": data.get("summary"),
        "error": data.get("error"),
        "report": data.get("report"),
        "statement": data.get("statement"),
        "window": data.get("window"),
        "history": data.get("history", []),
    }


def run_detail_view(detail: RunDetail) -> dict[str, Any]:
    """A run with its lines by result and, when it has a report, the links to its files."""
    view = {**run_view(detail.run), "lines": detail.lines}
    if view["report"]:
        view["report"] = {
            **view["report"],
            "url": detail.links["url"],
            "expires_in_s": detail.links_expire_in_s,
        }
        if "statement_url" in detail.links:
            view["report"]["statement_url"] = detail.links["statement_url"]
    return view


def order_page_view(page: OrderPage) -> dict[str, Any]:
    """GET /admin/orders: a page of rows, the cursor to go on, the totals, the index used."""
    return {
        "items": [order_row(order, masked=page.masked) for order in page.orders],
        "next_cursor": page.next_cursor,
        "totals": page.totals,
        "index": page.index,
        "channel_names": channel_names(),
    }


def export_view(state: ExportState) -> dict[str, Any]:
    """An export's state (`writing` is shown as `running`) and its link once it is ready."""
    record = state.record
    return {
        "export_id": record.export_id,
        "status": "running" if record.status == "writing" else record.status,
        "rows": record.rows,
        "kind": record.kind,
        "format": record.format,
        "masked": record.masked,
        "created_at": to_api(record.created_at),
        "finished_at": to_api(record.finished_at),
        "error": record.error,
        "url": state.url,
        "expires_at": to_api(state.expires_at),
    }


def action_view(done: ActionDone) -> dict[str, Any]:
    """An action's answer: its outcome and the order after it, unmasked (only operators act),
    with the refund request a refund made."""
    view: dict[str, Any] = {"action": done.action, "outcome": done.outcome}
    if done.refund is not None:
        view["refund"] = refund_for_admin(done.refund)
    view["order"] = order_for_admin(done.order, masked=False, actor_names=done.actor_names)
    return view


def related_view(found: Related, masked: bool) -> dict[str, Any]:
    """{window_days, counts per kind, items: order rows with `matched_by`, truncated}."""
    rows = found.rows
    return {
        "window_days": related.WINDOW.days,
        "truncated": found.truncated,
        "counts": {kind: sum(kind in kinds for _, kinds in rows) for kind in related.KINDS},
        "items": [
            {**order_row(other, masked=masked), "matched_by": kinds} for other, kinds in rows
        ],
    }


def order_detail_view(detail: OrderDetail) -> dict[str, Any]:
    """Everything about one order: fields, timeline, notices, payments, anomalies, actions and
    the sentence for the buyer, masked for viewers."""
    masked = detail.masked
    view = order_for_admin(
        detail.order, masked=masked, fee_rate=detail.fee_rate, actor_names=detail.actor_names
    )
    view["buyer_region"] = detail.location.text()
    view["buyer_location"] = detail.location.as_dict()
    view["channel_names"] = channel_names()
    view["notices"] = [notice_view(n, masked) for n in detail.notices]
    view["anomalies"] = [
        anomaly_view(a, masked=masked, names=detail.anomaly_names) for a in detail.anomalies
    ]
    view["actions"] = [e for e in view["timeline"] if e["source"] == "operator"]
    view["allowed_actions"] = detail.allowed_actions
    view["customer_reply"] = detail.customer_reply
    view["related"] = related_view(detail.related, masked)
    return view


def lookup_view(found: Lookup) -> dict[str, Any]:
    """GET /admin/lookup: paytrack's orders of the trade number, or what the gateways said of it
    beside paytrack's order of the same merchant order number."""
    return {
        "trade_no": found.trade_no,
        "source": found.source,
        "asked": found.asked,
        "found": [
            {
                "gateway": each.trade.as_dict(),
                "order": order_row(each.order, masked=found.masked) if each.order else None,
                "can_apply": each.can_apply,
            }
            for each in found.found
        ],
        "orders": [order_row(order, masked=found.masked) for order in found.orders],
    }


def _money_view(money: dict[str, dict[str, int]]) -> dict[str, dict[str, str]]:
    """Per currency: paid in it, what was converted out of it to another settlement currency,
    settled into it from others, its fees (charged in it) and the net that stays in it."""
    out = {}
    for currency, values in money.items():
        paid, fee, refunded = (
            values.get("paid_minor", 0),
            values.get("fee_minor", 0),
            values.get("refunded_minor", 0),
        )
        converted, settled = values.get("converted_minor", 0), values.get("settled_minor", 0)
        out[currency] = {
            "paid": Money(paid, currency).format(),
            "fees": Money(fee, currency).format(),
            "refunds": Money(refunded, currency).format(),
            "converted": Money(converted, currency).format(),
            "settled": Money(settled, currency).format(),
            "net": Money(paid - converted + settled - fee - refunded, currency).format(),
        }
    return out


def _figures_view(counters: dict[str, int]) -> dict[str, Any]:
    summary = figures.summarise(counters)
    summary["money"] = _money_view(summary["money"])
    return summary


def stats_view(report: StatsReport) -> dict[str, Any]:
    """GET /admin/stats: each group's figures (a price point split into currency and price, a
    product with its name) and the totals."""
    groups = []
    for group in report.groups:
        view: dict[str, Any] = {"key": group.key}
        if report.by == "price_point":
            currency, _, price = group.key.partition(" ")
            view |= {"currency": currency, "price": price}
        view |= _figures_view(group.counters)
        if report.by == "product":
            view["name"] = group.name
        groups.append(view)
    return {
        "by": report.by,
        "from": report.since.isoformat(),
        "to": report.until.isoformat(),
        "timezone": report.timezone,
        "groups": groups,
        "totals": _figures_view(report.totals),
        "channel_names": channel_names(),
    }


def refund_queue_view(queue: RefundQueue) -> dict[str, Any]:
    """GET /admin/refunds: one row per refund request (newest order first) with its order's
    essentials, and the cursor of the next page."""
    return {
        "state": queue.state.value,
        "refunds": [
            {
                "order_no": order.order_no,
                "product_name": order.product_name,
                "channel": order.channel,
                "delivery_status": order.delivery_status.value,
                **refund_for_admin(refund),
            }
            for order, refund in queue.rows
        ],
        "next_cursor": queue.next_cursor,
    }


def refund_decided_view(order_no: str, refund: RefundRequest) -> dict[str, Any]:
    return {"refund": refund_for_admin(refund), "order_no": order_no}


def refund_settled_view(order_no: str, outcome: Outcome, refund: RefundRequest) -> dict[str, Any]:
    """A pending refund settled by hand: the outcome (applied, or already_applied)."""
    return {"outcome": outcome.value, "refund": refund_for_admin(refund), "order_no": order_no}


def caller_view(caller: Caller) -> dict[str, Any]:
    """GET /admin/me: the calling key and what its role may do."""
    return {
        "id": caller.key_id,
        "name": caller.name,
        "role": caller.role,
        "sees_pii": caller.sees_pii,
        "may_act": caller.may_act,
        "may_manage_keys": caller.may_manage_keys,
    }


def review_view(review: Review) -> dict[str, Any]:
    """A buyer verification: the current request and the history, the templates, the order;
    after a decision, the action it took (and why a refund was recorded by hand)."""
    masked = review.masked
    view: dict[str, Any] = {
        "order_no": review.order.order_no,
        "current": review.history[-1].view(masked=masked) if review.history else None,
        "history": [item.view(masked=masked) for item in review.history],
        "templates": dict(review.templates),
        "ttl_s": int(review.ttl.total_seconds()),
        "order": order_for_admin(review.order, masked=masked),
    }
    if review.acted is not None:
        view |= {"action": review.acted.action, "outcome": review.acted.outcome}
        if review.acted.refund:
            view["refund"] = refund_for_admin(review.acted.refund)
    if review.manual_refund:
        view["manual_refund"] = review.manual_refund
    return view


def answered_view(answered: Answered) -> dict[str, Any]:
    """The shop's answer taken: the verification and the state it is in now."""
    return {
        "order_no": answered.order_no,
        "verification_id": answered.verification_id,
        "state": answered.state.value if answered.state else None,
    }
