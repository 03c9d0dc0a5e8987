"""Hypothesis strategies for DynamoDB attribute values as the wire writes them, every kind an
order, a notice or a claim holds, nested in lists and maps."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st


def attribute_values(binary: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Any attribute value; with `binary`, B and BS values too (base64 as sent)."""
    scalars = [
        st.builds(lambda s: {"S": s}, st.text(max_size=12)),
        st.builds(lambda n: {"N": str(n)}, st.integers() | st.decimals(allow_nan=False, places=3)),
        st.builds(lambda b: {"BOOL": b}, st.booleans()),
        st.just({"NULL": True}),
        st.builds(
            lambda s: {"SS": sorted(s)}, st.sets(st.text(min_size=1, max_size=5), min_size=1)
        ),
    ]
    if binary:
        scalars += [
            st.builds(lambda b: {"B": base64.b64encode(b).decode()}, st.binary(max_size=6)),
            st.builds(
                lambda b: {"BS": [base64.b64encode(b).decode()]}, st.binary(min_size=1, max_size=4)
            ),
        ]
    return st.recursive(
        st.one_of(scalars),
        lambda inner: (
            st.builds(lambda v: {"L": v}, st.lists(inner, max_size=3))
            | st.builds(lambda m: {"M": m}, st.dictionaries(st.text(max_size=6), inner, max_size=3))
        ),
        max_leaves=8,
    )
