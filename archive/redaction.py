"""Credentials never reach the archive: the request headers that carry them are written redacted.

A WARC request record is meant to show what was sent, but an Authorization, Proxy-Authorization or
Cookie value is a credential (a session, an API key) that would then live forever in every copy of the
archive and every WACZ given to a researcher. The header name stays (replay and analysis can see that
one was sent), its value becomes REDACTED. Response headers (Set-Cookie) are the site's and stay as
received.
"""

from __future__ import annotations

REDACTED = "[redacted]"
SECRET_REQUEST_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def redact_request_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, REDACTED if name.lower() in SECRET_REQUEST_HEADERS else value) for name, value in headers]
