"""The embedded AWS as two processes (local/aws_process.py): DynamoDB and its streams in one,
every other service in the other on the public port, which passes DynamoDB's requests on; the
stack's clients sent straight to the DynamoDB process; both gone when their parent is."""

from __future__ import annotations

import http.server
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
from botocore.exceptions import ClientError

from chalicelib.platform import aws as platform_aws
from chalicelib.store.models import OrderModel  # its settings read before the stack's are set
from local import aws_process
from local.stack import _point_aws_at
from tests.conftest import REPO
from tests.support.server_clients import client_of


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def aws():
    running = aws_process.start(_free_port())
    yield running
    running.stop()


def _make_table(dynamodb, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )


def test_the_public_endpoint_and_the_dynamodb_endpoint_serve_the_same_tables(aws):
    public, direct = (
        client_of("dynamodb", aws.endpoint),
        client_of("dynamodb", aws.dynamodb_endpoint),
    )
    assert aws.endpoint != aws.dynamodb_endpoint
    _make_table(public, "shared")
    direct.put_item(TableName="shared", Item={"k": {"S": "direct"}, "n": {"N": "1"}})
    public.update_item(
        TableName="shared",
        Key={"k": {"S": "direct"}},
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )

    assert direct.get_item(TableName="shared", Key={"k": {"S": "direct"}})["Item"]["n"] == {
        "N": "2"
    }
    with pytest.raises(ClientError) as refused:  # an error's status and body come back as sent
        public.put_item(
            TableName="shared",
            Item={"k": {"S": "direct"}},
            ConditionExpression="attribute_not_exists(k)",
        )
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    streams = client_of("dynamodbstreams", aws.endpoint)
    (stream,) = [s for s in streams.list_streams()["Streams"] if s["TableName"] == "shared"]
    shard = streams.describe_stream(StreamArn=stream["StreamArn"])["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=stream["StreamArn"], ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]


def test_sns_and_sqs_answer_on_the_public_endpoint(aws):
    sns, sqs = client_of("sns", aws.endpoint), client_of("sqs", aws.endpoint)
    topic = sns.create_topic(Name="events")["TopicArn"]
    queue = sqs.create_queue(QueueName="listener")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    sns.publish(TopicArn=topic, Message="order.paid")

    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in messages] and '"order.paid"' in messages[0]["Body"]


def test_the_public_endpoint_answers_both_processes_counts_added_up(aws):
    public_dynamodb = client_of("dynamodb", aws.endpoint)
    _make_table(public_dynamodb, "counted")
    for _ in range(3):
        client_of("dynamodb", aws.dynamodb_endpoint).get_item(
            TableName="counted", Key={"k": {"S": "x"}}
        )
    public_dynamodb.get_item(TableName="counted", Key={"k": {"S": "x"}})
    client_of("sqs", aws.endpoint).create_queue(QueueName="counted")

    merged = requests.get(f"{aws.endpoint}{aws_process.COUNTS_PATH}", timeout=10).json()
    dynamodbs = requests.get(f"{aws.dynamodb_endpoint}{aws_process.COUNTS_PATH}", timeout=10).json()
    assert dynamodbs["GetItem counted"] == 4  # the forwarded one counted once, where answered
    assert merged["GetItem counted"] == 4
    assert merged["CreateTable counted"] == 1
    assert merged["CreateQueue"] >= 1 and "CreateQueue" not in dynamodbs
    assert all(merged[name] == count for name, count in dynamodbs.items())


def test_both_processes_keep_dozens_of_idle_connections_open(aws):
    """The stack's request threads each hold a pooled connection; cheroot closed all but 10
    idle ones after their answer, so most calls paid a new TCP connection."""
    import http.client
    from urllib.parse import urlsplit

    for endpoint in (aws.endpoint, aws.dynamodb_endpoint):
        where = urlsplit(endpoint)
        held = [
            http.client.HTTPConnection(where.hostname, where.port, timeout=10) for _ in range(40)
        ]
        try:
            first_ports = []
            for round_ in range(2):
                for connection in held:
                    connection.request(
                        "POST",
                        "/",
                        body=b"{}",
                        headers={
                            "X-Amz-Target": "DynamoDB_20120810.ListTables",
                            "Content-Type": "application/x-amz-json-1.0",
                            "Authorization": "AWS4-HMAC-SHA256 Credential=t/20261207/ap-east-1/dynamodb/aws4_request",
                        },
                    )
                    answer = connection.getresponse()
                    answer.read()
                    assert answer.status == 200 and not answer.will_close
                    if round_ == 0:
                        assert connection.sock is not None
                        first_ports.append(connection.sock.getsockname()[1])
            # the second round went over the same 40 connections, none opened again
            assert [c.sock.getsockname()[1] for c in held if c.sock] == first_ports
        finally:
            for connection in held:
                connection.close()


def test_the_stacks_clients_and_its_children_go_straight_to_the_dynamodb_process(aws, monkeypatch):
    for name in (*aws_process.ENDPOINT_VARIABLES, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "unset")  # put back as they were after the test
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-east-1")
    monkeypatch.setenv("PAYTRACK_STAGE", "test")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    _point_aws_at(aws)
    monkeypatch.setattr(OrderModel, "_connection", None)
    platform_aws.reset_clients()
    try:
        endpoints = {
            service: platform_aws.client(service).meta.endpoint_url
            for service in ("dynamodb", "dynamodbstreams", "sns", "sqs")
        }
        pynamodb_endpoint = OrderModel._get_connection().connection.client.meta.endpoint_url
    finally:
        platform_aws.reset_clients()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import boto3; print(boto3.client('dynamodb').meta.endpoint_url,"
            " boto3.client('dynamodbstreams').meta.endpoint_url, boto3.client('sns').meta.endpoint_url)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )

    assert endpoints == {
        "dynamodb": aws.dynamodb_endpoint,
        "dynamodbstreams": aws.dynamodb_endpoint,
        "sns": aws.endpoint,
        "sqs": aws.endpoint,
    }
    assert pynamodb_endpoint == aws.dynamodb_endpoint
    assert child.stdout.split() == [aws.dynamodb_endpoint, aws.dynamodb_endpoint, aws.endpoint]


def _children(pid: int) -> list[int]:
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").glob("*/children")
        for child in task.read_text().split()
    ]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_killed_parent_leaves_neither_process_behind():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "from local import aws_process\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()\n"
            "aws = aws_process.start(port)\n"
            "print(aws.endpoint, aws.dynamodb_endpoint, flush=True)\n"
            "time.sleep(600)\n",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        endpoints = parent.stdout.readline().split()
        children = _children(parent.pid)
        assert len(endpoints) == 2 and len(children) == 2
        assert all(_running(child) for child in children)
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()

    deadline = time.monotonic() + 30
    while any(_running(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(child) for child in children)
    for endpoint in endpoints:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{endpoint}{aws_process.COUNTS_PATH}", timeout=5)


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers with what it was sent, then closes the connection without saying so, as a
    server does to a connection kept open past its idle timeout."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = json.dumps(
            {
                "path": self.path,
                "target": self.headers["X-Amz-Target"],
                "host": self.headers["Host"],
                "body": body.decode(),
            }
        ).encode()
        self.send_response(418, "Teapot")
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("X-Amzn-Requestid", "r-1")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        self.connections.append(self.client_address[1])
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


def test_the_forwarder_passes_a_request_and_its_answer_on_as_they_came_and_reconnects():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    not_dynamodb = []

    def moto(environ, start_response):
        not_dynamodb.append(environ["HTTP_X_AMZ_TARGET"])
        start_response("200 OK", [])
        return [b"{}"]

    forwarder = aws_process.DynamoDBForwarder(
        aws_process.RequestCounter(moto), server.server_address[1]
    )

    def call(target: str, body: bytes):
        answered: dict[str, Any] = {}
        environ = {
            "REQUEST_METHOD": "POST",
            "REQUEST_URI": "/?x=1",
            "PATH_INFO": "/",
            "HTTP_HOST": "dynamodb.ap-east-1.amazonaws.com",
            "HTTP_X_AMZ_TARGET": target,
            "HTTP_CONNECTION": "keep-alive",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        chunks = forwarder(
            environ, lambda status, headers: answered.update(status=status, headers=headers)
        )
        return answered, b"".join(chunks)

    try:
        answers = [call("DynamoDB_20120810.GetItem", b'{"TableName": "t"}') for _ in range(2)]
        streams, _ = call("DynamoDBStreams_20120810.GetRecords", b"{}")
        call("AmazonSQS.ReceiveMessage", b"{}")
    finally:
        server.shutdown()
        server.server_close()

    (answered, body) = answers[1]
    assert answered["status"] == "418 Teapot" and streams["status"] == "418 Teapot"
    assert ("X-Amzn-Requestid", "r-1") in answered["headers"]
    assert json.loads(body) == {
        "path": "/?x=1",
        "target": "DynamoDB_20120810.GetItem",
        "host": "dynamodb.ap-east-1.amazonaws.com",
        "body": '{"TableName": "t"}',
    }
    assert len(set(_Echo.connections)) == 3  # each closed under it: a new one, and no error
    assert not_dynamodb == ["AmazonSQS.ReceiveMessage"]
