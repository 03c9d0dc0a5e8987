"""Integration fixtures: the whole stage provisioned on in-process moto, the Chalice app behind
chalice.test.Client, bootstrap keys, and helpers to send notifications and read stream records."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from tests.conftest import REPO
from tests.support import moto_state

ADMIN_KEY = "pt_admin_test_key_0000000000000000000000"
SHOP_KEY = "pt_shop_test_key_00000000000000000000000"


@contextmanager
def provisioned_aws():
    """A fresh in-process moto with the whole stage provisioned and the bootstrap keys
    (provisioned once per process, restored from its copy after that: tests/support/moto_state).
    A cancelled TransactWriteItems puts back the items it named, as on the local stack: moto's
    own rollback swaps in a copy of each table, whose stream the stream readers never see.
    The PartiQL SELECT the app sends (an index's keys IN a list) is answered as DynamoDB does:
    moto's own PartiQL has no IN (local/fidelity.partiql_selects_by_partition_keys)."""
    from chalicelib.platform.aws import reset_clients
    from chalicelib.services import channels, reply_tokens
    from local.fidelity import partiql_selects_by_partition_keys, transactions_back_up_their_items

    transactions_back_up_their_items()
    partiql_selects_by_partition_keys()

    def provision_stage() -> None:
        from local.bootstrap import bootstrap_keys, provision

        provision()
        bootstrap_keys(ADMIN_KEY, SHOP_KEY)

    reset_clients()
    with moto_state.provisioned(provision_stage):
        channels.forget()
        reply_tokens.forget()
        yield
        reset_clients()
        channels.forget()


@contextmanager
def chalice_client():
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="local", project_dir=str(REPO)) as client:
        yield client


@pytest.fixture
def aws():
    with provisioned_aws():
        yield


@pytest.fixture
def app_client(aws):
    with chalice_client() as client:
        yield client


class Api:
    """Thin helpers over chalice.test.Client with the bootstrap keys."""

    def __init__(self, client):
        self.client = client

    def call(self, method: str, path: str, body=None, key: str | None = SHOP_KEY, headers=None):
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        payload = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
        response = self.client.http.request(method, path, headers=all_headers, body=payload or b"")
        return response

    def json(self, response):
        return json.loads(response.body)

    def register(self, **fields):
        body = {
            "product_id": "vip-month",
            "product_name": "VIP会员 月卡",
            "quantity": 1,
            "amount": "58.00",
            "currency": "CNY",
            "channel": "alipay-main",
            "buyer_email": "buyer@qq.com",
            "buyer_ip": "1.2.3.4",
            "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
            "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        }
        body.update(fields)
        return self.call("POST", "/orders", body)

    def send(self, wire):
        return self.client.http.request(
            wire.method, wire.path, headers=wire.headers, body=wire.body
        )


@pytest.fixture
def api(app_client):
    return Api(app_client)


@pytest.fixture
def declare_currencies(aws):
    """Set a channel's `currencies` in the stage's channels secret, as an operator would."""
    from chalicelib.platform.aws import client
    from chalicelib.platform.settings import get_settings
    from chalicelib.services import channels

    def declare(channel_id: str, currencies: list[str]) -> None:
        secret_id = get_settings().channels_secret_id
        config = json.loads(
            client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        )
        config[channel_id]["currencies"] = currencies
        client("secretsmanager").put_secret_value(
            SecretId=secret_id, SecretString=json.dumps(config)
        )
        channels.forget()

    return declare


@pytest.fixture
def clock():
    """The services' clock for the test (tests/support/clock.py): the system's time until the
    test moves it, to age orders, refunds and verifications."""
    from tests.support.clock import FakeClock, wired

    with wired(FakeClock()) as fake:
        yield fake


@pytest.fixture(scope="session")
def made(tmp_path_factory):
    """The deploy recipe run once for test_deploy.py and test_infra.py (tests/support/packaging):
    `make package STAGE=prod` and `make deploy STAGE=dev …`, by target."""
    from tests.support.packaging import run_recipe

    return run_recipe(tmp_path_factory.mktemp("recipe"))
