"""The other orders of one buyer: the newest orders with the same e-mail, buyer id or IP since a
time, each from its own index (by_email, by_buyer, by_ip), never a scan."""

from __future__ import annotations

from datetime import datetime
from itertools import islice

from ..domain.clock import to_iso
from ..platform.read_budget import metered
from .models import OrderModel

# index of each way two orders can share a buyer, and how the order's value is keyed in it
INDEXES = {"email": OrderModel.by_email, "buyer_id": OrderModel.by_buyer, "ip": OrderModel.by_ip}


def newest(kind: str, value: str, since: datetime, limit: int) -> list[OrderModel]:
    """At most `limit` orders whose `kind` is `value`, created at or after `since`, newest first."""
    key = value.casefold() if kind == "email" else value
    query = INDEXES[kind].query(
        key, OrderModel.created_at >= to_iso(since), scan_index_forward=False, page_size=limit
    )
    return list(islice(metered(query, limit), limit))
