"""Virtual sensors that replay a recording (``fatigue-sim mqtt --from``): the published
messages carry exactly the file's samples, with contiguous seq and t0, at each stream's
own rate; and the CLI publishes them through a real broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiomqtt
import numpy as np
import pytest

from monitor.inputs.wire import decode
from simulators.mqtt import publish_fleet, recorded_fleet

BIN = Path(sys.executable).parent


def _write_csv(path: Path, fs: float, n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, n)).astype(np.float32)
    t = np.arange(n) / fs
    a, b = x.tolist()  # Python floats: their repr reads back to the same float32
    lines = ["time,emg_a,emg_b"] + [f"{t[i]:.6f},{a[i]!r},{b[i]!r}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return x


class _Collect:
    """A stand-in for the MQTT client that keeps what would be published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        self.sent.append((topic, payload))


def test_recorded_fleet_publishes_the_files_samples_in_order(tmp_path: Path) -> None:
    x = _write_csv(tmp_path / "session 1.csv", 1024.0, 1024 * 3)
    fleet = recorded_fleet(tmp_path / "session 1.csv", copies=2)
    assert [s.sensor for s in fleet] == ["session_1-01", "session_1-02"]
    client = _Collect()
    sent = asyncio.run(publish_fleet(client, fleet, speed=1000.0))  # type: ignore[arg-type]
    assert sent == len(client.sent) == 2 * len(fleet[0])
    blocks = [decode(t, p) for t, p in client.sent if t == "sensors/session_1-01/emg"]
    assert [b.seq for b in blocks] == list(range(len(blocks)))
    assert blocks[0].fs == 1024.0 and blocks[0].channels == ("emg_1", "emg_2")  # FMB1: no names
    np.testing.assert_allclose(
        [b.t0 for b in blocks], np.arange(len(blocks)) * blocks[0].n_samples / 1024.0
    )
    got = np.concatenate([b.data for b in blocks], axis=1)
    np.testing.assert_array_equal(got, x[:, : got.shape[1]])  # float32, bit for bit
    assert got.shape[1] > 0.95 * x.shape[1]  # at most one message's worth left over


def test_cli_from_recording_rejects_fatigue_at(tmp_path: Path) -> None:
    _write_csv(tmp_path / "s.csv", 1000.0, 1000)
    out = subprocess.run(
        [
            str(BIN / "fatigue-sim"),
            "mqtt",
            "--broker",
            "mqtt://127.0.0.1:9",
            "--from",
            str(tmp_path / "s.csv"),
            "--fatigue-at",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "--fatigue-at" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_from_missing_file_is_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            str(BIN / "fatigue-sim"),
            "mqtt",
            "--broker",
            "mqtt://127.0.0.1:9",
            "--from",
            str(tmp_path / "nope.edf"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "nope.edf" in out.stderr and "not found" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("fmt", ["fmb1", "json"])
def test_cli_from_recording_through_a_real_broker(
    broker,
    tmp_path: Path,
    fmt: str,  # type: ignore[no-untyped-def]
) -> None:
    x = _write_csv(tmp_path / "rec.csv", 2000.0, 4000)

    async def scenario() -> list[tuple[str, bytes]]:
        got: list[tuple[str, bytes]] = []
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"from-{fmt}") as sub:
            await sub.subscribe("sensors/#", qos=0)
            proc = await asyncio.create_subprocess_exec(
                str(BIN / "fatigue-sim"),
                "mqtt",
                "--broker",
                broker.url,
                "--from",
                str(tmp_path / "rec.csv"),
                "--format",
                fmt,
                "--speed",
                "20",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                async with asyncio.timeout(30):
                    async for m in sub.messages:
                        got.append((m.topic.value, bytes(m.payload)))  # type: ignore[arg-type]
                        if len(got) == 40:  # 2 s at 20 messages/s
                            break
            finally:
                assert await proc.wait() == 0
        return got

    got = asyncio.run(scenario())
    assert {t for t, _ in got} == {"sensors/rec/emg"}
    data = np.concatenate([decode(t, p).data for t, p in got], axis=1)
    np.testing.assert_allclose(data, x, rtol=1e-6)
