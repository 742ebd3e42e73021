"""The live commands as a user runs them: separate processes over a real broker."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    mon = subprocess.Popen(
        [
            str(BIN / "fatigue-monitor"),
            "run",
            "--broker",
            broker.url,
            "--db",
            str(tmp_path / "m.db"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    follower = subprocess.Popen(
        [str(BIN / "fatigue-monitor"), "alerts", "--broker", broker.url, "--sensor", "emg01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        time.sleep(2.0)
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
        time.sleep(2.0)
    finally:
        for p in (follower, mon):
            p.send_signal(signal.SIGTERM)
        lines, _ = follower.communicate(timeout=10)
        _, err = mon.communicate(timeout=10)
    events = [json.loads(line) for line in lines.splitlines()]
    assert events and {e["sensor"] for e in events} == {"emg01"}
    assert any(e["event"] == "fatigue_onset" for e in events)
    assert mon.returncode == 0 and "Traceback" not in err
