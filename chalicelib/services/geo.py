"""Where a buyer's IP is, from offline databases only (no lookup leaves the process):

1. a configured CIDR file first (PAYTRACK_IP_REGIONS_FILE: `cidr,region` lines the shop trusts);
2. for IPv4 in China, province, city and ISP from the ip2region database (in Chinese, as the
   database writes them) shipped in the `XdbSearchIP` package;
3. else the country from the `geoip2fast` database (IPv4 and IPv6).

Nothing found is "unknown", never a guess. `locate` gives the parts as fields, for the page to
word in either language; `region_of` the one-line English-or-database text for curl users.
"""

from __future__ import annotations

import csv
import ipaddress
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

UNKNOWN = "unknown"
PRIVATE = "private"
# ip2region writes "0" for a part it does not know and "内网IP" for private ranges
_IP2REGION_BLANKS = frozenset({"", "0", "内网IP"})


@dataclass(frozen=True)
class Location:
    kind: str  # configured, located, private, unknown
    country_code: str | None = None  # ISO 3166-1 alpha-2
    country: str | None = None  # the database's name: "China", or "中国" from ip2region
    province: str | None = None  # 北京, 江苏省
    city: str | None = None  # 南京市
    isp: str | None = None  # 电信, 移动, 阿里云
    label: str | None = None  # the configured file's text

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def text(self) -> str:
        if self.kind == "configured":
            return self.label or UNKNOWN
        if self.kind == PRIVATE:
            return "private or reserved network"
        if self.kind == UNKNOWN:
            return UNKNOWN
        places = [part for part in (self.province, self.city) if part]
        country = f"{self.country} ({self.country_code})" if self.country_code else self.country
        return " ".join(filter(None, [country, *_distinct(places), self.isp]))


def _distinct(parts: list[str]) -> list[str]:
    """北京 + 北京市 read as one place: drop a city that only repeats its province."""
    if len(parts) == 2 and parts[1].rstrip("市") == parts[0].rstrip("市省"):
        return parts[:1]
    return parts


@lru_cache(maxsize=1)
def _configured() -> tuple[tuple[ipaddress._BaseNetwork, str], ...]:
    path = os.environ.get("PAYTRACK_IP_REGIONS_FILE")
    if not path:
        return ()
    with open(path, encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row and not row[0].startswith("#")]
    networks = [
        (ipaddress.ip_network(row[0].strip(), strict=False), row[1].strip()) for row in rows
    ]
    return tuple(sorted(networks, key=lambda pair: pair[0].prefixlen, reverse=True))


@lru_cache(maxsize=1)
def _country_database():
    from geoip2fast import GeoIP2Fast  # deferred: loading the database takes ~0.25 s

    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz", verbose=False)  # IPv4 and IPv6


@lru_cache(maxsize=1)
def _china_database():
    """ip2region's xdb file, read whole into memory once (11 MB, ~30 ms)."""
    from XdbSearchIP.xdbSearcher import XdbSearcher, dbPath  # deferred like the country database

    with open(dbPath, "rb") as handle:
        return XdbSearcher(contentBuff=handle.read())


def _china_location(address: ipaddress.IPv4Address) -> Location | None:
    """Province, city and ISP of an IPv4 address the ip2region database places in China."""
    fields = str(_china_database().search(str(address))).split("|")
    if len(fields) != 5 or fields[0] != "中国":
        return None
    _, _, province, city, isp = (None if part in _IP2REGION_BLANKS else part for part in fields)
    return Location("located", "CN", "中国", province, city, isp)


@lru_cache(maxsize=4096)
def locate(ip: str | None) -> Location:
    if not ip:
        return Location(UNKNOWN)
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return Location(UNKNOWN)
    for network, region in _configured():
        if address.version == network.version and address in network:
            return Location("configured", label=region)
    if not address.is_global:
        return Location(PRIVATE)
    if address.version == 4:
        found = _china_location(address)
        if found is not None:
            return found
    country = _country_database().lookup(ip)
    if not country.country_code or country.country_code == "--":
        return Location(UNKNOWN)
    return Location("located", country.country_code, country.country_name)


def region_of(ip: str | None) -> str:
    return locate(ip).text()
