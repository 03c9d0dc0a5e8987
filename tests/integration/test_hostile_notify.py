"""Hostile input on /notify/{channel}, for every gateway (hypothesis): arbitrary bytes and content
types, signed notices altered in transit, validly signed notices carrying amounts of every shape,
repeated parameters. Whatever arrives: no 5xx, the gateway's own failure answer, no change to
orders or notices from a notice that is invalid, and one notify audit record per refusal. A
validly signed amount is either refused the same way or booked exactly as written (never
rounded, never negative or zero)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.clock import day_of, to_iso, utcnow
from chalicelib.store import orders as order_store
from chalicelib.store.models import AuditModel, NoticeModel
from tests.integration.conftest import Api, chalice_client, provisioned_aws
from tests.support import moto_state
from tests.support import notifications as wires

CHANNEL = {
    "alipay": "alipay-main",
    "wechat": "wxpay-main",
    "epay": "epay-main",
    "stripe": "stripe-main",
}
GATEWAYS = list(CHANNEL)
PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=gbk",
    "application/json",
    "text/plain",
    "application/octet-stream",
    "multipart/form-data; boundary=x",
]
#: what a gateway's money field may legitimately hold: digits, one optional point, at most 2
#: decimals, at most 12 integer digits, no sign, no leading zeros (domain/money.py)
CANONICAL = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?", re.ASCII)
MAX_MINOR = 10**14 - 1


class HostileApi(Api):
    """The module's app, and `fresh()`: moto put back as provisioned, so each example counts
    notices and audits in tables holding only its own (the notify audits share one partition
    per day: counting them in a module's thousands cost most of this file's time)."""

    def __init__(self, client, fresh: Callable[[], None]):
        super().__init__(client)
        self.fresh = fresh


@pytest.fixture(scope="module")
def api():
    with provisioned_aws(), chalice_client() as client:
        yield HostileApi(client, moto_state.checkpoint())


@dataclass(frozen=True)
class Snapshot:
    """Before a request: how many notices exist, and from when on audit records are new."""

    notices: int
    since: str

    @classmethod
    def take(cls) -> Snapshot:
        return cls(NoticeModel.count(), to_iso(utcnow()))

    def audits_after(self) -> int:
        days = {self.since[:10], day_of(utcnow())}
        return sum(AuditModel.count(f"notify#{day}", AuditModel.sk >= self.since) for day in days)


def is_failure_answer(gateway: str, response) -> bool:
    """The gateway's own refusal: Alipay/epay 200 `fail`, WeChat 4xx {"code": "FAIL"}, Stripe 4xx."""
    if gateway in ("alipay", "epay"):
        return response.status_code == 200 and response.body == b"fail"
    if not 400 <= response.status_code < 500:
        return False
    body = json.loads(response.body)
    return body.get("code") == "FAIL" if gateway == "wechat" else isinstance(body.get("error"), str)


def is_success(gateway: str, response) -> bool:
    if gateway in ("alipay", "epay"):
        return response.status_code == 200 and response.body == b"success"
    return 200 <= response.status_code < 300


def assert_refused_and_audited(gateway: str, response, before: Snapshot, detail) -> None:
    assert response.status_code < 500, (detail, response.status_code, response.body[:300])
    assert is_failure_answer(gateway, response), (detail, response.status_code, response.body[:300])
    assert NoticeModel.count() == before.notices, f"{detail!r} stored a notice"
    audits = before.audits_after()
    assert audits == 1, f"{detail!r}: {audits} audit records for one refusal"


def register(api, gateway: str) -> str:
    response = api.register(channel=CHANNEL[gateway], currency="CNY")
    assert response.status_code == 201, response.body
    return api.json(response)["order_no"]


def post(api, gateway: str, body: bytes, headers: dict[str, str], query: str = ""):
    path = f"/notify/{CHANNEL[gateway]}" + (f"?{query}" if query else "")
    return api.client.http.request("POST", path, headers=headers, body=body)


# ------------------------------------------------------------------ unsigned and arbitrary bytes


@pytest.mark.parametrize("gateway", GATEWAYS)
@PROPERTY
@given(
    body=st.one_of(
        st.binary(max_size=3000),
        st.text(max_size=500).map(lambda t: t.encode("utf-8")),
        st.text(max_size=200).map(lambda t: t.encode("utf-16")),
        st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=12).map(
            lambda d: urlencode(d).encode()
        ),
    ),
    content_type=st.sampled_from(CONTENT_TYPES),
    extra=st.dictionaries(
        st.sampled_from(
            [
                "Wechatpay-Signature",
                "Wechatpay-Timestamp",
                "Wechatpay-Serial",
                "Stripe-Signature",
                "Content-Encoding",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
        max_size=3,
    ),
)
def test_arbitrary_bytes_are_refused_audited_and_change_nothing(
    api, gateway, body, content_type, extra
):
    api.fresh()
    before = Snapshot.take()
    response = post(api, gateway, body, {"Content-Type": content_type, **extra})
    assert_refused_and_audited(gateway, response, before, body[:80])


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_an_oversized_body_is_refused_audited_and_changes_nothing(api, gateway):
    before = Snapshot.take()
    response = post(
        api, gateway, b"a=" + b"9" * 70_000, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_refused_and_audited(gateway, response, before, "70 kB")


@PROPERTY
@given(
    query=st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(lambda b: "".join(f"%{c:02X}" for c in b)),
        st.lists(st.tuples(st.text(max_size=12), st.text(max_size=30)), max_size=12).map(urlencode),
    )
)
def test_arbitrary_epay_query_strings_are_refused(api, query):
    api.fresh()
    before = Snapshot.take()
    response = api.client.http.request("GET", f"/notify/epay-main?{query}", headers={}, body=b"")
    assert_refused_and_audited("epay", response, before, query[:80])


# ------------------------------------------------------------------ signed, then altered in transit


def _form_fields(wire) -> list[tuple[str, str]]:
    return parse_qsl(wire.query or wire.body.decode(), keep_blank_values=True)


@pytest.mark.parametrize("gateway", ["alipay", "epay"])
@PROPERTY
@given(data=st.data())
def test_a_form_notice_with_a_field_changed_after_signing_changes_nothing(api, gateway, data):
    api.fresh()
    order_no = register(api, gateway)
    wire = (wires.alipay if gateway == "alipay" else wires.epay)(order_no, "58.00")
    fields = _form_fields(wire)
    signed = [i for i, (name, _) in enumerate(fields) if name not in ("sign", "sign_type")]
    index = data.draw(st.sampled_from(signed))
    name, value = fields[index]
    fields[index] = (name, data.draw(st.text(max_size=40).filter(lambda v: v != value)))
    before = Snapshot.take()
    if gateway == "epay":
        response = api.client.http.request(
            "GET", f"/notify/epay-main?{urlencode(fields)}", headers={}, body=b""
        )
    else:
        response = post(api, gateway, urlencode(fields).encode(), wire.headers)
    assert_refused_and_audited(gateway, response, before, (name, fields[index][1]))
    assert order_store.get(order_no).pay_status.value == "pending"


@pytest.mark.parametrize("gateway", ["wechat", "stripe"])
@PROPERTY
@given(data=st.data())
def test_a_json_notice_with_a_byte_changed_after_signing_changes_nothing(api, gateway, data):
    api.fresh()
    order_no = register(api, gateway)
    wire = (
        wires.wechat(order_no, 5800) if gateway == "wechat" else wires.stripe(order_no, 5800, "cny")
    )
    position = data.draw(st.integers(0, len(wire.body) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != wire.body[position]))
    body = wire.body[:position] + bytes([byte]) + wire.body[position + 1 :]
    before = Snapshot.take()
    response = post(api, gateway, body, wire.signed_now())
    assert_refused_and_audited(gateway, response, before, (position, byte))
    assert order_store.get(order_no).pay_status.value == "pending"


# ------------------------------------------------------------------ validly signed amounts of every shape

TEXT_AMOUNTS = st.one_of(
    st.sampled_from(
        [
            "58.00",
            "58",
            "58.5",
            "0.01",
            "999999999999.99",
            "-1.00",
            "0",
            "0.00",
            "-0.00",
            "58.001",
            "5.000000000000000000000000000001",
            "1_000.00",
            "1e2",
            "5.8E1",
            "NaN",
            "Infinity",
            "-Infinity",
            "５８.００",
            "٥٨.٠٠",
            "58.00 ",
            " 58.00",
            "+58.00",
            "058.00",
            "58.",
            ".58",
            "0x3A",
            "",
            "1000000000000.00",
            "9" * 400,
            "58,00",
            "58.00\x00",
        ]
    ),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(repr),
    st.from_regex(r"-?[0-9]{1,16}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
    st.text(alphabet="0123456789.-+e٣²５", max_size=14),
)


def _booked_exactly(order_no: str, text: str) -> None:
    order = order_store.get(order_no)
    assert order.pay_status.value == "paid" and order.paid_amount.minor == int(
        Decimal(text) * 100
    ), (text, order.paid_amount)
    assert order.on_hold == (Decimal(text) != Decimal("58.00")), (text, order.hold_reasons)


@pytest.mark.parametrize("gateway", ["alipay", "epay"])
@PROPERTY
@given(text=TEXT_AMOUNTS)
def test_signed_text_amounts_are_booked_exactly_or_refused(api, gateway, text):
    api.fresh()
    order_no = register(api, gateway)
    wire = (wires.alipay if gateway == "alipay" else wires.epay)(order_no, text)
    before = Snapshot.take()
    response = api.send(wire)
    valid = CANONICAL.fullmatch(text) is not None and Decimal(text) > 0
    if valid:
        assert is_success(gateway, response), (text, response.body)
        _booked_exactly(order_no, text)
    else:
        assert_refused_and_audited(gateway, response, before, text)
        assert order_store.get(order_no).pay_status.value == "pending"


JSON_AMOUNTS = st.one_of(
    st.sampled_from(
        [
            5800,
            1,
            MAX_MINOR,
            MAX_MINOR + 1,
            0,
            -1,
            -5800,
            10**400,
            58.0,
            5800.0,
            5800.5,
            True,
            False,
            None,
            "5800",
            "",
            [5800],
            {"total": 5800},
        ]
    ),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)


def _signed_json_wire(gateway: str, order_no: str, amount):
    if gateway == "wechat":
        return wires.wechat(order_no, amount)
    return wires.stripe(order_no, amount, "cny")


@pytest.mark.parametrize("gateway", ["wechat", "stripe"])
@PROPERTY
@given(amount=JSON_AMOUNTS)
def test_signed_json_amounts_are_booked_exactly_or_refused(api, gateway, amount):
    api.fresh()
    order_no = register(api, gateway)
    wire = _signed_json_wire(gateway, order_no, amount)
    before = Snapshot.take()
    response = api.send(wire)
    valid = type(amount) is int and 0 < amount <= MAX_MINOR
    if valid:
        assert is_success(gateway, response), (amount, response.body)
        _booked_exactly(order_no, str(Decimal(amount) / 100))
    else:
        assert_refused_and_audited(gateway, response, before, amount)
        assert order_store.get(order_no).pay_status.value == "pending"


# ------------------------------------------------------------------ repeated parameters


@PROPERTY
@given(data=st.data(), method=st.sampled_from(["GET", "POST"]))
def test_a_repeated_epay_parameter_is_refused_and_audited_raw(api, data, method):
    api.fresh()
    order_no = register(api, "epay")
    fields = _form_fields(wires.epay(order_no, "58.00"))
    name, value = data.draw(st.sampled_from(fields))
    repeated = data.draw(st.sampled_from([value, "0.01", "", "x"]))
    at = data.draw(st.integers(0, len(fields)))
    raw = urlencode([*fields[:at], (name, repeated), *fields[at:]])
    before = Snapshot.take()
    if method == "GET":
        response = api.client.http.request("GET", f"/notify/epay-main?{raw}", headers={}, body=b"")
    else:
        response = post(
            api, "epay", raw.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        )
    assert_refused_and_audited("epay", response, before, raw)
    assert order_store.get(order_no).pay_status.value == "pending"
    [record] = AuditModel.query(f"notify#{day_of(utcnow())}", AuditModel.sk >= before.since)
    kept = record.payload.split("\n", 1)[0].lstrip("?") if method == "GET" else record.payload
    assert sorted(parse_qsl(kept, keep_blank_values=True)) == sorted(
        parse_qsl(raw, keep_blank_values=True)
    ), "the audit keeps every value of the query as received"
