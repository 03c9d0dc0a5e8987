"""A name shown to people, in the page's two languages. Gateways, payment methods and anomaly
rules carry theirs where they are defined; the page learns them from GET /admin/meta."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}
