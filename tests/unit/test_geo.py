import pytest

from chalicelib.services import geo


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    geo._configured.cache_clear()
    geo.region_of.cache_clear()
    yield
    geo._configured.cache_clear()
    geo.region_of.cache_clear()


def test_offline_country_database():
    assert geo.region_of("36.110.1.2") == "China (CN)"
    assert geo.region_of("8.8.8.8") == "United States (US)"
    assert geo.region_of("2408:8000::1") == "China (CN)"


@pytest.mark.parametrize("ip,region", [("192.168.1.9", "private or reserved network"),
                                       ("127.0.0.1", "private or reserved network"),
                                       ("not-an-ip", "unknown"), (None, "unknown"), ("", "unknown")])
def test_never_guesses(ip, region):
    assert geo.region_of(ip) == region


def test_configured_file_wins_most_specific_first(tmp_path, monkeypatch):
    regions = tmp_path / "regions.csv"
    regions.write_text("# cidr,region\n36.110.0.0/16,北京\n36.110.1.0/24,北京 朝阳\n", encoding="utf-8")
    monkeypatch.setenv("PAYTRACK_IP_REGIONS_FILE", str(regions))
    assert geo.region_of("36.110.1.2") == "北京 朝阳"
    assert geo.region_of("36.110.9.9") == "北京"
    assert geo.region_of("8.8.8.8") == "United States (US)"
