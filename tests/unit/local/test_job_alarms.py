"""The scheduled jobs' alarms page on the metrics the jobs really emit (local/alarms.py evaluates
the template's alarms the way CloudWatch would)."""

from __future__ import annotations

import json

import pytest

from chalicelib.platform import observability
from chalicelib.services import job_metrics
from local.alarms import AlarmEvaluator, load_alarms

T0 = 1_795_600_000.0


def pages(capsys, record) -> list[str]:
    record()
    observability.flush_metrics()
    evaluator = AlarmEvaluator(load_alarms("local"), "ap-east-1")
    for line in capsys.readouterr().out.splitlines():
        if line.startswith('{"_aws"'):
            blob = json.loads(line)
            blob["_aws"]["Timestamp"] = int(T0 * 1000)
            evaluator.add(blob)
    return sorted(message["AlarmName"] for message in evaluator.evaluate(T0 + 1))


def test_an_unreadable_statement_pages(capsys):
    assert pages(capsys, lambda: job_metrics.statement_failed("alipay-main")) == [
        "paytrack-local-statement-failures"
    ]


def test_a_failed_digest_pages_as_itself_and_as_a_failed_job(capsys):
    assert pages(capsys, lambda: job_metrics.job_failed("failed_digest")) == [
        "paytrack-local-failed-digest",
        "paytrack-local-job-failures",
    ]


@pytest.mark.parametrize(
    "failures, paged", [(4, []), (5, ["paytrack-local-gateway-query-failures"])]
)
def test_gateway_queries_page_when_they_keep_failing(capsys, failures, paged):
    def record():
        for _ in range(failures):
            job_metrics.gateway_query_failed("wxpay-main")

    assert pages(capsys, record) == paged
