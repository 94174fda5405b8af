"""Loaded into every peer's process (sitecustomize.py): no connection or name lookup leaves loopback.

Peers such as news-please may try to download things at start-up (tldextract's suffix list, NLTK data,
feeds): each refusal is printed on stderr with the PEER-NETGUARD prefix, and the harness counts them.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

_LOCAL = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _loopback(host: Any) -> bool:
    if host is None:
        return True
    host = (host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)).strip("[]")
    if host in _LOCAL:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str, host: Any) -> None:
    print(f"PEER-NETGUARD refused {what} {host!r}", file=sys.stderr, flush=True)


def install() -> None:
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo
    real_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            if not _loopback(address[0]):
                _refuse("connection to", address[0])
                raise OSError(f"peer network guard: {address[0]!r} is not loopback")

    def connect(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            _refuse("lookup of", host)
            raise socket.gaierror(socket.EAI_NONAME, f"peer network guard: lookup of {host!r} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo
