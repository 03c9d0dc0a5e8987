"""Helpers the gateway modules share: keys, RSA and base64, form decoding, field access, redaction.

Everything here turns bad input into `MalformedNotification` and bad channel configuration into
`ChannelMisconfigured`, whose messages name the field and never carry its value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ..domain.errors import (
    ChannelMisconfigured,
    InvalidMoney,
    MalformedNotification,
    NotificationRejected,
)

REDACTED = "***"


# --- channel configuration -------------------------------------------------------------------


def config_value(config: Mapping[str, Any], name: str) -> str:
    """A required scalar config field as text (JSON may hold an id such as `pid` as a number)."""
    value = config.get(name)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise ChannelMisconfigured(f"channel config field {name} is missing or not a string")
    return str(value)


def rsa_public_key(config: Mapping[str, Any], name: str) -> rsa.RSAPublicKey:
    """The RSA public key held in config field `name`, parsed once per distinct PEM text."""
    try:
        return _load_rsa_public_key(config_value(config, name).strip())
    except (ValueError, TypeError):
        message = f"channel config field {name} is not an RSA public key"
        raise ChannelMisconfigured(message) from None


@lru_cache(maxsize=64)
def _load_rsa_public_key(pem: str) -> rsa.RSAPublicKey:
    """Accepts a PUBLIC KEY / RSA PUBLIC KEY PEM, a certificate (WeChat certificate mode) or the
    bare base64 body Alipay's console hands out."""
    if not pem.startswith("-----BEGIN"):
        pem = f"-----BEGIN PUBLIC KEY-----\n{pem}\n-----END PUBLIC KEY-----"
    data = pem.encode("ascii")
    key: PublicKeyTypes
    if b"CERTIFICATE" in data.split(b"\n", 1)[0]:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("not an RSA key")
    return key


def rsa_private_key(config: Mapping[str, Any], name: str) -> rsa.RSAPrivateKey:
    """The RSA private key held in config field `name` (our side of signed API requests)."""
    try:
        return _load_rsa_private_key(config_value(config, name).strip())
    except (ValueError, TypeError):
        raise ChannelMisconfigured(
            f"channel config field {name} is not an RSA private key"
        ) from None


@lru_cache(maxsize=16)
def _load_rsa_private_key(pem: str) -> rsa.RSAPrivateKey:
    """A PKCS#8 or PKCS#1 PEM, or the bare base64 body of either (Alipay's key tool)."""
    candidates = (
        [pem]
        if pem.startswith("-----BEGIN")
        else [
            f"-----BEGIN {kind}-----\n{pem}\n-----END {kind}-----"
            for kind in ("PRIVATE KEY", "RSA PRIVATE KEY")
        ]
    )
    for text in candidates:
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except ValueError:
            continue
        if isinstance(key, rsa.RSAPrivateKey):
            return key
    raise ValueError("not an RSA private key")


# --- signatures --------------------------------------------------------------------------------


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes, algorithm: hashes.HashAlgorithm) -> str:
    """RSA PKCS#1 v1.5 signature of `message`, base64 (Alipay RSA2 requests, WeChat v3 requests)."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), algorithm)).decode("ascii")


def b64decode_strict(text: str) -> bytes | None:
    """Decode canonical base64 only, so one signature has exactly one accepted spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def rsa_verify(
    key: rsa.RSAPublicKey, signature_b64: str, message: bytes, algorithm: hashes.HashAlgorithm
) -> bool:
    """RSA PKCS#1 v1.5 verification of a base64 signature over `message`."""
    signature = b64decode_strict(signature_b64)
    if signature is None:
        return False
    try:
        key.verify(signature, message, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


# --- reading input -----------------------------------------------------------------------------


def parse_form(data: bytes) -> dict[str, bytes]:
    """Split an application/x-www-form-urlencoded body into keys and percent-decoded value bytes.

    Values stay bytes so the caller decodes them with the charset the gateway names and can
    verify over exactly the bytes that were sent. Repeated keys are refused: a verifier and a
    reader that picked different copies would be a forgery vector.
    """
    fields: dict[str, bytes] = {}
    for part in data.split(b"&"):
        if not part:
            continue
        key, sep, value = part.partition(b"=")
        if not sep:
            raise MalformedNotification("form field without '='")
        name = unquote_to_bytes(key.replace(b"+", b" ")).decode("ascii")
        if name in fields:
            raise MalformedNotification(f"form field {name} is repeated")
        fields[name] = unquote_to_bytes(value.replace(b"+", b" "))
    return fields


def decode_values(fields: Mapping[str, bytes], encoding: str) -> dict[str, str]:
    return {name: value.decode(encoding) for name, value in fields.items()}


def json_object(data: bytes, what: str = "body") -> dict[str, Any]:
    """A JSON object from a gateway. Nesting deep enough to exhaust the parser's recursion is
    malformed like any other bad JSON (a RecursionError is not a ValueError)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise MalformedNotification(f"{what} is nested too deeply") from None
    if not isinstance(value, dict):
        raise MalformedNotification(f"{what} is not a JSON object")
    return value


def need(mapping: Mapping[str, Any], *path: str) -> Any:
    """The value at `path` (nested mappings); absent, null or empty is malformed."""
    value: Any = mapping
    for key in path:
        if not isinstance(value, Mapping) or value.get(key) in (None, ""):
            raise MalformedNotification(f"missing field {'.'.join(path)}")
        value = value[key]
    return value


def need_str(mapping: Mapping[str, Any], *path: str) -> str:
    value = need(mapping, *path)
    if not isinstance(value, str):
        raise MalformedNotification(f"field {'.'.join(path)} must be a string")
    return value


def opt_str(mapping: Mapping[str, Any], key: str) -> str | None:
    """A string field, or None when absent, null, empty or not a string."""
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


@contextmanager
def malformed_on_error() -> Iterator[None]:
    """At a module boundary: whatever bad input broke becomes `MalformedNotification`."""
    try:
        yield
    except NotificationRejected:
        raise
    except InvalidMoney as exc:
        raise MalformedNotification(exc.message) from None
    except KeyError as exc:
        raise MalformedNotification(f"missing field {exc.args[0]}") from None
    except (ValueError, TypeError, AttributeError, IndexError, OverflowError) as exc:
        raise MalformedNotification(f"malformed notification: {exc}") from None


# --- redaction ----------------------------------------------------------------------------------

#: the last word of a field name that holds a secret: client_secret, webhook_secret, api_key,
#: apiv3_key, access_token, password, card cvc ... whatever the gateway or the event type
_SECRET_WORDS = frozenset(
    {
        "secret",
        "password",
        "passwd",
        "passphrase",
        "token",
        "key",
        "apikey",
        "privatekey",
        "cvc",
        "cvv",
        "pin",
    }
)
_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.){1,200})"(\s*:\s*)"(?:[^"\\]|\\.)*"?')
_FORM_PAIR = re.compile(r"(^|[?&\n])([^=&\n]{1,200})=([^&\n]*)")


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Does a field of this name hold a secret? By its last word, in snake, kebab or camel case.
    Cached: a gateway sends the same few dozen names with every notification, and the two
    regular expressions per name were a quarter of a notification's CPU."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())
    return bool(words) and words[-1] in _SECRET_WORDS


def redact_keys(payload: Any, keys: tuple[str, ...] = ()) -> Any:
    """A copy of `payload` with the values of secret-named fields (and of `keys`) masked at any
    depth, whatever event or gateway the payload comes from."""
    if isinstance(payload, Mapping):
        return {
            k: REDACTED
            if k in keys or (isinstance(k, str) and is_secret_name(k))
            else redact_keys(v, keys)
            for k, v in payload.items()
        }
    if isinstance(payload, list):
        return [redact_keys(item, keys) for item in payload]
    return payload


def redact_text(text: str) -> str:
    """The raw request as text (a JSON body, a form body, a query string, possibly cut short)
    with the values of secret-named fields masked and every other byte kept as received."""

    def json_pair(match: re.Match[str]) -> str:
        name = match.group(1)
        return f'"{name}"{match.group(2)}"{REDACTED}"' if is_secret_name(name) else match.group(0)

    def form_pair(match: re.Match[str]) -> str:
        name = unquote_plus(match.group(2))
        return (
            f"{match.group(1)}{match.group(2)}={REDACTED}"
            if is_secret_name(name)
            else match.group(0)
        )

    return _FORM_PAIR.sub(form_pair, _JSON_PAIR.sub(json_pair, text))
