"""A channels document (API.md "Channels file") checked before anything uses it: at the local
stack's start, when the Lambda loads the channels secret, and before `put secret` stores one.

Pure: no I/O. Each problem is one line naming the channel and the field, never a value, e.g.
`ali-acc: alipay_public_key is not an RSA public key (PEM)`. Keys are read with the very loaders
the gateways use, so a document that passes here loads there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from ..domain.errors import ChannelMisconfigured, InvalidMoney
from ..domain.money import normalize_currency
from ..gateways._signing import rsa_private_key, rsa_public_key
from ..gateways.alipay_cert import CERT_FIELDS, root_cert_sn
from ..gateways.registry import GATEWAYS

#: the fields each channel type needs, as its gateway class says (gateways/registry.py)
REQUIRED: dict[str, tuple[str, ...]] = {
    name: gateway.required_fields for name, gateway in GATEWAYS.items()
}
PRIVATE_KEYS = ("app_private_key", "merchant_private_key")
PUBLIC_KEYS = ("alipay_public_key", "platform_public_key", "app_cert", "alipay_cert")
URL_FIELDS = ("gateway_url", "api_base")
BOOLEAN_FIELDS = ("simulated", "allow_rsa1", "refund_api", "cross_border")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: `fee_rate`: the contract's fee as a fraction in a decimal string ("0.006" is 0.6%), below 20%
_FEE_RATE = re.compile(r"0\.[0-9]{1,6}")
MAX_FEE_RATE = Decimal("0.2")
_CHANNEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def validate_channels_document(doc: dict, *, allow_http: bool = False) -> list[str]:
    """Every problem of the document, one line each; empty when it is fit to use.

    `allow_http`: plain http is accepted for loopback hosts (the local stack's simulator);
    otherwise, and always for any other host, gateway URLs must be https.
    """
    if not isinstance(doc, dict):
        return ['the channels document must be a JSON object: {"<channel id>": {"type": …}}']
    if not doc:
        return ["the channels document holds no channel"]
    return [
        problem
        for channel_id, config in doc.items()
        for problem in validate_channel(channel_id, config, allow_http=allow_http)
    ]


def validate_channel(channel_id: str, config: Any, *, allow_http: bool = False) -> list[str]:
    """The problems of one channel (see validate_channels_document)."""
    problems = (
        []
        if _CHANNEL_ID.fullmatch(channel_id)
        else [
            f"{channel_id!r}: a channel id is 1-64 letters, digits, '-', '_' or '.' (it is part of the notify URL)"
        ]
    )
    if not isinstance(config, dict):
        return [*problems, f"{channel_id}: must be a JSON object"]
    kind = config.get("type")
    if not isinstance(kind, str) or kind not in GATEWAYS:
        return [
            *problems,
            f"{channel_id}: type {repr(kind)[:40]} is not one of {', '.join(sorted(GATEWAYS))}",
        ]
    checks: tuple[Callable[[Mapping[str, Any]], list[str]], ...] = (
        _required,
        _alipay_mode,
        _keys,
        _key_pairs,
        _wechat_apiv3_key,
        _webhook_secret,
        _currencies,
        _optional_types,
        _fee_rate,
    )
    found = [problem for check in checks for problem in check(config)] + _urls(config, allow_http)
    return problems + [f"{channel_id}: {problem}" for problem in found]


def _present(config: Mapping[str, Any], name: str) -> bool:
    value = config.get(name)
    return value not in (None, "") and not isinstance(value, bool)


def _required(config: Mapping[str, Any]) -> list[str]:
    kind = config["type"]
    problems = []
    for name in REQUIRED[kind]:
        if not _present(config, name):
            problems.append(
                f"{name} is missing (a {kind} channel needs {', '.join(REQUIRED[kind])})"
            )
        elif name != "webhook_secret" and not isinstance(config[name], (str, int)):
            problems.append(f"{name} must be a string")
    return problems


def _alipay_mode(config: Mapping[str, Any]) -> list[str]:
    """Public-key mode (`alipay_public_key`) or certificate mode (all three certificates)."""
    if config["type"] != "alipay":
        return []
    certs = [name for name in CERT_FIELDS if _present(config, name)]
    if _present(config, "alipay_public_key"):
        return (
            [
                f"holds both alipay_public_key and {', '.join(certs)}: keep one mode "
                "(public key, or certificates)"
            ]
            if certs
            else []
        )
    if not certs:
        return [f"alipay_public_key is missing (or, in certificate mode, {', '.join(CERT_FIELDS)})"]
    return [
        f"{name} is missing (certificate mode needs {', '.join(CERT_FIELDS)})"
        for name in CERT_FIELDS
        if name not in certs
    ]


def _keys(config: Mapping[str, Any]) -> list[str]:
    problems = [
        f"{name} is not an RSA private key (PEM)"
        for name in PRIVATE_KEYS
        if _present(config, name) and _fails(rsa_private_key, config, name)
    ]
    problems += [
        f"{name} is not an RSA public key or certificate (PEM)"
        for name in PUBLIC_KEYS
        if _present(config, name) and _fails(rsa_public_key, config, name)
    ]
    if _present(config, "alipay_root_cert") and _fails(_root_chain, config, "alipay_root_cert"):
        problems.append("alipay_root_cert holds no RSA root certificate (PEM)")
    return problems


def _key_pairs(config: Mapping[str, Any]) -> list[str]:
    """Where the file holds both halves of one key pair, they must belong together."""
    private, public = "app_private_key", "app_cert"
    if not (_present(config, private) and _present(config, public)):
        return []
    if _fails(rsa_private_key, config, private) or _fails(rsa_public_key, config, public):
        return []
    ours = rsa_private_key(config, private).public_key().public_numbers()
    if ours != rsa_public_key(config, public).public_numbers():
        return [f"{private} is not the private half of the key in {public}"]
    return []


def _urls(config: Mapping[str, Any], allow_http: bool) -> list[str]:
    problems = []
    for name in URL_FIELDS:
        if _present(config, name) and not _url_ok(config[name], allow_http):
            local = (
                " (plain http only to a local simulator on 127.0.0.1 or localhost)"
                if allow_http
                else ""
            )
            problems.append(f"{name} must be an https:// URL{local}")
    return problems


def _url_ok(value: Any, allow_http: bool) -> bool:
    if not isinstance(value, str):
        return False
    try:
        url = urlsplit(value)
        host = url.hostname
    except ValueError:
        return False
    if not host:
        return False
    return url.scheme == "https" or (allow_http and url.scheme == "http" and host in LOOPBACK_HOSTS)


def _wechat_apiv3_key(config: Mapping[str, Any]) -> list[str]:
    key = config.get("apiv3_key")
    if config["type"] != "wechatpay" or not _present(config, "apiv3_key"):
        return []
    if not (isinstance(key, str) and len(key) == 32 and key.isascii()):
        return ["apiv3_key must be the 32 ASCII characters of the APIv3 key"]
    return []


def _webhook_secret(config: Mapping[str, Any]) -> list[str]:
    secret = config.get("webhook_secret")
    if (
        config["type"] != "stripe"
        or not _present(config, "webhook_secret")
        or isinstance(secret, str)
    ):
        return []
    if isinstance(secret, list) and secret and all(isinstance(s, str) and s for s in secret):
        return []
    return ["webhook_secret must be a string, or a list of strings while rotating"]


def _currencies(config: Mapping[str, Any]) -> list[str]:
    if "currencies" not in config:
        return []
    codes = config["currencies"]
    wrong = ['currencies must be a non-empty list of ISO 4217 codes, e.g. ["CNY"]']
    if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
        return wrong
    try:
        normalized = [normalize_currency(code) for code in codes]
    except InvalidMoney:
        return wrong
    return ["currencies lists a currency twice"] if len(set(normalized)) != len(normalized) else []


def _optional_types(config: Mapping[str, Any]) -> list[str]:
    problems = [
        f"{name} must be true or false"
        for name in BOOLEAN_FIELDS
        if name in config and not isinstance(config[name], bool)
    ]
    if config.get("cross_border") is True and config["type"] != "wechatpay":
        problems.append(
            "cross_border applies to wechatpay channels only (their statement comes from "
            "/v3/global/statements); others tell a cross-border statement by its layout"
        )
    if config.get("seller_id") is not None and not isinstance(config["seller_id"], (str, int)):
        problems.append("seller_id must be a string")
    if "name" in config and not (isinstance(config["name"], str) and config["name"].strip()):
        problems.append("name must be a non-empty string (the name operators see)")
    return problems


def _fee_rate(config: Mapping[str, Any]) -> list[str]:
    if "fee_rate" not in config:
        return []
    value = config["fee_rate"]
    if (
        not isinstance(value, str)
        or not _FEE_RATE.fullmatch(value)
        or Decimal(value) >= MAX_FEE_RATE
    ):
        return [
            "fee_rate must be the contract's fee as a decimal string below 0.2, at most 6 places "
            '("0.006" for 0.6%)'
        ]
    return []


def fee_rate(config: Mapping[str, Any]) -> Decimal | None:
    """The channel's contracted fee rate (validated above), or None when not configured."""
    value = config.get("fee_rate")
    return Decimal(value) if isinstance(value, str) else None


def _root_chain(config: Mapping[str, Any], name: str) -> str:
    return root_cert_sn(str(config[name]).strip())


def _fails(
    load: Callable[[Mapping[str, Any], str], Any], config: Mapping[str, Any], name: str
) -> bool:
    try:
        load(config, name)
    except (ChannelMisconfigured, ValueError, TypeError):
        return True
    return False
