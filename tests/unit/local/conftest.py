"""Fixtures for the simulator's tests: the published vectors, a stand-in for paytrack's
/notify endpoint, and simulators built from the committed dev config."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from moto import mock_aws
from wechatpayv3 import WeChatPay, WeChatPayType

from local import aws_process, fidelity
from local.simulator import DEFAULT_CHANNELS_FILE, GatewaySimulator, load_channels, load_sim_config
from tests.support.answering_server import AnsweringServer
from tests.unit.gateways.helpers import vectors_dir as _gateway_vectors_dir

VECTORS_DIR = _gateway_vectors_dir()
FAST = 1 / 2400  # Alipay's 4-minute first retry after 0.1 s


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return VECTORS_DIR


@pytest.fixture(scope="session")
def vector(vectors_dir):
    return lambda name: json.loads(
        (vectors_dir / f"{name}_vector.json").read_text(encoding="utf-8")
    )


@pytest.fixture(scope="session")
def channels() -> dict:
    return load_channels(DEFAULT_CHANNELS_FILE)


@pytest.fixture(scope="session")
def sim_config() -> dict:
    return load_sim_config()


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def params(self) -> dict[str, str]:
        """Alipay/epay fields, from the query string or the form body."""
        return dict(parse_qsl(self.query or self.body.decode(), keep_blank_values=True))


class Receiver:
    """Plays paytrack's /notify/{channel}: records every request, answers from a script
    (each answer once, the last one for good)."""

    def __init__(self):
        self.requests: list[Received] = []
        self.answers: list[tuple[int, str]] = [(200, "success")]
        self._lock = threading.Lock()
        self._server = AnsweringServer(
            lambda method, path, query, headers, body: self._answer(
                Received(method, path, query, headers, body)
            )
        )
        self.url = self._server.url

    def close(self) -> None:
        self._server.close()

    def _answer(self, received: Received) -> tuple[int, str]:
        with self._lock:
            self.requests.append(received)
            return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture
def make_sim(receiver, channels, sim_config):
    """Build a simulator notifying `receiver` (or `api_url`); closed after the test."""
    built = []

    def make(time_scale=FAST, api_url=None, channels_override=None, **options):
        sim = GatewaySimulator(
            api_url or receiver.url,
            channels_override or channels,
            {**sim_config, **options},
            time_scale=time_scale,
        )
        built.append(sim)
        return sim

    yield make
    for sim in built:
        sim.close()


@contextmanager
def fresh_moto(monkeypatch):
    """A new in-process moto with fake credentials, and no endpoint that could reach a running
    stack."""
    for name, value in {
        "AWS_DEFAULT_REGION": "ap-east-1",
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(name, value)
    for name in aws_process.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


@pytest.fixture
def in_process_moto(monkeypatch):
    with fresh_moto(monkeypatch):
        yield


@pytest.fixture
def patched_later(monkeypatch):
    """Whatever fidelity patches is put back after the test (other tests use plain moto)."""
    import chalice.local
    import moto.core.responses as responses
    import moto.dynamodb.models as models
    from moto import backends
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.models import ShardIterator
    from moto.sns.models import Topic
    from moto.sqs import models as sqs_models
    from moto.sqs.models import SQSBackend

    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    for owner, names in (
        (
            DynamoDBBackend,
            ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"),
        ),
        (Table, ("query", "all_items", "put_item", "delete_item")),
        (ShardIterator, ("__init__", "get")),
        (Topic, ("__init__",)),
        (ActionResult, ("execute_result",)),
        (
            SQSBackend,
            (
                "is_message_valid_based_on_retention_period",
                "receive_message",
                *fidelity._QUEUE_CHANGES,
            ),
        ),
        (models, ("copy",)),
        (sqs_models, ("unix_time", "unix_time_millis")),
        (DynamoHandler, ("call_action", "execute_statement")),
        (responses, ("method_names_from_class",)),
        (chalice.local.ThreadedHTTPServer, ("request_queue_size",)),
    ):
        for name in names:
            monkeypatch.setattr(owner, name, getattr(owner, name))
    from moto.core.common_models import BaseModel
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    monkeypatch.setattr(Item, "attrs", None, raising=False)  # moto has none: removed after
    monkeypatch.setattr(Item, "__init__", Item.__init__)
    monkeypatch.setattr(Item, "to_json", Item.to_json)
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    monkeypatch.setattr(LimitedSizeDict, "__setitem__", LimitedSizeDict.__setitem__)
    from moto.dynamodb.models.table import StreamRecord

    monkeypatch.setattr(StreamRecord, "record", None, raising=False)
    monkeypatch.setattr(StreamRecord, "__init__", StreamRecord.__init__)
    monkeypatch.setattr(ConditionExpressionParser, "parse", ConditionExpressionParser.parse)
    from moto.dynamodb.parsing import validators

    monkeypatch.setattr(validators, "deepcopy", validators.deepcopy)
    for name in ("__init__", "validate"):
        monkeypatch.setattr(validators.Validator, name, getattr(validators.Validator, name))
    import moto.dynamodb.responses as dynamodb_responses

    monkeypatch.setattr(dynamodb_responses, "dynamo_to_dict", dynamodb_responses.dynamo_to_dict)
    monkeypatch.setattr(dynamodb_responses, "copy", dynamodb_responses.copy)
    for owner, name in (
        (UpdateExpressionParser, "make"),
        (DepthFirstTraverser, "traverse"),
        (Node, "find_clauses"),
        (BaseModel, "__new__"),
        (responses.BaseResponse, "_enrich_response"),
    ):
        monkeypatch.setattr(
            owner, name, owner.__dict__[name]
        )  # the descriptor: make is a classmethod, __new__ a staticmethod
    return fidelity.like_aws


def wechatpay_sdk(config: dict) -> WeChatPay:
    """The wechatpayv3 SDK as the merchant of a simulated WeChat channel, calling the simulator:
    the independent oracle of its signing and answers."""
    sdk = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=config["mchid"],
        private_key=config["merchant_private_key"],
        cert_serial_no=config["merchant_serial_no"],
        appid=config["appid"],
        apiv3_key=config["apiv3_key"],
        public_key=config["platform_public_key"],
        public_key_id=config["platform_public_key_id"],
    )
    sdk._core._gate_way = config["api_base"].rstrip("/")
    return sdk


@pytest.fixture
def aws_env(monkeypatch):
    """Credentials and a region for in-process moto, and no endpoint that would send boto3 to a
    server instead."""
    for name, value in {
        "AWS_DEFAULT_REGION": "ap-east-1",
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(name, value)
    for name in aws_process.ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
