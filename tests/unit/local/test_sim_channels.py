"""The simulator plays only the channels whose keys it holds (or that the file marks simulated)
and lists the others as real, with why; a real channel never stops it. Alipay certificate-mode
channels are played too when their certificates hold the simulator's keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.domain.errors import GatewayUnavailable
from chalicelib.domain.query import QueryStatus
from chalicelib.gateways._http import GatewayHttp
from chalicelib.gateways.alipay import AlipayGateway
from chalicelib.gateways.base import CallContext, Headers, InboundRequest
from chalicelib.gateways.registry import get_gateway
from local.bootstrap import channels_for_simulator
from local.sim_signing import load_private_key
from tests.support.certs import alipay_certs
from tests.support.keys import private_pem, public_pem

HTTP = GatewayHttp(timeout_s=5, attempts=1)
ORDER = "ORD20261125143012000009"


@lru_cache(maxsize=2)
def fresh_key(n: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def own(channels: dict) -> dict:
    """The shop's own credentials: fresh keys and the gateways' real URLs."""
    return {
        "ali-acc": {
            **channels["alipay-main"],
            "app_private_key": private_pem(fresh_key(0)),
            "alipay_public_key": public_pem(fresh_key(1)),
            "gateway_url": "https://openapi-sandbox.dl.alipaydev.com/gateway.do",
        },
        "wx-acc": {
            **channels["wxpay-main"],
            "merchant_private_key": private_pem(fresh_key(0)),
            "platform_public_key": public_pem(fresh_key(1)),
            "api_base": "https://api.mch.weixin.qq.com",
        },
        "epay-acc": {**channels["epay-main"], "api_base": "https://pay.example.com"},
        "stripe-acc": {**channels["stripe-main"], "api_base": "https://api.stripe.com"},
    }


def test_the_dev_channels_are_all_simulated(make_sim, channels):
    sim = make_sim()
    assert sorted(sim.channels) == sorted(channels) and sim.real == {}


def test_the_shops_own_channels_are_real_beside_the_simulated_ones(make_sim, channels):
    sim = make_sim(channels_override={**channels, **own(channels)})
    assert sorted(sim.channels) == sorted(channels)
    assert sim.real == {
        "ali-acc": "its alipay_public_key is not the simulator's",
        "wx-acc": "its platform_public_key is not the simulator's",
        "epay-acc": "its api_base is not the simulator's",
        "stripe-acc": "its api_base is not the simulator's",
    }
    with pytest.raises(ValueError, match="'ali-acc' is not simulated: its alipay_public_key"):
        sim.pay("ali-acc", ORDER, "58.00")


def test_the_merchant_key_counts_too(make_sim, channels):
    """Alipay's key is the simulator's but the app key is the shop's: the simulator could not
    check paytrack's signed queries, so the channel is real."""
    mixed = {**channels["alipay-main"], "app_private_key": private_pem(fresh_key(0))}
    assert make_sim(channels_override={"ali": mixed}).real == {
        "ali": "its app_private_key is not the simulator's"
    }


def test_keys_that_do_not_parse_make_a_channel_real_not_a_crash(make_sim, channels):
    broken = {**channels["wxpay-main"], "platform_public_key": "not a key"}
    odd = {"type": "paypal", "api_base": "http://127.0.0.1:9000/paypal"}
    sim = make_sim(channels_override={"wx": broken, "pp": odd})
    assert sim.real == {
        "wx": "its platform_public_key is not the simulator's",
        "pp": "type 'paypal' is not one the simulator plays",
    }


def test_marked_false_is_real_whatever_it_holds(make_sim, channels):
    sim = make_sim(channels_override={"epay-main": {**channels["epay-main"], "simulated": False}})
    assert sim.real == {"epay-main": 'marked "simulated": false'} and sim.channels == {}


def test_marked_true_is_simulated_and_pointed_at_the_simulator(make_sim, channels, tmp_path):
    marked = {**own(channels)["stripe-acc"], "simulated": True}
    sim = make_sim(channels_override={"stripe-acc": marked})
    assert list(sim.channels) == ["stripe-acc"] and sim.real == {}
    path = tmp_path / "channels.json"
    path.write_text(json.dumps({"stripe-acc": marked, "ali-acc": own(channels)["ali-acc"]}))
    loaded = channels_for_simulator(path, 9123)
    assert loaded["stripe-acc"]["api_base"] == "http://127.0.0.1:9123/stripe"
    assert loaded["ali-acc"]["gateway_url"] == "https://openapi-sandbox.dl.alipaydev.com/gateway.do"


def test_marked_true_with_keys_the_simulator_does_not_hold_is_an_error(make_sim, channels):
    marked = {**own(channels)["ali-acc"], "simulated": True}
    with pytest.raises(ValueError, match="its alipay_public_key is not the simulator's"):
        make_sim(channels_override={"ali-acc": marked})


def test_health_lists_the_real_channels(make_sim, channels):
    sim = make_sim(channels_override={**channels, "epay-acc": own(channels)["epay-acc"]})
    server = sim.start_server(port=0)
    health = requests.get(f"{server.url}/sim/health", timeout=5).json()
    assert health["real"] == {"epay-acc": "its api_base is not the simulator's"}
    assert "epay-acc" not in health["channels"]


# --- Alipay certificate mode ----------------------------------------------------------------------


@lru_cache(maxsize=1)
def sim_certs(app_private: str, alipay_private: str):
    """One set of certificates for the simulator's keys (each set has its own serials)."""
    return alipay_certs(
        load_private_key(app_private).public_key(), load_private_key(alipay_private).public_key()
    )


def cert_channel(channels: dict, sim_config: dict, port: int | None = None) -> dict:
    """A certificate-mode channel whose certificates hold the simulator's keys."""
    ali = channels["alipay-main"]
    config = {k: v for k, v in ali.items() if k != "alipay_public_key"}
    config.update(
        sim_certs(ali["app_private_key"], sim_config["alipay_platform_private_key"]).config()
    )
    if port:
        config["gateway_url"] = f"http://127.0.0.1:{port}/alipay/gateway.do"
    return config


def test_a_certificate_mode_channel_is_simulated_and_queried_in_certificate_mode(
    make_sim, channels, sim_config
):
    sim = make_sim(channels_override={"ali-cert": cert_channel(channels, sim_config)})
    assert list(sim.channels) == ["ali-cert"]
    config = cert_channel(channels, sim_config, sim.start_server(port=0).port)
    trade = sim.pay("ali-cert", ORDER, "58.00", notify=False)
    result = get_gateway("alipay").query_order(
        CallContext(config, "ali-cert", HTTP, datetime.now(UTC)), ORDER
    )
    assert result.status is QueryStatus.PAID and result.notice.trade_no == trade.trade_no


def test_the_simulator_refuses_a_query_with_another_app_cert_sn(make_sim, channels, sim_config):
    sim = make_sim(channels_override={"ali-cert": cert_channel(channels, sim_config)})
    config = cert_channel(channels, sim_config, sim.start_server(port=0).port)
    other = alipay_certs(
        load_private_key(channels["alipay-main"]["app_private_key"]).public_key(),
        load_private_key(sim_config["alipay_platform_private_key"]).public_key(),
    )
    with pytest.raises(GatewayUnavailable, match="40002"):
        get_gateway("alipay").query_order(
            CallContext(
                {**config, "app_cert": other.app_cert}, "ali-cert", HTTP, datetime.now(UTC)
            ),
            ORDER,
        )


def test_certificate_mode_notifications_verify_with_paytracks_gateway(
    make_sim, receiver, channels, sim_config
):
    config = cert_channel(channels, sim_config)
    trade = make_sim(channels_override={"ali-cert": config}).pay("ali-cert", ORDER, "58.00")
    assert trade.wait_settled(5)
    [got] = receiver.requests
    request = InboundRequest("POST", Headers(got.headers), got.body, {})
    notice = AlipayGateway().parse_notification(request, config, "ali-cert", datetime.now(UTC))
    assert (notice.out_trade_no, notice.trade_no) == (ORDER, trade.trade_no)


def test_a_certificate_mode_channel_holding_other_keys_is_real(make_sim, channels, sim_config):
    config = {
        **cert_channel(channels, sim_config),
        "alipay_cert": alipay_certs(
            fresh_key(0).public_key(), fresh_key(1).public_key()
        ).alipay_cert,
    }
    assert make_sim(channels_override={"ali-cert": config}).real == {
        "ali-cert": "its alipay_cert is not the simulator's"
    }
