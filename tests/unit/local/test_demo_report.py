"""`make run`'s console with demo traffic: each order in the demo log, a summary line a period with
the banner's essentials under it, so the banner is never more than a period away."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from local.console import DemoReport
from local.stack import Stack, StackConfig

ESSENTIALS = (
    "  API http://127.0.0.1:8000 · admin page http://127.0.0.1:8000/admin · keys out/local-keys.env"
)


def at(hms: str):
    return lambda: datetime.fromisoformat(f"2026-12-06T{hms}")


@pytest.fixture
def report(tmp_path: Path) -> DemoReport:
    return DemoReport(tmp_path / "out" / "demo.log", ESSENTIALS, clock=at("09:41:07"))


def test_each_summary_counts_its_period_and_repeats_the_essentials(report):
    for kind in ("paid", "paid", "paid", "delivered", "delivered", "held", "failed"):
        report.count(kind)
    first = report.summary(60)
    assert first == (
        f"09:41:07 demo, last 60 s: 3 paid · 2 delivered · 1 held · 1 failed  "
        f"(each order: {report.log_path})\n{ESSENTIALS}"
    )
    report.count("delivered")
    second = report.summary(60)
    assert second.splitlines()[0].startswith(
        "09:41:07 demo, last 60 s: 0 paid · 1 delivered · 0 held · 0 failed"
    )
    assert second.splitlines()[1] == ESSENTIALS


def test_each_demo_line_goes_to_the_log_file_time_stamped(report):
    report.log("demo: paid ORD1 via alipay-main 58.00 CNY → answered success")
    report.log("demo: delivered ORD1 → HTTP 200")
    assert report.log_path.read_text(encoding="utf-8").splitlines() == [
        "09:41:07 demo: paid ORD1 via alipay-main 58.00 CNY → answered success",
        "09:41:07 demo: delivered ORD1 → HTTP 200",
    ]


def test_a_new_run_starts_an_empty_log(tmp_path):
    path = tmp_path / "demo.log"
    path.write_text("yesterday's orders\n")
    DemoReport(path, ESSENTIALS)
    assert path.read_text() == ""


def test_an_unknown_outcome_is_refused(report):
    with pytest.raises(ValueError, match="unknown demo outcome 'refunded'"):
        report.count("refunded")
    assert "0 paid · 0 delivered · 0 held · 0 failed" in report.summary(60)


def test_the_essentials_name_the_api_the_admin_page_and_the_keys_file(tmp_path):
    stack = Stack(StackConfig(api_port=8123, keys_file=tmp_path / "local-keys.env"))
    assert stack.essentials() == (
        f"  API http://127.0.0.1:8123 · admin page http://127.0.0.1:8123/admin"
        f" · keys {tmp_path / 'local-keys.env'}"
    )  # stdin not a terminal: no Enter hint
