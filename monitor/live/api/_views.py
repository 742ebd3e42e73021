"""What the API says about sensors, built from the pipeline's streams and detectors.

Called with the service's tick lock held: the tick thread changes these dictionaries, and
a view must not see a detector half-updated.
"""

from __future__ import annotations

from collections.abc import Mapping

from monitor.core.model import Modality, finite_or_none
from monitor.detect.stream import ChannelState
from monitor.live.api._schemas import (
    ChannelView,
    SensorDetail,
    SensorStatus,
    StreamView,
)
from monitor.live.hub import LiveHub
from monitor.live.pipeline import Pipeline, StreamInfo

SEVERITY: tuple[SensorStatus, ...] = ("streaming", "tremor", "fatigued", "lost")


def worst(statuses: list[SensorStatus]) -> SensorStatus:
    return max(statuses, key=SEVERITY.index, default="streaming")


def _channel_status(stream_lost: bool, state: ChannelState) -> SensorStatus:
    if stream_lost or state.signal_lost:
        return "lost"
    if state.fatigued:
        return "fatigued"
    if state.tremor:
        return "tremor"
    return "streaming"


def _clean(mapping: Mapping[str, float] | None) -> dict[str, float | None] | None:
    if mapping is None:
        return None
    return {k: finite_or_none(float(v)) for k, v in mapping.items()}


def sensor_ids(pipeline: Pipeline) -> list[str]:
    return sorted({sensor for sensor, _ in pipeline.streams})


StreamRow = tuple[Modality, StreamView, list[tuple[str, ChannelState]], bool]
MODALITY_ORDER: tuple[Modality, ...] = ("acc", "emg")  # sorted, as the list always was


def stream_row(pipeline: Pipeline, key: tuple[str, Modality], info: StreamInfo) -> StreamRow:
    """One stream's view, its channels' detector states and whether it is lost."""
    det = pipeline.detectors.get(key)
    states = det.status() if det is not None else {}
    statuses = [_channel_status(info.lost, st) for st in states.values()]
    view = StreamView(
        modality=key[1],
        fs=info.fs,
        channels=list(info.channels),
        status="lost" if info.lost else worst(statuses),
        last_seen=info.last_wall,
    )
    return key[1], view, list(states.items()), info.lost


def _streams(pipeline: Pipeline, sensor: str) -> list[StreamRow]:
    """The sensor's streams by key lookup: a sensor has at most one per modality, so this
    costs the same with 10 or 50,000 streams in the pipeline."""
    out = []
    for modality in MODALITY_ORDER:
        key = (sensor, modality)
        info = pipeline.streams.get(key)
        if info is not None:
            out.append(stream_row(pipeline, key, info))
    return out


def detector_status(pipeline: Pipeline, key: tuple[str, Modality]) -> SensorStatus:
    """The worst of the stream's channels by its detector (``streaming`` without one)."""
    det = pipeline.detectors.get(key)
    states = det.status().values() if det is not None else ()
    return worst([_channel_status(False, st) for st in states])


def known(pipeline: Pipeline, sensor: str) -> bool:
    return any((sensor, m) in pipeline.streams for m in MODALITY_ORDER)


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
            baseline = _clean(st.baseline)
            mdf0 = (baseline or {}).get("mdf_hz")
            band = None if mdf0 is None else (mdf0 * (1 - min_drop), mdf0 * (1 + min_drop))
            channels.append(
                ChannelView(
                    name=name,
                    modality=modality,
                    status=_channel_status(lost, st),
                    phase=st.phase,
                    active=st.active,
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
