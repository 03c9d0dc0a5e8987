"""Local paging: the template's alarms on paytrack's EMF metrics, evaluated as CloudWatch would,
on the very lines the app's metrics flush prints."""

from __future__ import annotations

import io
import json
import threading

import pytest

from chalicelib.platform import observability
from chalicelib.services import metrics
from local.alarms import AlarmEvaluator, EmfTap, datapoints, load_alarms

T0 = 1_795_600_000.0


def emitted(capsys, record) -> list[dict]:
    """The EMF lines the real metrics code prints for `record()`, as dicts."""
    record()
    observability.flush_metrics()
    return [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
    ]


def at(blobs: list[dict], seconds: float) -> list[dict]:
    for blob in blobs:
        blob["_aws"]["Timestamp"] = int((T0 + seconds) * 1000)
    return blobs


@pytest.fixture
def evaluator():
    return AlarmEvaluator(load_alarms("local"), "ap-east-1")


def test_the_template_alarms_on_emf_metrics_are_loaded_with_the_stage_name():
    alarms = {alarm.name: alarm for alarm in load_alarms("local")}
    assert set(alarms) == {
        "paytrack-local-critical-anomaly",
        "paytrack-local-channel-failure",
        "paytrack-local-stream-record-failures",
        "paytrack-local-notify-5xx",
        "paytrack-local-statement-failures",
        "paytrack-local-gateway-query-failures",
        "paytrack-local-job-failures",
        "paytrack-local-failed-digest",
    }
    critical = alarms["paytrack-local-critical-anomaly"]
    assert (critical.metric, critical.dimensions, critical.period_s, critical.threshold) == (
        "Anomalies",
        {"service": "paytrack", "severity": "critical"},
        300,
        1.0,
    )


def test_datapoints_follow_every_dimension_set(capsys):
    (blob,) = emitted(
        capsys,
        lambda: observability.add_metric(
            "Anomalies", observability.MetricUnit.Count, 2, rule="ip_burst", severity="warning"
        ),
    )
    (point,) = datapoints(blob)
    assert (point.metric, point.dimensions, point.value) == (
        "Anomalies",
        {"rule": "ip_burst", "severity": "warning", "service": "paytrack"},
        2.0,
    )


def test_a_critical_anomaly_pages_and_clears_after_its_period(capsys, evaluator):
    for blob in at(
        emitted(capsys, lambda: metrics.anomaly_recorded("amount_mismatch", "critical")), 0
    ):
        evaluator.add(blob)
    (page,) = evaluator.evaluate(T0 + 1)
    assert (page["AlarmName"], page["OldStateValue"], page["NewStateValue"]) == (
        "paytrack-local-critical-anomaly",
        "OK",
        "ALARM",
    )
    assert page["NewStateReason"] == (
        "Threshold Crossed: 1 datapoint [1] was greater than or equal to the threshold (1)."
    )
    assert page["Trigger"]["Dimensions"] == [
        {"name": "service", "value": "paytrack"},
        {"name": "severity", "value": "critical"},
    ]
    assert evaluator.evaluate(T0 + 299) == []  # still in alarm: no second page
    (cleared,) = evaluator.evaluate(T0 + 301)
    assert (cleared["NewStateValue"], cleared["NewStateReason"]) == (
        "OK",
        "Threshold Crossed: no datapoints was not greater than or equal to the threshold (1).",
    )


def test_warnings_do_not_page(capsys, evaluator):
    for blob in at(emitted(capsys, lambda: metrics.anomaly_recorded("ip_burst", "warning")), 0):
        evaluator.add(blob)
    assert evaluator.evaluate(T0 + 1) == []


@pytest.mark.parametrize("errors,pages", [(4, False), (5, True)])
def test_notify_5xx_pages_at_its_threshold(capsys, evaluator, errors, pages):
    def record():
        for _ in range(errors):
            metrics.notification_handled("alipay-main", "store_failed")

    for blob in at(emitted(capsys, record), 0):
        evaluator.add(blob)
    names = [m["AlarmName"] for m in evaluator.evaluate(T0 + 1)]
    assert names == (["paytrack-local-notify-5xx"] if pages else [])


def test_a_channel_failure_pages_for_an_hour(capsys, evaluator):
    for blob in at(
        emitted(capsys, lambda: metrics.anomaly_recorded("channel_failure", "critical")), 0
    ):
        evaluator.add(blob)
    assert sorted(m["AlarmName"] for m in evaluator.evaluate(T0 + 1)) == [
        "paytrack-local-channel-failure",
        "paytrack-local-critical-anomaly",
    ]
    assert [m["AlarmName"] for m in evaluator.evaluate(T0 + 3599)] == [
        "paytrack-local-critical-anomaly"
    ]
    assert [m["AlarmName"] for m in evaluator.evaluate(T0 + 3601)] == [
        "paytrack-local-channel-failure"
    ]


def test_the_tap_takes_emf_lines_out_and_lets_the_rest_through():
    console, taken = io.StringIO(), []
    tap = EmfTap(console, taken.append)
    print('{"_aws":{"Timestamp":1},"x":1}', file=tap)
    print("demo: paid ORD1", file=tap)
    tap.write("partial ")
    tap.write("line\n")
    assert taken == [{"_aws": {"Timestamp": 1}, "x": 1}]
    assert console.getvalue() == "demo: paid ORD1\npartial line\n"


def test_the_tap_keeps_each_threads_lines_whole():
    console, taken = io.StringIO(), []
    tap = EmfTap(console, taken.append)
    started = threading.Barrier(2)

    def write(word: str) -> None:
        started.wait()
        for _ in range(200):
            tap.write(word)
            tap.write(word + "\n")

    threads = [threading.Thread(target=write, args=(w,)) for w in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(console.getvalue().splitlines())) == ["leftleft", "rightright"]
