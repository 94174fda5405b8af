"""The SSRF policy: which URLs and resolved addresses a crawl may reach, and the allow-list that opens some.

A crawl follows links, redirects and sitemap entries written by sites we do not control, so a hostile page
could point it at the machine it runs on, the operator's network or a cloud metadata service. This module
decides, with no Scrapy and no I/O: only http and https are fetched, and an address that is not a public
unicast one is refused unless the allow-list (setting `SSRF_ALLOW_HOSTS`, flag `--allow-host`, and the
origins of `OUTLET_BASE_URLS`) names it. The Scrapy side (crawler.ssrf_guard) asks it twice: for every
request's URL (scheme, IP-literal host), and for every address a host name resolves to, after resolution.

Allow-list entries are `HOST[:PORT]`; a host is a name, an IPv4 address or an IPv6 address (bracketed when
a port follows). Without a port an entry allows every port. A name is matched as written: an entry for a
name never allows the addresses it happens to resolve to under another name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOW_HINT = "allow it with --allow-host HOST[:PORT] or the SSRF_ALLOW_HOSTS setting"

# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 host a NAT64 gateway connects to.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class SsrfRefused(Exception):
    """A request the SSRF policy refuses. Not an IgnoreRequest on purpose: a refusal is a counted failure
    (`newsarchive/errors/SsrfRefused`), not a quiet decision, and it is not one Scrapy retries either."""

    def __init__(self, target: str, reason: str, detail: str):
        super().__init__(f"SSRF guard refused {target}: {detail} ({ALLOW_HINT})")
        self.target = target
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Refusal:
    reason: str  # one word for the stats key newsarchive/refused/ssrf/<reason>
    detail: str  # what was refused and why, for the log line


@dataclass(frozen=True)
class AllowEntry:
    host: str  # lower-case name without a trailing dot, or an address in its canonical text form
    port: int | None = None  # None: every port

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def canonical_host(host: str) -> str:
    """A host as allow-list entries and requests are compared: addresses canonical, names lower-case."""
    host = host.strip().strip("[]").lower().rstrip(".")
    address = literal_address(host)
    return str(address) if address is not None else host


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal stands for; None for a name.

    Besides dotted quads and IPv6, the C library accepts `127.1`, `0x7f.1` or `2130706433` as IPv4
    addresses; they are read the same way here, so such a host is refused with its real address instead of
    reaching the resolver as a "name".
    """
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or not all(c in "0123456789abcdefx." for c in host.lower()):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 host an IPv6 address really leads to, for the forms that carry one."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why a crawl must not connect to `address` (a stats-friendly word), or None for a public address."""
    inner = embedded_ipv4(address)
    if inner is not None and isinstance(address, ipaddress.IPv6Address):
        # The IPv4 host behind the IPv6 form is what is really reached (::ffff:169.254.169.254 is the
        # metadata service), so it decides; mapped and NAT64 addresses are nothing but that IPv4 host.
        reason = address_refusal(inner)
        if reason is not None or address.ipv4_mapped is not None or address in _NAT64:
            return reason
    if address.is_unspecified:
        return "unspecified"  # 0.0.0.0 and :: connect to this very machine on Linux
    if address.is_loopback:
        return "loopback"  # services bound to this machine only: admin consoles, databases, Scrapy's own
    if address.is_link_local:
        return "link_local"  # 169.254.169.254 and fe80::/10: cloud metadata services hand out credentials
    if address.is_multicast:
        return "multicast"  # never one web server; Python even calls IPv4 multicast "global"
    if address.is_reserved:
        # 240.0.0.0/4 and other unassigned space: no news site lives there. Before "private", which also
        # lists 240.0.0.0/4 in this Python.
        return "reserved"
    if address.is_private:
        return "private"  # RFC 1918, fc00::/7 and the like: the operator's own network
    if not address.is_global:
        # 100.64.0.0/10 (carrier NAT, and some clouds' metadata at 100.100.100.200), benchmarking space.
        return "not_global"
    return None


def describe(address: IPAddress, reason: str) -> str:
    """`address` and its class in words, for a log line: "::ffff:a9fe:a9fe (169.254.169.254), a link-local address"."""
    inner = embedded_ipv4(address)
    shown = f"{address} ({inner})" if inner is not None else str(address)
    words = "not a global address" if reason == "not_global" else f"a {reason.replace('_', '-')} address"
    return f"{shown}, {words}"


def request_port(scheme: str, port: int | None) -> int:
    return port if port is not None else DEFAULT_PORTS.get(scheme, 0)


def parse_allow_entry(text: str) -> AllowEntry:
    """`HOST[:PORT]` -> AllowEntry; ValueError with one line naming the entry."""
    spec = text.strip()
    host, port_text = spec, ""
    if spec.startswith("["):
        closing = spec.find("]")
        if closing < 0:
            raise ValueError(f"allow-list entry '{text}': missing ']' after an IPv6 address")
        host, rest = spec[1:closing], spec[closing + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"allow-list entry '{text}': expected [IPV6]:PORT")
        port_text = rest[1:]
    elif spec.count(":") == 1:
        host, port_text = spec.split(":")
    if not host or "/" in host or "@" in host or " " in host:
        raise ValueError(f"allow-list entry '{text}': expected HOST[:PORT], e.g. 10.0.0.5:8080")
    if ":" in host and literal_address(host) is None:
        raise ValueError(f"allow-list entry '{text}': '{host}' is not an IPv6 address")
    port: int | None = None
    if port_text or spec.endswith(":"):
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"allow-list entry '{text}': port must be a number from 1 to 65535")
        port = int(port_text)
    return AllowEntry(canonical_host(host), port)


def base_url_entries(base_urls: Mapping[str, str]) -> list[AllowEntry]:
    """The origins of the base-URL override, host and port: reaching them is what the user asked for."""
    entries = []
    for origin in base_urls.values():
        parts = urlsplit(origin)
        if parts.hostname:
            entries.append(AllowEntry(canonical_host(parts.hostname), request_port(parts.scheme, parts.port)))
    return entries


@dataclass(frozen=True)
class SsrfPolicy:
    """What may be reached: public addresses over http(s), plus whatever the allow-list names."""

    allow: frozenset[AllowEntry] = field(default_factory=frozenset)

    @classmethod
    def build(cls, allow_hosts: Iterable[str] = (), base_urls: Mapping[str, str] | None = None) -> SsrfPolicy:
        entries = [parse_allow_entry(h) for h in allow_hosts if h.strip()]
        return cls(frozenset(entries + base_url_entries(base_urls or {})))

    def allows(self, host: str, port: int | None) -> bool:
        """The allow-list names `host` on `port` (None: on any port, i.e. an entry without a port)."""
        host = canonical_host(host)
        return any(e.host == host and (e.port is None or e.port == port) for e in self.allow)

    def _allows_address(self, address: IPAddress, port: int | None) -> bool:
        # An IPv4-mapped address is its IPv4 host: an entry for either spelling allows both.
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        forms = {str(address)} | ({str(mapped)} if mapped is not None else set())
        return any(self.allows(form, port) for form in forms)

    def check_url(self, url: str) -> Refusal | None:
        """The refusal for a request to `url` that can be decided before resolution, if any."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            return Refusal("scheme", f"scheme '{scheme}:' is never fetched (only http and https)")
        host = parts.hostname or ""
        if not host:
            return Refusal("no_host", "the URL names no host")
        try:
            port = request_port(scheme, parts.port)
        except ValueError:
            return Refusal("bad_port", "the URL's port is not a number from 0 to 65535")
        address = literal_address(host)
        if address is not None:
            # An IP literal is connected to as it is: Twisted never hands it to the resolver.
            reason = address_refusal(address)
            if reason is not None and not self._allows_address(address, port):
                return Refusal(reason, f"the host is {describe(address, reason)}")
            return None
        name = canonical_host(host)
        ports = {e.port for e in self.allow if e.host == name}
        if ports and None not in ports and port not in ports:
            # The resolver sees names, not ports: the name's forbidden addresses are allowed on every port
            # there, so the ports the allow-list does not name are refused here instead.
            listed = ", ".join(str(p) for p in sorted(p for p in ports if p is not None))
            return Refusal("port_not_allowed", f"{name} is allow-listed on port {listed} only, not {port}")
        return None

    def check_resolved(self, name: str, address: str) -> Refusal | None:
        """The refusal for connecting to `address`, which the host name `name` resolved to, if any."""
        try:
            resolved = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return Refusal("unresolvable", f"{name} resolved to '{address}', which is not an IP address")
        reason = address_refusal(resolved)
        # A name on the allow-list may resolve to anything (its ports are checked by check_url).
        if reason is None or any(e.host == canonical_host(name) for e in self.allow):
            return None
        if self._allows_address(resolved, None):
            return None
        return Refusal(reason, f"{name} resolves to {describe(resolved, reason)}")
