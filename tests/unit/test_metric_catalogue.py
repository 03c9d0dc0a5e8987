"""The metric catalogue is the one list of metrics and alarms: the template's alarms are rendered
from it entry by entry (infra/alarms.py), the local stack pages on the same entries, and the code
emits only the catalogue's metrics under the breakdowns it declares. Also: every boto3 client and
PynamoDB connection carries the platform's retry mode and timeouts."""

from __future__ import annotations

import json

import pytest

from chalicelib.platform import aws, observability
from chalicelib.platform.metric_catalogue import (
    ALARMS,
    METRICS,
    NAMESPACE,
    SERVICE,
    AwsMetric,
    Metric,
)
from chalicelib.services import job_metrics, metrics
from infra.alarms import add_alarms, alarm_resources, logical_id
from local.alarms import load_alarms

BY_NAME = {metric.name: metric for metric in METRICS}


def test_names_are_unique():
    assert len(BY_NAME) == len(METRICS)
    assert len({alarm.name for alarm in ALARMS}) == len(ALARMS)
    assert len({logical_id(alarm) for alarm in ALARMS}) == len(ALARMS)


@pytest.mark.parametrize("alarm", ALARMS, ids=[alarm.name for alarm in ALARMS])
def test_each_alarm_is_rendered_from_its_entry(alarm):
    resource = alarm_resources()[logical_id(alarm)]
    props = resource["Properties"]
    assert resource["Type"] == "AWS::CloudWatch::Alarm"
    assert props["AlarmName"] == {"Fn::Sub": f"paytrack-${{Stage}}-{alarm.name}"}
    assert props["AlarmDescription"] == f"{alarm.severity}: {alarm.description}"
    assert alarm.severity in ("critical", "warning")
    assert (
        props["MetricName"],
        props["Statistic"],
        props["Period"],
        props["EvaluationPeriods"],
        props["Threshold"],
        props["ComparisonOperator"],
    ) == (
        alarm.metric.name,
        alarm.statistic,
        alarm.period,
        alarm.evaluation_periods,
        alarm.threshold,
        alarm.comparison,
    )
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "PagingTopic"}]
    dimensions = {d["Name"]: d["Value"] for d in props["Dimensions"]}
    if isinstance(alarm.metric, AwsMetric):
        assert props["Namespace"] == alarm.metric.namespace
        assert list(dimensions) == [alarm.metric.dimension]
        assert alarm.metric.resource in json.dumps(dimensions)
    else:
        assert props["Namespace"] == NAMESPACE
        assert BY_NAME[alarm.metric.name] is alarm.metric
        assert dimensions == {"service": SERVICE, **dict(alarm.dimensions)}
        # the series it watches is one the code records: service-wide or a declared breakdown
        picked = tuple(sorted(name for name, _ in alarm.dimensions))
        assert not picked or picked in {tuple(sorted(b)) for b in alarm.metric.breakdowns}


def test_the_template_gets_every_alarm_and_its_dashboard_lists_them():
    template = {
        "Resources": {
            "PagingTopic": {"Type": "AWS::SNS::Topic"},
            **{
                a.metric.resource: {"Type": "Whatever"}
                for a in ALARMS
                if isinstance(a.metric, AwsMetric)
            },
            "Dashboard": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {
                    "DashboardBody": {
                        "Fn::Sub": json.dumps(
                            {"widgets": [{"type": "alarm", "properties": {"alarms": []}}]}
                        )
                    }
                },
            },
        }
    }
    finished = add_alarms(template)["Resources"]
    alarms = {k: v for k, v in finished.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == alarm_resources() and len(alarms) == len(ALARMS)
    body = json.loads(finished["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"])
    assert body["widgets"][0]["properties"]["alarms"] == [
        f"arn:aws:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:paytrack-${{Stage}}-{a.name}"
        for a in ALARMS
    ]


def test_a_handwritten_alarm_or_a_missing_resource_is_refused():
    handwritten = {"Resources": {"MyAlarm": {"Type": "AWS::CloudWatch::Alarm"}}}
    with pytest.raises(ValueError, match="MyAlarm"):
        add_alarms(handwritten)
    with pytest.raises(ValueError, match="OnOrdersStream"):
        add_alarms({"Resources": {}})


def test_the_local_stack_pages_on_the_catalogue_alarms_of_our_metrics():
    local = {alarm.name: alarm for alarm in load_alarms("local")}
    ours = [alarm for alarm in ALARMS if isinstance(alarm.metric, Metric)]
    assert set(local) == {f"paytrack-local-{alarm.name}" for alarm in ours}
    for alarm in ours:
        rule = local[f"paytrack-local-{alarm.name}"]
        assert (rule.metric, rule.threshold, rule.period_s, rule.statistic) == (
            alarm.metric.name,
            alarm.threshold,
            alarm.period,
            alarm.statistic,
        )


EMITTERS = {
    "notification_handled": lambda: [
        metrics.notification_handled("alipay-main", outcome)
        for outcome in ("applied", "rejected", "store_failed")
    ],
    "order_paid": lambda: metrics.order_paid("alipay-main"),
    "delivery_held": lambda: metrics.delivery_held(["risk", "amount"]),
    "delivered": lambda: metrics.delivered(12.5),
    "anomaly_recorded": lambda: metrics.anomaly_recorded("ip_burst", "warning"),
    "stream_records_failed": lambda: metrics.stream_records_failed("orders", 2),
    "statement_failed": lambda: job_metrics.statement_failed("alipay-main"),
    "gateway_query_failed": lambda: job_metrics.gateway_query_failed("alipay-main"),
    "job_failed": lambda: job_metrics.job_failed("reconcile"),
    "failed_digest_sent": job_metrics.failed_digest_sent,
    "lines_reconciled": lambda: job_metrics.lines_reconciled("alipay-main", "matched", 3),
}


@pytest.mark.parametrize("emit", list(EMITTERS.values()), ids=list(EMITTERS))
def test_the_code_emits_only_catalogued_metrics_and_breakdowns(emit, capsys):
    observability.flush_metrics()
    capsys.readouterr()
    emit()
    observability.flush_metrics()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert lines
    for blob in lines:
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == NAMESPACE
            for definition in directive["Metrics"]:
                metric = BY_NAME[definition["Name"]]
                assert definition["Unit"] == metric.unit.value
                for dimension_set in directive["Dimensions"]:
                    breakdown = tuple(sorted(set(dimension_set) - {"service"}))
                    assert blob["service"] == SERVICE
                    allowed = {tuple(sorted(b)) for b in metric.breakdowns}
                    assert not breakdown or breakdown in allowed, (metric.name, breakdown)


# ------------------------------------------------------------------ boto3 and PynamoDB limits


def _assert_limits(config) -> None:
    assert config.retries["mode"] == "standard"
    assert config.connect_timeout == aws.CONNECT_TIMEOUT_S == 2
    assert config.read_timeout == aws.READ_TIMEOUT_S == 5
    assert config.retries["total_max_attempts"] == aws.MAX_ATTEMPTS == 3  # first try included


@pytest.mark.parametrize("service", ["s3", "sns", "secretsmanager", "dynamodb"])
def test_every_boto3_client_carries_the_retry_mode_and_timeouts(service):
    aws.reset_clients()
    config = aws.client(service).meta.config
    _assert_limits(config)


def test_pynamodb_connections_carry_the_same_limits():
    from chalicelib.store.models import NoticeModel, OrderModel

    for model in (OrderModel, NoticeModel):
        config = model._get_connection().connection.client.meta.config
        _assert_limits(config)
