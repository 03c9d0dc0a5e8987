"""The first-key CLI works against the stage's tables, and no buyer PII or secret reaches the logs."""

from __future__ import annotations

import logging

from chalicelib import cli
from chalicelib.services import auth
from chalicelib.store import keys as key_store
from tests.support import notifications as wires


def test_cli_creates_a_working_admin_key(aws, capsys):
    assert cli.main(["create-key", "--name", "first admin", "--role", "admin"]) == 0
    printed = capsys.readouterr().out
    key = next(line.split()[1] for line in printed.splitlines() if line.startswith("key"))
    assert auth.authenticate(f"Bearer {key}").role == "admin"
    assert key not in {k.key_hash for k in key_store.list_all()}


def test_logs_carry_no_pii_or_secrets(api, capfd, caplog):
    caplog.set_level(logging.INFO)  # the deployed level (botocore debug logs print request bodies)
    order_no = api.json(
        api.register(
            buyer_email="secret.buyer@qq.com", buyer_ip="36.110.7.7", buyer_id="buyer-secret-9"
        )
    )["order_no"]
    api.send(wires.alipay(order_no, "58.00"))
    api.send(wires.alipay(order_no, "58.00", forged=True))
    api.send(wires.wechat(order_no, 5800, skew_s=-400))
    output = capfd.readouterr()
    logged = output.out + output.err + caplog.text
    for secret in (
        "secret.buyer@qq.com",
        "36.110.7.7",
        "buyer-secret-9",
        wires.CHANNELS["epay-main"]["key"],
        wires.CHANNELS["wxpay-main"]["apiv3_key"],
        wires.CHANNELS["stripe-main"]["webhook_secret"],
    ):
        assert secret not in logged
