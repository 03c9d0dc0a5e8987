"""paytrack entry points: routes, stream and schedule handlers. Each parses, calls one service
function and renders; business logic lives in chalicelib/services."""
from __future__ import annotations

from urllib.parse import urlencode

from chalice import Chalice, Rate, Response

from chalicelib.gateways.base import Headers, InboundRequest
from chalicelib.platform.observability import logger
from chalicelib.platform.settings import get_settings
from chalicelib.services import admin, ingest, jobs, order_search, orders, streams
from chalicelib.services.render import order_for_shop
from chalicelib.web import JSON_TYPES, Guard, json_response, query_params, read_json

app = Chalice(app_name="paytrack")
guard = Guard(app)
settings = get_settings()

NOTIFY_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain",
                "application/octet-stream", "multipart/form-data"]


# ---------------------------------------------------------------- gateway notifications

@app.route("/notify/{channel}", methods=["GET", "POST"], content_types=NOTIFY_TYPES)
def notify(channel: str) -> Response:
    request = app.current_request
    query = request.query_params or {}
    inbound = InboundRequest(
        method=request.method, headers=Headers(dict(request.headers)), body=request.raw_body or b"",
        query=dict(query), source_ip=(request.context.get("identity") or {}).get("sourceIp"),
        raw_query_string=urlencode(query) if query else None)
    answer = ingest.handle_notification(channel, inbound)
    return Response(body=answer.body, status_code=answer.status,
                    headers={"Content-Type": answer.content_type, **answer.headers})


# ---------------------------------------------------------------- shop API

@app.route("/orders", methods=["POST"], content_types=JSON_TYPES)
@guard("shop")
def register_order(principal) -> Response:
    order, created = orders.register(read_json(app))
    return json_response(order_for_shop(order), 201 if created else 200)


@app.route("/orders/{order_no}", methods=["GET"])
@guard("shop")
def get_order(principal, order_no: str) -> Response:
    return json_response(order_for_shop(orders.get(order_no)))


@app.route("/orders/{order_no}/delivery", methods=["POST"], content_types=JSON_TYPES)
@guard("shop")
def report_delivery(principal, order_no: str) -> Response:
    return json_response(order_for_shop(orders.record_delivery(order_no, read_json(app))))


# ---------------------------------------------------------------- streams and schedules

@app.on_dynamodb_record(stream_arn=settings.orders_stream_arn, batch_size=100, starting_position="TRIM_HORIZON")
def on_orders_stream(event):
    return streams.process(event.to_dict(), streams.handle_order_record, event.context)


@app.on_dynamodb_record(stream_arn=settings.notices_stream_arn, batch_size=100, starting_position="TRIM_HORIZON")
def on_notices_stream(event):
    return streams.process(event.to_dict(), streams.handle_notice_record, event.context)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def expire_orders(event):
    summary = jobs.expire_orders()
    logger.info("job done", extra=summary)
    return summary


# ---------------------------------------------------------------- operator API: orders, keys, audit

@app.route("/admin/orders/{order_no}", methods=["GET"])
@guard("viewer")
def admin_order_detail(principal, order_no: str) -> Response:
    return json_response(admin.order_detail(principal, order_no))


@app.route("/admin/keys", methods=["POST"], content_types=JSON_TYPES)
@guard("admin")
def admin_create_key(principal) -> Response:
    return json_response(admin.create_key(principal, read_json(app)), 201)


@app.route("/admin/keys", methods=["GET"])
@guard("admin")
def admin_list_keys(principal) -> Response:
    return json_response(admin.list_keys(principal))


@app.route("/admin/keys/{key_id}", methods=["DELETE"])
@guard("admin")
def admin_revoke_key(principal, key_id: str) -> Response:
    return json_response(admin.revoke_key(principal, key_id))


@app.route("/admin/audit", methods=["GET"])
@guard("admin")
def admin_audit(principal) -> Response:
    return json_response(admin.audit_log(principal, app.current_request.query_params or {}))


@app.route("/admin/orders", methods=["GET"])
@guard("viewer")
def admin_search_orders(principal) -> Response:
    return json_response(order_search.search(principal, *query_params(app)))
