"""The reply tokens of buyer verification (domain/verification.reply_token), keyed by the stage's
verification secret: one Secrets Manager secret per stage, a random string the deploy template
(infra/resources.json, VerificationSecret) and the local stack (local/bootstrap.py) generate.

Read once per process and kept: a token must come out the same whenever it is derived (by the
request, by the orders stream, when the answer is checked). Changing the secret makes every
unanswered request's token wrong: its answers are refused and the operator asks again.
"""

from __future__ import annotations

import threading

from ..domain.verification import reply_token as derive
from ..platform.aws import client
from ..platform.settings import get_settings
from . import ports

MIN_SECRET_LENGTH = 32

_lock = threading.Lock()
_cache: dict[str, bytes] = {}


class VerificationSecretUnusable(RuntimeError):
    """The verification secret is too short to key the tokens with."""


class _VerificationSecret:
    """The stage's verification secret (Secrets Manager): the real `verification_secret` port."""

    def text(self) -> str:
        value: str = client("secretsmanager").get_secret_value(
            SecretId=get_settings().verification_secret_id
        )["SecretString"]
        return value


_VERIFICATION_SECRET = _VerificationSecret()


def _secret() -> bytes:
    with _lock:
        if "secret" not in _cache:
            value = ports.port("verification_secret", _VERIFICATION_SECRET).text()
            if len(value) < MIN_SECRET_LENGTH:
                raise VerificationSecretUnusable(
                    f"the verification secret must be at least {MIN_SECRET_LENGTH} characters"
                )
            _cache["secret"] = value.encode("utf-8")
        return _cache["secret"]


def reply_token(order_no: str, verification_id: str) -> str:
    return derive(_secret(), order_no, verification_id)


def forget() -> None:
    with _lock:
        _cache.clear()
