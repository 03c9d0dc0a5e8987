"""The template's CloudWatch alarms, generated from the metric catalogue
(chalicelib/platform/metric_catalogue.py): infra/package.py adds them to every packaged template
and lists them in the dashboard's alarm widget, so infra/resources.json names no alarm and no
alarm exists that the catalogue does not list.

    python -m infra.alarms     # print the alarm resources as the template gets them
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from chalicelib.platform.metric_catalogue import ALARMS, NAMESPACE, SERVICE, Alarm, AwsMetric

PAGING_TOPIC = {"Ref": "PagingTopic"}
# what the dimension of an AWS metric holds for the resource it watches
_RESOURCE_NAME: dict[str, Callable[[str], dict[str, Any]]] = {
    "FunctionName": lambda resource: {"Ref": resource},
    "QueueName": lambda resource: {"Fn::GetAtt": [resource, "QueueName"]},
}


# Logical ids deployed stacks already hold under another spelling: a new id for the same
# AlarmName would make CloudFormation create the replacement before deleting the old one, and fail
# on the name.
_DEPLOYED_IDS = {
    "notify-5xx": "NotifyServerErrorsAlarm",
    "job-invocation-failures": "JobFailuresQueueAlarm",
}


def logical_id(alarm: Alarm) -> str:
    """`critical-anomaly` -> `CriticalAnomalyAlarm`, `OnOrdersStream-errors` ->
    `OnOrdersStreamErrorsAlarm`."""
    if alarm.name in _DEPLOYED_IDS:
        return _DEPLOYED_IDS[alarm.name]
    words = alarm.name.replace("-", " ").split()
    return "".join(word[0].upper() + word[1:] for word in words) + "Alarm"


def alarm_name(alarm: Alarm) -> dict[str, str]:
    return {"Fn::Sub": f"paytrack-${{Stage}}-{alarm.name}"}


def _metric(alarm: Alarm) -> dict[str, Any]:
    metric = alarm.metric
    if isinstance(metric, AwsMetric):
        value = _RESOURCE_NAME[metric.dimension](metric.resource)
        return {
            "Namespace": metric.namespace,
            "MetricName": metric.name,
            "Dimensions": [{"Name": metric.dimension, "Value": value}],
        }
    dimensions = [("service", SERVICE), *alarm.dimensions]
    return {
        "Namespace": NAMESPACE,
        "MetricName": metric.name,
        "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions],
    }


def alarm_resource(alarm: Alarm) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": alarm_name(alarm),
            "AlarmDescription": f"{alarm.severity}: {alarm.description}",
            **_metric(alarm),
            "Statistic": alarm.statistic,
            "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "Threshold": alarm.threshold,
            "ComparisonOperator": alarm.comparison,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [PAGING_TOPIC],
            "OKActions": [PAGING_TOPIC],
        },
    }


def alarm_resources() -> dict[str, dict[str, Any]]:
    """Logical id -> the alarm resource, for every alarm of the catalogue."""
    return {logical_id(alarm): alarm_resource(alarm) for alarm in ALARMS}


def alarm_arns() -> list[str]:
    """The alarms' ARNs as the dashboard body (an Fn::Sub string) names them."""
    return [
        f"arn:aws:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:paytrack-${{Stage}}-{a.name}"
        for a in ALARMS
    ]


def add_alarms(template: dict[str, Any]) -> dict[str, Any]:
    """Add the catalogue's alarms to a packaged template and list them all in its dashboard's
    alarm widget. A hand-written alarm in the merge template is an error: it would bypass the
    catalogue."""
    resources = template["Resources"]
    handwritten = sorted(
        name for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"
    )
    if handwritten:
        raise ValueError(
            f"alarms belong in chalicelib/platform/metric_catalogue.py, not the template: "
            f"{', '.join(handwritten)}"
        )
    generated = alarm_resources()
    missing = {a.metric.resource for a in ALARMS if isinstance(a.metric, AwsMetric)} - set(
        resources
    )
    if missing:
        raise ValueError(f"alarms watch resources the template lacks: {', '.join(sorted(missing))}")
    resources.update(generated)
    for dashboard in (r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"):
        body_sub = dashboard["Properties"]["DashboardBody"]
        body = json.loads(body_sub["Fn::Sub"])
        for widget in body["widgets"]:
            if widget["type"] == "alarm":
                widget["properties"]["alarms"] = alarm_arns()
        body_sub["Fn::Sub"] = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return template


if __name__ == "__main__":
    json.dump(alarm_resources(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    sys.exit(0)
