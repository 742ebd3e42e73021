"""What the API says about sensors, built from the pipeline's streams and detectors.

Called with the service's tick lock held: the tick thread changes these dictionaries, and
a view must not see a detector half-updated.
"""

from __future__ import annotations

import math
from typing import Any

from monitor.api._schemas import (
    ChannelView,
    SensorDetail,
    SensorStatus,
    SensorSummary,
    StreamView,
)
from monitor.model import Modality
from monitor.pipeline import Pipeline
from monitor.sinks.hub import LiveHub

SEVERITY: tuple[SensorStatus, ...] = ("streaming", "tremor", "fatigued", "lost")


def worst(statuses: list[SensorStatus]) -> SensorStatus:
    return max(statuses, key=SEVERITY.index, default="streaming")


def _channel_status(stream_lost: bool, state: dict[str, Any]) -> SensorStatus:
    if stream_lost or state.get("signal_lost"):
        return "lost"
    if state.get("fatigued"):
        return "fatigued"
    if state.get("tremor"):
        return "tremor"
    return "streaming"


def _clean(mapping: dict[str, Any] | None) -> dict[str, float | None] | None:
    if mapping is None:
        return None
    return {k: (float(v) if math.isfinite(float(v)) else None) for k, v in mapping.items()}


def sensor_ids(pipeline: Pipeline) -> list[str]:
    return sorted({sensor for sensor, _ in pipeline.streams})


def _streams(pipeline: Pipeline, sensor: str) -> list[tuple[Modality, StreamView, list[Any], bool]]:
    out = []
    for (s, modality), info in sorted(pipeline.streams.items()):
        if s != sensor:
            continue
        det = pipeline.detectors.get((s, modality))
        states = det.status() if det is not None else {}
        statuses = [_channel_status(info.lost, st) for st in states.values()]
        view = StreamView(
            modality=modality,
            fs=info.fs,
            channels=list(info.channels),
            status="lost" if info.lost else worst(statuses),
            last_seen=info.last_wall,
        )
        out.append((modality, view, list(states.items()), info.lost))
    return out


def summary(pipeline: Pipeline, sensor: str) -> SensorSummary | None:
    streams = [view for _, view, _, _ in _streams(pipeline, sensor)]
    if not streams:
        return None
    return SensorSummary(
        id=sensor,
        status=worst([s.status for s in streams]),
        last_seen=max(s.last_seen for s in streams),
        streams=streams,
    )


def detail(pipeline: Pipeline, hub: LiveHub, sensor: str) -> SensorDetail | None:
    rows = _streams(pipeline, sensor)
    if not rows:
        return None
    min_drop = pipeline.settings.detect.emg.min_drop
    latest = hub.latest(sensor)
    channels: list[ChannelView] = []
    for modality, _, states, lost in rows:
        frame = latest.get(modality)
        for name, st in states:
            baseline = _clean(st.get("baseline"))
            mdf0 = (baseline or {}).get("mdf_hz")
            band = None if mdf0 is None else (mdf0 * (1 - min_drop), mdf0 * (1 + min_drop))
            channels.append(
                ChannelView(
                    name=name,
                    modality=modality,
                    status=_channel_status(lost, st),
                    phase=str(st.get("phase", "learning")),
                    active=bool(st.get("active", False)),
                    baseline=baseline,
                    mdf_band_hz=band,
                    latest=None if frame is None else frame["channels"].get(name),
                    latest_wall=None if frame is None else frame["wall"],
                )
            )
    streams = [view for _, view, _, _ in rows]
    return SensorDetail(
        id=sensor,
        status=worst([s.status for s in streams]),
        last_seen=max(s.last_seen for s in streams),
        streams=streams,
        channels=channels,
    )
