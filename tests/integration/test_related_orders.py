"""Related orders on the order detail (under moto): the buyer's other orders of the last 30 days by
e-mail, buyer id and IP, which of them share the device, masked for viewers, never the order
itself."""

from __future__ import annotations

from chalicelib.services import auth
from tests.integration.conftest import ADMIN_KEY

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def test_related_orders_by_email_buyer_ip_and_device(api):
    def register(**fields):
        return api.json(api.register(**fields))["order_no"]

    subject = register(
        buyer_email="LiNa@163.com", buyer_id="b-1", buyer_ip="36.110.1.2", user_agent=PHONE
    )
    same_email = register(buyer_email="lina@163.com", buyer_ip="8.8.8.8", user_agent=DESKTOP)
    same_ip_and_device = register(
        buyer_email="other@qq.com", buyer_ip="36.110.1.2", user_agent=PHONE
    )
    same_buyer = register(buyer_email="third@qq.com", buyer_id="b-1", buyer_ip="9.9.9.9")
    register(
        buyer_email="stranger@qq.com", buyer_ip="1.1.1.1", user_agent=PHONE
    )  # only the device: not found

    related = api.json(api.call("GET", f"/admin/orders/{subject}", key=ADMIN_KEY))["related"]
    matched = {row["order_no"]: row["matched_by"] for row in related["items"]}
    assert matched == {
        same_email: ["email"],
        same_ip_and_device: ["ip", "device"],
        same_buyer: ["buyer_id"],
    }
    assert related["counts"] == {"email": 1, "buyer_id": 1, "ip": 1, "device": 1}
    assert related["window_days"] == 30 and related["truncated"] is False
    assert [row["order_no"] for row in related["items"]] == [
        same_buyer,
        same_ip_and_device,
        same_email,
    ]
    assert {row["pay_status"] for row in related["items"]} == {"pending"}

    viewer = auth.create_key("related viewer", "viewer", "test")[1]
    masked = api.json(api.call("GET", f"/admin/orders/{subject}", key=viewer))["related"]["items"]
    assert {row["buyer_email"] for row in masked} == {
        "li***@163.com",
        "ot***@qq.com",
        "th***@qq.com",
    }
