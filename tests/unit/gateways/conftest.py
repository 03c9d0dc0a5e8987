"""Fixtures for gateway unit tests: the vectors in tests/fixtures/vectors and the channel configs
that match them."""

from __future__ import annotations

import pytest

from .helpers import read_pem, read_vector, vectors_dir


@pytest.fixture(scope="session", autouse=True)
def _vectors_present() -> None:
    if not (vectors_dir() / "ali_vector.json").is_file():
        pytest.fail(f"gateway vectors not found in {vectors_dir()}")


@pytest.fixture(scope="session")
def ali_vector() -> dict:
    return read_vector("ali_vector.json")


@pytest.fixture(scope="session")
def wx_vector() -> dict:
    return read_vector("wx_vector.json")


@pytest.fixture(scope="session")
def epay_vector() -> dict:
    return read_vector("epay_vector.json")


@pytest.fixture(scope="session")
def stripe_vector() -> dict:
    return read_vector("stripe_vector.json")


@pytest.fixture
def ali_config(ali_vector) -> dict:
    return {
        "type": "alipay",
        "app_id": ali_vector["params"]["app_id"],
        "seller_id": ali_vector["params"]["seller_id"],
        "app_private_key": read_pem("ali_app_key.pem"),
        "alipay_public_key": read_pem("ali_platform_pub.pem"),
        "gateway_url": "https://openapi.alipay.example/gateway.do",
    }


@pytest.fixture
def wx_config(wx_vector) -> dict:
    return {
        "type": "wechatpay",
        "mchid": wx_vector["plain"]["mchid"],
        "appid": wx_vector["plain"]["appid"],
        "apiv3_key": wx_vector["apiv3_key"],
        "platform_public_key": read_pem("wx_platform_pub.pem"),
        "platform_public_key_id": wx_vector["headers"]["Wechatpay-Serial"],
        "merchant_private_key": read_pem("wx_merchant_key.pem"),
        "merchant_serial_no": "3775B6A45ACD588826D15E583A95F5DD12345678",
        "api_base": "https://api.mch.weixin.example",
    }


@pytest.fixture
def epay_config(epay_vector) -> dict:
    return {
        "type": "epay",
        "pid": epay_vector["params"]["pid"],
        "key": epay_vector["key"],
        "api_base": "https://epay.example",
    }


@pytest.fixture
def stripe_config(stripe_vector) -> dict:
    return {
        "type": "stripe",
        "webhook_secret": stripe_vector["secret"],
        "api_key": "sk_test_dummy",
        "api_base": "https://api.stripe.example",
    }
