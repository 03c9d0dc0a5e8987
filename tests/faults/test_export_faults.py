"""Crash at every step of an export: inline (POST /admin/exports writes it at once) and the
asynchronous half on the exports stream. The Nth AWS call fails, the request is sent again (or
Lambda redelivers the batch); then no export is visible as ready unless all of it is there, and
one sent again ends ready with its rows."""

from __future__ import annotations

import csv
import io

import boto3
import pytest

from chalicelib.platform.settings import get_settings
from chalicelib.services import exports
from chalicelib.store.models import ExportModel
from tests.faults.invariants import register
from tests.integration.conftest import ADMIN_KEY
from tests.support.faults import sweep

CHANNEL = "alipay-main"


def exported_rows(record) -> list[list[str]]:
    body = (
        boto3.client("s3")
        .get_object(Bucket=get_settings().bucket, Key=record.s3_key)["Body"]
        .read()
    )
    return list(csv.reader(io.StringIO(body.decode("utf-8").lstrip("\ufeff"))))[1:]


def assert_no_partial_export_finished() -> None:
    for record in ExportModel.scan():  # test-side check over every export of the module
        if record.status == "ready":
            assert len(exported_rows(record)) == record.rows, (
                f"export {record.export_id} ready but partial"
            )


def request_export(world, order_no: str):
    return world.api.call(
        "POST",
        "/admin/exports",
        {"kind": "orders", "format": "csv", "order_no": order_no},
        key=ADMIN_KEY,
    )


def test_an_inline_export_is_never_finished_partial_whatever_call_fails(world):
    order_no, _ = register(world, CHANNEL)

    def case(arm):
        with arm():
            request_export(world, order_no)
        assert_no_partial_export_finished()
        response = request_export(world, order_no)
        assert response.status_code == 201, response.body
        view = world.api.json(response)
        assert view["status"] == "ready" and view["rows"] == 1
        assert [row[0] for row in exported_rows(ExportModel.get(view["export_id"]))] == [order_no]

    sweep("export inline", world.injector, case, fresh=world.checkpoint()).assert_held()


def test_an_async_export_ends_ready_or_failed_whatever_call_fails(world):
    order_no, _ = register(world, CHANNEL)
    world.streams.settle()

    def case(arm):
        response = request_export(world, order_no)
        assert response.status_code == 202, response.body
        export_id = world.api.json(response)["export_id"]
        world.streams.settle(arm, world.streams.consumers["exports"][0])
        assert_no_partial_export_finished()
        record = ExportModel.get(export_id)
        assert record.status in ("ready", "failed"), (
            f"export left {record.status!r} after the stream's retries"
        )
        if record.status == "ready":
            assert [row[0] for row in exported_rows(record)] == [order_no]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(exports, "INLINE_ROWS", 0)
        sweep(
            "export async (exports stream)", world.injector, case, fresh=world.checkpoint()
        ).assert_held()
