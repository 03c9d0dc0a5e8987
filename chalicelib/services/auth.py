"""Bearer API keys and roles: one mechanism, used by every route (web.py calls `authorize`)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..domain.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from ..store import keys as key_store
from . import ports
from .ports import clock

ROLES = ("shop", "viewer", "operator", "admin")
# who may call a route that requires the key's role
_ALLOWED = {
    "shop": {"shop", "admin"},
    "viewer": {"viewer", "operator", "admin"},
    "operator": {"operator", "admin"},
    "admin": {"admin"},
    "any": set(ROLES),
}
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    role: str

    @property
    def sees_pii(self) -> bool:
        return self.role in ("operator", "admin", "shop")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def authenticate(authorization: str | None, now: datetime | None = None) -> Principal:
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("send Authorization: Bearer <api key>")
    presented = authorization[len("Bearer ") :].strip()
    stored = key_store.find(hash_key(presented)) if presented else None
    if stored is None or stored.revoked_at is not None:
        raise Unauthenticated("unknown or revoked API key")
    now = now or clock().now()
    if stored.last_used_at is None or now - stored.last_used_at > _TOUCH_EVERY:
        key_store.touch(stored.key_hash, now)
    return Principal(stored.key_id, stored.name, stored.role)


def authorize(authorization: str | None, required_role: str) -> Principal:
    principal = authenticate(authorization)
    if principal.role not in _ALLOWED[required_role]:
        raise Forbidden(
            f"this needs the {required_role} role; your key is {principal.role}",
            {"required": required_role, "role": principal.role},
        )
    return principal


def create_key(
    name: str, role: str, created_by: str | None, key: str | None = None
) -> tuple[str, str]:
    """Store a new key (or a given one, for bootstrap) and return (key_id, key) — shown once."""
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", {"role": role})
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ValidationFailed("name must be 1-100 characters", {"field": "name"})
    key = key or f"pt_{role}_{secrets.token_urlsafe(32)}"
    key_id = uuid.uuid4().hex[:16]
    key_store.put(hash_key(key), key_id, name.strip(), role, clock().now(), created_by)
    return key_id, key


def ensure_key(name: str, role: str, key: str) -> None:
    """Idempotent bootstrap: store `key` unless it is already there."""
    if key_store.find(hash_key(key)) is None:
        create_key(name, role, "bootstrap", key)


def revoke_key(key_id: str) -> None:
    stored = key_store.by_id(key_id)
    if stored is None:
        raise NotFound(f"no key {key_id!r}", {"id": key_id})
    key_store.revoke(stored.key_hash, clock().now())


def key_names(key_ids: set[str | None]) -> dict[str, str]:
    """Key id -> the name it was created with, for the actors of a timeline (revoked keys too)."""
    found = {key_id: ports.api_keys(key_store).by_id(key_id) for key_id in key_ids if key_id}
    return {key_id: stored.name for key_id, stored in found.items() if stored is not None}
