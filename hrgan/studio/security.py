"""Who the studio answers: requests for this machine's names only (DNS rebinding), posts from its own origin only."""

from __future__ import annotations

import ipaddress
import socket

from aiohttp import web
from yarl import URL


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%")[0])  # [fe80::1%eth0]: the zone is no part of it
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address  # ::ffff:127.0.0.1 is 127.0.0.1


def is_loopback(host: str) -> bool:
    """A name or address of this machine only (localhost and names under .localhost, which browsers keep local)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def host_names(host: str, allowed: tuple[str, ...] = ()) -> frozenset[str]:
    """The names besides loopback ones and addresses that the studio answers when listening on ``host``: this
    machine's own names, the name it listens on, and ``allowed`` (hrgan studio --allow-host); lower case."""
    names = {socket.gethostname(), socket.getfqdn(), *allowed}
    if _address(host) is None:
        names.add(host)
    return frozenset(name.lower().rstrip(".") for name in names if name)


def answers(host: str, names: frozenset[str]) -> bool:
    """Whether the studio answers a request for ``host`` (the Host header's name): a loopback name, an address
    (typed by the user: no other site can make an address resolve here), or one of ``names``."""
    return is_loopback(host) or _address(host) is not None or host.lower().rstrip(".") in names


def local_only(names: frozenset[str]):
    """A middleware: requests for a host the studio does not answer (``answers``) are refused, which stops another
    site's page whose name was made to resolve to this machine (DNS rebinding); posts from another origin too."""

    @web.middleware
    async def guard(request: web.Request, handler):
        try:
            url = request.url
            host = url.host or ""
        except ValueError:  # a Host header that is no host
            raise web.HTTPBadRequest(text="a malformed Host header") from None
        if not host:
            raise web.HTTPBadRequest(text="the request names no host (an empty Host header)")
        if not answers(host, names):
            raise web.HTTPForbidden(text=f"the studio answers this machine's names, not {host!r} "
                                         "(hrgan studio --allow-host NAME adds a name)")
        origin = request.headers.get("Origin")
        if request.method == "POST" and origin is not None and not same_origin(origin, url):
            raise web.HTTPForbidden(text=f"posts from {origin} are refused")
        return await handler(request)

    return guard


def same_origin(origin: str, url: URL) -> bool:
    try:
        return URL(origin).origin() == url.origin()
    except ValueError:  # "null" and other opaque origins
        return False
