"""The OpenAPI 3 document of every route (GET /openapi.json). A test checks that every route in
app.py is here and that the document validates; schemathesis fuzzes the local stack with it."""

from __future__ import annotations

from typing import Any

from .domain.actions import ACTIONS as ORDER_ACTIONS
from .domain.rules.config import RulesConfig
from .domain.verification import INBOX_RULES as VERIFICATION_RULES
from .gateways.registry import GATEWAYS

MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d{1,3})?$", "example": "58.00"}
TIME = {"type": "string", "format": "date-time", "example": "2026-11-25T06:23:00Z"}
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
ANY_OBJECT = {"type": "object", "additionalProperties": True}
BAD_INPUT = (
    "bad input, the message says what to fix: `validation_failed`, `invalid_amount`, `range_too_large` "
    "(a time range wider than the route's cap: 366 days for orders, exports and stats, 92 for anomalies, "
    "31 for the audit), `read_budget_exceeded` (the answer would read more than one request may: narrow "
    "the range, add a filter, or ask totals=false)"
)
PAY_STATUSES = ["pending", "paid", "expired", "closed", "refunded", "partially_refunded"]
DELIVERY_STATUSES = ["pending", "held", "delivered", "failed"]

ORDER_INPUT: dict[str, Any] = {
    "type": "object",
    "required": ["product_id", "product_name", "amount", "channel"],
    "additionalProperties": False,
    "properties": {
        "order_no": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"},
        "product_id": {"type": "string", "maxLength": 64},
        "product_name": {"type": "string", "maxLength": 200},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
        "amount": MONEY,
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
        "channel": {"type": "string"},
        "buyer_email": {"type": "string", "format": "email"},
        "buyer_id": {"type": "string", "maxLength": 64},
        "buyer_ip": {"type": "string"},
        "user_agent": {"type": "string", "maxLength": 1000},
        "expires_in_s": {"type": "integer", "minimum": 60, "maximum": 604800},
    },
}
ORDER_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["order_no", "pay_status", "delivery_status", "hold", "amount", "currency"],
    "properties": {
        "order_no": {"type": "string"},
        "pay_status": {"enum": PAY_STATUSES},
        "delivery_status": {"enum": DELIVERY_STATUSES},
        "hold": {"type": "boolean"},
        "hold_reasons": {"type": "array", "items": {"type": "string"}},
        "amount": MONEY,
        "currency": {"type": "string"},
        "paid_at": {**TIME, "nullable": True},
    },
}
_NULLABLE_TEXT = {"type": "string", "nullable": True}
#: the admin view of an order: its fee and net always with their (settlement) currency
ADMIN_ORDER_VIEW: dict[str, Any] = {
    "type": "object",
    "required": [
        *ORDER_VIEW["required"],
        "fee",
        "fee_currency",
        "fee_status",
        "net_amount",
        "net_currency",
        "settled_amount",
        "settlement_currency",
        "exchange_rate",
    ],
    "properties": {
        **ORDER_VIEW["properties"],
        "fee": {**MONEY, "nullable": True},
        "fee_currency": _NULLABLE_TEXT,
        "fee_status": {"enum": ["statement", "gateway", "estimated", None], "nullable": True},
        "net_amount": {**MONEY, "nullable": True},
        "net_currency": _NULLABLE_TEXT,
        "settled_amount": {**MONEY, "nullable": True},
        "settlement_currency": _NULLABLE_TEXT,
        "exchange_rate": {**_NULLABLE_TEXT, "example": "7.8"},
    },
}
#: the order detail: the order and the actions it allows the caller now (none for a viewer)
ADMIN_ORDER_DETAIL: dict[str, Any] = {
    "type": "object",
    "required": [*ADMIN_ORDER_VIEW["required"], "allowed_actions"],
    "properties": {
        **ADMIN_ORDER_VIEW["properties"],
        "allowed_actions": {"type": "array", "items": {"enum": list(ORDER_ACTIONS)}},
    },
}
_LABEL: dict[str, Any] = {
    "type": "object",
    "required": ["zh", "en"],
    "properties": {"zh": {"type": "string"}, "en": {"type": "string"}},
}
META: dict[str, Any] = {
    "type": "object",
    "required": ["rules", "inbox_rules", "gateway_types", "methods", "channels", "currencies"],
    "properties": {
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "label", "severity", "hold", "enabled"],
                "properties": {
                    "name": {"enum": list(RulesConfig.rule_names())},
                    "label": _LABEL,
                    "severity": {"enum": ["critical", "warning", "info"]},
                    "hold": {"type": "boolean"},
                    "enabled": {"type": "boolean"},
                },
            },
        },
        "inbox_rules": {"type": "array", "items": {"enum": list(VERIFICATION_RULES)}},
        "gateway_types": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "label", "methods"],
                "properties": {
                    "type": {"enum": sorted(GATEWAYS)},
                    "label": _LABEL,
                    "methods": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "methods": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["method", "label"],
                "properties": {"method": {"type": "string"}, "label": _LABEL},
            },
        },
        "channels": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name", "type", "currencies"],
                "properties": {
                    "id": {"type": "string"},
                    "name": _NULLABLE_TEXT,
                    "type": {"enum": sorted(GATEWAYS)},
                    "currencies": {
                        "type": "array",
                        "items": {"type": "string"},
                        "nullable": True,
                    },
                },
            },
        },
        "currencies": {
            "type": "object",
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 4},
            "example": {"CNY": 2, "JPY": 0, "KWD": 3},
        },
    },
}
WHOAMI: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "role", "sees_pii", "may_act", "may_manage_keys"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "role": {"enum": ["shop", "viewer", "operator", "admin"]},
        "sees_pii": {"type": "boolean"},
        "may_act": {"type": "boolean"},
        "may_manage_keys": {"type": "boolean"},
    },
}

REFUND_STATES = ["awaiting_approval", "pending", "succeeded", "failed", "rejected"]
REFUND: dict[str, Any] = {
    "type": "object",
    "required": ["refund_request_id", "payment", "amount", "currency", "state"],
    "properties": {
        "refund_request_id": {"type": "string"},
        "payment": {"type": "string"},
        "amount": MONEY,
        "currency": {"type": "string"},
        "state": {"enum": REFUND_STATES},
        "reason": {"type": "string"},
        "requested_by": {"type": "string", "nullable": True},
        "requested_at": TIME,
        "approval_reasons": {
            "type": "array",
            "items": {"enum": ["amount_above_limit", "already_delivered"]},
        },
        "decided_by": {"type": "string", "nullable": True},
        "gateway_refund_id": {"type": "string", "nullable": True},
        "detail": {"type": "string", "nullable": True},
        "updated_at": TIME,
    },
}
REFUNDS: dict[str, Any] = {
    "type": "object",
    "required": ["state", "refunds", "next_cursor"],
    "properties": {
        "state": {"enum": ["awaiting_approval", "pending"]},
        "next_cursor": {"type": "string", "nullable": True},
        "refunds": {
            "type": "array",
            "items": {
                **REFUND,
                "properties": {
                    **REFUND["properties"],
                    "order_no": {"type": "string"},
                    "product_name": {"type": "string"},
                    "channel": {"type": "string"},
                    "delivery_status": {"enum": DELIVERY_STATUSES},
                },
            },
        },
    },
}
DECISION: dict[str, Any] = {
    "type": "object",
    "required": ["note"],
    "additionalProperties": False,
    "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 500}},
}

SETTLEMENT_BY_HAND: dict[str, Any] = {
    "type": "object",
    "required": ["outcome", "note"],
    "additionalProperties": False,
    "properties": {
        "outcome": {"enum": ["succeeded", "failed"]},
        "note": {"type": "string", "minLength": 1, "maxLength": 500},
    },
}

ORDER_FILTERS: list[tuple[str, dict[str, Any]]] = [
    ("from", TIME),
    ("to", TIME),
    ("paid_from", TIME),
    ("paid_to", TIME),
    ("status", {"type": "array", "items": {"enum": PAY_STATUSES}}),
    ("delivery", {"enum": DELIVERY_STATUSES}),
    ("channel", {"type": "string"}),
    ("method", {"type": "string"}),
    ("min_amount", MONEY),
    ("max_amount", MONEY),
    ("order_no", {"type": "string"}),
    ("trade_no", {"type": "string"}),
    ("email", {"type": "string"}),
    ("buyer_id", {"type": "string"}),
    ("product", {"type": "string"}),
    ("ip", {"type": "string"}),
    ("flagged", {"enum": ["true", "false"]}),
    ("totals", {"enum": ["true", "false", "capped"]}),
    ("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
    ("cursor", {"type": "string"}),
]


def _params(where: str, *specs: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": where,
            "required": where == "path",
            "schema": schema,
            **({"style": "form", "explode": True} if schema.get("type") == "array" else {}),
        }
        for name, schema in specs
    ]


def _responses(ok: int, schema: dict, *errors: int, text: bool = False) -> dict:
    body = (
        {"text/plain": {"schema": {"type": "string"}}}
        if text
        else {"application/json": {"schema": schema}}
    )
    out: dict[str, Any] = {str(ok): {"description": "success", "content": body}}
    for code in errors:
        out[str(code)] = {
            "description": {
                400: BAD_INPUT,
                401: "missing or unknown key",
                403: "wrong role",
                404: "not found",
                409: "conflict with the current state",
                413: "too large",
                502: "gateway unavailable",
            }[code],
            "content": {"application/json": {"schema": ERROR}},
        }
    return out


def _op(
    summary: str,
    role: str | None,
    responses: dict,
    params: list | None = None,
    body: dict | None = None,
    tag: str = "admin",
) -> dict:
    op: dict[str, Any] = {
        "summary": summary,
        "tags": [tag],
        "responses": responses,
        "description": f"Role: {'any valid key' if role == 'any' else role}."
        if role
        else "No bearer key: the gateway's signature is the auth.",
    }
    if role:
        op["security"] = [{"bearer": []}]
        op["x-role"] = role
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"] = {
            **responses,
            "415": {
                "description": "a content type other than application/json",
                "content": {"application/json": {"schema": ERROR}},
            },
        }
    return op


def _admin(
    summary: str,
    role: str,
    ok: int = 200,
    schema: dict = ANY_OBJECT,
    params: list | None = None,
    body: dict | None = None,
    errors: tuple[int, ...] = (400, 401, 403),
) -> dict:
    return _op(summary, role, _responses(ok, schema, *errors), params, body)


def _paths() -> dict[str, dict]:
    channel = _params("path", ("channel", {"type": "string"}))
    order_no = _params("path", ("order_no", {"type": "string"}))
    refund_request = _params(
        "path", ("order_no", {"type": "string"}), ("refund_request_id", {"type": "string"})
    )
    notify = _op(
        "A gateway notification, answered in the gateway's own protocol",
        None,
        {
            "200": {
                "description": "alipay/epay success or fail, stripe received",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "204": {"description": "wechatpay success"},
            "400": {"description": "rejected (wechatpay, stripe)"},
            "404": {"description": "unknown channel"},
            "409": {"description": "order not registered yet: kept, retry"},
            "413": {"description": "too large"},
        },
        channel,
        tag="gateways",
    )
    return {
        "/notify/{channel}": {
            "get": notify,
            "post": {
                **notify,
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": ANY_OBJECT},
                        "application/json": {"schema": ANY_OBJECT},
                    }
                },
            },
        },
        "/orders": {
            "post": _op(
                "Register an order before the buyer pays",
                "shop",
                _responses(201, ORDER_VIEW, 400, 401, 403, 409)
                | {
                    "200": {
                        "description": "the same order registered again",
                        "content": {"application/json": {"schema": ORDER_VIEW}},
                    }
                },
                body=ORDER_INPUT,
                tag="shop",
            )
        },
        "/orders/{order_no}": {
            "get": _op(
                "The order's status for the shop",
                "shop",
                _responses(200, ORDER_VIEW, 401, 403, 404),
                order_no,
                tag="shop",
            )
        },
        "/orders/{order_no}/delivery": {
            "post": _op(
                "Report delivery of the card key",
                "shop",
                _responses(200, ORDER_VIEW, 400, 401, 403, 404, 409),
                order_no,
                {
                    "type": "object",
                    "required": ["status"],
                    "additionalProperties": False,
                    "properties": {
                        "status": {"enum": ["delivered", "failed"]},
                        "detail": {"type": "string", "maxLength": 500},
                    },
                },
                tag="shop",
            )
        },
        "/admin/me": {
            "get": _admin(
                "The calling key: id, name, role and what the role may do",
                "any",
                errors=(401,),
                schema=WHOAMI,
            )
        },
        "/admin/meta": {
            "get": _admin(
                "What the page shows from the server's registries: the anomaly rules (labels, "
                "severity, hold), gateway types and payment methods with display names, the "
                "channels with their names, and every currency with its minor digits",
                "viewer",
                errors=(401, 403),
                schema=META,
            )
        },
        "/admin/orders": {
            "get": _admin(
                "Search orders: every filter combinable, cursor pagination, totals",
                "viewer",
                params=_params("query", *ORDER_FILTERS),
            )
        },
        "/admin/orders/{order_no}": {
            "get": _admin(
                "Everything about one order, with the buyer sentence",
                "viewer",
                params=order_no,
                errors=(401, 403, 404),
                schema=ADMIN_ORDER_DETAIL,
            )
        },
        "/admin/orders/{order_no}/actions": {
            "post": _admin(
                "Act on an order with a reason. `refund` refunds through the gateway (needs `idempotency_key`; "
                "`payment`: the trade number of the payment to refund, default the sale's; `amount`: default all "
                "that is left): its request is in the answer's `refund`, `pending` until the gateway confirms, "
                "`awaiting_approval` when an admin must approve it; 409 `refund_not_supported` when the channel "
                "cannot refund (record it with `mark_refunded`)",
                "operator",
                params=order_no,
                errors=(400, 401, 403, 404, 409, 502),
                body={
                    "type": "object",
                    "required": ["action", "reason"],
                    "additionalProperties": False,
                    "properties": {
                        "action": {"enum": list(ORDER_ACTIONS)},
                        "reason": {"type": "string", "minLength": 1, "maxLength": 500},
                        "amount": MONEY,
                        "idempotency_key": {"type": "string", "maxLength": 100},
                        "payment": {"type": "string", "maxLength": 128},
                    },
                },
            )
        },
        "/admin/refunds": {
            "get": _admin(
                "Open refund requests, newest order first: the approvals queue (`state` awaiting_approval, the "
                "default) or the refunds the gateway has not confirmed yet (`pending`); `limit` a page (a page "
                "ends with a whole order), `next_cursor` for the next",
                "admin",
                params=_params(
                    "query",
                    ("state", {"enum": ["awaiting_approval", "pending"]}),
                    ("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
                    ("cursor", {"type": "string"}),
                ),
                schema=REFUNDS,
            )
        },
        "/admin/orders/{order_no}/refunds/{refund_request_id}/approve": {
            "post": _admin(
                "Approve a refund request awaiting approval (another admin than its requester): it is sent to the "
                "gateway at once",
                "admin",
                params=refund_request,
                errors=(400, 401, 403, 404, 409),
                body=DECISION,
            )
        },
        "/admin/orders/{order_no}/refunds/{refund_request_id}/reject": {
            "post": _admin(
                "Reject a refund request awaiting approval (another admin than its requester): nothing is sent",
                "admin",
                params=refund_request,
                errors=(400, 401, 403, 404, 409),
                body=DECISION,
            )
        },
        "/admin/orders/{order_no}/refunds/{refund_request_id}/settle": {
            "post": _admin(
                "Settle a pending refund by hand after checking the gateway's console (an epay refund whose answer "
                "was lost: 彩虹 has no refund query): succeeded or failed, once",
                "admin",
                params=refund_request,
                errors=(400, 401, 403, 404, 409),
                body=SETTLEMENT_BY_HAND,
            )
        },
        "/admin/anomalies": {
            "get": _admin(
                "The anomaly inbox",
                "viewer",
                params=_params(
                    "query",
                    ("status", {"enum": ["open", "acknowledged", "resolved"]}),
                    ("rule", {"enum": [*RulesConfig.rule_names(), *VERIFICATION_RULES]}),
                    ("severity", {"enum": ["info", "warning", "critical"]}),
                    ("from", TIME),
                    ("to", TIME),
                    ("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
                    ("cursor", {"type": "string"}),
                ),
            )
        },
        "/admin/anomalies/{anomaly_id}": {
            "get": _admin(
                "One anomaly, by the id the inbox prints (rule~subject; the old rule#subject form, sent as %23, too)",
                "viewer",
                params=_params("path", ("anomaly_id", {"type": "string"})),
                errors=(401, 403, 404),
            ),
            "post": _admin(
                "Acknowledge or resolve an anomaly",
                "operator",
                params=_params("path", ("anomaly_id", {"type": "string"})),
                errors=(400, 401, 403, 404, 409),
                body={
                    "type": "object",
                    "required": ["status"],
                    "additionalProperties": False,
                    "properties": {
                        "status": {"enum": ["acknowledged", "resolved"]},
                        "note": {"type": "string", "maxLength": 1000},
                    },
                },
            ),
        },
        "/admin/exports": {
            "post": _admin(
                "Export orders, notifications, anomalies or reconciliation lines",
                "viewer",
                ok=201,
                body={
                    "type": "object",
                    "properties": {
                        "kind": {
                            "enum": ["orders", "notifications", "anomalies", "reconciliation"]
                        },
                        "format": {"enum": ["csv", "xlsx"]},
                        "lang": {
                            "enum": ["zh", "en"],
                            "description": "zh: statuses and results in Chinese",
                        },
                    },
                    "additionalProperties": {"type": "string"},
                },
            )
        },
        "/admin/exports/{export_id}": {
            "get": _admin(
                "An export's status and a fresh link: for the key that requested it or an admin (else 403)",
                "viewer",
                params=_params("path", ("export_id", {"type": "string"})),
                errors=(401, 403, 404),
            )
        },
        "/admin/keys": {
            "post": _admin(
                "Create an API key (shown once)",
                "admin",
                ok=201,
                body={
                    "type": "object",
                    "required": ["name", "role"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 100},
                        "role": {"enum": ["shop", "viewer", "operator", "admin"]},
                    },
                },
            ),
            "get": _admin("List API keys (no secrets)", "admin", errors=(401, 403)),
        },
        "/admin/keys/{key_id}": {
            "delete": _admin(
                "Revoke a key at once",
                "admin",
                params=_params("path", ("key_id", {"type": "string"})),
                errors=(401, 403, 404),
            )
        },
        "/admin/audit": {
            "get": _admin(
                "Who read, exported or changed what",
                "admin",
                params=_params(
                    "query",
                    ("from", TIME),
                    ("to", TIME),
                    ("key", {"type": "string"}),
                    ("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                ),
            )
        },
        "/admin/reconciliations": {
            "get": _admin(
                "Reconciliation runs",
                "viewer",
                params=_params(
                    "query",
                    ("channel", {"type": "string"}),
                    ("date", {"type": "string", "format": "date"}),
                ),
            ),
            "post": _admin(
                "Reconcile one channel and day now",
                "operator",
                ok=201,
                errors=(400, 401, 403, 404, 409, 502),
                body={
                    "type": "object",
                    "required": ["channel", "date"],
                    "properties": {
                        "channel": {"type": "string"},
                        "date": {"type": "string", "format": "date"},
                    },
                },
            ),
        },
        "/admin/reconciliations/{run_id}": {
            "get": _admin(
                "A run's summary, its unmatched lines by result and a link to the full CSV report",
                "viewer",
                params=[
                    *_params(
                        "path", ("run_id", {"type": "string", "example": "alipay-main:2026-11-24"})
                    ),
                    *_params(
                        "query",
                        (
                            "result",
                            {
                                "enum": [
                                    "matched",
                                    "amount_mismatch",
                                    "status_mismatch",
                                    "missing_here",
                                    "missing_there",
                                    "duplicate",
                                ]
                            },
                        ),
                    ),
                ],
                errors=(400, 401, 403, 404),
            )
        },
        "/admin/stats": {
            "get": _admin(
                "Sales statistics from daily counters",
                "viewer",
                params=_params(
                    "query",
                    ("from", {"type": "string", "format": "date"}),
                    ("to", {"type": "string", "format": "date"}),
                    (
                        "by",
                        {
                            "enum": [
                                "hour",
                                "hour_of_day",
                                "day",
                                "channel",
                                "product",
                                "price_point",
                            ]
                        },
                    ),
                ),
            )
        },
        "/admin/jobs/{name}": {
            "post": _admin(
                "Run a scheduled job now",
                "operator",
                errors=(400, 401, 403, 404),
                params=_params(
                    "path",
                    (
                        "name",
                        {
                            "enum": [
                                "requery_pending",
                                "reconcile",
                                "channel_health",
                                "failed_digest",
                                "expire_orders",
                                "apply_statement_fees",
                                "query_refunds",
                                "slow_delivery",
                                "backfill_search_keys",
                            ]
                        },
                    ),
                ),
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "description": "reconcile: "
                    "`date` (YYYY-MM-DD, default yesterday in Beijing) and `channel` (default every channel); "
                    "backfill_search_keys: `date` (the oldest creation day to cover, default three years back) "
                    "on the first run, then the `cursor` the previous run answered",
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "channel": {"type": "string"},
                        "cursor": {"type": "string"},
                    },
                },
            )
        },
        **_review_paths(order_no),
        **_page_paths(),
        "/openapi.json": {
            "get": _op("This document", None, _responses(200, ANY_OBJECT), tag="meta")
        },
    }


def _review_paths(order_no: list[dict]) -> dict[str, dict]:
    """Finding a payment at the gateway (GET /admin/lookup) and buyer verification on a held order."""
    lookup = _admin(
        "Find a payment by the gateway's trade number: paytrack's orders and notices first, else the gateways "
        "whose trade numbers look like it (or `channel`), each asked in its protocol; `can_apply`: confirm_paid "
        "applies it. 404 when nobody knows it, 502 when a gateway asked could not answer",
        "viewer",
        params=[
            {
                **_params(
                    "query", ("trade_no", {"type": "string", "pattern": "^[A-Za-z0-9_-]{6,64}$"})
                )[0],
                "required": True,
            },
            *_params("query", ("channel", {"type": "string", "maxLength": 64})),
        ],
        errors=(400, 401, 403, 404, 502),
    )
    ask = {
        "type": "object",
        "additionalProperties": False,
        "description": "a template's name, or your own question",
        "properties": {
            "template": {"type": "string", "maxLength": 50},
            "question": {"type": "string", "minLength": 1, "maxLength": 500},
            "idempotency_key": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100,
                "description": "a retry with the same key is the same request",
            },
        },
    }
    decide = {
        "type": "object",
        "required": ["decision", "reason"],
        "additionalProperties": False,
        "properties": {
            "decision": {"enum": ["release", "refund"]},
            "reason": {"type": "string", "minLength": 1, "maxLength": 500},
            "amount": {
                **MONEY,
                "description": "refund only: less than the rest of the paid amount",
            },
        },
    }
    answer = {
        "type": "object",
        "required": ["verification_id", "token", "answer"],
        "additionalProperties": False,
        "properties": {
            "verification_id": {"type": "string", "maxLength": 64},
            "token": {"type": "string", "maxLength": 200},
            "answer": {"type": "string", "minLength": 1, "maxLength": 500},
        },
    }
    answered = {
        "type": "object",
        "required": ["order_no", "verification_id", "state"],
        "properties": {
            "order_no": {"type": "string"},
            "verification_id": {"type": "string"},
            "state": {"enum": ["answered"]},
        },
    }
    return {
        "/admin/lookup": {"get": lookup},
        "/admin/orders/{order_no}/verification": {
            "get": _admin(
                "The order's buyer verification: the current review, its history and the question "
                "templates (the answer masked for viewers)",
                "viewer",
                params=order_no,
                errors=(401, 403, 404),
            ),
            "post": _admin(
                "Ask the buyer, through the shop (order.verification_requested), on a held order",
                "operator",
                ok=201,
                params=order_no,
                body=ask,
                errors=(400, 401, 403, 404, 409),
            ),
        },
        "/admin/orders/{order_no}/verification/decision": {
            "post": _admin(
                "End the review: release (deliver) or refund (through the gateway where the channel can), with a reason",
                "operator",
                params=order_no,
                body=decide,
                errors=(400, 401, 403, 404, 409),
            )
        },
        "/orders/{order_no}/verification": {
            "post": _op(
                "The buyer's answer to order.verification_requested, with its reply token: once, before it expires "
                "(403 wrong token, 409 answered otherwise, expired or superseded; the same answer again is 200)",
                "shop",
                _responses(200, answered, 400, 401, 403, 404, 409),
                order_no,
                answer,
                tag="shop",
            )
        },
    }


def _page_paths() -> dict[str, dict]:
    """The admin page's static files (chalicelib/static): no bearer key, the page signs in itself."""
    cached = {"304": {"description": "not modified: the browser's copy (If-None-Match) is current"}}
    etag = _params("header", ("If-None-Match", {"type": "string"}))
    for param in etag:
        param["required"] = False
    page = {
        "summary": "The admin page (index.html); /admin redirects to /admin/",
        "tags": ["page"],
        "description": "No bearer key: the page asks for an API key and calls the admin API with it.",
        "parameters": etag,
        "responses": {
            "200": {
                "description": "the page",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "308": {"description": "to /admin/ (relative links need the trailing slash)"},
        }
        | cached,
    }
    asset = {
        "summary": "A script, style sheet or icon of the admin page",
        "tags": ["page"],
        "description": "Only files in the page's folder with a known type (.js, .css, .svg).",
        "parameters": _params(
            "path", ("name", {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]*\.[a-z]+$"})
        )
        + etag,
        "responses": {
            "200": {
                "description": "the file",
                "content": {
                    "text/javascript": {"schema": {"type": "string"}},
                    "text/css": {"schema": {"type": "string"}},
                    "image/svg+xml": {"schema": {"type": "string"}},
                },
            },
            "404": {
                "description": "no such file",
                "content": {"application/json": {"schema": ERROR}},
            },
        }
        | cached,
    }
    return {"/admin": {"get": page}, "/admin/assets/{name}": {"get": asset}}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "paytrack",
            "version": "1.0.0",
            "description": "Payment back office of a 发卡 shop: gateway notifications, the shop's orders, "
            "and the operators' search, actions, anomalies, reconciliation, stats and exports. "
            "Money is a decimal string with the currency's minor digits plus `currency`; "
            'times are ISO 8601 UTC with Z; errors are {"error": {code, message, details}}, '
            "also for a path no route serves (404 `not_found`), a method the path does not take (405 "
            "`method_not_allowed`; API Gateway answers it 404 `not_found`) and a content type "
            "the route does not take (415 `unsupported_media_type`). An unexpected failure is "
            '500 {"error": {"code": "internal_error", "request_id": …}}; AWS briefly unable '
            'to serve is 503 {"error": {"code": "service_unavailable", …}} with Retry-After. '
            "Query parameters are strict: ASCII digits, ISO 8601 times from 2000 to 2099.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR, "OrderInput": ORDER_INPUT, "Order": ORDER_VIEW},
        },
        "paths": _paths(),
    }
