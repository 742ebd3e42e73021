"""Bearer-token check and request-size limit, as one pure ASGI middleware.

A middleware rather than per-route dependencies so that nothing can be forgotten: every
HTTP path (routes, static files, the OpenAPI schema, unknown paths) and the WebSocket go
through it; only ``/api/health`` is open, so that load balancers and ``curl`` can probe.

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
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PATHS = frozenset({"/api/health"})


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the limit."""


class Guard:
    def __init__(self, app: ASGIApp, token: str = "", max_body_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.token = token.encode()
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        status = self._check(scope)
        if status is not None:
            await _refuse(scope, receive, send, status)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._limited(scope, receive, send)

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


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int) -> None:
    detail = "bearer token required" if status == 401 else "wrong token"
    headers = [(b"www-authenticate", b"Bearer")] if status == 401 else []
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
