"""Where a webhook may be sent: resolved, and refused when it is not a public address.

Checked when an endpoint is added and again before every send, since DNS can
change in between; the send then connects to the very address that was checked
(services.webhook_sender), so a name cannot resolve to a public address for the
check and to a private one for the connection.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from sitescim.domain.errors import InvalidInputError
from sitescim.domain.webhooks import Target, is_public_address, parse_url


class UnsafeTargetError(InvalidInputError):
    """The URL's host is, or resolves to, an address webhooks must not reach."""


@dataclass(frozen=True, slots=True)
class Resolved:
    target: Target
    address: str
    """The address checked, and the one to connect to."""


def resolve(url: str, *, allow_private: bool) -> Resolved:
    """The URL's first address, once every address its host resolves to passed."""
    target = parse_url(url)
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeTargetError("url", f"the host {target.host[:100]!r} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeTargetError("url", f"the host {target.host[:100]!r} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeTargetError(
                    "url",
                    f"{target.host[:100]!r} is or resolves to a loopback, private, link-local, "
                    "multicast or reserved address (SITESCIM_WEBHOOKS_ALLOW_PRIVATE=true allows it)",
                )
    return Resolved(target=target, address=addresses[0])
