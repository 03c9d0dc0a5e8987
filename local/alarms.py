"""Paging on the local stack. moto keeps CloudWatch alarms but never evaluates them, so this
module does what CloudWatch would do with paytrack's own metrics: it reads the EMF lines the app
prints (a stand-in for sys.stdout takes them out of the console), evaluates the merge template's
alarms on the `Paytrack` namespace against them, and publishes to the local paging topic the
message CloudWatch publishes when an alarm changes state (ALARM when its condition starts to
hold, OK when it stops). The alarm definitions are the metric catalogue's, rendered as the
packaged template gets them (infra/alarms.py), so what pages locally is what would page in AWS.

Simplification: each alarm looks at a window of its `Period` ending now (CloudWatch uses aligned
periods); alarms on AWS/* metrics (Lambda errors, iterator age, SQS depth) are not emulated.
"""

from __future__ import annotations

import io
import json
import logging
import operator
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

log = logging.getLogger("paytrack.local.alarms")

NAMESPACE = "Paytrack"
_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum,
    "Maximum": max,
    "Minimum": min,
    "SampleCount": len,
    "Average": lambda values: sum(values) / len(values),
}


@dataclass(frozen=True)
class AlarmRule:
    name: str
    description: str
    metric: str
    dimensions: dict[str, str]
    statistic: str
    period_s: int
    threshold: float
    comparison: str
    treat_missing_data: str

    def statistic_of(self, values: list[float]) -> float | None:
        return _STATISTICS[self.statistic](values) if values else None

    def breached(self, value: float | None) -> bool:
        """Missing data is not breaching (every paytrack alarm says so)."""
        return value is not None and _COMPARISONS[self.comparison][0](value, self.threshold)


def load_alarms(stage: str) -> list[AlarmRule]:
    """The template's alarms on paytrack's EMF metrics, named as they are for `stage`."""
    from infra.alarms import alarm_resources

    alarms = []
    for resource in alarm_resources().values():
        props = resource["Properties"]
        if resource["Type"] != "AWS::CloudWatch::Alarm" or props.get("Namespace") != NAMESPACE:
            continue
        name = props["AlarmName"]
        alarms.append(
            AlarmRule(
                name=(name["Fn::Sub"] if isinstance(name, dict) else name).replace(
                    "${Stage}", stage
                ),
                description=props.get("AlarmDescription", ""),
                metric=props["MetricName"],
                dimensions={d["Name"]: d["Value"] for d in props.get("Dimensions", [])},
                statistic=props["Statistic"],
                period_s=int(props["Period"]),
                threshold=float(props["Threshold"]),
                comparison=props["ComparisonOperator"],
                treat_missing_data=props.get("TreatMissingData", "missing"),
            )
        )
    return alarms


@dataclass(frozen=True)
class Datapoint:
    at: float
    metric: str
    dimensions: dict[str, str]
    value: float


def datapoints(blob: dict[str, Any]) -> list[Datapoint]:
    """The values of one EMF line, one per metric, dimension set and sample."""
    meta = blob["_aws"]
    at = meta["Timestamp"] / 1000
    points: list[Datapoint] = []
    for directive in meta["CloudWatchMetrics"]:
        if directive["Namespace"] != NAMESPACE:
            continue
        for dimension_set in directive["Dimensions"]:
            dimensions = {name: str(blob[name]) for name in dimension_set}
            for metric in directive["Metrics"]:
                values = blob[metric["Name"]]
                points.extend(
                    Datapoint(at, metric["Name"], dimensions, float(value))
                    for value in (values if isinstance(values, list) else [values])
                )
    return points


class AlarmEvaluator:
    """Keeps the datapoints of the longest alarm period and turns state changes into the
    messages CloudWatch would publish."""

    def __init__(self, alarms: list[AlarmRule], region: str, account: str = "123456789012"):
        self.alarms = alarms
        self.region = region
        self.account = account
        self.states = {alarm.name: "OK" for alarm in alarms}
        self._points: list[Datapoint] = []
        self._lock = threading.Lock()
        self._horizon = max((alarm.period_s for alarm in alarms), default=0)

    def add(self, blob: dict[str, Any]) -> None:
        with self._lock:
            self._points.extend(datapoints(blob))

    def evaluate(self, now: float) -> list[dict[str, Any]]:
        """Messages for every alarm whose state changed since the last evaluation."""
        with self._lock:
            self._points = [p for p in self._points if p.at >= now - self._horizon]
            points = list(self._points)
        messages = []
        for alarm in self.alarms:
            values = [
                p.value
                for p in points
                if p.metric == alarm.metric
                and p.dimensions == alarm.dimensions
                and now - alarm.period_s <= p.at <= now
            ]
            value = alarm.statistic_of(values)
            state = "ALARM" if alarm.breached(value) else "OK"
            if state != self.states[alarm.name]:
                messages.append(self._message(alarm, self.states[alarm.name], state, value, now))
                self.states[alarm.name] = state
        return messages

    def _message(
        self, alarm: AlarmRule, old: str, new: str, value: float | None, now: float
    ) -> dict[str, Any]:
        """The JSON CloudWatch publishes to an alarm's SNS actions."""
        words = _COMPARISONS[alarm.comparison][1]
        shown = "no datapoints" if value is None else f"1 datapoint [{value:g}]"
        reason = (
            f"Threshold Crossed: {shown} was {'' if new == 'ALARM' else 'not '}{words} the threshold "
            f"({alarm.threshold:g})."
        )
        return {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "AWSAccountId": self.account,
            "NewStateValue": new,
            "OldStateValue": old,
            "NewStateReason": reason,
            "StateChangeTime": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            "Region": self.region,
            "Trigger": {
                "MetricName": alarm.metric,
                "Namespace": NAMESPACE,
                "StatisticType": "Statistic",
                "Statistic": alarm.statistic.upper(),
                "Unit": None,
                "Dimensions": [{"name": k, "value": v} for k, v in alarm.dimensions.items()],
                "Period": alarm.period_s,
                "EvaluationPeriods": 1,
                "ComparisonOperator": alarm.comparison,
                "Threshold": alarm.threshold,
                "TreatMissingData": alarm.treat_missing_data,
            },
        }


class EmfTap(io.TextIOBase):
    """Stands in for sys.stdout: EMF lines go to `on_emf`, every other line to the real stdout.
    Lines are assembled per thread, so concurrent prints cannot splice one another."""

    def __init__(self, target: TextIO, on_emf: Callable[[dict[str, Any]], None]):
        super().__init__()
        self.target = target
        self.on_emf = on_emf
        self._pending = threading.local()

    def write(self, text: str) -> int:
        pending = getattr(self._pending, "text", "") + text
        *lines, self._pending.text = pending.split("\n")
        for line in lines:
            if line.startswith('{"_aws"'):
                self.on_emf(json.loads(line))
            else:
                self.target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        partial = getattr(self._pending, "text", "")
        if partial:
            self.target.write(partial)
            self._pending.text = ""
        self.target.flush()

    def __getattr__(self, name: str) -> Any:
        if name in ("target", "on_emf", "_pending"):  # not set yet, or torn down at exit
            raise AttributeError(name)
        return getattr(self.target, name)


class LocalPaging(threading.Thread):
    """Taps stdout for EMF, evaluates the alarms every `interval` seconds and publishes state
    changes to the paging topic through `publish(subject, message)`."""

    def __init__(
        self,
        evaluator: AlarmEvaluator,
        publish: Callable[[str, dict[str, Any]], None],
        interval: float = 1.0,
    ):
        super().__init__(name="local-paging", daemon=True)
        self.evaluator = evaluator
        self.publish = publish
        self.interval = interval
        self.stop_event = threading.Event()
        self._stdout: TextIO | None = None

    def start(self) -> None:
        self._stdout = sys.stdout
        sys.stdout = EmfTap(self._stdout, self.evaluator.add)
        log.info(
            "local paging: %d alarms on EMF metrics (%s)",
            len(self.evaluator.alarms),
            ", ".join(alarm.name for alarm in self.evaluator.alarms),
        )
        super().start()

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            for message in self.evaluator.evaluate(time.time()):
                subject = (
                    f'{message["NewStateValue"]}: "{message["AlarmName"]}" in {message["Region"]}'
                )
                try:
                    self.publish(subject, message)
                except Exception:  # paging must outlive a failed publish, like the alarm retries
                    log.exception("could not publish %s", subject)

    def stop(self) -> None:
        self.stop_event.set()
        if self._stdout is not None:
            sys.stdout.flush()
            sys.stdout = self._stdout
