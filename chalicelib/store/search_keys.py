"""The order search's derived index keys (store/models.py OrderModel), each computed from what it
derives from, so the create and every update that changes a source write the key with it.

- amount: `amount_band` (1-2-5 band, store/amount_bands.py) partitions; `amount_at` =
  `<minor units, 15 digits>#<created_at>` sorts, so one price in a time range is one key range.
- composites: `channel_status` = `<channel>#<pay_status>` (sort: creation time); `status_band` and
  `channel_band` = `<pay_status or channel>#<amount band>` (sort: `amount_at`).
- e-mail: `email_domain` (sort: creation time); `email_head`, the local part's first
  `HEAD` characters, partitions `email_at` = `<address>#<created_at>`, so an address prefix of at
  least `HEAD` characters of local part is one key range.
All case-folded where they come from text.

Beside them, the slow-delivery check's key: `awaiting_delivery` = the UTC day of payment, held
while an order is paid and not delivered (sort: `paid_at`), so the check reads the orders still
waiting, not every order paid that day.
"""

from __future__ import annotations

from ..domain.order import DeliveryStatus, PayStatus
from .amount_bands import band_of

HEAD = 3
SEP = "#"  # below every digit and letter: "k#…" sorts before any longer key "k…"
AFTER_TIME = "~"  # above every character of an ISO time


AMOUNT_DIGITS = 15
MAX_KEYED_MINOR = 10**AMOUNT_DIGITS - 1


def amount_key(minor: int) -> str:
    return f"{min(minor, MAX_KEYED_MINOR):0{AMOUNT_DIGITS}d}"


def amount_at(minor: int, created_at: str) -> str:
    return f"{amount_key(minor)}{SEP}{created_at}"


def status_keys(channel: str, pay_status: str, minor: int) -> dict[str, str]:
    """The keys that change with the pay status."""
    return {
        "channel_status": f"{channel}{SEP}{pay_status}",
        "status_band": f"{pay_status}{SEP}{band_of(minor)}",
    }


def amount_keys(channel: str, pay_status: str, minor: int, created_at: str) -> dict[str, str]:
    return {
        "amount_band": band_of(minor),
        "amount_at": amount_at(minor, created_at),
        "channel_band": f"{channel}{SEP}{band_of(minor)}",
        **status_keys(channel, pay_status, minor),
    }


AWAITING_DELIVERY = "awaiting_delivery"


def awaiting_delivery_keys(pay_status: str, delivery_status: str, paid_day: str | None) -> dict:
    """`awaiting_delivery` while the order is paid and not delivered (held or failed included:
    the check's filter decides about those), else nothing."""
    if (
        pay_status == PayStatus.PAID.value
        and delivery_status != DeliveryStatus.DELIVERED.value
        and paid_day
    ):
        return {AWAITING_DELIVERY: paid_day}
    return {}


def email_head(local: str) -> str:
    return local[:HEAD]


def email_keys(email: str | None, created_at: str) -> dict[str, str]:
    if not email:
        return {}
    address = email.casefold()
    local, _, domain = address.rpartition("@")
    if not local:  # no "@": all of it is the local part
        local, domain = address, ""
    keys = {"email_head": email_head(local), "email_at": f"{address}{SEP}{created_at}"}
    return keys | ({"email_domain": domain} if domain else {})
