"""Virtual sensors that publish simulated signals over MQTT (``fatigue-sim mqtt``).

The signal of each sensor is computed before publishing starts and cut into per-message
sample arrays; publishing a message then costs one header (``seq`` and ``t0`` advance
correctly, also when the signal loops) plus one ``publish`` call, so one process can
drive a fleet of hundreds of sensors for a load test. Topics follow the contract,
``sensors/{id}/{modality}``; ``speed`` > 1 publishes faster than real time (tests).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from monitor.core.model import Modality, SampleBlock
from monitor.inputs.files import CsvOptions, open_recording
from monitor.inputs.wire import encode_json, fmb1_header
from simulators.acc import AccGenerator, AccScenario
from simulators.emg import EmgGenerator, EmgScenario
from simulators.mqtt_qos0 import Qos0Publisher

FLOAT32_CODE = 3


@dataclass(frozen=True, slots=True)
class VirtualSensor:
    sensor: str
    modality: Modality
    fs: float
    channels: tuple[str, ...]
    unit: str
    chunks: tuple[npt.NDArray[np.float32], ...]  # (channels, samples_per_message) each
    fmt: str = "fmb1"
    loop: bool = False

    @property
    def topic(self) -> str:
        return f"sensors/{self.sensor}/{self.modality}"

    @property
    def samples_per_message(self) -> int:
        return int(self.chunks[0].shape[1])

    @property
    def interval_s(self) -> float:
        return self.samples_per_message / self.fs

    def __len__(self) -> int:
        return len(self.chunks)

    def payload(self, seq: int) -> bytes:
        """Message ``seq``; past the end the signal repeats (if ``loop``) with time going on."""
        data = self.chunks[seq % len(self.chunks)]
        t0 = seq * self.interval_s
        if self.fmt == "json":
            block = SampleBlock(
                self.sensor, self.modality, self.fs, t0, seq, self.channels, self.unit, data
            )
            return encode_json(block)
        header = fmb1_header(FLOAT32_CODE, len(self.channels), data.shape[1], seq, self.fs, t0, 1.0)
        return header + data.tobytes()


def from_signal(
    sensor: str,
    modality: Modality,
    signal: npt.NDArray[np.floating],
    fs: float,
    channels: Sequence[str],
    unit: str,
    per_s: float = 20.0,
    fmt: str = "fmb1",
    loop: bool = False,
) -> VirtualSensor:
    step = max(1, round(fs / per_s))
    usable = signal.shape[1] // step * step
    x = np.ascontiguousarray(signal[:, :usable], dtype="<f4")
    chunks = tuple(np.ascontiguousarray(x[:, i : i + step]) for i in range(0, usable, step))
    return VirtualSensor(sensor, modality, fs, tuple(channels), unit, chunks, fmt, loop)


def simulated_fleet(
    n: int,
    modality: str = "mixed",
    fatigue_at: float | None = None,
    duration_s: float = 120.0,
    emg_channels: int = 2,
    emg_fs: float = 2000.0,
    acc_fs: float = 100.0,
    per_s: float = 20.0,
    fmt: str = "fmb1",
    seed: int = 0,
    distinct: int = 8,
    loop: bool = False,
    first: int = 1,
) -> list[VirtualSensor]:
    """``n`` sensors named ``emg01``/``acc01``... (numbered from ``first``: a second fleet
    beside the first, as the step load test adds); with ``fatigue_at``, every other sensor
    of each modality starts to fatigue (or tremble) then, the rest stay fresh. Sensors
    share ``distinct`` signals per modality so a large fleet costs little memory."""
    rng = np.random.default_rng(seed)
    kinds = [_kind(modality, i) for i in range(n)]
    cache: dict[tuple[str, int], VirtualSensor] = {}
    fleet: list[VirtualSensor] = []
    counts = {"emg": 0, "acc": 0}
    for kind in kinds:
        counts[kind] += 1
        k = counts[kind] - 1
        template = (kind, k % distinct)
        if template not in cache:
            onset = fatigue_at if fatigue_at is not None and k % 2 == 0 else None
            sub = np.random.default_rng(rng.integers(2**32))
            if kind == "emg":
                sc = EmgScenario(
                    fs=emg_fs,
                    n_channels=emg_channels,
                    duration_s=duration_s,
                    onset_s=onset,
                    decline_per_min=0.3,
                )
                x = EmgGenerator(sc, sub).read(sc.n_samples)
                cache[template] = from_signal(
                    "t", "emg", x, emg_fs, sc.channel_names, "mV", per_s, fmt, loop
                )
            else:
                ac = AccScenario(fs=acc_fs, duration_s=duration_s, onset_s=onset, tremor_gain=6.0)
                x = AccGenerator(ac, sub).read(ac.n_samples)
                cache[template] = from_signal(
                    "t", "acc", x, acc_fs, ("acc_x", "acc_y", "acc_z"), "m/s^2", per_s, fmt, loop
                )
        t = cache[template]
        fleet.append(
            VirtualSensor(
                f"{kind}{counts[kind] + first - 1:02d}",
                t.modality,
                t.fs,
                t.channels,
                t.unit,
                t.chunks,
                fmt,
                loop,
            )
        )
    return fleet


def _kind(modality: str, i: int) -> Modality:
    if modality == "mixed":
        return "acc" if i % 3 == 2 else "emg"
    return "acc" if modality == "acc" else "emg"


class Publisher(Protocol):
    async def publish(self, topic: str, payload: bytes, qos: int = 0) -> Any: ...


async def publish_fleet(
    client: Publisher | Qos0Publisher,
    fleet: Sequence[VirtualSensor],
    speed: float = 1.0,
    duration_s: float | None = None,
    step_times: list[float] | None = None,
) -> int:
    """Publish the sensors' messages interleaved in time at ``speed`` x real time, for the
    signal's length (or ``duration_s`` of signal when sensors loop). Returns messages sent;
    ``step_times`` collects the wall time at which each step's messages started to go out
    (load tests measure latency from it). Each step sends every message that is due by
    then, so sensors whose message intervals differ (a recording at 1024 Hz beside one at
    2000 Hz) keep their own rates."""
    if not fleet:
        return 0
    interval = min(s.interval_s for s in fleet)
    if duration_s is None:
        duration_s = max(len(s) * s.interval_s for s in fleet)
    steps = max(1, round(duration_s / interval))
    next_seq = [0] * len(fleet)
    started = time.perf_counter()
    sent = 0
    for i in range(steps):
        t = i * interval
        if step_times is not None:
            step_times.append(time.time())  # when message i of every sensor goes out
        # One step's messages go out together (gather): awaited one by one, each publish
        # waits for its own write, and the last sensor's message would leave tens of ms
        # after the first one at a few hundred sensors, which load tests count as latency.
        due: list[tuple[str, bytes]] = []
        for k, s in enumerate(fleet):
            while next_seq[k] * s.interval_s <= t + 1e-9 and (s.loop or next_seq[k] < len(s)):
                due.append((s.topic, s.payload(next_seq[k])))
                next_seq[k] += 1
        if isinstance(client, Qos0Publisher):
            await client.publish_many(due)  # one write for the whole step
        else:
            await asyncio.gather(*(client.publish(t, p, qos=0) for t, p in due))
        sent += len(due)
        delay = started + (i + 1) * interval / speed - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    return sent


def recorded_fleet(
    path: str | Path,
    copies: int = 1,
    modality: Modality | None = None,
    fs: float | None = None,
    per_s: float = 20.0,
    fmt: str = "fmb1",
    loop: bool = False,
    csv: CsvOptions | None = None,
) -> list[VirtualSensor]:
    """Virtual sensors that replay a recording file (CSV, EDF/BDF, WFDB, WAV) as live
    streams: one per stream of the file (an EMG and an ACC stream of one file become two
    topics of one sensor), ``copies`` times over for load tests (ids ``name-01``...).
    The file is read once, through the monitor's own readers, so what the sensors
    publish is exactly what ``fatigue-monitor replay`` would see."""
    with open_recording(path, modality=modality, fs=fs, csv=csv) as rec:
        parts: dict[tuple[str, str], list[npt.NDArray[np.float32]]] = {}
        for block in rec.blocks(chunk_s=10.0):
            parts.setdefault(block.stream, []).append(block.data)
        streams = rec.streams
    name = re.sub(r"[^A-Za-z0-9_.:\-]", "_", streams[0].sensor)[:60] or "rec"
    # One set of message chunks per stream, shared by every copy (as in simulated_fleet).
    templates = [
        from_signal(
            name,
            info.modality,
            np.concatenate(parts[(info.sensor, info.modality)], axis=1),
            info.fs,
            info.channels,
            info.unit,
            per_s,
            fmt,
            loop,
        )
        for info in streams
    ]
    return [
        dataclasses.replace(t, sensor=name if copies == 1 else f"{name}-{i + 1:02d}")
        for i in range(copies)
        for t in templates
    ]
