"""Anomaly rules: each a pure function of what a stream record or a scheduled check shows, with
its severity, hold and thresholds from `RulesConfig` (settings: PAYTRACK_RULES). Each registers
itself with `@rule(…)` (registry.py): a new rule is its function and its test.

- orders.py   per order change: amount_mismatch, channel_mismatch, currency_mismatch, late_payment,
              duplicate_payment, status_conflict, suspicious_email, quick_refund, large_amount
- windows.py  over a window or the clock: ip_burst, channel_failure, slow_delivery
- notices.py  unknown_order, notice_conflict
- effects.py  what a finding does to its order; the deliverability event for the shop
"""

# imported here so that every rule is registered before anything in the package is used
from . import notices, orders, windows  # noqa: F401
