"""Every REST route in process (httpx + ASGITransport) on a real store and pipeline."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from api_support import TOKEN, Fed, build_app, connect

import monitor.outputs.store as store_module
from monitor.core.indices import fatigue_indices
from monitor.core.model import Event
from monitor.inputs.ble.source import BleStatus
from monitor.live.api import create_app
from monitor.live.status import ServiceStatus
from monitor.outputs.store import Store

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
    ("GET", "/api/sensors/arm/indices"),
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
    # arm's two channels are stored together (same wall): a page never splits them
    last3 = (await client.get("/api/sensors/arm/features", params={"limit": 3})).json()
    assert last3 == rows[-2:]
    last4 = (await client.get("/api/sensors/arm/features", params={"limit": 4})).json()
    assert last4 == rows[-4:]
    one = (await client.get("/api/sensors/arm/features", params={"limit": 1})).json()
    assert one == rows[-2:]  # a group that alone fills the page comes whole
    since = rows[-5]["wall"]
    after = (await client.get("/api/sensors/arm/features", params={"since": since})).json()
    assert after == [row for row in rows if row["wall"] > since]


@pytest.mark.parametrize("limit", [3, 4, 7])
async def test_features_page_back_with_until_through_more_rows_than_limit(
    client: httpx.AsyncClient, limit: int
) -> None:
    everything = (await client.get("/api/sensors/arm/features", params={"limit": 5000})).json()
    assert len(everything) > 4 * limit
    pages: list[list[dict[str, object]]] = []
    params: dict[str, float | int] = {"limit": limit}
    while True:
        page = (await client.get("/api/sensors/arm/features", params=params)).json()
        if not page:
            break
        assert len(page) <= limit
        pages.append(page)
        params["until"] = page[0]["wall"]  # the oldest row of this page
    assert [row for page in reversed(pages) for row in page] == everything
    middle = everything[len(everything) // 3]["wall"], everything[2 * len(everything) // 3]["wall"]
    between = (
        await client.get(
            "/api/sensors/arm/features",
            params={"since": middle[0], "until": middle[1], "limit": 5000},
        )
    ).json()
    assert between == [r for r in everything if middle[0] < r["wall"] < middle[1]]


async def test_alerts_page_back_with_until(
    tmp_path: Path, fed: Fed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25 events stored in ticks of one, two or three (as the service stores a tick's
    events together), paged with limit 4: every event exactly once, in order."""
    now = 1_800_000_000.0
    monkeypatch.setattr(store_module, "time", SimpleNamespace(time=lambda: now))
    stored: list[Event] = []
    with Store(tmp_path / "alerts.db") as store:
        for tick in range(12):
            now += 0.1
            wall = datetime.fromtimestamp(now - 0.003, UTC)
            iso = wall.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            batch = [
                Event("signal_lost", f"s{tick}", f"emg_{k}", "emg", 1.0, "lost", wall_time=iso)
                for k in range(tick % 3 + 1)
            ]
            store.add_events(batch)
            stored += batch
        app = create_app(store=store, pipeline=fed.pipeline, hub=fed.hub, token=TOKEN)
        async with connect(app, TOKEN) as c:
            pages = []
            params: dict[str, float | int] = {"limit": 4}
            while page := (await c.get("/api/alerts", params=params)).json():
                assert len(page) <= 4
                pages.append(page)
                oldest = datetime.fromisoformat(page[0]["wall_time"].replace("Z", "+00:00"))
                params["until"] = oldest.timestamp()
    assert len(stored) > 4 * 4
    assert [e["id"] for page in reversed(pages) for e in page] == [e.id for e in stored]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 5001},
        {"until": -1},
        {"until": "nan"},
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
    bad_params = (
        {"limit": 0},
        {"limit": 1001},
        {"since": -5},
        {"until": 1e12},
        {"sensor": "x" * 300},
    )
    for bad in bad_params:
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
    assert all(st.phase != "learning" for st in wrist.values())  # other sensors untouched


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
    over = p.overload()
    assert samples["fatigue_monitor_overloaded"] == 0 and not over.overloaded
    assert samples["fatigue_monitor_shed_bytes_total"] == 0
    assert samples["fatigue_monitor_tick_load"] == pytest.approx(over.tick_load, abs=0.05)
    assert over.tick_load > 0  # one tick over a short span: busy a measurable share
    assert samples["fatigue_monitor_lag_seconds"] == over.lag_s
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


async def test_metrics_export_ble_devices_from_the_status(fed: Fed) -> None:
    status = ServiceStatus(
        uptime_s=3.0,
        ble={
            "h10-chest": BleStatus(
                connected=True,
                attempts=5,
                connections=3,
                disconnects=2,
                stalls=1,
                failures=2,
                dropped=7,
                decode_errors={"short": 4, "bad_header": 1},
                last_error='timeout "scan"\nretrying',
            ),
            "myo-arm": BleStatus(
                connected=False,
                attempts=0,
                connections=0,
                disconnects=0,
                stalls=0,
                failures=0,
                dropped=0,
                decode_errors={},
                last_error="",
            ),
        },
    )
    app = create_app(
        store=fed.store, pipeline=fed.pipeline, hub=fed.hub, status=lambda: status, token=TOKEN
    )
    async with connect(app, TOKEN) as c:
        text = (await c.get("/metrics")).text
    samples = _samples(text)
    expected = {
        'fatigue_monitor_ble_connected{sensor="h10-chest"}': 1,
        'fatigue_monitor_ble_connected{sensor="myo-arm"}': 0,
        'fatigue_monitor_ble_connections_total{sensor="h10-chest"}': 3,
        'fatigue_monitor_ble_connections_total{sensor="myo-arm"}': 0,
        'fatigue_monitor_ble_disconnects_total{sensor="h10-chest"}': 2,
        'fatigue_monitor_ble_attempts_total{sensor="h10-chest"}': 5,
        'fatigue_monitor_ble_stalls_total{sensor="h10-chest"}': 1,
        'fatigue_monitor_ble_failures_total{sensor="h10-chest"}': 2,
        'fatigue_monitor_ble_dropped_notifications_total{sensor="h10-chest"}': 7,
        'fatigue_monitor_ble_decode_errors_total{reason="bad_header",sensor="h10-chest"}': 1,
        'fatigue_monitor_ble_decode_errors_total{reason="short",sensor="h10-chest"}': 4,
        'fatigue_monitor_ble_last_error_info{error="timeout \\"scan\\"\\nretrying",'
        'sensor="h10-chest"}': 1,
    }
    for name, value in expected.items():
        assert samples[name] == value, name
    assert "# TYPE fatigue_monitor_ble_connections_total counter" in text
    assert "# TYPE fatigue_monitor_ble_connected gauge" in text
    assert not [k for k in samples if k.startswith("fatigue_monitor_ble_last_error_info")
                and "myo-arm" in k]  # fmt: skip
    assert samples['fatigue_monitor_ble_attempts_total{sensor="myo-arm"}'] == 0


async def test_no_ble_metrics_without_ble_devices(small: Fed) -> None:
    async with connect(build_app(small, TOKEN), TOKEN) as c:
        text = (await c.get("/metrics")).text
    assert "fatigue_monitor_messages_total" in text
    assert "fatigue_monitor_ble_" not in text


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


# -- Host and Origin checks (DNS rebinding, cross-site requests) --------------------------


@pytest.mark.parametrize("path", ["/api/sensors", "/", "/metrics", "/static/dashboard.js"])
async def test_a_foreign_host_header_is_refused_even_with_the_token(fed: Fed, path: str) -> None:
    """DNS rebinding: evil.example re-pointed at 127.0.0.1 still says so in ``Host``."""
    async with connect(build_app(fed, TOKEN), TOKEN, "http://evil.example:8080") as c:
        r = await c.get(path)
    assert r.status_code == 400
    assert "host" in r.json()["detail"]


async def test_without_a_token_a_foreign_host_is_refused_too(fed: Fed) -> None:
    async with connect(build_app(fed), base_url="http://evil.example:8080") as c:
        sensors = await c.get("/api/sensors")
        recal = await c.post("/api/sensors/arm/baseline")
    assert sensors.status_code == 400 and recal.status_code == 400


async def test_health_answers_any_host(fed: Fed) -> None:
    async with connect(build_app(fed, TOKEN), base_url="http://10.9.8.7:8080") as c:
        r = await c.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize(
    ("base_url", "kwargs"),
    [
        ("http://localhost:8080", {}),
        ("http://LOCALHOST.:8080", {}),
        ("http://[::1]:8080", {}),
        ("http://127.0.0.1", {}),
        ("http://10.1.2.3:9000", {"host": "10.1.2.3"}),  # the bound service.host
        ("http://lab.example:8080", {"allowed_hosts": ["lab.example"]}),
        ("http://anything.example", {"allowed_hosts": ["*"]}),
    ],
)
async def test_loopback_the_bound_host_and_allowed_hosts_are_served(
    fed: Fed, base_url: str, kwargs: dict[str, object]
) -> None:
    async with connect(build_app(fed, TOKEN, **kwargs), TOKEN, base_url) as c:
        assert (await c.get("/api/sensors")).status_code == 200


async def test_allowed_hosts_default_to_the_settings(fed: Fed) -> None:
    """Without explicit arguments the app reads service.host and service.allowed_hosts
    from the pipeline's settings (what the service passes)."""
    settings = fed.pipeline.settings
    service = dataclasses.replace(settings.service, allowed_hosts=("lab.example",))
    fed.pipeline.settings = dataclasses.replace(settings, service=service)
    try:
        app = build_app(fed, TOKEN)
    finally:
        fed.pipeline.settings = settings
    async with (
        connect(app, TOKEN, "http://lab.example:8080") as lab,
        connect(app, TOKEN, "http://other.example:8080") as other,
    ):
        assert (await lab.get("/api/sensors")).status_code == 200
        assert (await other.get("/api/sensors")).status_code == 400


async def test_a_post_from_another_origin_is_refused(small: Fed) -> None:
    """Another web page in the user's browser may send a POST (no preflight for a simple
    request) but its Origin gives it away: 403, and the baselines stay."""
    async with connect(build_app(small)) as c:  # no token: the default
        r = await c.post("/api/sensors/arm/baseline", headers={"Origin": "http://evil.example"})
        null = await c.post("/api/sensors/arm/baseline", headers={"Origin": "null"})
        still = (await c.get("/api/sensors/arm")).json()
    assert r.status_code == 403 and "cross-origin" in r.json()["detail"]
    assert null.status_code == 403
    assert all(ch["phase"] == "monitoring" for ch in still["channels"])


@pytest.mark.parametrize(
    ("origin", "kwargs"),
    [
        (None, {}),  # scripts and curl send no Origin
        ("http://127.0.0.1:8080", {}),  # the dashboard page itself
        ("https://127.0.0.1:8080", {}),  # ... behind a TLS proxy: the scheme is not compared
        ("http://lab.example:3000", {"cors_origins": ["http://lab.example:3000"]}),
    ],
)
async def test_a_post_from_the_same_or_a_configured_origin_passes(
    small: Fed, origin: str | None, kwargs: dict[str, object]
) -> None:
    headers = {"Origin": origin} if origin else {}
    async with connect(build_app(small, **kwargs)) as c:
        r = await c.post("/api/sensors/arm/baseline", headers=headers)
    assert r.status_code == 200


async def test_an_origin_on_another_port_is_another_origin(small: Fed) -> None:
    async with connect(build_app(small)) as c:
        r = await c.post("/api/sensors/arm/baseline", headers={"Origin": "http://127.0.0.1:3000"})
    assert r.status_code == 403


async def test_gets_are_not_origin_checked(fed: Fed) -> None:
    """A cross-origin GET cannot read the answer anyway (same-origin policy, no CORS)."""
    async with connect(build_app(fed)) as c:
        r = await c.get("/api/sensors", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_a_non_loopback_host_without_token_warns_at_startup(
    fed: Fed, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="monitor.live.api"):
        build_app(fed, host="127.0.0.1")
        build_app(fed, host="localhost")
        build_app(fed, TOKEN, host="192.168.1.20")
        assert not caplog.records
        build_app(fed, host="192.168.1.20")
    (record,) = caplog.records
    assert record.levelname == "WARNING"
    assert "192.168.1.20" in record.getMessage() and "service.token" in record.getMessage()


def test_all_interfaces_without_allowed_hosts_warns(
    fed: Fed, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="monitor.live.api"):
        build_app(fed, TOKEN, host="0.0.0.0", allowed_hosts=["lab-pc.local"])
        assert not caplog.records
        build_app(fed, TOKEN, host="0.0.0.0")
    (record,) = caplog.records
    assert "service.allowed_hosts" in record.getMessage()


async def test_fatigue_indices_of_the_stored_history(client: httpx.AsyncClient) -> None:
    # ``arm`` fatigues from 40 s at 35 %/min: over the stored samples (every 5 s) the MDF
    # slope is clearly negative, the 10 % drop comes after the onset, and the quadrant
    # (MDF down, RMS not down) is fatigue. The figures are those of monitor.core.indices on the
    # same rows the features route serves.
    r = await client.get("/api/sensors/arm/indices")
    assert r.status_code == 200
    body = r.json()
    assert [c["channel"] for c in body] == ["emg_1", "emg_2"]
    rows = (await client.get("/api/sensors/arm/features", params={"limit": 5000})).json()
    assert all(isinstance(row["active"], bool) for row in rows)
    assert "active" not in rows[0]["features"]
    for ch in body:
        mine = [row for row in rows if row["channel"] == ch["channel"]]
        assert ch["samples"] == len(mine) >= 15
        idx = ch["indices"]
        slope = idx["mdf_slope"]
        assert slope["pct_per_min"] < -10.0 and slope["ci95"][1] < 0.0 and slope["clear"]
        assert idx["drop10_s"] is not None and 40.0 < idx["drop10_s"] < 110.0
        assert idx["quadrant"] == "fatigue"
        expected = fatigue_indices(
            [row["t"] for row in mine],
            [row["features"]["mdf_hz"] for row in mine],
            [row["features"]["mnf_hz"] for row in mine],
            [row["features"]["rms"] for row in mine],
            [row["quality"] == "ok" and row["active"] for row in mine],
        )
        assert idx == json.loads(json.dumps(expected.to_dict()))
    # An accelerometer has no fatigue indices; an unknown sensor is 404.
    assert (await client.get("/api/sensors/wrist/indices")).json() == []
    assert (await client.get("/api/sensors/nope/indices")).status_code == 404
