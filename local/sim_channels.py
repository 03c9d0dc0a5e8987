"""Which channels of the channels file the simulator plays, and which it leaves to their real
gateway.

It plays a channel when it holds the channel's keys and the channel's gateway URL is local (the
committed dev channels), or when the file marks it `"simulated": true` (then the stack points its
URL at the simulator; keys the simulator does not hold are an error, it could not sign for them).
Every other channel is real: paytrack calls its gateway URL as configured, the simulator sends
nothing for it, and the stack goes on. `"simulated": false` makes a channel real whatever it holds.

For Alipay and WeChat Pay "holds the keys" means the gateway's public key in the file (or in
Alipay's certificate) is the public half of the simulator's private key, and the merchant's
private key is the one whose public half the simulator checks requests with. epay and Stripe
share their secrets through the file itself, so their URL decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .sim import GATEWAY_TYPES
from .sim.base import SimKeys

#: per gateway type: the URL field paytrack calls, and its path on the simulator
SIM_PATHS: dict[str, tuple[str, str]] = {
    name: (cls.url_field, cls.sim_path) for name, cls in GATEWAY_TYPES.items()
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def why_real(config: Mapping[str, Any], keys: SimKeys) -> str | None:
    """None when the simulator plays this channel; otherwise why it is left to its real gateway.
    Raises ValueError for a channel marked simulated whose keys the simulator does not hold."""
    kind = config.get("type")
    if kind not in SIM_PATHS:
        return f"type {kind!r} is not one the simulator plays"
    if config.get("simulated") is False:
        return 'marked "simulated": false'
    foreign = _foreign_key(config, keys)
    if config.get("simulated") is True:
        if foreign:
            raise ValueError(
                f'marked "simulated": true, but its {foreign} is not the simulator\'s '
                "(local/keys/): the simulator cannot sign for it"
            )
        return None
    if foreign:
        return f"its {foreign} is not the simulator's"
    url_field = SIM_PATHS[kind][0]
    if not is_local(config.get(url_field)):
        return f"its {url_field} is not the simulator's"
    return None


def is_local(url: Any) -> bool:
    """A plain-http URL on this machine: where the simulator listens."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK


def _foreign_key(config: Mapping[str, Any], keys: SimKeys) -> str | None:
    """The first key field whose key is not the simulator's, or None."""
    for field, matches in GATEWAY_TYPES[config["type"]].key_checks(config, keys):
        try:
            if not matches():
                return field
        except (ValueError, TypeError, AttributeError, KeyError):  # absent or does not parse
            return field
    return None


def point_at(config: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """The channel with its gateway URL on the simulator at `origin` (`http://127.0.0.1:9000`)."""
    url_field, path = SIM_PATHS[config["type"]]
    return {**config, url_field: origin.rstrip("/") + path}
