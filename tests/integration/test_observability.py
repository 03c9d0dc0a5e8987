"""What an on-call person greps for: every log line of a request or a stream record carries its
correlation id (the API request id a 500 quotes; a record's order number, notice dedupe key),
a notice's lines carry its dedupe key and order once parsed, the cold start is logged once, and
tracing stays off (no X-Ray SDK) outside Lambda while wrapping invocations and gateway calls on it.

Log lines are read as Powertools writes them: its JSON formatter on a second handler."""

from __future__ import annotations

import io
import json
import logging
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from chalicelib.platform import observability, tracing
from chalicelib.platform.observability import logger
from chalicelib.services import admin, ingest, screening
from chalicelib.store import notices as notice_store
from chalicelib.store.models import NoticeModel, OrderModel
from tests.integration.conftest import ADMIN_KEY
from tests.integration.test_streams import stream_event
from tests.support import notifications as wires


@pytest.fixture
def log_lines():
    """Take every line logged from now on as Powertools' JSON; `log_lines()` reads and forgets."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(handler)

    def read() -> list[dict]:
        text = stream.getvalue()
        stream.seek(0)
        stream.truncate()
        return [json.loads(line) for line in text.splitlines()]

    yield read
    logger._logger.removeHandler(handler)


def probe(monkeypatch, module, name: str, message: str) -> None:
    """Make `module.name` log `message` before it runs, as any code under a handler may."""
    original = getattr(module, name)

    def logged(*args, **kwargs):
        logger.info(message)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, logged)


def lambda_context(request_id: str, function: str) -> SimpleNamespace:
    return SimpleNamespace(aws_request_id=request_id, function_name=function)


def test_a_notice_lines_carry_the_request_id_then_its_dedupe_key_and_order(
    api, log_lines, monkeypatch
):
    order_no = api.json(api.register())["order_no"]
    probe(monkeypatch, ingest, "_record_and_apply", "probe: storing the notice")
    log_lines()
    assert api.send(wires.alipay(order_no, "58.00")).status_code == 200
    accepted = log_lines()
    api.send(wires.alipay(order_no, "58.00", forged=True))  # refused in Alipay's protocol
    rejected = log_lines()

    assert accepted and rejected
    for lines in (accepted, rejected):
        ids = {line.get("correlation_id") for line in lines}
        assert len(ids) == 1 and None not in ids, lines  # every line, the same request
    assert accepted[0]["correlation_id"] != rejected[0]["correlation_id"]
    [(notice, _)] = notice_store.for_order(order_no)
    [stored] = [line for line in accepted if line["message"] == "probe: storing the notice"]
    assert (stored["dedupe_key"], stored["order_no"]) == (notice.dedupe_key, order_no)
    [refused] = [line for line in rejected if line["message"] == "notification rejected"]
    assert "dedupe_key" not in refused and "order_no" not in refused  # never parsed


def test_an_admin_request_lines_carry_the_request_id_its_500_quotes(api, log_lines, monkeypatch):
    order_no = api.json(api.register())["order_no"]
    probe(monkeypatch, admin, "order_detail", "probe: reading the order")
    log_lines()
    assert api.call("GET", f"/admin/orders/{order_no}", key=ADMIN_KEY).status_code == 200
    served = log_lines()

    def broken(principal, number):
        logger.info("probe: about to fail")
        raise RuntimeError("boom")

    monkeypatch.setattr(admin, "order_detail", broken)
    response = api.call("GET", f"/admin/orders/{order_no}", key=ADMIN_KEY)
    failed = log_lines()

    assert response.status_code == 500
    quoted = json.loads(response.body)["error"]["request_id"]
    assert [line["message"] for line in failed] == ["probe: about to fail", "unexpected error"]
    for line in failed:
        assert (line["correlation_id"], line["order_no"]) == (quoted, order_no)
    assert served and {line["correlation_id"] for line in served} != {quoted}
    for line in served:
        assert line["correlation_id"] and line["order_no"] == order_no


def test_a_stream_record_lines_carry_its_order_or_notice(api, log_lines, monkeypatch):
    import app

    good = api.json(api.register())["order_no"]
    api.send(wires.alipay(good, "58.00"))
    event = stream_event(OrderModel)
    poisoned = json.loads(json.dumps(event["Records"][0]))
    poisoned["dynamodb"]["Keys"] = {"order_no": {"S": "X-POISON"}}
    poisoned["dynamodb"]["NewImage"] = {"order_no": {"S": "X-POISON"}, "pay_status": {"S": "?"}}
    poisoned["dynamodb"]["SequenceNumber"] = "999999"
    event["Records"].append(poisoned)
    probe(monkeypatch, screening, "on_order_change", "probe: screening")
    log_lines()
    app.on_orders_stream(event, lambda_context("batch-1", "paytrack-test-on_orders_stream"))
    lines = log_lines()

    by_message = {}
    for line in lines:
        assert line.get("correlation_id"), line  # none without one
        by_message.setdefault(line["message"], []).append(line)
    screened = by_message["probe: screening"]
    assert screened and {(x["correlation_id"], x["order_no"]) for x in screened} == {(good, good)}
    [failed] = by_message["stream record failed"]
    assert (failed["correlation_id"], failed["order_no"]) == ("X-POISON", "X-POISON")
    assert failed["function_request_id"] == "batch-1" and "exception" in failed


def test_a_notice_record_lines_carry_its_dedupe_key_and_order(api, log_lines, monkeypatch):
    """The notices stream repairs a notice stored but never applied (a crash between the two)."""
    import app
    from chalicelib.domain.clock import utcnow
    from chalicelib.gateways.base import Headers, InboundRequest
    from chalicelib.gateways.registry import get_gateway
    from chalicelib.services.channels import get_channel

    order_no = api.json(api.register())["order_no"]
    wire = wires.alipay(order_no, "58.00")
    notice = get_gateway("alipay").parse_notification(
        InboundRequest("POST", Headers(wire.headers), wire.body, {}),
        get_channel("alipay-main"),
        "alipay-main",
        utcnow(),
    )
    assert notice_store.record(notice, utcnow(), "1.1.1.1").first  # stored, never applied
    probe(monkeypatch, ingest, "apply_awaiting", "probe: repairing")
    log_lines()
    app.on_notices_stream(
        stream_event(NoticeModel), lambda_context("batch-2", "paytrack-test-on_notices_stream")
    )
    lines = log_lines()
    assert all(line.get("correlation_id") for line in lines), lines
    [repaired] = [line for line in lines if line["message"] == "probe: repairing"]
    assert (repaired["correlation_id"], repaired["dedupe_key"], repaired["order_no"]) == (
        notice.dedupe_key,
        notice.dedupe_key,
        order_no,
    )
    assert repaired["function_request_id"] == "batch-2"


def test_the_cold_start_is_logged_once_per_process(api, log_lines, monkeypatch):
    monkeypatch.setattr(observability, "_cold", [True])
    log_lines()
    for _ in range(3):
        assert api.call("GET", "/admin/me", key=ADMIN_KEY).status_code == 200
    lines = log_lines()
    [cold] = [line for line in lines if line["message"] == "cold start"]
    assert cold["cold_start"] is True and cold["correlation_id"]
    assert lines[0] is cold  # before anything the first invocation logs


# ------------------------------------------------------------------ tracing


def test_tracing_is_off_outside_lambda_and_when_disabled(monkeypatch):
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    assert not tracing.tracing_enabled()
    tracing.tracer.cache_clear()
    assert tracing.tracer() is None
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
    assert tracing.tracing_enabled()
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not tracing.tracing_enabled()


class FakeTracer:
    """Records the subsegments `traced` opens: (name, annotations)."""

    def __init__(self):
        self.segments: list[tuple[str, dict]] = []
        self.provider = self

    @contextmanager
    def in_subsegment(self, name):
        annotations: dict = {}
        self.segments.append((name, annotations))
        yield SimpleNamespace(put_annotation=annotations.__setitem__)


def test_on_lambda_invocations_and_gateway_calls_are_subsegments(api, monkeypatch):
    from chalicelib.gateways._http import GatewayHttp

    fake = FakeTracer()
    monkeypatch.setattr(tracing, "tracer", lambda: fake)
    response = api.call("GET", "/admin/me", key=ADMIN_KEY)
    assert response.status_code == 200
    [(name, annotations)] = fake.segments
    assert name.startswith("## ") and annotations["correlation_id"]
    assert annotations["cold_start"] in (True, False)

    answered = SimpleNamespace(status_code=200)
    session = SimpleNamespace(request=lambda *args, **kwargs: answered)
    assert GatewayHttp(session=session).call("GET", "https://gw.example/q?key=s", "epay query")
    assert fake.segments[-1] == ("gateway epay query", {"attempt": 1})
