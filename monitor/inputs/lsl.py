"""Lab Streaming Layer streams as a live source (pylsl; liblsl ships in its wheel).

``LslSource`` resolves one stream by predicate (``type='EMG'``, ``name='Delsys'``), opens
an inlet with LSL's clock correction, and yields ``SampleBlock``s: modality from the
stream type (EMG; ACC, Accelerometer, IMU, Mocap -> acc) unless configured, channel labels
and unit from the stream header. pylsl blocks, so every resolve and pull runs in a worker
thread; the event loop never waits on it.

Block times come from the stream's first timestamp plus the sample count at the nominal
rate: LSL timestamps are jittered (and a device's real rate is off its nominal one by
parts per million), so stamping every block with its own first timestamp would look like
a gap of a fraction of a sample every few seconds. A timestamp that leaves that count by
more than ``GAP_S`` (a stalled outlet, a dropped chunk) re-anchors the count: a gap, and
windows restart after it. An outlet that disappears (or sends nothing for ``stall_s``) is
reported at once through ``on_lost`` and resolved again; the first blocks after it restore
the stream.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self

import numpy as np

from monitor.core.backoff import Backoff
from monitor.core.model import (
    ACC_STREAM_TYPES,
    Modality,
    SampleBlock,
    modality_for_stream_type,
    safe_sensor_id,
)
from monitor.core.source_settings import LslSettings, LslStream

log = logging.getLogger(__name__)

#: LSL's meta-data conventions also put wearable accelerometers under "Mocap".
ACC_TYPES = ACC_STREAM_TYPES | {"mocap"}
#: A timestamp this far from the sample count's time is a gap (s).
GAP_S = 0.1
PULL_S = 0.2


def _modality(kind: str, forced: str | None) -> Modality | None:
    if forced in ("emg", "acc"):
        return forced  # type: ignore[return-value]
    return modality_for_stream_type(kind, ACC_TYPES)


def _labels(info: Any, n: int) -> tuple[tuple[str, ...], str | None]:
    labels = [f"ch{i + 1}" for i in range(n)]
    unit: str | None = None
    ch = info.desc().child("channels").child("channel")
    i = 0
    while not ch.empty() and i < n:
        label = ch.child_value("label")
        if label:
            labels[i] = label
        unit = unit or ch.child_value("unit") or None
        ch = ch.next_sibling()
        i += 1
    return tuple(labels), unit


@dataclass(frozen=True, slots=True)
class LslStatus:
    """One inlet's link, for the stats message."""

    predicate: str
    connected: bool
    sessions: int
    last_error: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class LslSource:
    """One configured LSL stream, resolved and re-resolved until cancelled."""

    def __init__(
        self,
        spec: LslStream,
        settings: LslSettings,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.on_lost = on_lost
        self.sensor = spec.sensor or "lsl"
        self.connected = False
        self.sessions = 0
        self.last_error = ""
        self._inlet: Any = None
        self._fs = 0.0
        self._modality: Modality = "emg"
        self._channels: tuple[str, ...] = ()
        self._unit = "mV"
        self._anchor = 0.0
        self._count = 0
        self._drift = 0.0
        self._pulling: asyncio.Future[tuple[np.ndarray, np.ndarray]] | None = None
        self._seq = 0
        self._last_data = 0.0
        self._backoff = Backoff(cap=settings.backoff_max_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pulling = self._pulling
        if pulling is not None and not pulling.done():
            # A pull still runs in its thread (we were cancelled while awaiting it): closing
            # the inlet under it is not safe; it returns within PULL_S.
            await asyncio.wait([pulling], timeout=4 * PULL_S)
        self._close()

    def status(self) -> LslStatus:
        return LslStatus(self.spec.predicate, self.connected, self.sessions, self.last_error)

    def _close(self) -> None:
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            try:
                inlet.close_stream()
            except Exception as exc:  # closing a broken inlet: nothing left to save
                log.debug("closing LSL inlet: %s", exc)

    def _lost(self, why: str) -> None:
        if self.connected:
            log.warning("LSL stream %s lost: %s", self.sensor, why)
            if self.on_lost is not None:
                self.on_lost(self.sensor)
        self.connected = False
        self.last_error = why
        self._close()

    def _open(self) -> bool:
        """Resolve and open (worker thread); False when nothing matched in time."""
        import pylsl

        found = pylsl.resolve_bypred(self.spec.predicate, 1, self.settings.resolve_timeout_s)
        if not found:
            return False
        info = found[0]
        modality = _modality(info.type(), self.spec.modality)
        if modality is None:
            raise ValueError(
                f"stream {info.name()!r} has type {info.type()!r}: set modality for "
                f"predicate {self.spec.predicate!r}"
            )
        fs = float(info.nominal_srate())
        if not fs > 0:
            raise ValueError(f"stream {info.name()!r} has no nominal rate (irregular)")
        flags = pylsl.proc_clocksync | pylsl.proc_dejitter | pylsl.proc_monotonize
        inlet = pylsl.StreamInlet(info, max_buflen=60, recover=False, processing_flags=flags)
        inlet.open_stream(timeout=self.settings.resolve_timeout_s)
        full = inlet.info(timeout=self.settings.resolve_timeout_s)
        self._channels, unit = _labels(full, info.channel_count())
        self._unit = unit or ("mV" if modality == "emg" else "m/s^2")
        self._inlet = inlet
        self._fs = fs
        self._modality = modality
        if self.spec.sensor is None:
            self.sensor = safe_sensor_id(info.name(), "lsl")
        self._count = 0
        self._anchor = math.nan
        self._drift = 0.0
        return True

    def _pull(self) -> tuple[np.ndarray, np.ndarray]:
        samples, stamps = self._inlet.pull_chunk(timeout=PULL_S, max_samples=8192)
        return np.asarray(samples, dtype=np.float32), np.asarray(stamps, dtype=np.float64)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SampleBlock:
        from pylsl.util import LostError
        from pylsl.util import TimeoutError as LslTimeout

        while True:
            if self._inlet is None:
                try:
                    opened = await asyncio.to_thread(self._open)
                except (ValueError, RuntimeError, LslTimeout) as exc:
                    self.last_error = str(exc)
                    log.error("LSL %s: %s", self.spec.predicate, exc)
                    await asyncio.sleep(self._backoff.next())
                    continue
                if not opened:
                    await asyncio.sleep(min(1.0, self._backoff.next()))
                    continue
                self.sessions += 1
                self._last_data = time.monotonic()
                log.info(
                    "LSL stream %s: %s, %d channel(s) at %g Hz",
                    self.sensor,
                    self._modality,
                    len(self._channels),
                    self._fs,
                )
            try:
                self._pulling = asyncio.ensure_future(asyncio.to_thread(self._pull))
                data, stamps = await asyncio.shield(self._pulling)
            except LostError:
                self._lost("the outlet is gone")
                continue
            if data.size == 0:
                if time.monotonic() - self._last_data > self.settings.stall_s:
                    self._lost(f"no data for {self.settings.stall_s:g} s")
                continue
            self._last_data = time.monotonic()
            self._backoff.reset()
            self.connected = True
            # The device's clock runs a few ppm (or 0.1 %) off its nominal rate: the offset
            # of the stamps from the count drifts slowly and is followed; only a jump in it
            # is a gap. Block times stay on the count, so they drift from the LSL clock by
            # that rate error (0.36 s an hour at 100 ppm) until the next gap re-anchors.
            offset = float(stamps[0]) - (self._anchor + self._count / self._fs)
            if not abs(offset - self._drift) <= GAP_S:
                self._anchor, self._count, self._drift = float(stamps[0]), 0, 0.0
            else:
                self._drift += 0.05 * (offset - self._drift)
            block = SampleBlock(
                sensor=self.sensor,
                modality=self._modality,
                fs=self._fs,
                t0=self._anchor + self._count / self._fs,
                seq=self._seq,
                channels=self._channels,
                unit=self._unit,
                data=np.ascontiguousarray(data.T),
            )
            self._count += data.shape[0]
            self._seq += 1
            return block


class LslJsonOutlet:
    """JSON strings as an irregular-rate LSL stream (one string per sample), so LabRecorder
    records what the monitor says beside the raw data, on the same clock: the events
    (``fatigue-monitor-events``, type ``Markers``: one Event JSON each) and the features
    (``fatigue-monitor-features``, type ``Features``: one features message each, as on
    MQTT). Strings, not numeric channels: each stream's feature set differs."""

    def __init__(self, name: str = "fatigue-monitor-events", kind: str = "Markers") -> None:
        import os
        import socket

        import pylsl

        # One per running monitor: a recorder (or a test) picks this monitor's by source_id.
        self.source_id = f"{name}@{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        info = pylsl.StreamInfo(name, kind, 1, pylsl.IRREGULAR_RATE, "string", self.source_id)
        self._outlet = pylsl.StreamOutlet(info)

    def push(self, lines: list[str]) -> None:
        for line in lines:
            self._outlet.push_sample([line])
