"""Settings of the scheduled jobs (补单, expiry, statements, reconciliation, digest) and of the
gateway API client, read once from the environment (docs/operations.md "Configuration")."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache


def _seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(os.environ.get(name, default)))


def _backoff(name: str, default: str) -> tuple[timedelta, ...]:
    steps = [float(part) for part in os.environ.get(name, default).split(",") if part.strip()]
    if not steps or any(step <= 0 for step in steps) or steps != sorted(steps):
        raise ValueError(f"{name} must be increasing positive seconds, comma separated")
    return tuple(timedelta(seconds=step) for step in steps)


@dataclass(frozen=True)
class JobSettings:
    requery_min_age: timedelta  # a pending order younger than this is not asked about yet
    requery_backoff: tuple[timedelta, ...]  # ask this long after creation, then once at expiry
    requery_grace: timedelta  # keep asking (and defer expiry on outages) this long after
    requery_batch: int  # orders asked about per run at most (the rest next run)
    requery_workers: int  # gateway queries in flight at once
    gateway_timeout_s: float
    gateway_attempts: int
    fee_writeback_budget: timedelta  # how long one run writes statement fees onto orders
    max_stored_lines: int  # unmatched lines kept in DynamoDB per run (all are in S3)
    max_line_anomalies: int  # anomalies raised per run, one per unmatched line


@lru_cache(maxsize=1)
def get_job_settings() -> JobSettings:
    return JobSettings(
        requery_min_age=_seconds("PAYTRACK_REQUERY_MIN_AGE_S", 60),
        requery_backoff=_backoff("PAYTRACK_REQUERY_BACKOFF_S", "60,120,300,600"),
        requery_grace=_seconds("PAYTRACK_REQUERY_GRACE_S", 600),
        requery_batch=int(os.environ.get("PAYTRACK_REQUERY_BATCH", 200)),
        requery_workers=int(os.environ.get("PAYTRACK_REQUERY_WORKERS", 8)),
        gateway_timeout_s=float(os.environ.get("PAYTRACK_GATEWAY_TIMEOUT_S", 10)),
        gateway_attempts=int(os.environ.get("PAYTRACK_GATEWAY_ATTEMPTS", 3)),
        fee_writeback_budget=_seconds("PAYTRACK_FEE_WRITEBACK_BUDGET_S", 600),
        max_stored_lines=int(os.environ.get("PAYTRACK_RECON_MAX_STORED_LINES", 5000)),
        max_line_anomalies=int(os.environ.get("PAYTRACK_RECON_MAX_LINE_ANOMALIES", 500)),
    )
