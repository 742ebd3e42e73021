"""The live commands as a user runs them: separate processes over a real broker."""

import json
import os
import subprocess
import sys
from pathlib import Path

from monitor_proc import MonitorProcess

BIN = Path(sys.executable).parent


def test_demo_runs_on_embedded_defaults_and_prints_alerts() -> None:
    out = subprocess.run(
        [str(BIN / "fatigue-monitor"), "demo", "--speed", "10", "--duration", "25"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "mosquitto_sub -p" in out.stdout
    assert "fatigue_onset" in out.stdout and "tremor_onset" in out.stdout
    assert "Traceback" not in out.stderr


def test_run_needs_a_broker_and_says_so() -> None:
    out = subprocess.run(
        [str(BIN / "fatigue-monitor"), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FATIGUE_MONITOR__MQTT__BROKER": ""},
    )
    assert out.returncode == 2
    assert "--broker" in out.stderr and "Traceback" not in out.stderr


def test_run_and_alerts_follow_a_fleet(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mon = MonitorProcess("--broker", broker.url, "--db", str(tmp_path / "m.db"), "--port", "0")
    follower = MonitorProcess("--broker", broker.url, "--sensor", "emg01", command="alerts")
    try:
        mon.wait_ready()  # subscribed: nothing the fleet sends from now on is missed
        follower.wait_for("following fatigue/emg01/alerts")
        subprocess.run(
            [
                str(BIN / "fatigue-sim"),
                "mqtt",
                "--broker",
                broker.url,
                "--sensors",
                "3",
                "--fatigue-at",
                "40",
                "--duration",
                "110",
                "--speed",
                "20",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        follower.out.wait_for("fatigue_onset", timeout=30)
    finally:
        follower.stop()
        rc = mon.stop()
    events = [json.loads(line) for line in follower.out.lines if line.strip()]
    assert events and {e["sensor"] for e in events} == {"emg01"}
    assert any(e["event"] == "fatigue_onset" for e in events)
    assert rc == 0 and "Traceback" not in mon.stderr
