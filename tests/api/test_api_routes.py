"""Every REST route in process (httpx + ASGITransport) on a real store and pipeline."""

from __future__ import annotations

import math

import httpx
import pytest
from api_support import TOKEN, Fed, build_app, connect

pytestmark = pytest.mark.anyio

CONTRACT_FIELDS = {
    "id",
    "event",
    "sensor",
    "channel",
    "modality",
    "t",
    "wall_time",
    "features",
    "baseline",
    "message",
}
PROTECTED = [
    ("GET", "/api/sensors"),
    ("GET", "/api/sensors/arm"),
    ("GET", "/api/sensors/arm/features"),
    ("GET", "/api/alerts"),
    ("POST", "/api/sensors/arm/baseline"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("GET", "/static/dashboard.js"),
    ("GET", "/openapi.json"),
    ("GET", "/no/such/path"),
]


async def test_health_is_open_and_says_a_token_is_needed(fed: Fed) -> None:
    async with connect(build_app(fed, TOKEN)) as anon:
        r = await anon.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["auth_required"] is True
    assert body["mqtt_connected"] is True and body["uptime_s"] == 12.5


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_every_other_route_needs_the_token(fed: Fed, method: str, path: str) -> None:
    app = build_app(fed, TOKEN)
    async with connect(app) as anon, connect(app, "wrong") as wrong:
        missing = await anon.request(method, path)
        bad = await wrong.request(method, path)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert bad.status_code == 403


async def test_query_token_opens_the_page_and_its_files_but_not_the_json_routes(
    fed: Fed,
) -> None:
    async with connect(build_app(fed, TOKEN)) as anon:
        page = await anon.get("/", params={"token": TOKEN})
        script = await anon.get("/static/vendor/uPlot.iife.min.js", params={"token": TOKEN})
        wrong = await anon.get("/", params={"token": "nope"})
        sensors = await anon.get("/api/sensors", params={"token": TOKEN})
    assert page.status_code == 200
    assert f'/static/dashboard.js?token={TOKEN}"' in page.text  # assets reuse the token
    assert script.status_code == 200 and "uPlot" in script.text
    assert wrong.status_code == 403
    assert sensors.status_code == 401


async def test_without_a_token_everything_is_open(fed: Fed) -> None:
    async with connect(build_app(fed)) as anon:
        assert (await anon.get("/api/sensors")).status_code == 200
        page = await anon.get("/")
    assert page.status_code == 200
    assert "{{asset_query}}" not in page.text and 'src="/static/dashboard.js"' in page.text


async def test_page_is_served_locally_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "http://" not in r.text and "https://" not in r.text  # no CDN, nothing remote
    for asset in ("/static/vendor/uPlot.iife.min.js", "/static/vendor/uPlot.min.css"):
        assert asset in r.text
        assert (await client.get(asset)).status_code == 200


@pytest.mark.parametrize(
    "path", ["/static/%2e%2e/_app.py", "/static/..%2f_app.py", "/static/vendor/../../_routes.py"]
)
async def test_static_files_never_leave_the_static_dir(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    assert r.status_code == 404
    assert "def " not in r.text


async def test_sensors_list_with_status(client: httpx.AsyncClient, fed: Fed) -> None:
    r = await client.get("/api/sensors")
    assert r.status_code == 200
    sensors = {s["id"]: s for s in r.json()}
    assert set(sensors) == {"arm", "wrist"}
    assert sensors["arm"]["status"] == "fatigued"
    assert sensors["wrist"]["status"] == "tremor"
    (emg,) = sensors["arm"]["streams"]
    assert emg["modality"] == "emg" and emg["fs"] == 2000.0
    assert emg["channels"] == ["emg_1", "emg_2"]
    assert emg["last_seen"] == pytest.approx(fed.pipeline.streams[("arm", "emg")].last_wall)


async def test_sensor_detail_has_baseline_band_and_latest_features(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/sensors/arm")
    assert r.status_code == 200
    body = r.json()
    channels = {c["name"]: c for c in body["channels"]}
    assert set(channels) == {"emg_1", "emg_2"}
    for c in channels.values():
        base = c["baseline"]["mdf_hz"]
        lo, hi = c["mdf_band_hz"]
        assert lo < base < hi and lo == pytest.approx(base * 0.9)
        assert c["phase"] == "fatigued" and c["status"] == "fatigued"
        assert c["latest"]["mdf_hz"] < lo  # it fatigued: the newest MDF is below the band
    wrist = (await client.get("/api/sensors/wrist")).json()
    (acc,) = wrist["channels"]
    assert acc["mdf_band_hz"] is None and acc["baseline"]["tremor_rms"] > 0
    assert acc["latest"]["tremor_rms"] > acc["baseline"]["tremor_rms"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/sensors/nope"),
        ("GET", "/api/sensors/nope/features"),
        ("POST", "/api/sensors/nope/baseline"),
    ],
)
async def test_unknown_sensor_is_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    r = await client.request(method, path)
    assert r.status_code == 404
    assert "nope" in r.json()["detail"]


async def test_features_history_paging_and_time_filter(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/sensors/arm/features", params={"limit": 5000})
    assert r.status_code == 200
    rows = r.json()
    assert len(rows) > 10
    walls = [row["wall"] for row in rows]
    assert walls == sorted(walls)
    assert {row["channel"] for row in rows} == {"emg_1", "emg_2"}
    assert all(math.isfinite(row["features"]["mdf_hz"]) for row in rows)
    last3 = (await client.get("/api/sensors/arm/features", params={"limit": 3})).json()
    assert last3 == rows[-3:]
    since = rows[-5]["wall"]
    after = (await client.get("/api/sensors/arm/features", params={"since": since})).json()
    assert after == [row for row in rows if row["wall"] > since]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 5001},
        {"limit": "many"},
        {"since": -1},
        {"since": "nan"},
        {"since": "inf"},
        {"since": 1e12},
    ],
)
async def test_features_bounds_are_422(
    client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    r = await client.get("/api/sensors/arm/features", params=params)  # type: ignore[arg-type]
    assert r.status_code == 422


async def test_alerts_are_event_json_filtered_and_paged(
    client: httpx.AsyncClient, fed: Fed
) -> None:
    everything = (await client.get("/api/alerts")).json()
    assert [e["id"] for e in everything] == [e.id for e in fed.events]
    assert all(set(e) == CONTRACT_FIELDS for e in everything)
    assert everything[0] == fed.events[0].to_dict()
    arm = (await client.get("/api/alerts", params={"sensor": "arm"})).json()
    assert {e["sensor"] for e in arm} == {"arm"}
    assert [e["event"] for e in arm] == ["fatigue_onset", "fatigue_onset"]
    newest = (await client.get("/api/alerts", params={"limit": 1})).json()
    assert newest == everything[-1:]
    none = (await client.get("/api/alerts", params={"sensor": "nobody"})).json()
    assert none == []
    future = (await client.get("/api/alerts", params={"since": fed.clock.now + 1e6})).json()
    assert future == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"since": -5}, {"sensor": "x" * 300}):
        assert (await client.get("/api/alerts", params=bad)).status_code == 422


async def test_recalibrate_restarts_the_baselines(small: Fed) -> None:
    async with connect(build_app(small, TOKEN), TOKEN) as c:
        before = (await c.get("/api/sensors/arm")).json()
        assert all(ch["phase"] == "monitoring" for ch in before["channels"])
        r = await c.post("/api/sensors/arm/baseline")
        assert r.status_code == 200
        assert r.json() == {"sensor": "arm", "streams": 1}
        after = (await c.get("/api/sensors/arm")).json()
    assert all(ch["phase"] == "learning" and ch["baseline"] is None for ch in after["channels"])
    wrist = small.pipeline.detectors[("wrist", "acc")].status()
    assert all(st["phase"] != "learning" for st in wrist.values())  # other sensors untouched


async def test_request_body_size_is_limited(small: Fed) -> None:
    async with connect(build_app(small, TOKEN, max_body_bytes=1024), TOKEN) as c:
        big = await c.post("/api/sensors/arm/baseline", content=b"x" * 2048)
        ok = await c.post("/api/sensors/arm/baseline", content=b"x" * 10)
    assert big.status_code == 413
    assert ok.status_code == 200


async def test_cors_is_closed_unless_configured(fed: Fed) -> None:
    origin = {"Origin": "http://lab.example:3000"}
    async with connect(build_app(fed, TOKEN), TOKEN) as closed:
        r = await closed.get("/api/sensors", headers=origin)
    assert "access-control-allow-origin" not in r.headers
    app = build_app(fed, TOKEN, cors_origins=["http://lab.example:3000"])
    async with connect(app) as anon, connect(app, TOKEN) as authed:
        preflight = await anon.options(
            "/api/sensors",
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        r = await authed.get("/api/sensors", headers=origin)
        other = await authed.get("/api/sensors", headers={"Origin": "http://evil.example"})
    assert preflight.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://lab.example:3000"
    assert "access-control-allow-origin" not in other.headers


async def test_metrics_expose_the_pipeline_counters(small: Fed) -> None:
    p = small.pipeline
    p.submit("sensors/arm/emg", b"\x00garbage")
    p.submit("sensors/arm/emg", b"FMB1 too short")
    small.clock.now += 0.1
    p.tick()
    async with connect(build_app(small, TOKEN), TOKEN) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = _samples(r.text)
    c_ = p.counters
    assert samples["fatigue_monitor_messages_total"] == c_.messages
    assert samples["fatigue_monitor_bytes_total"] == c_.bytes
    assert samples["fatigue_monitor_windows_total"] == c_.windows > 0
    assert samples["fatigue_monitor_dropped_payloads_total"] == 0
    assert sum(c_.decode_errors.values()) == 2
    for reason, n in c_.decode_errors.items():
        assert samples[f'fatigue_monitor_decode_errors_total{{reason="{reason}"}}'] == n
    assert samples["fatigue_monitor_tick_duration_seconds_count"] == c_.ticks
    assert "fatigue_monitor_windows_per_second" in samples
    last_seen = samples[
        'fatigue_monitor_sensor_last_seen_timestamp_seconds{modality="emg",sensor="arm"}'
    ]
    assert last_seen == pytest.approx(p.streams[("arm", "emg")].last_wall)
    assert samples["fatigue_monitor_live_clients"] == 0


async def test_openapi_lists_the_contract_paths(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = set(spec["paths"])
    assert {
        "/api/health",
        "/api/sensors",
        "/api/sensors/{sensor_id}",
        "/api/sensors/{sensor_id}/features",
        "/api/alerts",
        "/api/sensors/{sensor_id}/baseline",
        "/metrics",
        "/",
    } <= paths
    assert "post" in spec["paths"]["/api/sensors/{sensor_id}/baseline"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
