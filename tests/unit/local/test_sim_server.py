"""The simulator's HTTP server: health, the event record, the per-gateway route tables."""

from __future__ import annotations

import socket

import pytest
import requests

from local.sim_server import SimResponse


def test_health_and_events(make_sim, receiver):
    sim = make_sim()
    server = sim.start_server(port=0)
    health = requests.get(f"{server.url}/sim/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["channels"] == {
        "alipay-main": "alipay",
        "wxpay-main": "wechatpay",
        "epay-main": "epay",
        "stripe-main": "stripe",
    }
    trade = sim.pay("alipay-main", "ORD1", "58.00")
    assert trade.wait_settled(5)
    [event] = requests.get(f"{server.url}/sim/events", timeout=5).json()
    assert (
        event["channel"],
        event["action"],
        event["out_trade_no"],
        event["trade_no"],
        event["event_key"],
        event["outcome"],
        event["forged"],
    ) == (
        "alipay-main",
        "pay",
        "ORD1",
        trade.trade_no,
        trade.event.notice.event_key,
        "accepted",
        False,
    )
    assert [(a["status"], a["body"], a["accepted"]) for a in event["attempts"]] == [
        (200, "success", True)
    ]


def test_route_tables_per_gateway_prefix(make_sim):
    server = make_sim().start_server(port=0)
    assert set(server.routes) == {"/sim", "/alipay", "/wechat", "/epay", "/stripe"}
    server.route(
        "/alipay",
        "POST",
        "/gateway.do",
        lambda request: SimResponse(
            200, request.body + request.query["x"][0].encode(), "text/plain"
        ),
    )
    assert requests.post(f"{server.url}/alipay/gateway.do?x=!", data=b"hi", timeout=5).text == "hi!"
    assert requests.get(f"{server.url}/sim/nope", timeout=5).status_code == 404
    assert requests.get(f"{server.url}/nope", timeout=5).status_code == 404
    assert requests.post(f"{server.url}/sim/health", timeout=5).status_code == 405


def test_a_failing_route_answers_500(make_sim):
    server = make_sim().start_server(port=0)

    def broken(request):
        raise RuntimeError("boom")

    server.route("/epay", "GET", "/api.php", broken)
    response = requests.get(f"{server.url}/epay/api.php", timeout=5)
    assert response.status_code == 500 and "boom" in response.json()["error"]


def test_port_comes_from_paytrack_sim_port(make_sim, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PAYTRACK_SIM_PORT", str(port))
    assert make_sim().start_server().port == port


def test_close_stops_the_server(make_sim):
    sim = make_sim()
    url = sim.start_server(port=0).url
    sim.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/sim/health", timeout=5)
