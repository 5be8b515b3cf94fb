"""Who the studio answers: requests for this machine's names only (DNS rebinding), posts from its own origin only."""

from __future__ import annotations

import ipaddress
import socket

from aiohttp import web
from yarl import URL


def is_loopback(host: str) -> bool:
    """A name or address of this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_names(host: str, allowed: tuple[str, ...] = ()) -> frozenset[str] | None:
    """The Host names the studio answers when listening on ``host``: loopback names, and off loopback this
    machine's names, the address it listens on and ``allowed`` (addresses are accepted as they are); lower case."""
    if is_loopback(host):
        return None  # is_loopback decides
    names = {host, socket.gethostname(), socket.getfqdn(), *allowed}
    return frozenset(name.lower().rstrip(".") for name in names if name)


def answers(host: str, names: frozenset[str] | None) -> bool:
    """Whether a request for ``host`` (the Host header's name) is one the studio answers (see ``host_names``)."""
    if is_loopback(host):
        return True
    if names is None:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True  # an address typed by the user: no name that another site could make resolve here
    except ValueError:
        return host.lower().rstrip(".") in names


def local_only(names: frozenset[str] | None):
    """A middleware: requests for a host the studio does not answer (``answers``) are refused, which stops another
    site's page whose name was made to resolve to this machine (DNS rebinding); posts from another origin too."""

    @web.middleware
    async def guard(request: web.Request, handler):
        try:
            url = request.url
            host = url.host or ""
        except ValueError:  # a Host header that is no host
            raise web.HTTPBadRequest(text="a malformed Host header") from None
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
