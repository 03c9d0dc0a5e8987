import pytest

from chalicelib.services import geo


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    geo._configured.cache_clear()
    geo.locate.cache_clear()
    yield
    geo._configured.cache_clear()
    geo.locate.cache_clear()


def test_chinese_ips_to_province_city_and_isp():
    beijing = geo.locate("36.110.1.2")
    assert (beijing.country_code, beijing.province, beijing.city, beijing.isp) == (
        "CN",
        "北京",
        "北京市",
        "电信",
    )
    assert geo.region_of("36.110.1.2") == "中国 (CN) 北京 电信"
    shenzhen = geo.locate("120.229.1.1")
    assert (shenzhen.province, shenzhen.city, shenzhen.isp) == ("广东省", "深圳市", "移动")
    assert geo.locate("114.114.114.114").as_dict() == {
        "kind": "located",
        "country_code": "CN",
        "country": "中国",
        "province": "江苏省",
        "city": "南京市",
    }


def test_other_countries_and_ipv6_from_the_country_database():
    assert geo.region_of("8.8.8.8") == "United States (US)"
    assert geo.locate("8.8.8.8").as_dict() == {
        "kind": "located",
        "country_code": "US",
        "country": "United States",
    }
    assert geo.region_of("2408:8000::1") == "China (CN)"


@pytest.mark.parametrize(
    "ip,kind,region",
    [
        ("192.168.1.9", "private", "private or reserved network"),
        ("127.0.0.1", "private", "private or reserved network"),
        ("not-an-ip", "unknown", "unknown"),
        (None, "unknown", "unknown"),
        ("", "unknown", "unknown"),
    ],
)
def test_never_guesses(ip, kind, region):
    assert geo.locate(ip).kind == kind
    assert geo.region_of(ip) == region


def test_configured_file_wins_most_specific_first(tmp_path, monkeypatch):
    regions = tmp_path / "regions.csv"
    regions.write_text(
        "# cidr,region\n36.110.0.0/16,北京\n36.110.1.0/24,北京 朝阳\n", encoding="utf-8"
    )
    monkeypatch.setenv("PAYTRACK_IP_REGIONS_FILE", str(regions))
    assert geo.region_of("36.110.1.2") == "北京 朝阳"
    assert geo.locate("36.110.9.9").as_dict() == {"kind": "configured", "label": "北京"}
    assert geo.region_of("8.8.8.8") == "United States (US)"
