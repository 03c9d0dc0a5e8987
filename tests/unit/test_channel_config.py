"""The channels document validator: every kind of problem is reported, naming the channel and the
field, never a value; a valid document (the committed dev one, a certificate-mode channel) passes;
no input, however hostile, makes it raise."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.services.channel_config import validate_channel, validate_channels_document
from tests.support.certs import alipay_certs

DEV_FILE = Path(__file__).resolve().parents[2] / "local" / "channels.dev.json"


@lru_cache(maxsize=1)
def _dev() -> dict:
    return json.loads(DEV_FILE.read_text(encoding="utf-8"))


def dev() -> dict:
    return copy.deepcopy(_dev())


def https(doc: dict) -> dict:
    """The document with its simulator URLs turned into https ones, as a deployed stage has."""
    for config in doc.values():
        for field in ("gateway_url", "api_base"):
            if field in config:
                config[field] = config[field].replace(
                    "http://127.0.0.1:9000", "https://gw.example.com"
                )
    return doc


def _public(pem: str):
    return serialization.load_pem_private_key(pem.encode(), None).public_key()


@lru_cache(maxsize=1)
def _cert_channel() -> dict:
    ali = _dev()["alipay-main"]
    certs = alipay_certs(_public(ali["app_private_key"]), _public(ali["app_private_key"]))
    config = {k: v for k, v in ali.items() if k != "alipay_public_key"}
    return {**config, **certs.config(), "gateway_url": "https://openapi.alipay.com/gateway.do"}


def cert_channel(**changes) -> dict:
    return {**_cert_channel(), **changes}


def problems_of(channel_id: str, config: dict, **kwargs) -> list[str]:
    return validate_channels_document({channel_id: config}, **kwargs)


def one_problem(channel_id: str, config: dict, **kwargs) -> str:
    found = problems_of(channel_id, config, **kwargs)
    assert len(found) == 1, found
    assert found[0].startswith(f"{channel_id}: "), found
    return found[0]


# --- what passes ---------------------------------------------------------------------------------


def test_the_dev_document_passes_where_http_to_the_simulator_is_allowed():
    assert validate_channels_document(dev(), allow_http=True) == []


def test_https_channels_pass_without_allow_http():
    assert validate_channels_document(https(dev())) == []


def test_a_certificate_mode_channel_passes():
    assert problems_of("ali-cert", cert_channel()) == []


def test_optional_fields_of_the_right_kind_pass():
    doc = https(dev())
    doc["stripe-main"].update(
        name="Stripe·主账户",
        currencies=["USD", "eur"],
        simulated=False,
        webhook_secret=["whsec_old", "whsec_new"],
    )
    doc["alipay-main"].update(allow_rsa1=True, seller_id=2088000000000001)
    assert validate_channels_document(doc) == []


# --- each kind of problem names the channel and the field ----------------------------------------


def test_unknown_type():
    config = {**dev()["alipay-main"], "type": "alipy"}
    assert "type 'alipy' is not one of alipay, epay, stripe, wechatpay" in one_problem(
        "ali-acc", config, allow_http=True
    )


def test_missing_type():
    assert "type None" in one_problem("x1", {"app_id": "1"})


@pytest.mark.parametrize(
    "channel, field",
    [
        ("alipay-main", "app_id"),
        ("alipay-main", "app_private_key"),
        ("alipay-main", "gateway_url"),
        ("wxpay-main", "mchid"),
        ("wxpay-main", "apiv3_key"),
        ("wxpay-main", "platform_public_key_id"),
        ("wxpay-main", "merchant_serial_no"),
        ("wxpay-main", "api_base"),
        ("epay-main", "pid"),
        ("epay-main", "key"),
        ("stripe-main", "webhook_secret"),
        ("stripe-main", "api_key"),
    ],
)
def test_a_required_field_missing_or_empty(channel, field):
    for config in (
        {k: v for k, v in dev()[channel].items() if k != field},
        {**dev()[channel], field: ""},
    ):
        problem = one_problem(channel, config, allow_http=True)
        assert f"{field} is missing" in problem


def test_alipay_needs_a_public_key_or_the_three_certificates():
    config = {k: v for k, v in dev()["alipay-main"].items() if k != "alipay_public_key"}
    assert "alipay_public_key is missing" in one_problem("ali", config, allow_http=True)
    partial = {k: v for k, v in cert_channel().items() if k != "alipay_root_cert"}
    assert "alipay_root_cert is missing (certificate mode" in one_problem("ali", partial)


def test_alipay_with_both_modes_is_ambiguous():
    both = cert_channel(alipay_public_key=dev()["alipay-main"]["alipay_public_key"])
    assert "holds both alipay_public_key and app_cert" in one_problem("ali", both)


@pytest.mark.parametrize(
    "channel, field",
    [
        ("alipay-main", "app_private_key"),
        ("alipay-main", "alipay_public_key"),
        ("wxpay-main", "merchant_private_key"),
        ("wxpay-main", "platform_public_key"),
    ],
)
def test_a_pem_that_does_not_parse(channel, field):
    broken = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"
    problem = one_problem(channel, {**dev()[channel], field: broken}, allow_http=True)
    assert problem.startswith(f"{channel}: {field} is not an RSA")
    assert "bm90IGEga2V5" not in problem


def test_a_private_key_where_a_public_one_belongs_is_refused():
    private = dev()["alipay-main"]["app_private_key"]
    assert "alipay_public_key is not an RSA public key" in one_problem(
        "ali", {**dev()["alipay-main"], "alipay_public_key": private}, allow_http=True
    )


def test_certificates_that_do_not_parse():
    assert "app_cert is not an RSA public key or certificate" in one_problem(
        "ali", cert_channel(app_cert="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
    )
    assert "alipay_root_cert holds no RSA root certificate" in one_problem(
        "ali", cert_channel(alipay_root_cert="not a certificate")
    )


def test_a_private_key_that_is_not_the_half_of_the_app_certificate():
    other = dev()["wxpay-main"]["merchant_private_key"]
    problem = one_problem("ali-acc", cert_channel(app_private_key=other))
    assert problem == "ali-acc: app_private_key is not the private half of the key in app_cert"


@pytest.mark.parametrize(
    "url",
    [
        "http://gw.example.com/gateway.do",
        "ftp://gw.example.com/",
        "gw.example.com/gateway.do",
        "https://",
        42,
    ],
)
def test_urls_must_be_https(url):
    problem = one_problem("epay-main", {**dev()["epay-main"], "api_base": url})
    assert problem == "epay-main: api_base must be an https:// URL"


def test_allow_http_admits_plain_http_only_to_loopback():
    config = dev()["alipay-main"]
    assert problems_of("ali", config, allow_http=True) == []
    assert (
        problems_of(
            "ali",
            {**config, "gateway_url": "http://localhost:9000/alipay/gateway.do"},
            allow_http=True,
        )
        == []
    )
    problem = one_problem(
        "ali", {**config, "gateway_url": "http://10.0.0.8/gateway.do"}, allow_http=True
    )
    assert "gateway_url must be an https:// URL (plain http only to a local simulator" in problem
    assert "gateway_url must be an https:// URL" in one_problem("ali", config)


@pytest.mark.parametrize(
    "rate", [0.006, "0.6%", "1", "0.2", "0.25", "0.0000001", "-0.01", ".006", None]
)
def test_fee_rate_must_be_a_decimal_string_below_a_fifth(rate):
    problem = one_problem("epay-main", {**dev()["epay-main"], "fee_rate": rate}, allow_http=True)
    assert problem.startswith("epay-main: fee_rate must be")


@pytest.mark.parametrize("rate", ["0.006", "0.02", "0.199999", "0.0"])
def test_a_fee_rate_in_shape_passes_and_reads_exactly(rate):
    from decimal import Decimal

    from chalicelib.services.channel_config import fee_rate

    config = {**dev()["epay-main"], "fee_rate": rate}
    assert validate_channel("epay-main", config, allow_http=True) == []
    assert fee_rate(config) == Decimal(rate) and fee_rate(dev()["epay-main"]) is None


@pytest.mark.parametrize("currencies", [[], "CNY", ["CN"], ["CNY", 1], ["CNY", "cny"], None])
def test_currencies_must_be_a_list_of_distinct_iso_codes(currencies):
    problem = one_problem(
        "stripe-main", {**dev()["stripe-main"], "currencies": currencies}, allow_http=True
    )
    assert problem.startswith("stripe-main: currencies ")


def test_apiv3_key_is_32_ascii_characters():
    problem = one_problem(
        "wxpay-main", {**dev()["wxpay-main"], "apiv3_key": "short"}, allow_http=True
    )
    assert problem == "wxpay-main: apiv3_key must be the 32 ASCII characters of the APIv3 key"


def test_webhook_secret_string_or_list_of_strings():
    problem = one_problem(
        "stripe-main", {**dev()["stripe-main"], "webhook_secret": ["whsec_a", 3]}, allow_http=True
    )
    assert "webhook_secret must be a string, or a list of strings" in problem


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("simulated", "yes", "simulated must be true or false"),
        ("allow_rsa1", 1, "allow_rsa1 must be true or false"),
        ("name", "  ", "name must be a non-empty string"),
        ("app_id", {"id": 1}, "app_id must be a string"),
        ("seller_id", ["2088"], "seller_id must be a string"),
    ],
)
def test_fields_of_the_wrong_kind(field, value, expected):
    assert expected in one_problem("ali", {**dev()["alipay-main"], field: value}, allow_http=True)


def test_cross_border_is_a_wechatpay_flag():
    wechat = {**dev()["wxpay-main"], "cross_border": True}
    assert validate_channel("wx-global", wechat, allow_http=True) == []
    assert one_problem("wx", {**wechat, "cross_border": "yes"}, allow_http=True) == (
        "wx: cross_border must be true or false"
    )
    problem = one_problem("ali", {**dev()["alipay-main"], "cross_border": True}, allow_http=True)
    assert problem.startswith("ali: cross_border applies to wechatpay channels only")


def test_a_channel_id_must_fit_in_the_notify_url():
    found = validate_channels_document({"ali main/1": dev()["alipay-main"]}, allow_http=True)
    assert found == [
        "'ali main/1': a channel id is 1-64 letters, digits, '-', '_' or '.' (it is part of the notify URL)"
    ]


def test_every_channel_is_reported_not_just_the_first():
    doc = dev()
    doc["epay-main"]["type"] = "yipay"
    del doc["stripe-main"]["api_key"]
    found = validate_channels_document(doc, allow_http=True)
    assert [p.split(":")[0] for p in found] == ["epay-main", "stripe-main"]


def test_the_document_itself():
    assert validate_channels_document([]) == [
        'the channels document must be a JSON object: {"<channel id>": {"type": …}}'
    ]
    assert validate_channels_document({}) == ["the channels document holds no channel"]
    assert validate_channel("x", "text") == ["x: must be a JSON object"]


# --- hostile input -------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "type",
        "app_id",
        "app_private_key",
        "alipay_public_key",
        "gateway_url",
        "api_base",
        "app_cert",
        "alipay_cert",
        "alipay_root_cert",
        "currencies",
        "webhook_secret",
        "apiv3_key",
        "simulated",
        "name",
        "pid",
        "key",
    ]
)
TYPES = st.sampled_from(["alipay", "wechatpay", "epay", "stripe"])


@settings(max_examples=200, deadline=None)
@given(
    doc=st.dictionaries(
        st.text(max_size=10),
        st.one_of(JSON, st.dictionaries(FIELDS, JSON | TYPES, max_size=8)),
        max_size=3,
    )
    | JSON
)
def test_any_document_gives_a_list_of_problems_and_never_raises(doc):
    found = validate_channels_document(doc)
    assert isinstance(found, list) and all(isinstance(p, str) for p in found)
    for cid, cfg in doc.items() if isinstance(doc, dict) else ():
        assert all(p.startswith((f"{cid}: ", f"{cid!r}: ")) for p in validate_channel(cid, cfg))
