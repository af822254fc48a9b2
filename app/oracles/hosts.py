"""Which hosts an oracle may call: public ones, and internal ones only when configured.

An oracle's URL is typed by a project manager, and the worker calls it from inside the
deployment: without this check, a URL such as ``http://169.254.169.254/`` or
``http://127.0.0.1:5432/`` would make the server probe its own network (SSRF). The check runs
when the oracle is saved (a clear 422) and again before every call, on the addresses the name
resolves to then, so a name that later resolves elsewhere is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class HostRefused(ValueError):
    """The URL's host is internal and not in ``LABELLOOP_ORACLE_HOSTS``, or does not resolve."""


def _internal(address: Address) -> bool:
    return not address.is_global or address.is_multicast


def _listed(host: str, address: Address, allowed: Sequence[str]) -> bool:
    for entry in allowed:
        if entry.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue  # a host name entry that is not this host
    return False


def resolve(host: str) -> list[Address]:
    """Every address ``host`` resolves to now (an address literal: itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise HostRefused(f"the oracle's host {host!r} does not resolve ({exc})") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_url(url: str, allowed: Sequence[str]) -> None:
    """Raise :class:`HostRefused` unless every address of ``url``'s host may be called."""
    host = urlsplit(url).hostname or ""
    if not host:
        raise HostRefused(f"the oracle's URL {url!r} names no host")
    for address in resolve(host):
        if _internal(address) and not _listed(host, address, allowed):
            raise HostRefused(
                f"the oracle's host {host!r} is an internal address ({address}); "
                "list it in LABELLOOP_ORACLE_HOSTS to allow it"
            )
