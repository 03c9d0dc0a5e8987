"""`make run` with the shop's own credentials: a channels file holding fresh keys (made here) beside
the committed dev channels. The stack starts, its banner lists the fresh channels as real (with the
gateway URL each calls) and the dev ones as simulated, and it serves the API: an order on a real
channel is paid by a notification signed with that channel's own (fresh) Alipay key. A channels
file with a broken channel stops the stack before it starts anything, naming channel and field."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from local import sim_signing
from tests.conftest import REPO
from tests.e2e.conftest import SHOP_KEY, start_stack, stop_stack
from tests.support.keys import fresh_key, private_pem, public_pem

pytestmark = pytest.mark.e2e
DEV = json.loads((REPO / "local" / "channels.dev.json").read_text(encoding="utf-8"))
SANDBOX = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"


@pytest.fixture(scope="module")
def alipay_side_key() -> rsa.RSAPrivateKey:
    """What Alipay signs the sandbox app's notifications with (its public half goes in the file)."""
    return fresh_key()


@pytest.fixture(scope="module")
def channels_file(tmp_path_factory, alipay_side_key) -> Path:
    own = {
        "ali-acc": {
            "type": "alipay",
            "name": "支付宝·沙箱",
            "app_id": "9021000000000001",
            "app_private_key": private_pem(fresh_key()),
            "alipay_public_key": public_pem(alipay_side_key),
            "gateway_url": SANDBOX,
        },
        "wx-acc": {
            **DEV["wxpay-main"],
            "merchant_private_key": private_pem(fresh_key()),
            "platform_public_key": public_pem(fresh_key()),
            "api_base": "https://api.mch.weixin.qq.com",
        },
        "stripe-acc": {
            **DEV["stripe-main"],
            "webhook_secret": "whsec_own0000000000000000000000000",
            "api_base": "https://api.stripe.com",
        },
    }
    path = tmp_path_factory.mktemp("channels") / "channels.json"
    path.write_text(json.dumps({**DEV, **own}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory, channels_file):
    running = start_stack(
        tmp_path_factory, demo=False, extra_env={"PAYTRACK_CHANNELS_FILE": str(channels_file)}
    )
    yield running
    stop_stack(running)


def test_the_banner_lists_real_and_simulated_channels(own_stack):
    log = own_stack.log()
    assert "  simulated     alipay-main, wxpay-main, epay-main, stripe-main" in log
    assert (
        f"  real          ali-acc → {SANDBOX} (its alipay_public_key is not the simulator's)" in log
    )
    assert (
        "  real          wx-acc → https://api.mch.weixin.qq.com (its platform_public_key is not the simulator's)"
        in log
    )
    assert (
        "  real          stripe-acc → https://api.stripe.com (its api_base is not the simulator's)"
        in log
    )


def test_the_simulator_leaves_the_real_channels_alone(own_stack):
    health = requests.get(f"http://127.0.0.1:{own_stack.sim_port}/sim/health", timeout=10).json()
    assert sorted(health["channels"]) == ["alipay-main", "epay-main", "stripe-main", "wxpay-main"]
    assert sorted(health["real"]) == ["ali-acc", "stripe-acc", "wx-acc"]


def test_a_real_channel_takes_a_payment_signed_with_its_own_key(own_stack, alipay_side_key):
    order = own_stack.call(
        "POST",
        "/orders",
        json={
            "product_id": "vip-month",
            "product_name": "VIP会员 月卡",
            "quantity": 1,
            "amount": "58.00",
            "currency": "CNY",
            "channel": "ali-acc",
            "buyer_email": "buyer@qq.com",
            "buyer_ip": "1.2.3.4",
            "user_agent": "Mozilla/5.0",
        },
    )
    assert order.status_code == 201, order.text
    order_no = order.json()["order_no"]
    now = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
    params = {
        "notify_id": f"own-{order_no}",
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "app_id": "9021000000000001",
        "out_trade_no": order_no,
        "trade_no": f"2026{order_no[-16:]}",
        "total_amount": "58.00",
        "receipt_amount": "58.00",
        "trade_status": "TRADE_SUCCESS",
        "gmt_payment": now,
    }
    params["sign"] = sim_signing.alipay_sign(params, alipay_side_key)
    answer = requests.post(
        f"{own_stack.api}/notify/ali-acc",
        data=urlencode(params),
        timeout=30,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (answer.status_code, answer.text) == (200, "success")
    assert own_stack.call("GET", f"/orders/{order_no}").json()["pay_status"] == "paid"


def test_the_keys_file_can_be_sourced_and_only_its_owner_reads_it(own_stack):
    path = Path(own_stack.log_path).with_name("local-keys.env")
    assert f"export PAYTRACK_SHOP_KEY={SHOP_KEY}\n" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_broken_channels_file_stops_the_stack_before_it_starts(tmp_path):
    broken = {
        **DEV,
        "ali-typo": {**DEV["alipay-main"], "type": "alipy"},
        "wx-bad": {
            **DEV["wxpay-main"],
            "platform_public_key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        },
    }
    path = tmp_path / "channels.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "PAYTRACK_CHANNELS_FILE": str(path),
        "PAYTRACK_LOCAL_KEYS_FILE": str(tmp_path / "k.env"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "local.stack"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "  - ali-typo: type 'alipy' is not one of alipay, epay, stripe, wechatpay" in done.stderr
    assert (
        "  - wx-bad: platform_public_key is not an RSA public key or certificate (PEM)"
        in done.stderr
    )
    assert "paytrack local stack is up" not in done.stdout
