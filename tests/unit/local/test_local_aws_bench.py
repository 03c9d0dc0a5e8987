"""A smoke test of bench/local_aws.py (the benchmark itself runs in `make bench`): both servers
start, answer the flash-sale mix, and each round gives a ratio; the report's arithmetic."""

from __future__ import annotations

import pytest

from bench import local_aws


def test_a_tiny_run_measures_both_servers(aws_env):
    report = local_aws.run(orders=3, rounds=1, clients=2)

    assert report["rounds"] == 1
    for name in local_aws.VARIANTS:
        assert report[name]["server_cpu_ms_per_request"]["min"] > 0
    assert report["lean"]["server_cpu_vs_moto"]["median"] > 0


def test_the_ratios_are_taken_round_by_round():
    rounds = [
        {
            "moto": {"server_ms": 4, "client_ms": 2, "order_ms": 10},
            "lean": {"server_ms": 2, "client_ms": 2, "order_ms": 5},
        },
        {
            "moto": {"server_ms": 8, "client_ms": 2, "order_ms": 20},
            "lean": {"server_ms": 6, "client_ms": 2, "order_ms": 15},
        },
    ]

    report = local_aws.report(rounds)

    assert report["lean"]["server_cpu_vs_moto"] == {"min": 0.5, "median": pytest.approx(0.625)}
    assert report["lean"]["server_and_client_cpu_vs_moto"]["min"] == 0.667  # 4 / 6, rounded
    assert report["moto"]["order_requests_ms_median"] == {"min": 10, "median": 15}
