"""Where a buyer's IP is: a configured CIDR file first (PAYTRACK_IP_REGIONS_FILE: `cidr,region`
lines, e.g. province-level ranges the shop trusts), else the offline country database shipped
in the `geoip2fast` package. Nothing found is "unknown", never a guess."""
from __future__ import annotations

import csv
import ipaddress
import os
from functools import lru_cache

UNKNOWN = "unknown"


@lru_cache(maxsize=1)
def _configured() -> tuple[tuple[ipaddress._BaseNetwork, str], ...]:
    path = os.environ.get("PAYTRACK_IP_REGIONS_FILE")
    if not path:
        return ()
    with open(path, encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row and not row[0].startswith("#")]
    networks = [(ipaddress.ip_network(row[0].strip(), strict=False), row[1].strip()) for row in rows]
    return tuple(sorted(networks, key=lambda pair: pair[0].prefixlen, reverse=True))


@lru_cache(maxsize=1)
def _country_database():
    from geoip2fast import GeoIP2Fast  # deferred: loading the database takes ~0.25 s

    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-ipv6.dat.gz", verbose=False)  # IPv4 and IPv6


@lru_cache(maxsize=4096)
def region_of(ip: str | None) -> str:
    if not ip:
        return UNKNOWN
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return UNKNOWN
    for network, region in _configured():
        if address.version == network.version and address in network:
            return region
    if not address.is_global:
        return "private or reserved network"
    found = _country_database().lookup(ip)
    if not found.country_code or found.country_code == "--":
        return UNKNOWN
    return f"{found.country_name} ({found.country_code})"
