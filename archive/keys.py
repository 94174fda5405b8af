"""Object keys: the same relative path works as a local path and an object-store key, if it is tame.

Object stores accept almost any byte string as a key, and that is the problem: a key with `..`, a
control character or 2,000 bytes is accepted by S3 but breaks the local backend, shell scripts, or other
S3-compatible stores (Ceph and R2 cap keys at 1,024 bytes; some tools treat `..` as a parent). Every key
the archive writes goes through `check_key`; every piece of a key derived from outside data (a URL, an
outlet name from a TOML file) goes through `sanitize_component` first.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote, urlsplit

MAX_KEY_BYTES = 1024  # S3's limit, and the smallest common limit among S3-compatible stores
MAX_COMPONENT_BYTES = 200  # what sanitize_component produces: room left for suffixes like .parquet
MAX_NAME_BYTES = 255  # what most local file systems allow per name

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What may appear in a component derived from outside data; everything else is percent-encoded.
_COMPONENT_SAFE = "-_.~=+,@"


class UnsafeKeyError(ValueError):
    pass


def check_key(key: str) -> str:
    """Return `key` unchanged if it is a tame relative key, else raise UnsafeKeyError naming why."""
    problem = _key_problem(key)
    if problem:
        raise UnsafeKeyError(f"object key {key[:120]!r}: {problem}")
    return key


def _key_problem(key: str) -> str | None:
    if not key:
        return "empty"
    if key.startswith("/") or "\\" in key:
        return "must be relative and use forward slashes"
    if _CONTROL.search(key):
        return "contains a control character"
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    for part in key.split("/"):
        if part in ("", ".", ".."):
            return "has an empty, '.' or '..' path component"
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            return f"has a path component longer than {MAX_NAME_BYTES} bytes"
    return None


def join_key(prefix: str, rel: str) -> str:
    """The store key of an archive-relative path under a store prefix ('' = bucket root)."""
    check_key(rel)
    prefix = prefix.strip("/")
    return check_key(f"{prefix}/{rel}" if prefix else rel)


def sanitize_component(text: str, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """Turn arbitrary text into one safe key component: NFC, control characters and separators
    percent-encoded, no '..', bounded length (a long value keeps a prefix plus a hash of the whole, so
    two long values that share a prefix still get different names)."""
    text = unicodedata.normalize("NFC", text)
    safe = quote(text, safe=_COMPONENT_SAFE)
    safe = safe.replace("..", "%2E%2E")
    if safe in ("", "."):
        safe = "_" + safe.replace(".", "%2E")
    if len(safe.encode("utf-8")) > max_bytes:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        head = safe.encode("utf-8")[: max_bytes - len(digest) - 1].decode("utf-8", "ignore")
        # Never cut a %XX escape in half.
        head = re.sub(r"%[0-9A-Fa-f]?$", "", head)
        safe = f"{head}~{digest}"
    return safe


def key_for_url(url: str, max_bytes: int = MAX_COMPONENT_BYTES) -> str:
    """A key fragment `<host>/<sanitised path and query>` for a URL, e.g. for per-URL exports."""
    parts = urlsplit(url)
    host = sanitize_component((parts.hostname or "no-host").lower(), 100)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{host}/{sanitize_component(rest or '/', max_bytes)}"
