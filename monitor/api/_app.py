"""``create_app``: the FastAPI application of one running service, built from its parts.

Nothing module-level holds state: the routes close over an ``ApiContext`` made here, the
metrics registry belongs to the app, so tests and services build as many apps as they
like. Swagger UI and ReDoc are off because FastAPI loads them from a CDN, and the
dashboard must work on a lab network without internet; ``/openapi.json`` stays.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Mapping, Sequence
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

import monitor
from monitor.api._guard import Guard
from monitor.api._live import live_router
from monitor.api._routes import PROTECTED, ApiContext, api_router, metrics_router
from monitor.pipeline import Pipeline
from monitor.sinks.hub import LiveHub
from monitor.sinks.store import Store

STATIC_DIR = files("monitor.api") / "static"
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
    status: Callable[[], Mapping[str, Any]],
    lock: asyncio.Lock | None = None,
    token: str = "",
    cors_origins: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """``lock`` is the service's tick lock (held while a tick runs in its worker thread);
    routes that read or change detectors take it. Without one (tests), a private lock."""
    ctx = ApiContext(store, pipeline, hub, status, lock or asyncio.Lock(), token)
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
    app.add_middleware(Guard, token=token, max_body_bytes=max_body_bytes)
    if cors_origins:  # outermost, so that preflight requests are answered before the guard
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization"],
        )
    app.state.context = ctx
    return app
