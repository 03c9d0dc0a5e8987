"""Crash at every step of the jobs: 补单 (requery_pending) and the daily reconciliation with its
fee write-back (exports: test_export_faults.py). The Nth AWS call fails, the job runs again later,
the streams run; then a payment found by query is applied once, a statement's fee is written and
counted once, and no reconciliation is visible as finished unless all of it is there."""

from __future__ import annotations

import contextlib

import pytest

from chalicelib.domain.clock import utcnow
from chalicelib.domain.statement import beijing_day
from chalicelib.gateways._http import GatewayHttp
from chalicelib.services import gateway_calls, reconcile, requery, statement_fees
from chalicelib.store import orders as order_store
from chalicelib.store import reconciliations as run_store
from tests.faults.invariants import anomalies_of, assert_paid_once, register
from tests.integration.test_requery import notification_of
from tests.support.clock import FakeClock, wired
from tests.support.faults import sweep
from tests.support.gateway_sim import start_simulator, statements_ahead

CHANNEL = "alipay-main"


@pytest.fixture(scope="module")
def sim(world):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            gateway_calls, "http", lambda: GatewayHttp(timeout_s=5, attempts=2, backoff_s=0)
        )
        statements_ahead(patch)  # what a case just paid is in today's statement at once
        simulator = start_simulator()
        yield simulator
        simulator.close()


def test_requery_applies_a_found_payment_once_whatever_call_fails(world, sim):
    order_no, product = register(world, CHANNEL)
    world.streams.settle()
    sim.pay(CHANNEL, order_no, "58.00", "CNY", notify=False)

    def case(arm):
        # each case's own clock: the cases' minutes never add up past the shop's midnight
        with wired(FakeClock()) as clock:
            clock.advance(minutes=2)
            with arm():
                _job(requery.requery_pending)
            for _ in range(4):  # the schedule runs again, every few minutes
                world.streams.settle()
                if order_store.get(order_no).pay_status.value == "paid":
                    break
                clock.advance(minutes=5)
                requery.requery_pending()
            world.streams.settle()
        assert_paid_once(world, order_no, product)

    sweep(
        "job requery_pending (补单)", world.injector, case, fresh=world.checkpoint(sim)
    ).assert_held()


def _job(run, *args):
    """A scheduled run that dies: Lambda reports it failed; the next run is the recovery."""
    with contextlib.suppress(Exception):
        run(*args)


def paid_today(world, sim) -> tuple[str, str]:
    order_no, product = register(world, CHANNEL)
    trade = sim.pay(CHANNEL, order_no, "58.00", "CNY", notify=False)
    assert world.api.send(notification_of(CHANNEL, order_no, trade.trade_no)).body == b"success"
    world.streams.settle()
    return order_no, product


def assert_no_partial_run_finished(day) -> None:
    run = run_store.get(run_store.run_id_of(CHANNEL, day.isoformat()))
    if run is None or run.status == "failed":
        return
    counts = run.data["summary"]["counts"]
    assert len(run_store.lines(run)) == sum(
        n for result, n in counts.items() if result != "matched"
    ), "a run's summary is visible without all its lines"
    if run.status == "done":
        assert run_store.pending_fee_chunks(run) == [], (
            "a run is done with statement fees still to write"
        )


def test_reconciliation_writes_each_fee_once_whatever_call_fails(world, sim):
    order_no, product = paid_today(world, sim)

    def case(arm):
        day = beijing_day(utcnow())
        with arm():
            _job(reconcile.reconcile_day, day, CHANNEL)
        assert_no_partial_run_finished(day)
        _job(statement_fees.apply_statement_fees)  # every 15 minutes
        reconcile.reconcile_day(day, CHANNEL)  # the operator (or tomorrow's run) runs it again
        world.streams.settle()
        run = run_store.get(run_store.run_id_of(CHANNEL, day.isoformat()))
        assert run.status == "done" and run.data["summary"]["counts"].get("matched"), run.data[
            "summary"
        ]
        order = order_store.get(order_no)
        assert (order.fee.format(), order.net.format()) == ("0.35", "57.65")
        fee_entries = [e for e in order.timeline if e.type == "reconciliation"]
        assert len(fee_entries) == 1, f"fee written {len(fee_entries)} times on the timeline"
        assert world.counters(product).get("fee_minor|CNY") == 35, world.counters(product)
        assert anomalies_of(order_no) == []

    sweep(
        "job reconcile + fee write-back", world.injector, case, fresh=world.checkpoint(sim)
    ).assert_held()
