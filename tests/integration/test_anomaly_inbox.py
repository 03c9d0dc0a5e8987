"""The operators' anomaly inbox over the API: filters served by indexes, cursor pages, roles,
status changes with who and when, the audit trail, and PII masked for viewers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest

from chalicelib.domain.anomaly import Finding, Severity
from chalicelib.services import anomalies, auth
from chalicelib.store import audit
from tests.integration.conftest import ADMIN_KEY, SHOP_KEY

NOW = datetime.now(UTC)


@pytest.fixture
def key_ids(aws):
    return {role: auth.create_key(f"test {role}", role, "test") for role in ("viewer", "operator")}


@pytest.fixture
def keys(key_ids):
    return {role: key for role, (_, key) in key_ids.items()}


@pytest.fixture
def seeded(aws):
    """Seven anomalies over three days: rules, severities and statuses mixed."""
    rows = [
        ("amount_mismatch", Severity.CRITICAL, "O1", 0),
        ("amount_mismatch", Severity.CRITICAL, "O2", 1),
        ("suspicious_email", Severity.WARNING, "O3", 1),
        ("ip_burst", Severity.WARNING, "O4", 2),
        ("large_amount", Severity.INFO, "O5", 2),
        ("unknown_order", Severity.CRITICAL, "n:1", 2),
        ("suspicious_email", Severity.WARNING, "O6", 0),
    ]
    for i, (rule, severity, subject, days_ago) in enumerate(rows):
        details = {"expected": "x", "seen": "y"}
        if rule == "suspicious_email":
            details["email"] = "zhangwei1988@mailinator.com"
        if rule == "ip_burst":
            details.update(ip="36.110.9.9", emails=["a1@qq.com", "b2@qq.com"])
        anomalies.record(
            Finding(
                rule=rule,
                severity=severity,
                subject=subject,
                details=details,
                order_no=subject if subject.startswith("O") else None,
            ),
            NOW - timedelta(days=days_ago, minutes=i),
        )
    return [f"{r[0]}#{r[2]}" for r in rows]


def listing(api, key, **params):
    response = api.call(
        "GET", "/admin/anomalies" + (f"?{urlencode(params)}" if params else ""), key=key
    )
    return response.status_code, api.json(response)


def test_newest_first_with_every_filter(api, keys, seeded):
    status, body = listing(api, keys["viewer"])
    assert status == 200 and [a["id"] for a in body["items"]] == [
        "amount_mismatch~O1",
        "suspicious_email~O6",
        "amount_mismatch~O2",
        "suspicious_email~O3",
        "ip_burst~O4",
        "large_amount~O5",
        "unknown_order~n:1",
    ]
    assert body["next_cursor"] is None
    assert [a["id"] for a in listing(api, keys["viewer"], rule="amount_mismatch")[1]["items"]] == [
        "amount_mismatch~O1",
        "amount_mismatch~O2",
    ]
    assert [a["id"] for a in listing(api, keys["viewer"], severity="critical")[1]["items"]] == [
        "amount_mismatch~O1",
        "amount_mismatch~O2",
        "unknown_order~n:1",
    ]
    assert len(listing(api, keys["viewer"], status="open")[1]["items"]) == 7
    assert listing(api, keys["viewer"], status="resolved")[1]["items"] == []
    recent = listing(
        api, keys["viewer"], **{"from": (NOW - timedelta(days=1, hours=1)).isoformat()}
    )[1]
    assert [a["id"] for a in recent["items"]] == [
        "amount_mismatch~O1",
        "suspicious_email~O6",
        "amount_mismatch~O2",
        "suspicious_email~O3",
    ]
    both = listing(
        api,
        keys["viewer"],
        rule="suspicious_email",
        severity="warning",
        to=(NOW - timedelta(hours=1)).isoformat(),
    )[1]
    assert [a["id"] for a in both["items"]] == ["suspicious_email~O3"]


@pytest.mark.parametrize(
    "filters", [{}, {"severity": "warning"}, {"status": "open"}, {"rule": "amount_mismatch"}]
)
def test_cursor_pages_cover_everything_once(api, keys, seeded, filters):
    expected = [a["id"] for a in listing(api, keys["viewer"], **filters)[1]["items"]]
    seen, cursor = [], None
    for _ in range(10):
        params = {**filters, "limit": "2", **({"cursor": cursor} if cursor else {})}
        status, body = listing(api, keys["viewer"], **params)
        assert status == 200 and len(body["items"]) <= 2
        seen += [a["id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == expected


@pytest.mark.parametrize(
    "params,field",
    [
        ({"status": "closed"}, "status"),
        ({"severity": "high"}, "severity"),
        ({"rule": "nope"}, "rule"),
        ({"from": "yesterday"}, "from"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"colour": "red"}, None),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, "from"),
    ],
)
def test_bad_filters_are_400_with_the_field(api, keys, seeded, params, field):
    status, body = listing(api, keys["viewer"], **params)
    assert status == 400 and body["error"]["code"] == (
        "range_too_large" if "to" in params else "validation_failed"
    )
    if field:
        assert body["error"]["details"].get("field") == field


def test_a_cursor_for_other_filters_is_refused(api, keys, seeded):
    cursor = listing(api, keys["viewer"], limit="1")[1]["next_cursor"]
    status, body = listing(api, keys["viewer"], rule="amount_mismatch", cursor=cursor)
    assert status == 400 and body["error"]["details"] == {"field": "cursor"}


def test_viewers_see_pii_masked_operators_see_it(api, keys, seeded):
    masked = {a["id"]: a for a in listing(api, keys["viewer"])[1]["items"]}
    assert masked["suspicious_email~O3"]["details"]["email"] == "zh***@mailinator.com"
    assert masked["ip_burst~O4"]["details"]["ip"] == "36.110.*.*"
    assert masked["ip_burst~O4"]["details"]["emails"] == ["a1***@qq.com", "b2***@qq.com"]
    clear = {a["id"]: a for a in listing(api, keys["operator"])[1]["items"]}
    assert clear["ip_burst~O4"]["details"]["ip"] == "36.110.9.9"


def update(api, key, anomaly_id, body):
    response = api.call("POST", f"/admin/anomalies/{quote(anomaly_id, safe='')}", body, key=key)
    return response.status_code, api.json(response)


def test_operator_acknowledges_then_resolves_with_who_when_and_audit(api, keys, key_ids, seeded):
    status, body = update(
        api,
        keys["operator"],
        "amount_mismatch#O1",
        {"status": "acknowledged", "note": "calling the buyer"},
    )
    assert (
        status == 200 and body["status"] == "acknowledged" and body["note"] == "calling the buyer"
    )
    assert body["updated_by"] == key_ids["operator"][0] and body["updated_at"]
    status, body = update(
        api, keys["operator"], "amount_mismatch~O1", {"status": "resolved", "note": "refunded"}
    )
    assert status == 200 and body["status"] == "resolved"
    status, body = update(api, keys["operator"], "amount_mismatch#O1", {"status": "acknowledged"})
    assert status == 409 and body["error"]["code"] == "transition_refused"
    assert [a["id"] for a in listing(api, keys["viewer"], status="resolved")[1]["items"]] == [
        "amount_mismatch~O1"
    ]
    trail = [
        r
        for r in audit.api_records(
            NOW - timedelta(hours=1), datetime.now(UTC) + timedelta(seconds=1), None, 100
        )
        if r.action == "update_anomaly"
    ]
    assert sorted((r.detail["from"], r.detail["to"]) for r in trail) == [
        ("acknowledged", "resolved"),
        ("open", "acknowledged"),
    ]
    assert all(r.target == "amount_mismatch#O1" and r.role == "operator" for r in trail)


def test_reads_are_audited_too(api, keys, seeded):
    listing(api, keys["viewer"], rule="ip_burst")
    (read,) = [
        r
        for r in audit.api_records(
            NOW - timedelta(hours=1), datetime.now(UTC) + timedelta(seconds=1), None, 100
        )
        if r.action == "list_anomalies"
    ]
    assert read.role == "viewer" and read.detail == {"rule": "ip_burst"}


@pytest.mark.parametrize(
    "body",
    [
        {"status": "open"},
        {"status": "done"},
        {},
        {"status": "resolved", "x": 1},
        {"status": "resolved", "note": "n" * 1001},
    ],
)
def test_bad_update_bodies_are_400(api, keys, seeded, body):
    status, answer = update(api, keys["operator"], "amount_mismatch#O1", body)
    assert status == 400 and answer["error"]["code"] == "validation_failed"


@pytest.mark.parametrize("anomaly_id", ["amount_mismatch#NOPE", "x" * 3000])
def test_unknown_anomaly_is_404(api, keys, seeded, anomaly_id):
    status, body = update(api, keys["operator"], anomaly_id, {"status": "resolved"})
    assert status == 404 and body["error"]["code"] == "not_found"


def test_roles(api, keys, seeded):
    assert listing(api, None)[0] == 401
    assert listing(api, SHOP_KEY)[0] == 403
    assert listing(api, ADMIN_KEY)[0] == 200
    assert update(api, keys["viewer"], "amount_mismatch#O1", {"status": "resolved"})[0] == 403
    assert update(api, SHOP_KEY, "amount_mismatch#O1", {"status": "resolved"})[0] == 403
    assert update(api, None, "amount_mismatch#O1", {"status": "resolved"})[0] == 401
    assert update(api, ADMIN_KEY, "amount_mismatch#O1", {"status": "resolved"})[0] == 200


def test_printed_ids_paste_into_urls_and_the_stored_form_still_works(api, keys, seeded):
    printed = api.call("GET", "/admin/anomalies/unknown_order~n:1", key=keys["viewer"])
    assert printed.status_code == 200 and api.json(printed)["id"] == "unknown_order~n:1"
    stored = api.call("GET", "/admin/anomalies/unknown_order%23n:1", key=keys["viewer"])
    assert stored.status_code == 200 and api.json(stored) == api.json(printed)
    missing = api.call("GET", "/admin/anomalies/unknown_order", key=keys["viewer"])
    assert missing.status_code == 404 and api.json(missing)["error"]["code"] == "not_found"
