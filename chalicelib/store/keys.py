"""API keys, stored by the SHA-256 of the key: a leaked table does not leak a usable key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.clock import from_iso, to_iso
from .models import ApiKeyModel


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    key_hash: str


def _to_domain(item: ApiKeyModel) -> StoredKey:
    return StoredKey(
        key_id=item.key_id,
        name=item.name,
        role=item.role,
        created_at=from_iso(item.created_at),
        revoked_at=from_iso(item.revoked_at) if item.revoked_at else None,
        last_used_at=from_iso(item.last_used_at) if item.last_used_at else None,
        key_hash=item.key_hash,
    )


def put(
    key_hash: str, key_id: str, name: str, role: str, at: datetime, created_by: str | None
) -> None:
    ApiKeyModel(
        key_hash, key_id=key_id, name=name, role=role, created_at=to_iso(at), created_by=created_by
    ).save(condition=ApiKeyModel.key_hash.does_not_exist())


def find(key_hash: str) -> StoredKey | None:
    try:
        return _to_domain(ApiKeyModel.get(key_hash))
    except ApiKeyModel.DoesNotExist:
        return None


def touch(key_hash: str, at: datetime) -> None:
    ApiKeyModel(key_hash).update(
        actions=[ApiKeyModel.last_used_at.set(to_iso(at))], condition=ApiKeyModel.key_hash.exists()
    )


def list_all() -> list[StoredKey]:
    return [_to_domain(item) for item in ApiKeyModel.by_kind.query("key")]


def by_id(key_id: str) -> StoredKey | None:
    found = next(iter(ApiKeyModel.by_id.query(key_id, limit=1)), None)
    return _to_domain(found) if found else None


def revoke(key_hash: str, at: datetime) -> None:
    ApiKeyModel(key_hash).update(
        actions=[ApiKeyModel.revoked_at.set(to_iso(at))], condition=ApiKeyModel.key_hash.exists()
    )
