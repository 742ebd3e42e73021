"""Host and Origin checks, bearer token and request-size limit, as one pure ASGI middleware.

A middleware rather than per-route dependencies so that nothing can be forgotten: every
HTTP path (routes, static files, the OpenAPI schema, unknown paths) and the WebSocket go
through it; only ``/api/health`` is open, so that load balancers and ``curl`` can probe.

In this order:

* **Host** (against DNS rebinding): the ``Host`` header's name must be a loopback name
  (127.0.0.1, localhost, [::1]), the bound ``service.host``, or one of
  ``service.allowed_hosts`` (``"*"``: any). Anything else gets 400: a page on
  ``http://evil.example:8080`` whose name the attacker re-points at 127.0.0.1 sends
  ``Host: evil.example:8080``. A request without ``Host`` (HTTP/1.0) passes: browsers
  always send one.
* **Origin** (against cross-site requests, including WebSocket hijacking): a WebSocket
  handshake or a request with a method other than GET/HEAD whose ``Origin`` header is
  present must come from the same origin (the ``Origin``'s host and port equal the
  ``Host`` header) or from ``service.cors_origins``; else 403. Browsers always send
  ``Origin`` on these, so another web page cannot open ``/api/live`` or POST a
  recalibration; scripts and ``curl`` send none and pass.
* No token configured: everything is open (the default binds to 127.0.0.1 only).
* Token configured: ``Authorization: Bearer <token>``; missing -> 401 with
  ``WWW-Authenticate: Bearer``, wrong -> 403. Browsers cannot set headers on a WebSocket
  or on ``<script src>``, so the page, its static files and ``/api/live`` also accept
  ``?token=<token>``; the JSON routes do not, to keep tokens out of access logs.
  Comparison is constant-time (``hmac.compare_digest``).
* WebSocket refusals use the ASGI denial-response extension (a real HTTP 401/403 on the
  handshake) where the server supports it, else close with 1008 (policy violation).
* Request bodies over ``max_body_bytes`` get 413, by ``Content-Length`` or while streaming.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PATHS = frozenset({"/api/health"})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD"})
DEFAULT_PORTS = {"http": "80", "ws": "80", "https": "443", "wss": "443"}


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the limit."""


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        token: str = "",
        max_body_bytes: int = 64 * 1024,
        allowed_hosts: Iterable[str] = LOOPBACK_HOSTS,
        allowed_origins: Iterable[str] = (),
    ) -> None:
        """``allowed_hosts``: host names (no port) the ``Host`` header may carry, ``"*"``
        for any; ``allowed_origins``: origins besides the request's own that may open the
        WebSocket or send non-GET requests (``service.cors_origins``), ``"*"`` for any."""
        self.app = app
        self.token = token.encode()
        self.max_body_bytes = max_body_bytes
        hosts = {_bare_host(h) for h in allowed_hosts}
        self.any_host = "*" in hosts
        self.allowed_hosts = frozenset(hosts)
        origins = {o.rstrip("/").lower() for o in allowed_origins}
        self.any_origin = "*" in origins
        self.allowed_origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._check_host(scope) or self._check_origin(scope)
        if refusal is not None:
            await _refuse(scope, send, *refusal)
            return
        status = self._check(scope)
        if status is not None:
            detail = "bearer token required" if status == 401 else "wrong token"
            headers = [(b"www-authenticate", b"Bearer")] if status == 401 else []
            await _refuse(scope, send, status, detail, headers)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._limited(scope, receive, send)

    def _check_host(self, scope: Scope) -> tuple[int, str] | None:
        if self.any_host or scope["path"] in OPEN_PATHS:
            return None
        host = _header(scope, b"host")
        if host is None or _bare_host(host) in self.allowed_hosts:
            return None
        return 400, "host not allowed (service.allowed_hosts)"

    def _check_origin(self, scope: Scope) -> tuple[int, str] | None:
        if scope["type"] == "http" and scope.get("method", "GET") in SAFE_METHODS:
            return None
        origin = _header(scope, b"origin")
        if origin is None or self.any_origin:
            return None
        if origin.rstrip("/").lower() in self.allowed_origins:
            return None
        host = _header(scope, b"host")
        if host is not None and _same_origin(origin, host):
            return None
        return 403, "cross-origin request refused (service.cors_origins)"

    def _check(self, scope: Scope) -> int | None:
        """None when the request may pass, else the HTTP status that refuses it."""
        path: str = scope["path"]
        if not self.token or path in OPEN_PATHS:
            return None
        offered = _bearer(scope)
        if offered is None and _query_token_allowed(path):
            offered = _query_token(scope)
        if offered is None:
            return 401
        return None if hmac.compare_digest(offered.encode(), self.token) else 403

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_body_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await _json(send, 413, "request body too large")
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _json(send, 413, "request body too large")


def _header(scope: Scope, wanted: bytes) -> str | None:
    name: bytes
    value: bytes
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1")
    return None


def _split_host(netloc: str) -> tuple[str, str]:
    """``host[:port]`` or ``[v6][:port]`` -> (lower-case host without brackets, port)."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    host, colon, port = netloc.rpartition(":")
    if colon and port.isdigit() and ":" not in host:
        return host, port
    return netloc, ""


def _bare_host(name: str) -> str:
    """A configured or received host name as compared: lower case, no port, no brackets,
    no trailing dot."""
    if name.strip() == "*":
        return "*"
    return _split_host(name)[0].rstrip(".")


def _same_origin(origin: str, host_header: str) -> bool:
    """Whether ``Origin`` (scheme://host[:port]) names the server the request reached
    (its ``Host`` header). The scheme is not compared: behind a TLS proxy the page is
    https while the app sees http. Default ports are made explicit on both sides."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    if not parts.scheme or not parts.netloc:
        return False  # "null" (sandboxed frames, file://) or garbage
    default = DEFAULT_PORTS.get(parts.scheme.lower(), "")
    o_host, o_port = _split_host(parts.netloc)
    h_host, h_port = _split_host(host_header)
    return (o_host, o_port or default) == (h_host, h_port or default)


def _bearer(scope: Scope) -> str | None:
    name: bytes
    value: bytes
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1")
            scheme, _, credentials = text.partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None


def _query_token_allowed(path: str) -> bool:
    return path == "/" or path == "/api/live" or path.startswith("/static/")


def _query_token(scope: Scope) -> str | None:
    query = scope.get("query_string", b"").decode("latin-1")
    values: list[str] = parse_qs(query).get("token", [])
    return str(values[0]) if values else None


async def _refuse(
    scope: Scope,
    send: Send,
    status: int,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    if scope["type"] == "http":
        await _json(send, status, detail, headers)
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await _json(send, status, detail, headers, prefix="websocket.")
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": detail})


async def _json(
    send: Send,
    status: int,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    prefix: str = "",
) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": f"{prefix}http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": f"{prefix}http.response.body", "body": body})
