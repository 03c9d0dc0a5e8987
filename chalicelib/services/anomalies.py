"""Anomalies: record a finding once, whoever found it (stream rules, scheduled checks,
reconciliation)."""
from __future__ import annotations

from datetime import datetime

from ..domain.anomaly import Finding
from ..store import anomalies as anomaly_store


def record(finding: Finding, now: datetime) -> bool:
    """Record `finding` as an open anomaly unless it already is. True when recorded now."""
    return anomaly_store.create(finding, now)
