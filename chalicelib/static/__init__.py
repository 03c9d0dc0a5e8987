"""The admin page (docs/internals.md "The admin page"): static HTML, CSS and plain JavaScript modules in this
folder, served by two routes of app.py — GET /admin/ (index.html) and GET /admin/assets/{name}.

Only files that exist directly in this folder with a known type are served: a name is never
joined into a path unchecked, so there is no way out of the folder. Every response carries a
strong ETag and `Cache-Control: no-cache`: the browser keeps its copy and revalidates it (a
304 without a body), so a deploy is picked up at the next load and a page never mixes modules
of two versions. The same files deploy unchanged to S3 (the page calls the API on its own
origin, or the one named in index.html's `paytrack-api-base` meta tag).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
INDEX = "index.html"
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.[a-z]{2,4}$")

# The page loads nothing from elsewhere: no CDN, no inline script, no framing.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class StaticFile:
    body: str
    content_type: str
    etag: str

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": self.content_type,
            "ETag": self.etag,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }


_cache: dict[str, tuple[int, StaticFile]] = {}


def _load(name: str, content_type: str) -> StaticFile | None:
    path = FOLDER / name
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    cached = _cache.get(name)
    if cached and cached[0] == stamp:
        return cached[1]
    raw = path.read_bytes()
    found = StaticFile(
        raw.decode("utf-8"), content_type, '"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
    )
    _cache[name] = (stamp, found)
    return found


def asset(name: str) -> StaticFile | None:
    """A script, style sheet or icon of the page by its file name; None for anything else."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return None
    content_type = ASSET_TYPES.get(Path(name).suffix)
    if content_type is None or name not in {p.name for p in FOLDER.iterdir() if p.is_file()}:
        return None
    return _load(name, content_type)


def page() -> StaticFile:
    found = _load(INDEX, "text/html; charset=utf-8")
    if found is None:  # the package always ships it; a broken deploy says so plainly
        raise FileNotFoundError(f"{FOLDER / INDEX} is missing")
    return found


def not_modified(found: StaticFile, if_none_match: str | None) -> bool:
    """The browser's copy is current (If-None-Match carries our ETag, or *)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or found.etag in tags
