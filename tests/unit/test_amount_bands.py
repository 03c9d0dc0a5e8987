"""The amount index's price bands: every amount in exactly one band, and a range asks for every
band that can hold an amount inside it and no other."""

from __future__ import annotations

import random

import pytest

from chalicelib.store.amount_bands import BANDS, band_of, bands_between


@pytest.mark.parametrize(
    "minor,band",
    [
        (0, "0"),
        (1, "1"),
        (4, "2"),
        (5, "5"),
        (999, "500"),
        (1000, "1000"),
        (5800, "5000"),
        (9999, "5000"),
        (10**9, "1000000000"),
        (10**15, "1000000000"),
    ],
)
def test_each_amount_has_its_band(minor, band):
    assert band_of(minor) == band


def test_a_range_touches_exactly_the_bands_of_its_amounts():
    rng = random.Random(7)
    for _ in range(2000):
        low = rng.choice([0, rng.randrange(10**7)])
        high = low + rng.choice([0, rng.randrange(10**5), rng.randrange(10**10)])
        wanted = bands_between(low, high)
        first, last = BANDS.index(int(wanted[0])), BANDS.index(int(wanted[-1]))
        assert wanted == [str(b) for b in BANDS[first : last + 1]]  # contiguous
        assert band_of(low) == wanted[0] and band_of(high) == wanted[-1]  # no band more than needed
        assert all(band_of(rng.randint(low, high)) in wanted for _ in range(20))


def test_bands_are_the_1_2_5_series():
    assert BANDS[:10] == (0, 1, 2, 5, 10, 20, 50, 100, 200, 500)
    assert list(BANDS) == sorted(set(BANDS))
