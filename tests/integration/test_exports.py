"""Exports under moto: inline and asynchronous (through the exports stream), CSV and XLSX files
read back from S3, masking unless admin, presigned links of at most 15 minutes, audit."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, unquote, urlparse

import boto3
import openpyxl
import pytest

from chalicelib.platform.settings import get_settings
from chalicelib.services import auth, exports
from chalicelib.store import exports as export_store
from chalicelib.store.models import AuditModel, ExportModel
from local.stream_pump import read_all, to_lambda_event
from tests.integration.conftest import ADMIN_KEY
from tests.support import notifications as wires


@pytest.fixture
def orders(api):
    made = []
    for i, product in enumerate(["=cmd|' /C calc'!A0", "Steam 充值卡 50元", "VIP会员 月卡"]):
        order_no = api.json(api.register(product_name=product, buyer_email=f"zhang{i}@qq.com"))[
            "order_no"
        ]
        api.send(wires.alipay(order_no, "58.00"))
        made.append(order_no)
    return made


def download(view) -> bytes:
    """The object the presigned link names (in-process moto serves no HTTP; e2e downloads it)."""
    url, bucket = urlparse(view["url"]), get_settings().bucket
    path = unquote(url.path)
    key = path[1:] if url.netloc.startswith(bucket) else path.split("/", 2)[2]
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(data.decode("utf-8").lstrip("\ufeff"))))


def test_admin_csv_export_is_ready_at_once_unmasked(api, orders):
    response = api.call(
        "POST", "/admin/exports", {"kind": "orders", "format": "csv"}, key=ADMIN_KEY
    )
    assert response.status_code == 201
    view = api.json(response)
    assert view["status"] == "ready" and view["rows"] == 3 and not view["masked"]
    assert int(parse_qs(urlparse(view["url"]).query)["X-Amz-Expires"][0]) <= 900
    rows = csv_rows(download(view))
    assert rows[0][:4] == ["订单编号", "创建时间", "商品编号", "商品名称"]
    assert sorted(r[0] for r in rows[1:]) == sorted(orders)
    products = {r[3] for r in rows[1:]}
    assert "Steam 充值卡 50元" in products and "'=cmd|' /C calc'!A0" in products
    assert any(r[20] == "zhang0@qq.com" for r in rows[1:])
    actions = [item.action for item in AuditModel.scan() if item.kind == "api"]
    assert "export" in actions


def test_viewer_xlsx_export_is_masked(api, orders):
    viewer = auth.create_key("v", "viewer", "test")[1]
    view = api.json(
        api.call(
            "POST",
            "/admin/exports",
            {"kind": "orders", "format": "xlsx", "product": "vip"},
            key=viewer,
        )
    )
    assert view["status"] == "ready" and view["rows"] == 1 and view["masked"]
    sheet = openpyxl.load_workbook(io.BytesIO(download(view))).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[1][3] == "VIP会员 月卡" and values[1][20] == "zh***@qq.com"


def test_large_export_runs_through_the_stream_and_link_is_reissued(api, orders, monkeypatch):
    monkeypatch.setattr(exports, "INLINE_ROWS", 2)
    response = api.call("POST", "/admin/exports", {"kind": "orders"}, key=ADMIN_KEY)
    assert response.status_code == 202
    view = api.json(response)
    assert view["status"] == "running" and view["url"] is None
    import app

    ddb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=ExportModel.Meta.table_name)["Table"]["LatestStreamArn"]
    event = to_lambda_event(read_all(streams, arn), arn)
    monkeypatch.setattr(exports, "INLINE_ROWS", 5000)
    monkeypatch.setattr(exports, "PROGRESS_ROWS", 1)
    seen_while_running = []
    record_progress = export_store.mark_progress

    def progress(export_id, rows):
        record_progress(export_id, rows)
        seen_while_running.append(
            api.json(api.call("GET", f"/admin/exports/{export_id}", key=ADMIN_KEY))
        )

    monkeypatch.setattr(export_store, "mark_progress", progress)
    assert app.on_exports_stream(event, None) == {"batchItemFailures": []}
    assert app.on_exports_stream(event, None) == {
        "batchItemFailures": []
    }  # a replay writes nothing twice
    assert [(v["status"], v["rows"], v["url"]) for v in seen_while_running] == [
        ("running", 1, None),
        ("running", 2, None),
        ("running", 3, None),
    ]
    ready = api.json(api.call("GET", f"/admin/exports/{view['export_id']}", key=ADMIN_KEY))
    assert ready["status"] == "ready" and ready["rows"] == 3 and ready["url"]
    assert len(csv_rows(download(ready))) == 4
    export_store.mark_progress(
        view["export_id"], 1
    )  # late progress never rewrites a finished export
    assert (
        api.json(api.call("GET", f"/admin/exports/{view['export_id']}", key=ADMIN_KEY))["rows"] == 3
    )


def test_notification_and_anomaly_exports(api, orders):
    view = api.json(
        api.call(
            "POST",
            "/admin/exports",
            {"kind": "notifications", "channel": "alipay-main"},
            key=ADMIN_KEY,
        )
    )
    rows = csv_rows(download(view))
    assert (
        view["rows"] == 3
        and {r[5] for r in rows[1:]} == set(orders)
        and rows[1][1] == "alipay-main"
    )
    anomalies = api.json(api.call("POST", "/admin/exports", {"kind": "anomalies"}, key=ADMIN_KEY))
    assert anomalies["status"] == "ready" and anomalies["rows"] == 0


def test_exports_word_statuses_in_the_callers_language(api, orders):
    chinese = csv_rows(
        download(
            api.json(
                api.call("POST", "/admin/exports", {"kind": "orders", "lang": "zh"}, key=ADMIN_KEY)
            )
        )
    )
    assert {(r[11], r[12]) for r in chinese[1:]} == {("已支付", "待发货")}
    codes = csv_rows(
        download(api.json(api.call("POST", "/admin/exports", {"kind": "orders"}, key=ADMIN_KEY)))
    )
    assert {(r[11], r[12]) for r in codes[1:]} == {("paid", "pending")}
    notices = csv_rows(
        download(
            api.json(
                api.call(
                    "POST", "/admin/exports", {"kind": "notifications", "lang": "zh"}, key=ADMIN_KEY
                )
            )
        )
    )
    assert {(r[3], r[11]) for r in notices[1:]} == {("付款", "异步通知")}


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "everything"},
        {"format": "pdf"},
        {"status": 5},
        {"lang": "fr"},
        {"from": "yesterday"},
        {"min_amount": "x"},
        [1],
    ],
)
def test_bad_export_requests_are_400_and_record_nothing(api, body):
    response = api.call("POST", "/admin/exports", body, key=ADMIN_KEY)
    assert response.status_code == 400 and ExportModel.count() == 0


def test_unknown_export_is_404(api):
    assert api.call("GET", "/admin/exports/nope", key=ADMIN_KEY).status_code == 404


def test_the_embedded_bucket_expires_exports_like_the_deployed_one(api):
    rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket=get_settings().bucket)[
        "Rules"
    ]
    expiring = {
        r["ID"]: (r["Filter"]["Prefix"], r["Expiration"]["Days"])
        for r in rules
        if "Expiration" in r
    }
    assert expiring == {"expire-exports": ("exports/", 7)}
    aborting = [r for r in rules if "AbortIncompleteMultipartUpload" in r]
    assert [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in aborting] == [1]


def test_only_its_creator_or_an_admin_fetches_an_export(api, orders):
    viewer, other_viewer, operator = (
        auth.create_key(name, role, "test")[1]
        for name, role in (
            ("viewer", "viewer"),
            ("another viewer", "viewer"),
            ("operator", "operator"),
        )
    )
    admins = api.json(api.call("POST", "/admin/exports", {"kind": "orders"}, key=ADMIN_KEY))
    viewers = api.json(api.call("POST", "/admin/exports", {"kind": "orders"}, key=viewer))
    assert not admins["masked"] and viewers["masked"]
    refusals = [(key, admins["export_id"]) for key in (viewer, other_viewer, operator)] + [
        (other_viewer, viewers["export_id"]),
        (operator, viewers["export_id"]),
    ]
    for key, export_id in refusals:
        response = api.call("GET", f"/admin/exports/{export_id}", key=key)
        assert response.status_code == 403 and api.json(response)["error"]["code"] == "forbidden"
        assert b"X-Amz" not in response.body and b"url" not in response.body
    own = api.json(api.call("GET", f"/admin/exports/{viewers['export_id']}", key=viewer))
    assert own["masked"] and own["url"] and csv_rows(download(own))[1][20].startswith("zh***")
    assert api.json(api.call("GET", f"/admin/exports/{viewers['export_id']}", key=ADMIN_KEY))["url"]
    refused = sorted(
        item.target for item in AuditModel.scan() if item.action == "read_export_refused"
    )
    assert refused == sorted(export_id for _, export_id in refusals)


def test_a_non_admin_never_fetches_an_unmasked_file_even_its_own():
    from chalicelib.domain.clock import utcnow
    from chalicelib.services.auth import Principal

    record = export_store.ExportRecord(
        export_id="e",
        kind="orders",
        format="csv",
        filters={},
        masked=False,
        requested_by="k1",
        created_at=utcnow(),
        s3_key="exports/e.csv",
    )
    assert not exports.may_fetch(Principal("k1", "was admin", "operator"), record)
    assert exports.may_fetch(Principal("k2", "admin", "admin"), record)


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "notifications", "product": "x"},
        {"kind": "orders", "rule": "x"},
        {"kind": "anomalies", "from": "2026-01-01T00:00:00Z", "to": "2027-06-01T00:00:00Z"},
        {"kind": "reconciliation", "channel": "alipay-main", "from": "2020-01-01"},
        {"kind": "reconciliation", "date": "9999-12-31"},
        {"kind": "notifications", "to": "9999-12-31T23:59:59-01:00"},
    ],
)
def test_unknown_filters_and_wide_or_wild_ranges_are_400(api, body):
    response = api.call("POST", "/admin/exports", body, key=ADMIN_KEY)
    assert response.status_code == 400 and ExportModel.count() == 0


def test_an_inline_export_past_the_read_budget_is_written_by_the_stream(api, orders, monkeypatch):
    from chalicelib.platform import read_budget

    monkeypatch.setattr(read_budget, "ADMIN_ITEMS", 2)
    response = api.call("POST", "/admin/exports", {"kind": "orders"}, key=ADMIN_KEY)
    assert response.status_code == 202 and api.json(response)["status"] == "running"


@pytest.mark.parametrize(
    "filters",
    [{}, {"product": "vip"}, {"status": "paid"}, {"email": "zhang1@qq.com"}, {"min_amount": "50"}],
    ids=["all", "product", "status", "email", "amount"],
)
def test_order_rows_read_with_a_projection_equal_rows_of_whole_orders(api, orders, filters):
    from chalicelib.services.export_sources import _order_row
    from chalicelib.services.export_words import Words
    from chalicelib.store.models import OrderModel
    from chalicelib.store.orders import to_domain

    _, rows = exports._rows_for("orders", filters, masked=False)
    projected = sorted(rows)
    order_filter = exports.parse_filter(
        {k: v for k, v in filters.items() if k != "status"},
        [filters["status"]] if "status" in filters else [],
    )
    every = [to_domain(item) for item in OrderModel.scan()]
    assert all(order.timeline for order in every)  # whole items carry what the export skips
    zone = exports.ZoneInfo(get_settings().shop_timezone)
    whole = sorted(
        _order_row(order, zone, lambda _, v: v, Words("en"))
        for order in every
        if order_filter.matches(order, flagged=order.flagged)
    )
    assert projected and projected == whole
