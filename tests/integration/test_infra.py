"""The deployable template: `chalice package` for dev and prod merged with infra/resources.json.

- it packages offline from the wheel cache and lints clean with cfn-lint;
- every DynamoDB table in it mirrors store/models.py (keys, attribute definitions, GSIs,
  projection, billing, stream, TTL), so a model change without an infra change fails here;
- the stream consumers are wired safely (partial batch failures, bisect, bounded retries and
  record age, on-failure queue) and prod tables are protected from deletion;
- each function's role carries its own policy (infra/iam.py, tests/unit/test_iam.py), and together
  they cover what the template creates; the paging topic's key admits exactly its publishers;
- scheduled functions have an on-failure destination, every function logs to a group with retention;
- the API stage is throttled, /admin methods below /notify, and API Gateway's own errors have our shape.

The first run on a machine downloads the wheels once (infra/package.py); later runs are offline.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pynamodb.attributes import TTLAttribute

from chalicelib.platform.settings import get_settings
from chalicelib.store import models
from tests.conftest import REPO
from tests.support import packaging as packaging_recipe

STAGES = ("dev", "prod")
LINT_REGION = packaging_recipe.REGION  # any region: packaging needs one
FAKE_ACCOUNT = "123456789012"
PLACEHOLDER_STREAM_SUFFIX = "/stream/1970-01-01T00:00:00.000"  # settings._stream_placeholder

# What every function must get from the template (Globals), not from a literal in config.json.
WIRED_ENVIRONMENT = {
    "PAYTRACK_TABLE_PREFIX": {"Fn::Sub": "paytrack-${Stage}-"},
    "PAYTRACK_BUCKET": {"Ref": "FilesBucket"},
    "PAYTRACK_EVENTS_TOPIC_ARN": {"Ref": "EventsTopic"},
    "PAYTRACK_PAGING_TOPIC_ARN": {"Ref": "PagingTopic"},
    "PAYTRACK_CHANNELS_SECRET_ID": {"Ref": "ChannelsSecret"},
    "PAYTRACK_VERIFICATION_SECRET_ID": {"Ref": "VerificationSecret"},
    "PAYTRACK_ORDERS_STREAM_ARN": {"Fn::GetAtt": ["OrdersTable", "StreamArn"]},
    "PAYTRACK_NOTICES_STREAM_ARN": {"Fn::GetAtt": ["NoticesTable", "StreamArn"]},
    "PAYTRACK_EXPORTS_STREAM_ARN": {"Fn::GetAtt": ["ExportsTable", "StreamArn"]},
}

# Widening a policy is a reviewed change: add the action here with the reason it is needed.
ALLOWED_ACTIONS = {
    # PynamoDB item reads/writes and index queries (get, batch_get, query, count, save, update,
    # delete, batch_write, TransactWrite's condition checks). No Scan, no table administration.
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    # a PartiQL SELECT by partition keys (the orders stream's same-IP read), never a full scan
    "dynamodb:PartiQLSelect",
    # what Lambda's event source mapping needs, on the streamed tables only
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
    # exports and reports (multipart streaming upload, presigned GET signed by the role)
    "s3:GetObject",
    "s3:PutObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "sns:Publish",
    "secretsmanager:GetSecretValue",
    # the on-failure destinations (stream consumers', scheduled functions') are written with the
    # function's role
    "sqs:SendMessage",
    # logs into the app's log group (created by the template); EMF metrics travel in the logs,
    # so no cloudwatch:PutMetricData
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    # active X-Ray tracing (platform/tracing.py); these actions take no resource: "*"
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
RESOURCELESS_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def packaged(made):
    """{stage: (template, facts about its deployment.zip, template path)}: prod as `make package`
    packaged it, dev as `make deploy` did (the `made` fixture: packaged once for this file and
    test_deploy.py, each through infra/package.py)."""
    by_stage = {run.stage: run for run in made.values()}
    assert set(by_stage) == set(STAGES)
    for run in by_stage.values():
        assert run.result.returncode == 0, run.result.stdout[-3000:] + run.result.stderr[-3000:]
    return {
        stage: (run.template, {"names": run.zip_names, "wheels": run.wheels}, run.template_path)
        for stage, run in by_stage.items()
    }


def _template(packaged, stage: str) -> dict:
    return packaged[stage][0]


def _resources(template: dict, type_name: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def _sub(value, stage: str) -> str:
    """Resolve the template's {"Fn::Sub": "...${Stage}..."} names (plus fake account/region)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = value["Fn::Sub"]
    assert isinstance(value, str), value
    return (
        value.replace("${Stage}", stage)
        .replace("${AWS::AccountId}", FAKE_ACCOUNT)
        .replace("${AWS::Region}", LINT_REGION)
    )


def _condition(template: dict, value, stage: str):
    """Resolve {"Fn::If": [<condition>, a, b]} for a stage (conditions on Ref Stage only)."""
    if not (isinstance(value, dict) and "Fn::If" in value):
        return value
    name, when_true, when_false = value["Fn::If"]

    def holds(expr) -> bool:
        if "Condition" in expr:
            return holds(template["Conditions"][expr["Condition"]])
        if "Fn::Equals" in expr:
            left, right = (
                stage if item == {"Ref": "Stage"} else item for item in expr["Fn::Equals"]
            )
            return left == right
        if "Fn::Not" in expr:
            return not holds(expr["Fn::Not"][0])
        raise AssertionError(f"unsupported condition {expr}")

    return when_true if holds(template["Conditions"][name]) else when_false


def _tables_by_name(template: dict, stage: str) -> dict[str, dict]:
    return {
        _sub(r["Properties"]["TableName"], stage): r["Properties"]
        for r in _resources(template, "AWS::DynamoDB::Table").values()
    }


def _stage_table_name(model, stage: str) -> str:
    prefix = get_settings().table_prefix
    assert model.Meta.table_name.startswith(prefix)
    return f"paytrack-{stage}-{model.Meta.table_name[len(prefix) :]}"


def _stream_events(template: dict):
    for fn_id, fn in _resources(template, "AWS::Serverless::Function").items():
        for event_id, event in (fn["Properties"].get("Events") or {}).items():
            if event["Type"] == "DynamoDB":
                yield fn_id, event_id, event["Properties"]


# ------------------------------------------------------------------------------- packaging and lint


def _cfn_lint() -> list[str]:
    script = Path(sys.executable).with_name("cfn-lint")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())"]


def _with_literal_event_arns(template: dict) -> dict:
    """cfn-lint cannot decide which SAM event schema applies when an event's properties hold an
    intrinsic function (anyOf with an unresolvable value is reported as "unknown" and dropped), so
    the real template's stream settings go unchecked. This copy puts literal ARNs where the
    GetAtts are, so the DynamoDB event schema (StartingPosition, retry and age ranges, response
    types, destination shape) is enforced too."""
    copy_ = copy.deepcopy(template)
    for _, _, props in _stream_events(copy_):
        table = props["Stream"]["Fn::GetAtt"][0]
        props["Stream"] = (
            f"arn:aws:dynamodb:{LINT_REGION}:{FAKE_ACCOUNT}:table/{table}"
            "/stream/2026-01-01T00:00:00.000"
        )
        props["DestinationConfig"]["OnFailure"]["Destination"] = (
            f"arn:aws:sqs:{LINT_REGION}:{FAKE_ACCOUNT}:stream-failures"
        )
    return copy_


def test_package_lints_clean_for_dev_and_prod(made, packaged, tmp_path):
    """Each stage's template as packaged was linted by make (`--include-checks I`; a finding
    fails the make, before any AWS call); here their copies with literal event ARNs are."""
    for run in made.values():
        lint = f"cfn-lint --include-checks I --regions {LINT_REGION} -- {run.template_path}"
        assert lint in run.result.stdout, run.result.stdout[-3000:]
    files = []
    for stage in STAGES:
        template, _, _ = packaged[stage]
        literal = tmp_path / f"{stage}-literal-event-arns.json"
        literal.write_text(json.dumps(_with_literal_event_arns(template), indent=1))
        files.append(str(literal))
    # No rule is ignored: the templates must be clean of errors, warnings and informational checks.
    result = subprocess.run(
        [*_cfn_lint(), "--include-checks", "I", "--regions", LINT_REGION, "--", *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"cfn-lint exit {result.returncode}:\n{result.stdout}{result.stderr}"
    )


_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
LAMBDA_GLIBC = (2, 26)  # python3.11 on Lambda runs on Amazon Linux 2


def _runs_on_lambda(tag: str) -> bool:
    platform = tag.split("-")[-1]
    if platform == "any":
        return True
    match = re.fullmatch(
        r"(manylinux1|manylinux2010|manylinux2014|manylinux_(\d+)_(\d+))_(\w+)", platform
    )
    if not match or match[4] != "x86_64":
        return False
    glibc = _LEGACY_MANYLINUX.get(match[1]) or (int(match[2]), int(match[3]))
    return glibc <= LAMBDA_GLIBC


def test_package_vendors_lambda_compatible_dependencies(packaged):
    for stage in STAGES:
        _, bundle, _ = packaged[stage]
        names = set(bundle["names"])
        assert {
            "app.py",
            "chalicelib/store/models.py",
            "pynamodb/__init__.py",
            "aws_lambda_powertools/__init__.py",
            "cryptography/__init__.py",
        } <= names
        assert not any(n.startswith(("tests/", "local/", "infra/", ".chalice/")) for n in names)
        # nothing built for a newer glibc, another OS or another CPU may ride along from the
        # build machine (chalice must have swapped such wheels for manylinux ones)
        assert len(bundle["wheels"]) >= 10
        for wheel, tags in bundle["wheels"].items():
            assert any(_runs_on_lambda(tag) for tag in tags), f"{wheel}: {tags}"


def test_package_is_pinned_to_its_stage_and_has_no_placeholder_stream(packaged):
    for stage in STAGES:
        template, _, path = packaged[stage]
        assert template["Parameters"]["Stage"]["Default"] == stage
        rule = template["Rules"]["StageIsThePackagedStage"]["Assertions"][0]["Assert"]
        assert rule == {"Fn::Equals": [{"Ref": "Stage"}, stage]}
        assert PLACEHOLDER_STREAM_SUFFIX not in path.read_text()


# ------------------------------------------------------------------------------- tables = models


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("model", models.ALL_MODELS, ids=lambda m: m.__name__)
def test_table_mirrors_model(packaged, stage, model):
    tables = _tables_by_name(_template(packaged, stage), stage)
    name = _stage_table_name(model, stage)
    assert name in tables, f"{model.__name__}: no table {name} in infra/resources.json"
    table = tables[name]
    schema = model._get_schema()

    def keys(key_schema):
        return {k["KeyType"]: k["AttributeName"] for k in key_schema}

    def attrs(definitions):
        return {(a["AttributeName"], a["AttributeType"]) for a in definitions}

    assert keys(table["KeySchema"]) == keys(schema["key_schema"])
    assert [k["KeyType"] for k in table["KeySchema"]] == ["HASH", "RANGE"][
        : len(table["KeySchema"])
    ]
    assert attrs(table["AttributeDefinitions"]) == attrs(schema["attribute_definitions"])
    for kind in ("Global", "Local"):
        template_indexes = {
            i["IndexName"]: (keys(i["KeySchema"]), i["Projection"])
            for i in table.get(f"{kind}SecondaryIndexes", [])
        }
        model_indexes = {
            i["index_name"]: (keys(i["key_schema"]), i["projection"])
            for i in schema[f"{kind.lower()}_secondary_indexes"]
        }
        assert template_indexes == model_indexes, f"{kind}SecondaryIndexes"
        for index in table.get(f"{kind}SecondaryIndexes", []):
            assert [k["KeyType"] for k in index["KeySchema"]] == ["HASH", "RANGE"][
                : len(index["KeySchema"])
            ]
    assert table["BillingMode"] == model.Meta.billing_mode == "PAY_PER_REQUEST"
    stream = getattr(model.Meta, "stream_view_type", None)
    assert table.get("StreamSpecification", {}).get("StreamViewType") == stream
    ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
    spec = table.get("TimeToLiveSpecification")
    assert ([spec["AttributeName"]] if spec and spec["Enabled"] else []) == ttl


@pytest.mark.parametrize("stage", STAGES)
def test_every_table_is_a_model_and_recoverable_and_encrypted(packaged, stage):
    template = _template(packaged, stage)
    tables = _tables_by_name(template, stage)
    assert set(tables) == {_stage_table_name(m, stage) for m in models.ALL_MODELS}
    for name, table in tables.items():
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, (
            name
        )
        assert table["SSESpecification"]["SSEEnabled"] is True, name
        protected = _condition(template, table["DeletionProtectionEnabled"], stage)
        assert protected is (stage == "prod"), f"{name}: deletion protection {protected} in {stage}"


# ------------------------------------------------------------------------------- streams and wiring


@pytest.mark.parametrize("stage", STAGES)
def test_stream_consumers_are_wired_safely(packaged, stage):
    template = _template(packaged, stage)
    streamed = {
        logical
        for logical, r in _resources(template, "AWS::DynamoDB::Table").items()
        if "StreamSpecification" in r["Properties"]
    }
    consumed = set()
    events = list(_stream_events(template))
    assert len(events) == 4, (
        events
    )  # app.py: on_orders_stream, on_orders_stats, on_notices_stream, on_exports_stream
    for fn_id, event_id, props in events:
        where = f"{stage} {fn_id}.{event_id}"
        stream = props["Stream"]
        assert (
            isinstance(stream, dict) and stream.get("Fn::GetAtt", [None, None])[1] == "StreamArn"
        ), where
        consumed.add(stream["Fn::GetAtt"][0])
        assert props["StartingPosition"] == "TRIM_HORIZON", where
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], where
        assert props["BisectBatchOnFunctionError"] is True, where
        assert 0 <= props["MaximumRetryAttempts"] <= 10, where  # -1 would retry until expiry
        assert 60 <= props["MaximumRecordAgeInSeconds"] <= 6 * 3600, (
            where
        )  # replayable from the stream
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["StreamFailureQueue", "Arn"]
        }, where
    assert consumed == streamed == {"OrdersTable", "NoticesTable", "ExportsTable"}
    handlers = {fn_id: props["Stream"]["Fn::GetAtt"][0] for fn_id, _, props in events}
    assert handlers == {
        "OnOrdersStream": "OrdersTable",
        "OnOrdersStats": "OrdersTable",
        "OnNoticesStream": "NoticesTable",
        "OnExportsStream": "ExportsTable",
    }


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_gets_the_wiring_from_the_template(packaged, stage):
    template = _template(packaged, stage)
    globals_ = template["Globals"]["Function"]
    assert globals_["Environment"]["Variables"].items() >= WIRED_ENVIRONMENT.items()
    assert globals_["LoggingConfig"] == {"LogGroup": {"Ref": "AppLogGroup"}}
    functions = _resources(template, "AWS::Serverless::Function")
    assert functions
    for fn_id, fn in functions.items():
        local = fn["Properties"].get("Environment", {}).get("Variables", {})
        # a function-level value would win over Globals: config.json must not set these
        assert not set(local) & set(WIRED_ENVIRONMENT), fn_id
        assert local["PAYTRACK_STAGE"] == stage, fn_id
        assert "LoggingConfig" not in fn["Properties"], fn_id


@pytest.mark.parametrize("stage", STAGES)
def test_bucket_expires_exports_and_keeps_reports(packaged, stage):
    template = _template(packaged, stage)
    (bucket,) = _resources(template, "AWS::S3::Bucket").values()
    props = bucket["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = [r for r in props["LifecycleConfiguration"]["Rules"] if r["Status"] == "Enabled"]
    expiring = [r for r in rules if "ExpirationInDays" in r or "ExpirationDate" in r]
    assert [(r.get("Prefix"), r.get("ExpirationInDays")) for r in expiring] == [("exports/", 7)]
    assert not any("reports/".startswith(r.get("Prefix", "")) for r in expiring)


# ------------------------------------------------------------------------------- IAM


def _policies(stage: str) -> dict[str, dict]:
    """{function name: its policy document}, as committed under .chalice/policies/<stage>/."""
    return {
        path.stem: json.loads(path.read_text())
        for path in sorted((REPO / ".chalice" / "policies" / stage).glob("*.json"))
    }


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _arn_matches(pattern: str, arn: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def _allowed(policy: dict, action: str, arn: str) -> bool:
    return any(
        s["Effect"] == "Allow"
        and action in _as_list(s["Action"])
        and any(_arn_matches(p, arn) for p in _as_list(s["Resource"]))
        for s in policy["Statement"]
    )


def _function_names(template: dict) -> dict[str, str]:
    """{logical id: chalice function name} (`app.on_orders_stream` -> on_orders_stream; the
    REST API's handler `app.app` is chalice's `api_handler`)."""
    names = {}
    for fn_id, fn in _resources(template, "AWS::Serverless::Function").items():
        handler = fn["Properties"]["Handler"].split(".", 1)[1]
        names[fn_id] = "api_handler" if handler == "app" else handler
    return names


@pytest.mark.parametrize("stage", ("local", "dev", "prod"))
def test_policies_are_least_privilege_in_shape(stage):
    policies = _policies(stage)
    assert set(policies) >= {
        "api_handler",
        "on_orders_stream",
        "on_notices_stream",
        "expire_orders",
    }
    for name, policy in policies.items():
        for statement in policy["Statement"]:
            if statement["Effect"] == "Deny":  # only: a PartiQL SELECT that would scan
                assert statement["Action"] == ["dynamodb:PartiQLSelect"], (name, statement)
                assert statement["Condition"] == {"Bool": {"dynamodb:FullTableScan": "true"}}
                continue
            assert statement["Effect"] == "Allow", name
            assert not {"NotAction", "NotResource", "Principal"} & set(statement), (name, statement)
            for action in _as_list(statement["Action"]):
                assert "*" not in action and "?" not in action and action in ALLOWED_ACTIONS, (
                    name,
                    action,
                )
            if set(_as_list(statement["Action"])) <= RESOURCELESS_ACTIONS:
                assert statement["Resource"] == ["*"], (name, statement)
                continue
            for resource in _as_list(statement["Resource"]):
                assert resource != "*", (name, statement)
                assert f"paytrack-{stage}" in resource or f"paytrack/{stage}/" in resource, (
                    name,
                    resource,
                )


@pytest.mark.parametrize("stage", STAGES)
def test_each_role_carries_its_functions_policy(packaged, stage):
    template = _template(packaged, stage)
    policies = _policies(stage)
    names = _function_names(template)
    assert set(names.values()) == set(policies), (
        "a function without a policy file, or a file without a function"
    )
    roles = _resources(template, "AWS::IAM::Role")
    for fn_id, name in names.items():
        role_id = template["Resources"][fn_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        (inline,) = roles[role_id]["Properties"]["Policies"]
        assert inline["PolicyDocument"] == policies[name], fn_id
        assert not roles[role_id]["Properties"].get("ManagedPolicyArns"), role_id
    assert len(roles) == len(names)  # no role is shared, none is left over


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_function_holds_no_delete_stream_or_queue_rights(packaged, stage):
    """The internet-facing function: no DeleteItem anywhere, BatchWriteItem only where an operator's
    reconciliation writes its lines, no stream reads, no SQS."""
    api = _policies(stage)["api_handler"]
    prefix = f"arn:aws:dynamodb:{LINT_REGION}:{FAKE_ACCOUNT}:table/"
    for name in _tables_by_name(_template(packaged, stage), stage):
        assert not _allowed(api, "dynamodb:DeleteItem", prefix + name), name
        assert _allowed(api, "dynamodb:BatchWriteItem", prefix + name) is name.endswith(
            "-reconciliations"
        ), name
    actions = {a for s in api["Statement"] for a in _as_list(s["Action"])}
    assert not actions & {
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:DescribeStream",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
        "dynamodb:Scan",
    }


@pytest.mark.parametrize("stage", STAGES)
def test_policies_cover_what_the_template_creates(packaged, stage):
    """Each stream consumer reads its own stream only and may write its on-failure queue; each
    scheduled function may write the job-failure queue; together the functions reach every table,
    index, object, topic, secret and log group the template names — and nothing of another stage."""
    template = _template(packaged, stage)
    res = template["Resources"]
    policies = _policies(stage)
    names = _function_names(template)
    prefix = f"arn:aws:dynamodb:{LINT_REGION}:{FAKE_ACCOUNT}:table/"
    consumers = {
        names[fn_id]: props["Stream"]["Fn::GetAtt"][0]
        for fn_id, _, props in _stream_events(template)
    }
    scheduled = {
        names[fn_id]
        for fn_id, fn in _resources(template, "AWS::Serverless::Function").items()
        if any(e["Type"] == "Schedule" for e in fn["Properties"].get("Events", {}).values())
    }
    stream_queue = f"arn:aws:sqs:{LINT_REGION}:{FAKE_ACCOUNT}:" + _sub(
        res["StreamFailureQueue"]["Properties"]["QueueName"], stage
    )
    job_queue = f"arn:aws:sqs:{LINT_REGION}:{FAKE_ACCOUNT}:" + _sub(
        res["JobFailureQueue"]["Properties"]["QueueName"], stage
    )
    tables = _tables_by_name(template, stage)
    logical = {
        _sub(r["Properties"]["TableName"], stage): k
        for k, r in _resources(template, "AWS::DynamoDB::Table").items()
    }
    for name, policy in policies.items():
        for table in tables:
            stream_arn = f"{prefix}{table}/stream/2026-01-01T00:00:00.000"
            reads = all(
                _allowed(policy, a, stream_arn)
                for a in (
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                )
            )
            assert reads is (consumers.get(name) == logical[table]), (name, table)
        assert _allowed(policy, "sqs:SendMessage", stream_queue) is (name in consumers), name
        assert _allowed(policy, "sqs:SendMessage", job_queue) is (name in scheduled), name
    everyone = {
        "Version": "2012-10-17",
        "Statement": [s for p in policies.values() for s in p["Statement"]],
    }
    for name, table in tables.items():
        assert _allowed(everyone, "dynamodb:UpdateItem", prefix + name) or _allowed(
            everyone, "dynamodb:PutItem", prefix + name
        ), name
        for gsi in table.get("GlobalSecondaryIndexes", []):
            if _allowed(everyone, "dynamodb:Query", prefix + name):
                assert _allowed(
                    everyone, "dynamodb:Query", f"{prefix}{name}/index/{gsi['IndexName']}"
                )
    other = "prod" if stage == "dev" else "dev"
    assert not _allowed(everyone, "dynamodb:GetItem", f"{prefix}paytrack-{other}-orders")
    bucket = _sub(res["FilesBucket"]["Properties"]["BucketName"], stage)
    for action in ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"):
        assert _allowed(everyone, action, f"arn:aws:s3:::{bucket}/exports/x.csv"), action
    for topic in ("EventsTopic", "PagingTopic"):
        name = _sub(res[topic]["Properties"]["TopicName"], stage)
        assert _allowed(everyone, "sns:Publish", f"arn:aws:sns:{LINT_REGION}:{FAKE_ACCOUNT}:{name}")
    secret = _sub(res["ChannelsSecret"]["Properties"]["Name"], stage)
    assert secret == f"paytrack/{stage}/channels"
    assert _allowed(
        everyone,
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:{LINT_REGION}:{FAKE_ACCOUNT}:secret:{secret}-AbCdEf",
    )
    verification = _sub(res["VerificationSecret"]["Properties"]["Name"], stage)
    assert verification == f"paytrack/{stage}/verification"
    assert "GenerateSecretString" in res["VerificationSecret"]["Properties"]
    assert _allowed(
        everyone,
        "secretsmanager:GetSecretValue",
        f"arn:aws:secretsmanager:{LINT_REGION}:{FAKE_ACCOUNT}:secret:{verification}-AbCdEf",
    )
    group = _sub(res["AppLogGroup"]["Properties"]["LogGroupName"], stage)
    log_stream = (
        f"arn:aws:logs:{LINT_REGION}:{FAKE_ACCOUNT}:log-group:{group}:log-stream:2026/01/01/x"
    )
    for name, policy in policies.items():
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            assert _allowed(policy, action, log_stream), (name, action)


@pytest.mark.parametrize("stage", STAGES)
def test_paging_topic_is_encrypted_with_a_key_its_publishers_may_use(packaged, stage):
    """A customer-managed key (CloudWatch alarms cannot publish with the AWS-managed SNS key): the
    key policy admits CloudWatch, and exactly the roles of the functions whose policy publishes
    to the paging topic."""
    template = _template(packaged, stage)
    res = template["Resources"]
    assert res["PagingTopic"]["Properties"]["KmsMasterKeyId"] == {
        "Fn::GetAtt": ["PagingKey", "Arn"]
    }
    assert res["EventsTopic"]["Properties"]["KmsMasterKeyId"] == "alias/aws/sns"
    key = res["PagingKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
    assert statements["AlarmsPublishToThePagingTopic"]["Principal"] == {
        "Service": "cloudwatch.amazonaws.com"
    }
    publishers = statements["FunctionsPublishToThePagingTopic"]
    topic = f"arn:aws:sns:{LINT_REGION}:{FAKE_ACCOUNT}:" + _sub(
        res["PagingTopic"]["Properties"]["TopicName"], stage
    )
    names = _function_names(template)
    policies = _policies(stage)
    expected = {
        res[fn_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        for fn_id, name in names.items()
        if _allowed(policies[name], "sns:Publish", topic)
    }
    assert expected and {p["Fn::GetAtt"][0] for p in publishers["Principal"]["AWS"]} == expected
    assert set(publishers["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


@pytest.mark.parametrize("stage", STAGES)
def test_paging_reaches_a_person_when_given_an_address(packaged, stage):
    template = _template(packaged, stage)
    subscriptions = {
        r["Properties"]["Protocol"]: r
        for r in _resources(template, "AWS::SNS::Subscription").values()
    }
    assert set(subscriptions) == {"email", "https"}
    for protocol, parameter in (("email", "AlarmEmail"), ("https", "AlarmHttpsEndpoint")):
        subscription = subscriptions[protocol]
        assert subscription["Properties"]["TopicArn"] == {"Ref": "PagingTopic"}
        assert subscription["Properties"]["Endpoint"] == {"Ref": parameter}
        # empty (the default) means no subscription
        assert template["Parameters"][parameter]["Default"] == ""
        assert template["Conditions"][subscription["Condition"]] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]
        }


@pytest.mark.parametrize("stage", STAGES)
def test_scheduled_functions_have_an_on_failure_destination(packaged, stage):
    template = _template(packaged, stage)
    scheduled = {
        fn_id: fn
        for fn_id, fn in _resources(template, "AWS::Serverless::Function").items()
        if any(e["Type"] == "Schedule" for e in fn["Properties"].get("Events", {}).values())
    }
    assert len(scheduled) == 8, sorted(scheduled)
    for fn_id, fn in scheduled.items():
        config = fn["Properties"]["EventInvokeConfig"]
        assert config["DestinationConfig"]["OnFailure"] == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": ["JobFailureQueue", "Arn"]},
        }, fn_id
        assert 0 <= config["MaximumRetryAttempts"] <= 2, fn_id


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_logs_to_a_group_with_retention(packaged, stage):
    """All functions log to the app's group (Globals LoggingConfig, no function overrides it), so
    no /aws/lambda/<function> group is created without retention by Lambda itself."""
    template = _template(packaged, stage)
    group_id = template["Globals"]["Function"]["LoggingConfig"]["LogGroup"]["Ref"]
    group = template["Resources"][group_id]
    assert _condition(template, group["Properties"]["RetentionInDays"], stage) == (
        365 if stage == "prod" else 30
    )
    for fn_id, fn in _resources(template, "AWS::Serverless::Function").items():
        assert "LoggingConfig" not in fn["Properties"], fn_id


# ------------------------------------------------------------------------------- API Gateway


@pytest.mark.parametrize("stage", STAGES)
def test_stage_is_throttled_and_admin_methods_below_notify(packaged, stage):
    """Defect 5: the stage has a default limit and every /admin method its own lower one, so admin
    traffic cannot use up what /notify needs; /notify keeps the stage's limit."""
    template = _template(packaged, stage)
    api = template["Resources"]["RestAPI"]["Properties"]
    params = template["Parameters"]

    def value(limit):
        return params[limit["Ref"]]["Default"]

    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in api["MethodSettings"]}
    default = settings[("/*", "*")]
    admin_methods = {
        ("/" + path.replace("/", "~1"), method.upper())
        for path, methods in api["DefinitionBody"]["paths"].items()
        if path.startswith("/admin")
        for method in methods
    }
    assert len(admin_methods) >= 15
    assert set(settings) == {("/*", "*")} | admin_methods
    for key in admin_methods:
        assert (
            value(settings[key]["ThrottlingRateLimit"]) < value(default["ThrottlingRateLimit"]) / 20
        ), key
        assert (
            value(settings[key]["ThrottlingBurstLimit"])
            < value(default["ThrottlingBurstLimit"]) / 20
        ), key
    assert not any(path.startswith("/~1notify") for path, _ in settings)


GATEWAY_ERRORS = {  # API Gateway's own answers, before our code: status -> code (API.md's shape)
    "MISSING_AUTHENTICATION_TOKEN": (
        "404",
        "not_found",
    ),  # unknown path, or a method the path lacks
    "UNSUPPORTED_MEDIA_TYPE": ("415", "unsupported_media_type"),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large"),
    "THROTTLED": ("429", "throttled"),
    "DEFAULT_4XX": (None, "bad_request"),
    "DEFAULT_5XX": (None, "internal_error"),
}


@pytest.mark.parametrize("stage", STAGES)
def test_gateway_errors_have_our_error_shape(packaged, stage):
    responses = _template(packaged, stage)["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    for kind, (status, code) in GATEWAY_ERRORS.items():
        response = responses[kind]
        assert response.get("StatusCode") == status, kind
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/json'", (
            kind
        )
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert body["error"]["code"] == code, kind
        if code == "internal_error":
            assert body == {"error": {"code": "internal_error", "request_id": "$context.requestId"}}
        else:
            assert body["error"]["message"] and body["error"]["details"] == {}, kind


@pytest.mark.parametrize("stage", STAGES)
def test_outputs_tell_the_shop_owner_what_to_configure(packaged, stage):
    outputs = _template(packaged, stage)["Outputs"]
    base = "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/"
    assert outputs["NotifyBaseUrl"]["Value"] == {"Fn::Sub": base + "notify/"}
    assert outputs["AdminPageUrl"]["Value"] == {"Fn::Sub": base + "admin/"}
    assert outputs["EventsTopicArn"]["Value"] == {"Ref": "EventsTopic"}
    assert _sub(outputs["ChannelsSecretName"]["Value"], stage) == f"paytrack/{stage}/channels"


# ------------------------------------------------------------------------------- alarms and dashboard

# The alarms are generated from the metric catalogue (chalicelib/platform/metric_catalogue.py,
# infra/alarms.py; tests/unit/test_metric_catalogue.py checks the rendering entry by entry).


def _alarms(template: dict) -> dict[str, dict]:
    return _resources(template, "AWS::CloudWatch::Alarm")


@pytest.mark.parametrize("stage", STAGES)
def test_the_template_alarms_are_exactly_the_catalogue(packaged, stage):
    from infra.alarms import alarm_resources

    alarms = _alarms(_template(packaged, stage))
    assert alarms == alarm_resources()
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "PagingTopic"}], name
        for dimension in props["Dimensions"]:
            value = dimension["Value"]
            if isinstance(value, dict):  # an AWS metric of one of the template's resources
                ref = value.get("Ref") or value["Fn::GetAtt"][0]
                assert ref in _template(packaged, stage)["Resources"], name


@pytest.mark.parametrize("stage", STAGES)
def test_dashboard_shows_the_key_figures_and_every_alarm(packaged, stage):
    from chalicelib.platform.metric_catalogue import ALARMS, METRICS

    template = _template(packaged, stage)
    (dashboard,) = _resources(template, "AWS::CloudWatch::Dashboard").values()
    assert _sub(dashboard["Properties"]["DashboardName"], stage) == f"paytrack-{stage}"
    body_text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    for variable in re.findall(r"\$\{([^}]+)\}", body_text):
        assert (
            variable in ("AWS::Region", "AWS::AccountId", "Stage")
            or variable.split(".")[0] in template["Resources"]
        ), variable
    body = json.loads(re.sub(r"\$\{[^}]+\}", "X", body_text))
    shown = json.dumps(body)
    for metric in (
        "OrdersPaid",
        "NotificationsAccepted",
        "NotificationsRejected",
        "NotifyServerErrors",
        "Anomalies",
        "DeliveryHolds",
        "PayToDeliverySeconds",
        "StreamRecordFailures",
        "IteratorAge",
    ):
        assert metric in shown, metric
    # every Paytrack metric the dashboard names is one of the catalogue's
    named = set(re.findall(r'"Paytrack", "(\w+)"', shown))
    named |= set(re.findall(r'MetricName=\\+"(\w+)', shown))
    assert named and named <= {metric.name for metric in METRICS}, named
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    listed = [arn.rsplit(":alarm:", 1)[1] for arn in alarm_widget["properties"]["alarms"]]
    assert listed == [f"paytrack-X-{alarm.name}" for alarm in ALARMS]
