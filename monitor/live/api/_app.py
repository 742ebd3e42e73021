"""``create_app``: the FastAPI application of one running service, built from its parts.

Nothing module-level holds state: the routes close over an ``ApiContext`` made here, the
metrics registry belongs to the app, so tests and services build as many apps as they
like. Swagger UI and ReDoc are off because FastAPI loads them from a CDN, and the
dashboard must work on a lab network without internet; ``/openapi.json`` stays.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
from collections.abc import Callable, Sequence
from importlib.resources import files
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

import monitor
from monitor.live.api._guard import LOOPBACK_HOSTS, Guard
from monitor.live.api._live import live_router
from monitor.live.api._routes import PROTECTED, ApiContext, api_router, metrics_router
from monitor.live.api._snapshot import StreamStatuses
from monitor.live.hub import LiveHub
from monitor.live.pipeline import Pipeline
from monitor.live.status import ServiceStatus
from monitor.outputs.store import Store

log = logging.getLogger(__name__)

STATIC_DIR = files("monitor.live.api") / "static"
MAX_BODY_BYTES = 64 * 1024

# The page loads only its own files; no inline script, no third-party origin, no framing.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",  # the page URL may carry ?token=
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def create_app(
    *,
    store: Store,
    pipeline: Pipeline,
    hub: LiveHub,
    status: Callable[[], ServiceStatus] = ServiceStatus,
    lock: asyncio.Lock | None = None,
    token: str = "",
    cors_origins: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    host: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    statuses: StreamStatuses | None = None,
) -> FastAPI:
    """``lock`` is the service's tick lock (held while a tick runs in its worker thread);
    routes that read or change detectors take it. Without one (tests), a private lock.
    ``statuses``: the streams' detector statuses for the sensor list, kept by the
    service's ticker (``_snapshot``); without them, a list build reads every detector.

    ``host`` (the address the API is bound to) and ``allowed_hosts`` default to the
    pipeline's ``service.host`` and ``service.allowed_hosts``: with loopback names they
    are what the ``Host`` header may carry (the Guard's DNS-rebinding check)."""
    service = pipeline.settings.service
    host = service.host if host is None else host
    extra_hosts = service.allowed_hosts if allowed_hosts is None else allowed_hosts
    if not token and not _is_loopback(host):
        log.warning(
            "the dashboard API listens on %s without a token: anyone who can reach this "
            "address can read all data and reset baselines; set service.token (or "
            "FATIGUE_MONITOR__SERVICE__TOKEN, or --token)",
            host,
        )
    if host in ("0.0.0.0", "::") and not extra_hosts:
        log.warning(
            "the dashboard API listens on all interfaces (%s) but service.allowed_hosts is "
            "empty: browsers on other machines get 400 until it lists the names or "
            'addresses they use (e.g. ["lab-pc.local", "192.168.1.20"])',
            host,
        )
    ctx = ApiContext(
        store, pipeline, hub, status, lock or asyncio.Lock(), token, statuses or StreamStatuses()
    )
    app = FastAPI(
        title="fatigue-monitor",
        version=monitor.__version__,
        summary="Live muscle-fatigue and tremor monitor: sensors, features, alerts.",
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(api_router(ctx))
    app.include_router(metrics_router(ctx))
    app.include_router(live_router(hub))
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, dependencies=PROTECTED)
    async def dashboard(request: Request) -> HTMLResponse:
        """The dashboard page. With a token, open it as ``/?token=...``: its scripts and
        the WebSocket reuse the token from the URL."""
        given = request.query_params.get("token")
        query = f"?token={quote(given, safe='')}" if token and given else ""
        body = page.replace("{{asset_query}}", html.escape(query, quote=True))
        return HTMLResponse(body, headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.add_middleware(
        Guard,
        token=token,
        max_body_bytes=max_body_bytes,
        allowed_hosts=(*LOOPBACK_HOSTS, host, *extra_hosts),
        allowed_origins=cors_origins,
    )
    if cors_origins:  # outermost, so that preflight requests are answered before the guard
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization"],
        )
    app.state.context = ctx
    return app


def _is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
