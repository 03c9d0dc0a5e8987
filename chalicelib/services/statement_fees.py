"""The statement's fees and nets written onto the orders (手续费, 实际到账): a run stores them in
chunks (services/reconcile.py); each chunk is written within a time budget and marked written,
and what is left is finished by the `apply_statement_fees` job."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from ..domain.money import Money
from ..domain.order import EntryType, TimelineEntry
from ..domain.statement import beijing_day
from ..platform.job_settings import get_job_settings
from ..store import ledger
from ..store import reconciliations as run_store
from ..store.reconciliations import RunStatus, StoredRun
from .ports import clock

FEE_WRITERS = 8
FEE_BATCH = 100  # orders per fee write-back request (TransactWriteItems' limit)


def _fee_write(run: StoredRun, update: list[Any], now: datetime) -> ledger.StatementAmounts:
    """One chunk entry: [order_no, currency, fee_minor, net_minor] and, for a converted payment,
    [settled_minor, rate] after them (chunks written before conversions were read have four)."""
    order_no, currency, fee_minor, net_minor, settled_minor, rate = (*update, None, None)[:6]
    fee, net = Money(fee_minor, currency), Money(net_minor, currency)
    settled = Money(settled_minor, currency) if settled_minor is not None else None
    data = {"run": run.run_id, "fee": fee.format(), "net": net.format(), "currency": fee.currency}
    converted = ""
    if settled is not None and rate:
        data.update(settled=settled.format(), exchange_rate=rate)
        converted = f"settled {settled} @ {rate}, "
    entry = TimelineEntry(
        at=now,
        type=EntryType.RECONCILIATION,
        source="system",
        message=f"statement of {run.date}: {converted}fee {fee}, net {net}",
        data=data,
    )
    return ledger.StatementAmounts(order_no, fee, net, entry, settled, rate)


def apply_fees(run: StoredRun, budget: timedelta, now: datetime | None = None) -> dict[str, int]:
    """Write the run's pending statement fees onto their orders until `budget` is spent: each
    chunk's orders in transactions of FEE_BATCH, written side by side."""
    now = now or clock().now()
    deadline = time.monotonic() + budget.total_seconds()
    written = left = 0
    with ThreadPoolExecutor(max_workers=FEE_WRITERS) as pool:
        for sk, updates in run_store.pending_fee_chunks(run):
            if time.monotonic() > deadline:
                left += len(updates)
                continue
            writes = [_fee_write(run, update, now) for update in updates]
            batches = [writes[i : i + FEE_BATCH] for i in range(0, len(writes), FEE_BATCH)]
            written += sum(map(sum, pool.map(ledger.write_statement_amounts, batches)))
            run_store.mark_fees_written(run.run_id, sk)
    if not left and run.status == RunStatus.FEES_PENDING:
        run_store.mark_done(run)
    return {"fees_written": written, "fees_pending": left}


def apply_statement_fees(now: datetime | None = None, days: int = 3) -> dict[str, Any]:
    """The scheduled catch-up: finish the fee write-back of the last few days' runs."""
    now = now or clock().now()
    budget = get_job_settings().fee_writeback_budget
    deadline = time.monotonic() + budget.total_seconds()
    done: dict[str, dict[str, int]] = {}
    for back in range(days):
        for run in run_store.by_date((beijing_day(now) - timedelta(days=back)).isoformat()):
            remaining = timedelta(seconds=max(0.0, deadline - time.monotonic()))
            if run.status == RunStatus.FEES_PENDING and remaining:
                done[run.run_id] = apply_fees(run, remaining, now)
    return {"job": "apply_statement_fees", "runs": done}
