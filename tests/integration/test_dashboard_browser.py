"""The dashboard in a real headless Chromium (Debian's, via Playwright's Python package;
no browser download) against the live commands as a user runs them: ``fatigue-monitor
run`` with ``--port`` and ``--token`` and a ``fatigue-sim mqtt`` fleet over a real broker.

The page must load with only local requests, draw chart points that change over time,
and list a fatigue alert after the simulated onset. A screenshot lands in the test's tmp
dir; with FATIGUE_MONITOR_UPDATE_SCREENSHOT=1 it also replaces docs/img/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from broker_proc import KINDS, BrokerProcess
from playwright.sync_api import Page, sync_playwright

from monitor.broker import free_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "browser-test-token"


@pytest.fixture
def monitor_url(broker: BrokerProcess, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "monitor.log").open("w")
    proc = subprocess.Popen(
        [
            str(BIN / "fatigue-monitor"),
            "run",
            "--broker",
            broker.url,
            "--db",
            str(tmp_path / "m.db"),
            "--port",
            str(port),
            "--token",
            TOKEN,
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "monitor.log").read_text()
            assert time.monotonic() < deadline, "the dashboard did not come up"
            time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    text = (tmp_path / "monitor.log").read_text()
    assert proc.returncode == 0 and "Traceback" not in text, text


def start_fleet(broker: BrokerProcess) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(BIN / "fatigue-sim"),
            "mqtt",
            "--broker",
            broker.url,
            "--sensors",
            "6",
            "--fatigue-at",
            "40",
            "--duration",
            "110",
            "--speed",
            "5",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def chart_state(page: Page, sensor: str, feature: str) -> tuple[int, str]:
    plot = page.locator(f'#card-{sensor} .plot[data-feature="{feature}"]')
    points = int(plot.get_attribute("data-points") or 0)
    image = plot.locator("canvas").evaluate("c => c.toDataURL()")
    return points, str(image)


@pytest.mark.parametrize("broker", KINDS[-1:], indirect=True)  # one broker is enough here
def test_dashboard_shows_live_charts_and_the_fatigue_alert(
    broker: BrokerProcess, monitor_url: str, tmp_path: Path
) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (.ci/run installs it)"
    fleet = start_fleet(broker)
    problems: list[str] = []
    requests: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1500, "height": 1000})
                page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
                page.on(
                    "console",
                    lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
                )
                page.on("request", lambda r: requests.append(r.url))
                page.goto(f"{monitor_url}/?token={TOKEN}")
                page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
                page.wait_for_selector('#sensors li[data-sensor="emg01"]', timeout=30_000)
                page.wait_for_selector('#card-emg01 .plot[data-feature="mdf_hz"] canvas')
                page.wait_for_selector('#card-acc01 .plot[data-feature="tremor_rms"] canvas')
                first = chart_state(page, "emg01", "mdf_hz")
                page.wait_for_timeout(3000)
                later = chart_state(page, "emg01", "mdf_hz")
                assert later[0] > first[0] > 0  # points keep arriving
                assert later[1] != first[1]  # and the canvas is redrawn with them

                alert = page.wait_for_selector(
                    '#alerts li[data-event="fatigue_onset"]', timeout=60_000
                )
                assert alert is not None
                text = alert.inner_text()
                assert "fatigue onset" in text and "MDF" in text
                sensor = alert.get_attribute("data-sensor")
                page.wait_for_selector(
                    f'#sensors li[data-sensor="{sensor}"][data-status="fatigued"]',
                    timeout=10_000,
                )
                fleet.wait(timeout=60)  # the whole session, for a complete picture
                page.wait_for_timeout(1500)
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
    finally:
        if fleet.returncode is None:
            fleet.terminate()
        fleet.wait()
    assert shot.stat().st_size > 20_000
    assert not problems, problems
    local = (monitor_url, monitor_url.replace("http://", "ws://"))
    assert requests and all(u.startswith(local) for u in requests), requests
    if os.environ.get("FATIGUE_MONITOR_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "img" / "dashboard.png")
