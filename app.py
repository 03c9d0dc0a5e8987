"""paytrack entry points: routes, stream and schedule handlers. Each parses, calls one service
function and renders; business logic lives in chalicelib/services.

Each handler imports the services it calls when it first runs, not at import: every Lambda
function loads this whole file, and a stream consumer, a schedule or one route should not pay
for the rest (Powertools' batch utility and asyncio, the XLSX writer, the statement parsers,
the gateways' cryptography) on its cold start. `import app` loads chalice, the HTTP edge and
the settings (bench/costs.py measures it against `import chalice, boto3`).
"""

from __future__ import annotations

from chalice import Chalice, Cron, Rate, Response

from chalicelib.platform.observability import observe_invocation
from chalicelib.platform.settings import get_settings
from chalicelib.web import (
    JSON_TYPES,
    Guard,
    current_request,
    json_response,
    query_params,
    read_audited,
    read_json,
    register_edge,
)

app = Chalice(app_name="paytrack")
app.register_middleware(observe_invocation, "all")  # outermost: the edge's own lines correlated
guard = Guard(app)
register_edge(app)
settings = get_settings()

NOTIFY_TYPES = [
    "application/x-www-form-urlencoded",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "multipart/form-data",
]


# ---------------------------------------------------------------- gateway notifications


@app.route("/notify/{channel}", methods=["GET", "POST"], content_types=NOTIFY_TYPES)
@guard.public
def notify(channel: str) -> Response:
    from chalicelib.gateways.base import Headers, InboundRequest
    from chalicelib.services import ingest

    request = current_request(app)
    raw = request.raw_body or b""  # bytes under Chalice (typed str | bytes)
    inbound = InboundRequest(
        method=request.method,
        headers=Headers(dict(request.headers)),
        body=raw.encode() if isinstance(raw, str) else raw,
        query=dict(request.query_params or {}),
        source_ip=(request.context.get("identity") or {}).get("sourceIp"),
        raw_query_string=_query_string(request.to_original_event()),
    )
    answer = ingest.handle_notification(channel, inbound)
    return Response(
        body=answer.body,
        status_code=answer.status,
        headers={"Content-Type": answer.content_type, **answer.headers},
    )


def _query_string(event: dict) -> str | None:
    """The query string with every repeated parameter kept, so the gateway refuses repeats.

    HTTP APIs give it raw (`rawQueryString`); a REST API (and chalice local) gives only the
    decoded `multiValueQueryStringParameters`, re-encoded here with each value in order.
    """
    from urllib.parse import urlencode

    if event.get("rawQueryString"):
        return event["rawQueryString"]
    repeated = event.get("multiValueQueryStringParameters")
    return urlencode(repeated, doseq=True) if repeated else None


# ---------------------------------------------------------------- shop API


@app.route("/orders", methods=["POST"], content_types=JSON_TYPES)
@guard("shop")
def register_order(principal) -> Response:
    from chalicelib.services import orders
    from chalicelib.services.render import order_for_shop

    order, created = orders.register(orders.read_registration(read_json(app)))
    return json_response(order_for_shop(order), 201 if created else 200)


@app.route("/orders/{order_no}", methods=["GET"])
@guard("shop")
def get_order(principal, order_no: str) -> Response:
    from chalicelib.services import orders
    from chalicelib.services.render import order_for_shop

    return json_response(order_for_shop(orders.get(order_no)))


@app.route("/orders/{order_no}/delivery", methods=["POST"], content_types=JSON_TYPES)
@guard("shop")
def report_delivery(principal, order_no: str) -> Response:
    from chalicelib.domain.commands import ReportDelivery
    from chalicelib.services import orders
    from chalicelib.services.render import order_for_shop

    command = ReportDelivery.from_body(order_no, read_json(app))
    return json_response(order_for_shop(orders.record_delivery(command)))


@app.route("/orders/{order_no}/verification", methods=["POST"], content_types=JSON_TYPES)
@guard("shop")
def answer_verification(principal, order_no: str) -> Response:
    from chalicelib.domain.commands import AnswerVerification
    from chalicelib.services import verification
    from chalicelib.services.render import answered_view

    body = read_json(app)
    command = read_audited(
        lambda: AnswerVerification.from_body(order_no, body),
        lambda error: verification.refused(
            principal, AnswerVerification, order_no, AnswerVerification.said(body), error
        ),
    )
    return json_response(answered_view(verification.answer(principal, command)))


# ---------------------------------------------------------------- streams and schedules


@app.on_dynamodb_record(
    stream_arn=settings.orders_stream_arn, batch_size=100, starting_position="TRIM_HORIZON"
)
def on_orders_stream(event):
    from chalicelib.services import streams

    return streams.process_orders(event.to_dict(), event.context)


@app.on_dynamodb_record(
    stream_arn=settings.notices_stream_arn, batch_size=100, starting_position="TRIM_HORIZON"
)
def on_notices_stream(event):
    from chalicelib.services import streams

    return streams.process_notices(event.to_dict(), event.context)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def expire_orders(event):
    from chalicelib.services import jobs

    return jobs.run_scheduled("expire_orders")


# ---------------------------------------------------------------- operator API: orders, keys, audit


@app.route("/admin/me", methods=["GET"])
@guard("any")
def admin_me(principal) -> Response:
    from chalicelib.services import admin
    from chalicelib.services.render import caller_view

    return json_response(caller_view(admin.whoami(principal)))


@app.route("/admin/meta", methods=["GET"])
@guard("viewer")
def admin_meta(principal) -> Response:
    from chalicelib.services import meta

    return json_response(meta.describe())


@app.route("/admin/orders/{order_no}", methods=["GET"])
@guard("viewer")
def admin_order_detail(principal, order_no: str) -> Response:
    from chalicelib.services import admin
    from chalicelib.services.render import order_detail_view

    return json_response(order_detail_view(admin.order_detail(principal, order_no)))


@app.route("/admin/keys", methods=["POST"], content_types=JSON_TYPES)
@guard("admin")
def admin_create_key(principal) -> Response:
    from chalicelib.domain.commands import CreateKey
    from chalicelib.services import admin, auth
    from chalicelib.services.render import new_key_view

    command = CreateKey.from_body(read_json(app), auth.ROLES)
    return json_response(new_key_view(admin.create_key(principal, command)), 201)


@app.route("/admin/keys", methods=["GET"])
@guard("admin")
def admin_list_keys(principal) -> Response:
    from chalicelib.services import admin
    from chalicelib.services.render import key_view

    return json_response({"items": [key_view(k) for k in admin.list_keys(principal)]})


@app.route("/admin/keys/{key_id}", methods=["DELETE"])
@guard("admin")
def admin_revoke_key(principal, key_id: str) -> Response:
    from chalicelib.services import admin
    from chalicelib.services.render import key_view

    return json_response(key_view(admin.revoke_key(principal, key_id)))


@app.route("/admin/audit", methods=["GET"])
@guard("admin")
def admin_audit(principal) -> Response:
    from chalicelib.domain.commands import ReadAuditLog
    from chalicelib.services import admin
    from chalicelib.services.render import audit_view

    command = ReadAuditLog.from_query(query_params(app)[0])
    return json_response({"items": [audit_view(i) for i in admin.audit_log(principal, command)]})


@app.route("/admin/orders", methods=["GET"])
@guard("viewer")
def admin_search_orders(principal) -> Response:
    from chalicelib.domain.commands import SearchOrders
    from chalicelib.services import order_search
    from chalicelib.services.render import order_page_view

    params, getlist = query_params(app)
    command = SearchOrders.from_query(params, getlist("status"))
    return json_response(order_page_view(order_search.search(principal, command)))


@app.route("/admin/lookup", methods=["GET"])
@guard("viewer")
def admin_lookup_trade(principal) -> Response:
    from chalicelib.domain.commands import LookupTrade
    from chalicelib.services import lookup
    from chalicelib.services.render import lookup_view

    params = query_params(app)[0]
    command = read_audited(
        lambda: LookupTrade.from_query(params),
        lambda error: lookup.refused(principal, LookupTrade.said(params), error),
    )
    return json_response(lookup_view(lookup.lookup(principal, command)))


@app.route("/admin/exports", methods=["POST"], content_types=JSON_TYPES)
@guard("viewer")
def admin_request_export(principal) -> Response:
    from chalicelib.domain.commands import RequestExport
    from chalicelib.services import exports
    from chalicelib.services.export_words import LANGUAGES
    from chalicelib.services.render import export_view

    state = exports.request_export(principal, RequestExport.from_body(read_json(app), LANGUAGES))
    return json_response(export_view(state), 201 if state.record.status == "ready" else 202)


@app.route("/admin/exports/{export_id}", methods=["GET"])
@guard("viewer")
def admin_get_export(principal, export_id: str) -> Response:
    from chalicelib.services import exports
    from chalicelib.services.render import export_view

    return json_response(export_view(exports.get_export(principal, export_id)))


@app.on_dynamodb_record(
    stream_arn=settings.exports_stream_arn, batch_size=1, starting_position="TRIM_HORIZON"
)
def on_exports_stream(event):
    from chalicelib.services import exports, streams

    return streams.process(event.to_dict(), exports.handle_export_record, event.context)


# ---------------------------------------------------------------- anomaly engine: inbox, checks, metrics


@app.route("/admin/anomalies", methods=["GET"])
@guard("viewer")
def admin_list_anomalies(principal) -> Response:
    from chalicelib.domain.commands import ListAnomalies
    from chalicelib.services import anomalies
    from chalicelib.services.render import anomalies_page_view

    command = ListAnomalies.from_query(query_params(app)[0], anomalies.inbox_rules())
    return json_response(anomalies_page_view(anomalies.inbox(principal, command)))


@app.route("/admin/anomalies/{anomaly_id}", methods=["GET"])
@guard("viewer")
def admin_get_anomaly(principal, anomaly_id: str) -> Response:
    from chalicelib.services import anomalies
    from chalicelib.services.render import found_anomaly_view

    return json_response(found_anomaly_view(anomalies.one(principal, anomaly_id)))


@app.route("/admin/anomalies/{anomaly_id}", methods=["POST"], content_types=JSON_TYPES)
@guard("operator")
def admin_update_anomaly(principal, anomaly_id: str) -> Response:
    from chalicelib.domain.commands import UpdateAnomaly
    from chalicelib.services import anomalies
    from chalicelib.services.render import found_anomaly_view

    command = UpdateAnomaly.from_body(anomaly_id, read_json(app))
    return json_response(found_anomaly_view(anomalies.update(principal, command)))


@app.schedule(Rate(1, unit=Rate.MINUTES))
def slow_delivery(event):
    from chalicelib.services import jobs

    return jobs.run_scheduled("slow_delivery")


@app.schedule(Rate(1, unit=Rate.HOURS))
def channel_health(event):
    from chalicelib.services import jobs

    return jobs.run_scheduled("channel_health")


@app.route("/admin/orders/{order_no}/actions", methods=["POST"], content_types=JSON_TYPES)
@guard("operator")
def admin_order_action(principal, order_no: str) -> Response:
    from chalicelib.domain.commands import OrderAction
    from chalicelib.services import actions
    from chalicelib.services.render import action_view

    command = OrderAction.from_body(order_no, read_json(app))
    return json_response(action_view(actions.perform(principal, command)))


@app.route("/admin/orders/{order_no}/verification", methods=["GET"])
@guard("viewer")
def admin_read_verification(principal, order_no: str) -> Response:
    from chalicelib.services import verification
    from chalicelib.services.render import review_view

    return json_response(review_view(verification.read(principal, order_no)))


@app.route("/admin/orders/{order_no}/verification", methods=["POST"], content_types=JSON_TYPES)
@guard("operator")
def admin_ask_verification(principal, order_no: str) -> Response:
    from chalicelib.domain.commands import AskVerification
    from chalicelib.platform.verification_settings import get_verification_settings
    from chalicelib.services import verification
    from chalicelib.services.render import review_view

    body, templates = read_json(app), get_verification_settings().templates
    command = read_audited(
        lambda: AskVerification.from_body(order_no, body, templates),
        lambda error: verification.refused(
            principal, AskVerification, order_no, AskVerification.said(body), error
        ),
    )
    return json_response(review_view(verification.ask(principal, command)), 201)


@app.route(
    "/admin/orders/{order_no}/verification/decision", methods=["POST"], content_types=JSON_TYPES
)
@guard("operator")
def admin_decide_verification(principal, order_no: str) -> Response:
    from chalicelib.domain.commands import DecideVerification
    from chalicelib.services import verification
    from chalicelib.services.render import review_view

    body = read_json(app)
    command = read_audited(
        lambda: DecideVerification.from_body(order_no, body),
        lambda error: verification.refused(
            principal, DecideVerification, order_no, DecideVerification.said(body), error
        ),
    )
    return json_response(review_view(verification.decide(principal, command)))


@app.route("/admin/refunds", methods=["GET"])
@guard("admin")
def admin_list_refunds(principal) -> Response:
    from chalicelib.domain.commands import ListRefunds
    from chalicelib.services import refunds
    from chalicelib.services.render import refund_queue_view

    command = ListRefunds.from_query(query_params(app)[0])
    return json_response(refund_queue_view(refunds.open_requests(principal, command)))


@app.route(
    "/admin/orders/{order_no}/refunds/{refund_request_id}/approve",
    methods=["POST"],
    content_types=JSON_TYPES,
)
@guard("admin")
def admin_approve_refund(principal, order_no: str, refund_request_id: str) -> Response:
    return _decide_refund(principal, order_no, refund_request_id, True)


@app.route(
    "/admin/orders/{order_no}/refunds/{refund_request_id}/reject",
    methods=["POST"],
    content_types=JSON_TYPES,
)
@guard("admin")
def admin_reject_refund(principal, order_no: str, refund_request_id: str) -> Response:
    return _decide_refund(principal, order_no, refund_request_id, False)


@app.route(
    "/admin/orders/{order_no}/refunds/{refund_request_id}/settle",
    methods=["POST"],
    content_types=JSON_TYPES,
)
@guard("admin")
def admin_settle_refund(principal, order_no: str, refund_request_id: str) -> Response:
    from chalicelib.domain.commands import SettleRefund
    from chalicelib.services import refunds
    from chalicelib.services.render import refund_settled_view

    body = read_json(app)
    command = read_audited(
        lambda: SettleRefund.from_body(order_no, refund_request_id, body),
        lambda error: refunds.settle_refused(
            principal, order_no, refund_request_id, SettleRefund.said(body), error
        ),
    )
    outcome, refund = refunds.settle_pending(principal, command)
    return json_response(refund_settled_view(order_no, outcome, refund))


def _decide_refund(principal, order_no: str, refund_request_id: str, approve: bool) -> Response:
    from chalicelib.domain.commands import DecideRefund
    from chalicelib.services import refunds
    from chalicelib.services.render import refund_decided_view

    command = DecideRefund.from_body(order_no, refund_request_id, approve, read_json(app))
    return json_response(refund_decided_view(order_no, refunds.decide(principal, command)))


@app.schedule(Rate(5, unit=Rate.MINUTES))
def query_refunds(event):
    from chalicelib.services import jobs

    return jobs.run_scheduled("query_refunds")


@app.route("/admin/stats", methods=["GET"])
@guard("viewer")
def admin_stats(principal) -> Response:
    from chalicelib.domain.commands import ReadStats
    from chalicelib.services import stats
    from chalicelib.services.render import stats_view

    command = ReadStats.from_query(query_params(app)[0])
    return json_response(stats_view(stats.report(principal, command)))


@app.on_dynamodb_record(
    stream_arn=settings.orders_stream_arn, batch_size=100, starting_position="TRIM_HORIZON"
)
def on_orders_stats(event):
    from chalicelib.services import stats, streams

    return streams.process_together(event.to_dict(), stats.read_order_record, stats.count_facts)


@app.route("/openapi.json", methods=["GET"])
@guard.public
def openapi_document() -> Response:
    from chalicelib import openapi

    return json_response(openapi.document())


# ---------------------------------------------------------------- 补单, statements and reconciliation


@app.schedule(Rate(2, unit=Rate.MINUTES))
def requery_pending(event):
    from chalicelib.services import jobs

    return jobs.run_scheduled("requery_pending")


@app.schedule(Cron(30, 2, "*", "*", "?", "*"))  # 10:30 Beijing (UTC+8), after WeChat's 10:00
def reconcile_daily(event):
    from chalicelib.services import jobs

    return jobs.run_scheduled("reconcile")


@app.schedule(Rate(15, unit=Rate.MINUTES))
def apply_statement_fees(event):
    from chalicelib.services import jobs

    return jobs.run_scheduled("apply_statement_fees")


@app.schedule(Cron(0, 1, "*", "*", "?", "*"))  # 09:00 Beijing
def failed_digest(event):
    from chalicelib.services import jobs

    return jobs.run_scheduled("failed_digest")


@app.route("/admin/jobs/{name}", methods=["POST"], content_types=JSON_TYPES)
@guard("operator")
def admin_run_job(principal, name: str) -> Response:
    from chalicelib.domain.commands import RunJob
    from chalicelib.services import jobs

    command = RunJob.from_body(name, read_json(app), jobs.JOB_PARAMS)
    return json_response(jobs.run_now(principal, command))


@app.route("/admin/reconciliations", methods=["GET"])
@guard("viewer")
def admin_list_reconciliations(principal) -> Response:
    from chalicelib.domain.commands import ListRuns
    from chalicelib.services import reconcile_runs
    from chalicelib.services.render import run_view

    runs = reconcile_runs.list_runs(principal, ListRuns.from_query(query_params(app)[0]))
    return json_response({"items": [run_view(run) for run in runs]})


@app.route("/admin/reconciliations", methods=["POST"], content_types=JSON_TYPES)
@guard("operator")
def admin_run_reconciliation(principal) -> Response:
    from chalicelib.domain.commands import RunReconciliation
    from chalicelib.services import reconcile_runs
    from chalicelib.services.render import run_view

    done = reconcile_runs.run_now(principal, RunReconciliation.from_body(read_json(app)))
    return json_response({**run_view(done.run), "fees": done.fees}, 201)


@app.route("/admin/reconciliations/{run_id}", methods=["GET"])
@guard("viewer")
def admin_get_reconciliation(principal, run_id: str) -> Response:
    from chalicelib.domain.commands import GetRun
    from chalicelib.services import reconcile_runs
    from chalicelib.services.render import run_detail_view

    command = GetRun.from_query(run_id, query_params(app)[0])
    return json_response(run_detail_view(reconcile_runs.get_run(principal, command)))


# ---------------------------------------------------------------- the admin page (static files, README "The admin page")

from chalicelib import static  # noqa: E402  (this section is appended on its own; a light module)
from chalicelib.domain.errors import NotFound  # noqa: E402
from chalicelib.web import error_response  # noqa: E402


def _static_file(found: static.StaticFile, extra: dict[str, str] | None = None) -> Response:
    headers: dict[str, str | list[str]] = {**found.headers(), **(extra or {})}
    if static.not_modified(found, current_request(app).headers.get("if-none-match")):
        return Response(
            body="",
            status_code=304,
            headers={k: v for k, v in headers.items() if k != "Content-Type"},
        )
    return Response(body=found.body, status_code=200, headers=headers)


@app.route("/admin", methods=["GET"])
@guard.public
def admin_page() -> Response:
    if not (current_request(app).context.get("path") or "/admin/").endswith("/"):
        return Response(
            body="", status_code=308, headers={"Location": "admin/", "Cache-Control": "no-cache"}
        )
    return _static_file(
        static.page(), {"Content-Security-Policy": static.PAGE_POLICY, "X-Frame-Options": "DENY"}
    )


@app.route("/admin/assets/{name}", methods=["GET"])
@guard.public
def admin_asset(name: str) -> Response:
    found = static.asset(name)
    if found is None:
        return error_response(NotFound(f"no file {name!r} in the admin page", {"name": name}))
    return _static_file(found)
