"""The dashboard in a real headless Chromium (Debian's, via Playwright's Python package;
no browser download) against a running demo, as a user starts it: ``fatigue-monitor demo
--port N --speed X`` (embedded broker, simulated fleet, service and dashboard in one
command). The speed-up brings the demo's fatigue onset (45 s of sensor time) to about
10 s of wall time.

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
from playwright.sync_api import Page, sync_playwright

from monitor.tools.broker import free_port

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
SPEED = 5  # the demo's onset at 45 s of sensor time comes ~9 s after the fleet starts


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    """``fatigue-monitor demo`` on a free port; stopped with SIGTERM (as Ctrl-C would) and
    reaped, its output checked for tracebacks."""
    port = free_port()
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(BIN / "fatigue-monitor"),
                "demo",
                "--port",
                str(port),
                "--speed",
                str(SPEED),
                "--db",
                str(tmp_path / "demo.db"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
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
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the demo's dashboard did not come up"
                time.sleep(0.2)
            yield url
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log_path.read_text()
    assert f"{url}/" in text  # it printed the dashboard URL
    assert proc.returncode == 0 and "Traceback" not in text, text


def chart_state(page: Page, selector: str) -> tuple[int, str]:
    plot = page.locator(selector)
    points = int(plot.get_attribute("data-points") or 0)
    image = plot.locator("canvas").evaluate("c => c.toDataURL()")
    return points, str(image)


def wait_for_more_points(page: Page, selector: str, than: int, timeout_ms: int) -> None:
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel)?.dataset.points || 0) > n",
        arg=[selector, than],
        timeout=timeout_ms,
    )


def wait_for_redraw(page: Page, selector: str, image: str, timeout_ms: int) -> None:
    """The chart's canvas differs from ``image``: the points are set before uPlot redraws
    (on the next animation frame), so reading the canvas at once can precede the redraw."""
    page.wait_for_function(
        "([sel, img]) => document.querySelector(sel + ' canvas')?.toDataURL() !== img",
        arg=[selector, image],
        timeout=timeout_ms,
    )


def test_dashboard_shows_live_charts_and_the_fatigue_alert(demo_url: str, tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (.ci/run installs it)"
    problems: list[str] = []
    requests: list[str] = []
    mdf = '#card-emg01 .plot[data-feature="mdf_hz"]'
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
            page.goto(f"{demo_url}/")
            page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
            page.wait_for_selector('#sensors li[data-sensor="emg01"]', timeout=30_000)
            page.wait_for_selector(f"{mdf} canvas")
            page.wait_for_selector('#card-acc01 .plot[data-feature="tremor_rms"] canvas')
            wait_for_more_points(page, mdf, 0, 30_000)
            first = chart_state(page, mdf)
            wait_for_more_points(page, mdf, first[0], 15_000)  # points keep arriving
            wait_for_redraw(page, mdf, first[1], 15_000)  # and are drawn
            later = chart_state(page, mdf)
            assert later[0] > first[0] > 0
            assert later[1] != first[1]  # and the canvas is redrawn with them

            alert = page.wait_for_selector('#alerts li[data-event="fatigue_onset"]', timeout=90_000)
            assert alert is not None
            text = alert.inner_text()
            assert "fatigue onset" in text and "MDF" in text
            sensor = alert.get_attribute("data-sensor")
            page.wait_for_selector(
                f'#sensors li[data-sensor="{sensor}"][data-status="fatigued"]',
                timeout=15_000,
            )
            # Some more of the session after the onset, for a telling picture.
            onset_points = chart_state(page, mdf)[0]
            wait_for_more_points(page, mdf, onset_points + 10, 30_000)
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 20_000
    assert not problems, problems
    local = (demo_url, demo_url.replace("http://", "ws://"))
    assert requests and all(u.startswith(local) for u in requests), requests
    if os.environ.get("FATIGUE_MONITOR_UPDATE_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "img" / "dashboard.png")
