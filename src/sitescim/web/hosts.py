"""Which ``Host`` a request may carry into the absolute URLs the service writes.

Without a public base URL, SCIM's ``meta.location`` and ``Location`` (and the
UI's links) are built from the request, so a client sending ``Host: evil.example``
would read, and could hand on, URLs that point elsewhere. A Host whose name is
not allowed is replaced, before anything reads it, by the address the client
actually connected to (or the public base URL's host, when set): requests are
still served, and what is reflected is only ever a name the operator chose or an
address of this server. Production requires the public base URL (settings).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from sitescim.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def allowed_host_names(settings: Settings) -> frozenset[str]:
    names = set(LOOPBACK_NAMES) | {settings.host.lower()} | set(settings.allowed_hosts)
    if settings.public_base_url:
        names.add((urlsplit(settings.public_base_url).hostname or "").lower())
    return frozenset(names)


def _name(host: bytes) -> str:
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text.partition("]")[0] + "]"
    return text.rpartition(":")[0] if text.count(":") == 1 else text


class AllowedHosts:
    """The allowed names and what replaces any other (the middleware's and the SCIM lane's)."""

    def __init__(self, settings: Settings) -> None:
        self.allowed = allowed_host_names(settings)
        self.any = "*" in self.allowed
        public = urlsplit(settings.public_base_url) if settings.public_base_url else None
        self.public_netloc = public.netloc.encode("latin-1") if public else None

    def checked(self, scope: Scope) -> Scope:
        """``scope``, or a copy whose Host is replaced when its name is not allowed."""
        if self.any:
            return scope
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        for at, (key, value) in enumerate(headers):
            if key == b"host":
                if _name(value) not in self.allowed:
                    replaced = list(headers)
                    replaced[at] = (b"host", self._own_host(scope))
                    return {**scope, "headers": replaced}
                break
        return scope

    def _own_host(self, scope: Scope) -> bytes:
        if self.public_netloc is not None:
            return self.public_netloc
        server = scope.get("server")
        if not server:
            return b"localhost"
        host, port = server[0], server[1]
        if ":" in host:
            host = f"[{host}]"
        if port is None or _DEFAULT_PORTS.get(scope.get("scheme", "http")) == port:
            return str(host).encode("latin-1")
        return f"{host}:{port}".encode("latin-1")


class AllowedHostsMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.hosts = AllowedHosts(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = self.hosts.checked(scope)
        await self.app(scope, receive, send)
