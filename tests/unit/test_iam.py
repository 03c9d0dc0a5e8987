"""Each Lambda function's policy grants what its code calls and nothing else (infra/iam.py).

- the committed policies and config.json are what the scan of today's code produces;
- facts read off the code by hand hold in them (so a scanner that misses or invents calls fails);
- the scanner itself, on small made-up projects: each call shape maps to its action and table,
  a registry is followed only into the scheduled job's entry, and what it cannot judge stops it.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from infra import iam

STREAM_READ = set(iam.STREAM_READ)


@pytest.fixture(scope="module")
def grants():
    """The scan of today's code (3 s), once for the tests that read it."""
    return iam.scan()


@pytest.fixture(scope="module")
def scanned(grants):
    return {name: _by_resource(function_grants) for name, function_grants in grants.items()}


def _by_resource(grants) -> dict[tuple, set[str]]:
    found: dict[tuple, set[str]] = {}
    for action, resource in grants:
        found.setdefault(resource, set()).add(action)
    return found


def test_committed_policies_and_config_match_the_code(grants):
    assert iam.stale(scanned=grants) == [], (
        "run `python -m infra.iam` and commit .chalice/ with the code change"
    )


def test_the_api_function_cannot_delete_read_streams_or_send_to_queues(scanned):
    api = scanned["api_handler"]
    actions = {action for actions in api.values() for action in actions}
    assert "dynamodb:DeleteItem" not in actions and "sqs:SendMessage" not in actions
    assert not actions & STREAM_READ
    assert [r for r, a in api.items() if "dynamodb:BatchWriteItem" in a] == [
        ("table", "reconciliations")
    ]
    # what it must be able to do: verify notices with the channel secret, store them, register orders
    assert api[("secret", "channels")] == {"secretsmanager:GetSecretValue"}
    assert api[("secret", "verification")] == {"secretsmanager:GetSecretValue"}  # reply tokens
    assert (
        "dynamodb:PutItem" in api[("table", "notices")]
        and "dynamodb:PutItem" in api[("table", "orders")]
    )
    assert "dynamodb:GetItem" in api[("table", "keys")]


def test_stream_functions_read_their_own_stream_and_nothing_they_do_not_touch(scanned):
    own = {
        "on_orders_stream": "orders",
        "on_orders_stats": "orders",
        "on_notices_stream": "notices",
        "on_exports_stream": "exports",
    }
    for name, table in own.items():
        streams = {r: a for r, a in scanned[name].items() if r[0] == "stream"}
        assert streams == {("stream", table): STREAM_READ}, name
        assert scanned[name][("queue", "stream-failures")] == {"sqs:SendMessage"}, name
    assert scanned["on_orders_stats"] == {
        ("logs",): set(iam.LOG_WRITE),
        ("xray",): set(iam.TRACE_WRITE),
        ("queue", "stream-failures"): {"sqs:SendMessage"},
        ("stream", "orders"): STREAM_READ,
        ("table", "orders"): {"dynamodb:Query"},
        ("table", "stats"): {"dynamodb:UpdateItem", "dynamodb:BatchGetItem"},
    }  # claims read after a replay
    assert ("topic", "events") in scanned["on_orders_stream"]  # order.paid / order.ready
    assert ("bucket",) in scanned["on_exports_stream"]  # the export file
    assert not [r for r in scanned["on_orders_stats"] if r[0] == "secret"]
    assert ("secret", "verification") in scanned["on_orders_stream"]  # order.verification_requested


def test_scheduled_functions_get_only_their_jobs_needs(scanned):
    scheduled = {
        "expire_orders",
        "requery_pending",
        "reconcile_daily",
        "apply_statement_fees",
        "failed_digest",
        "slow_delivery",
        "channel_health",
        "query_refunds",
    }
    for name in scheduled:
        assert scanned[name][("queue", "job-failures")] == {"sqs:SendMessage"}, name
        assert not any(r[0] == "stream" for r in scanned[name]), name
    publishers = {name for name, grants in scanned.items() if ("topic", "paging") in grants}
    assert publishers == {
        "failed_digest",
        "api_handler",
    }  # the digest, also run by POST /admin/jobs
    assert "dynamodb:BatchWriteItem" in scanned["reconcile_daily"][("table", "reconciliations")]
    assert ("table", "reconciliations") not in scanned["expire_orders"]
    assert ("bucket",) not in scanned["expire_orders"] and ("bucket",) in scanned["failed_digest"]


# ------------------------------------------------------------------------------- the scanner itself

MODELS = """
from pynamodb.models import Model

def _meta(table, streamed=False):
    return type("Meta", (), {"table_name": table})

class ThingModel(Model):
    Meta = _meta("things")

class LogModel(Model):
    Meta = _meta("logs")
"""
APP = """
from chalice import Chalice, Rate
from chalicelib import jobs, store

app = Chalice(app_name="x")

@app.route("/things/{key}", methods=["DELETE"])
def forget(key):
    return store.forget(key)

@app.schedule(Rate(1, unit=Rate.HOURS))
def tidy(event):
    return jobs.run("tidy")
"""
STORE = """
from .models import LogModel, ThingModel

def forget(key):
    ThingModel(key).update(actions=[ThingModel.tags.delete({"x"})])
    {BODY}

def log_all(items):
    with LogModel.batch_write() as batch:
        for item in items:
            batch.delete(item)

def count():
    return ThingModel.by_day.count("2026-01-01")
"""
JOBS = """
from . import store

JOBS = {"tidy": lambda: store.log_all([]), "recount": lambda: store.count()}

def run(name):
    return JOBS[name]()
"""


def _project(tmp_path: Path, body: str = "pass") -> Path:
    files = {
        "app.py": APP,
        "chalicelib/__init__.py": "",
        "chalicelib/store/models.py": MODELS,
        "chalicelib/store/__init__.py": STORE.replace("{BODY}", body),
        "chalicelib/jobs.py": JOBS,
        ".chalice/config.json": json.dumps(
            {"version": "2.0", "app_name": "x", "stages": {stage: {} for stage in iam.STAGES}}
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def test_scanner_maps_each_call_shape_to_its_action(tmp_path):
    found = {name: _by_resource(grants) for name, grants in iam.scan(_project(tmp_path)).items()}
    # Model.attr.delete() inside an update is an update action, not DeleteItem
    assert found["api_handler"][("table", "things")] == {"dynamodb:UpdateItem"}
    # the schedule runs only its job's entry of the registry: batch deletes, not the count
    assert found["tidy"][("table", "logs")] == {"dynamodb:BatchWriteItem"}
    assert ("table", "things") not in found["tidy"]
    assert found["tidy"][("queue", "job-failures")] == {"sqs:SendMessage"}


def test_scanner_follows_a_port_named_with_its_real_module_into_the_function_called(tmp_path):
    """`ports.orders(order_store).get(…)` (services/ports.py) is a call of store.orders.get,
    and of nothing else of that module."""
    project = _project(tmp_path)
    (project / "chalicelib/jobs.py").write_text(
        textwrap.dedent(
            """
            from . import store

            def port(real):
                return real

            JOBS = {"tidy": lambda: port(store).log_all([])}

            def run(name):
                return JOBS[name]()
            """
        )
    )
    found = {name: _by_resource(grants) for name, grants in iam.scan(project).items()}
    assert found["tidy"][("table", "logs")] == {"dynamodb:BatchWriteItem"}
    assert ("table", "things") not in found["tidy"]  # the module's count is not called


def test_scanner_sees_a_new_delete_and_the_committed_policy_goes_stale(tmp_path):
    project = _project(tmp_path, body="ThingModel(key).delete()")
    found = {name: _by_resource(grants) for name, grants in iam.scan(project).items()}
    assert "dynamodb:DeleteItem" in found["api_handler"][("table", "things")]
    iam.write(project)
    assert iam.stale(project) == []
    policy_path = project / ".chalice" / "policies" / "prod" / "api_handler.json"
    widened = json.loads(policy_path.read_text())
    widened["Statement"][0]["Action"].append("dynamodb:Scan")
    policy_path.write_text(json.dumps(widened, indent=2) + "\n")
    assert iam.stale(project) == [".chalice/policies/prod/api_handler.json: differs from the code"]


def test_scanner_reads_transaction_elements(tmp_path):
    body = (
        'client("dynamodb").transact_write_items(TransactItems=['
        '{"ConditionCheck": {"TableName": ThingModel.Meta.table_name}}, {"Delete": {"TableName": "x"}}])'
    )
    found = {
        name: _by_resource(grants)
        for name, grants in iam.scan(_project(tmp_path, body=body)).items()
    }
    assert {"dynamodb:ConditionCheckItem", "dynamodb:DeleteItem"} <= found["api_handler"][
        ("table", "things")
    ]


@pytest.mark.parametrize(
    "body, complaint",
    [
        ('client("dynamodb").describe_table(TableName="t")', "dynamodb.describe_table"),
        ("ThingModel.scan()", "a Scan"),
        ('client("sqs").send_message(QueueUrl="q")', "'sqs' client"),
        ('client("sns").publish(TopicArn="arn", Message="m")', "without a topic"),
        ("from . import models; len(models)", "module models passed as a value"),
    ],
)
def test_scanner_stops_at_what_it_cannot_judge(tmp_path, body, complaint):
    project = _project(tmp_path, body=body)
    with pytest.raises(iam.ScanError, match=complaint):
        iam.scan(project)
