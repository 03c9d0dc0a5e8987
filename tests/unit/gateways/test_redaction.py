"""Redaction by field name, whatever the gateway or the event type: the stored notice and the
notify audit never keep a secret-named value (issue 10, defect 9)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.gateways._signing import REDACTED, is_secret_name, redact_text
from chalicelib.gateways.registry import get_gateway


@pytest.mark.parametrize(
    "name",
    [
        "client_secret",
        "webhook_secret",
        "api_key",
        "apiv3_key",
        "key",
        "access_token",
        "clientSecret",
        "X-Api-Key",
        "password",
        "app_private_key",
        "card_cvc",
        "apikey",
    ],
)
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "sign",
        "trade_no",
        "amount",
        "keys_count",
        "secretary",
        "token_type",
        "monkey",
        "notify_id",
        "",
        "_",
    ],
)
def test_ordinary_names(name):
    assert not is_secret_name(name)


@pytest.mark.parametrize("gateway", ["alipay", "wechatpay", "epay", "stripe"])
def test_every_gateway_masks_secret_named_fields_at_any_depth(gateway):
    payload = {
        "trade_no": "T1",
        "data": {"object": {"client_secret": "pi_1_secret_x", "items": [{"access_token": "tok"}]}},
        "key": "md5key",
    }
    redacted = get_gateway(gateway).redact(payload)
    assert redacted == {
        "trade_no": "T1",
        "data": {"object": {"client_secret": REDACTED, "items": [{"access_token": REDACTED}]}},
        "key": REDACTED,
    }


def test_redact_text_masks_json_values_and_keeps_every_other_byte():
    body = '{"id": "evt_1", "type": "payment_intent.created",\n "data": {"object": {"client_secret" : "pi_1_secret_\\"x"}}}'
    masked = redact_text(body)
    assert masked == body.replace('"pi_1_secret_\\"x"', '"***"')
    assert json.loads(masked)["data"]["object"]["client_secret"] == REDACTED


def test_redact_text_masks_a_secret_cut_short_by_the_audit_limit():
    assert (
        redact_text('{"object": {"client_secret": "pi_1_secret_abcd')
        == '{"object": {"client_secret": "***"'
    )


def test_redact_text_masks_form_and_query_values():
    text = "?pid=1001&key=abc%26def&money=1.00\nsign=xyz&api%5Fkey=sk_live_1"
    assert redact_text(text) == "?pid=1001&key=***&money=1.00\nsign=xyz&api%5Fkey=***"


@given(
    st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=20), max_size=6),
    st.sampled_from(["client_secret", "api_key", "access_token"]),
    st.text(min_size=8, max_size=20, alphabet="abcdefghij0123456789"),
)
def test_no_secret_value_survives_redact_text(fields, name, secret):
    body = json.dumps({**fields, name: "S" + secret}, ensure_ascii=False)
    assert "S" + secret not in redact_text(body)
