"""Price bands for the amount index: the 1-2-5 series in minor units (0, 1, 2, 5, 10, 20, 50, …).

An order is indexed under the band its amount falls in, sorted by creation time, so an amount
range plus a time range is a few time-ordered Queries (one per band the range touches), paged by
key like every other filter. Only the bands at the two ends of the range can hold orders outside
it; the filter's exact predicate drops those. Amounts from the top band up share it.
"""

from __future__ import annotations

from bisect import bisect_right

BANDS = (0, *tuple(step * 10**power for power in range(9) for step in (1, 2, 5)), 10**9)


def band_of(minor: int) -> str:
    return str(BANDS[max(bisect_right(BANDS, minor) - 1, 0)])


def bands_between(low_minor: int, high_minor: int) -> list[str]:
    """Every band holding some amount in [low_minor, high_minor]."""
    first, last = band_of(low_minor), band_of(high_minor)
    return [str(b) for b in BANDS if int(first) <= b <= int(last)]
