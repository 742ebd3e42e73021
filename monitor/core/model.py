"""The three values that cross every boundary of the monitor.

``SampleBlock`` is what sources produce, ``FeatureFrame`` what the feature step produces and
``Event`` what detectors produce and sinks publish. They are frozen so that a value handed to
one consumer cannot be changed under another; arrays inside them are made read-only for the
same reason.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

from monitor.core.errors import EventFormatError, SampleBlockError

Modality = Literal["emg", "acc"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)

EventKind = Literal[
    "fatigue_onset",
    "fatigue_recovered",
    "tremor_onset",
    "tremor_recovered",
    "signal_lost",
    "signal_restored",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

FloatArray = npt.NDArray[np.floating[Any]]

#: Feature names per modality, in the order of the features CSV (the brief's contract).
EMG_FEATURES: tuple[str, ...] = (
    "mdf_hz",
    "mnf_hz",
    "rms",
    "arv",
    "fi_nsm5",
    "band_power",
    "mains_share",
)
ACC_FEATURES: tuple[str, ...] = (
    "acc_rms",
    "tremor_rms",
    "tremor_peak_hz",
    "tremor_ratio",
    "tremor_disp_mm",
    "tremor_peak_rms",
    "voluntary_hz",
    "tremor_env_cv",
)
FEATURE_NAMES: tuple[str, ...] = EMG_FEATURES + ACC_FEATURES

#: Standard gravity (m/s^2): accelerations in g are converted to the features' m/s^2.
G_MS2 = 9.80665

#: Units of each feature, for docs, reports and API schemas. ``unit`` means the stream's unit.
FEATURE_UNITS: Mapping[str, str] = {
    "mdf_hz": "Hz",
    "mnf_hz": "Hz",
    "rms": "unit",
    "arv": "unit",
    "fi_nsm5": "Hz^-6",
    "band_power": "unit^2",
    "mains_share": "1",
    "acc_rms": "m/s^2",
    "tremor_rms": "m/s^2",
    "tremor_peak_hz": "Hz",
    "tremor_ratio": "1",
    "tremor_disp_mm": "mm",
    "tremor_peak_rms": "m/s^2",
    "voluntary_hz": "Hz",
    "tremor_env_cv": "1",
}


#: Stream types (XDF, Lab Streaming Layer) that carry accelerometer axes.
ACC_STREAM_TYPES = frozenset(
    {"acc", "accel", "accelerometer", "accelerometry", "imu", "acceleration"}
)


def modality_for_stream_type(
    kind: str, acc_types: frozenset[str] = ACC_STREAM_TYPES
) -> Modality | None:
    """EMG or accelerometer from a stream's declared type (``EMG``, ``Accelerometer``,
    ...), None for any other type (EEG, markers)."""
    k = kind.strip().lower()
    if k in ("emg", "electromyography"):
        return "emg"
    return "acc" if k in acc_types else None


def safe_sensor_id(text: str, default: str) -> str:
    """A device's or stream's name as a sensor id (it ends up in MQTT topics): characters
    outside ``A-Za-z0-9_.:-`` become ``_``, at most 64 of them."""
    return re.sub(r"[^A-Za-z0-9_.:\-]", "_", text.strip())[:64] or default


def default_channels(n: int, modality: Modality) -> tuple[str, ...]:
    """Names for unnamed rows of an array: ``emg_1..``, or ``acc_x, acc_y, acc_z``."""
    if modality == "acc" and n <= 3:
        return ("acc_x", "acc_y", "acc_z")[:n]
    return tuple(f"{modality}_{i + 1}" for i in range(n))


def default_unit(modality: Modality) -> str:
    """An array's unit when nobody says: accelerations are taken as m/s^2 (the features'
    unit); EMG as arbitrary units (the spectral features and the detector use ratios)."""
    return "m/s^2" if modality == "acc" else "a.u."


def modality_for_channel(name: str) -> Modality:
    """The brief's rule when nothing else says: channels named ``acc*`` are accelerometer."""
    return "acc" if name.strip().lower().startswith("acc") else "emg"


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Consecutive samples of one stream (one sensor, one modality), all channels at once.

    ``data`` is float32, shape ``(channels, samples)``, channel-major so that a channel's
    samples are contiguous for filtering. ``t0`` is the time of the first sample in seconds
    on the sensor's clock; ``seq`` increases by one per block of the stream, so a consumer
    can tell a gap from a late block.
    """

    sensor: str
    modality: Modality
    fs: float
    t0: float
    seq: int
    channels: tuple[str, ...]
    unit: str
    data: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise SampleBlockError(self.sensor, f"unknown modality {self.modality!r}")
        if not (math.isfinite(self.fs) and self.fs > 0):
            raise SampleBlockError(self.sensor, f"sample rate must be > 0 Hz, got {self.fs!r}")
        if not math.isfinite(self.t0):
            raise SampleBlockError(self.sensor, f"t0 must be finite, got {self.t0!r}")
        data = np.asarray(self.data)
        if data.ndim != 2:
            raise SampleBlockError(
                self.sensor, f"data must be 2-D (channels, samples), got shape {data.shape}"
            )
        if data.shape[0] != len(self.channels) or not self.channels:
            raise SampleBlockError(
                self.sensor,
                f"{len(self.channels)} channel names for {data.shape[0]} data rows",
            )
        if data.dtype != np.float32:
            data = data.astype(np.float32)
        if data.flags.writeable:
            # A read-only view: consumers of the block cannot write into the producer's array.
            data = data.view()
            data.flags.writeable = False
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "channels", tuple(self.channels))

    @classmethod
    def from_array(
        cls,
        data: npt.ArrayLike,
        fs: float,
        *,
        modality: Modality = "emg",
        sensor: str = "data",
        channels: tuple[str, ...] | list[str] | None = None,
        t0: float = 0.0,
        seq: int = 0,
        unit: str | None = None,
    ) -> SampleBlock:
        """A block from an array of shape (channels, samples) or (samples,), for people:
        channel names default to ``emg_1..`` or ``acc_x, acc_y, acc_z``, the unit to
        ``a.u.`` (EMG) or ``m/s^2`` (accelerometer). Consecutive blocks of one stream
        need ``t0`` and ``seq`` to follow on (``t0 + n/fs``, ``seq + 1``)."""
        x = np.asarray(data, dtype=np.float32)
        if x.ndim == 1:
            x = x[np.newaxis, :]
        n = x.shape[0] if x.ndim == 2 else 0
        if channels is None:
            channels = default_channels(n, modality)
        if unit is None:
            unit = default_unit(modality)
        return cls(sensor, modality, float(fs), float(t0), int(seq), tuple(channels), unit, x)

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        return self.n_samples / self.fs

    @property
    def t_end(self) -> float:
        """Time just after the last sample: where the next contiguous block starts."""
        return self.t0 + self.duration

    @property
    def stream(self) -> tuple[str, Modality]:
        return (self.sensor, self.modality)


@dataclass(frozen=True, slots=True)
class FeatureFrame:
    """Features of one window of one stream, one value per output channel.

    For EMG the output channels are the stream's channels; for an accelerometer the axes
    are combined into one vector channel (see docs/signal-processing.md), so
    ``channels`` may be shorter than the stream's. ``t`` is the window's end on the stream
    clock. ``features`` maps each name of ``EMG_FEATURES`` or ``ACC_FEATURES`` to a float64
    array of shape ``(len(channels),)``; NaN means "not computable" (flat or empty window).
    ``quality`` holds a short label per channel: ``ok``, ``mains`` (more than half the
    band power was power-line interference), ``clipped``, ``flat``, ``nonfinite``.
    """

    sensor: str
    modality: Modality
    t: float
    channels: tuple[str, ...]
    features: Mapping[str, npt.NDArray[np.float64]]
    quality: tuple[str, ...]
    active: npt.NDArray[np.bool_] | None = None

    def value(self, name: str, channel: int = 0) -> float:
        return float(self.features[name][channel])

    def channel_dicts(self) -> dict[str, dict[str, Any]]:
        """Per channel: every feature (NaN and inf as None: JSON has none), ``quality``
        and ``active`` (None without a detector). Values leave numpy once per feature
        (``tolist``), not once per channel and feature: this runs for every window of a
        500-sensor fleet."""
        names = list(self.features)
        columns = [[finite_or_none(v) for v in arr.tolist()] for arr in self.features.values()]
        active = None if self.active is None else self.active.tolist()
        out: dict[str, dict[str, Any]] = {}
        for ch, name in enumerate(self.channels):
            values: dict[str, Any] = {k: col[ch] for k, col in zip(names, columns, strict=True)}
            values["quality"] = self.quality[ch]
            values["active"] = None if active is None else bool(active[ch])
            out[name] = values
        return out

    def to_dict(self, wall: float | None = None) -> dict[str, Any]:
        """The features message of docs/protocol.md (MQTT ``fatigue/{id}/features``, the
        dashboard's WebSocket with ``wall``, the arrival time)."""
        head: dict[str, Any] = {"sensor": self.sensor, "modality": self.modality, "t": self.t}
        if wall is not None:
            head["wall"] = wall
        head["channels"] = self.channel_dicts()
        return head

    def channel_features(self, channel: int) -> dict[str, float]:
        return {name: float(arr[channel]) for name, arr in self.features.items()}


def finite_or_none(value: float) -> float | None:
    """JSON has no NaN or infinity: such values go out as null."""
    return value if math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, through dicts and lists."""
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Event:
    """The Event JSON of the design brief: MQTT alerts, the API and replay output share it."""

    event: EventKind
    sensor: str
    channel: str
    modality: Modality
    t: float
    message: str
    features: Mapping[str, float] = field(default_factory=dict)
    baseline: Mapping[str, float] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    wall_time: str = field(default_factory=_utc_now_iso)

    def to_dict(self) -> dict[str, Any]:
        """Non-finite feature values become ``null``: JSON has no NaN."""
        return {
            "id": self.id,
            "event": self.event,
            "sensor": self.sensor,
            "channel": self.channel,
            "modality": self.modality,
            "t": self.t,
            "wall_time": self.wall_time,
            "features": {k: finite_or_none(float(v)) for k, v in self.features.items()},
            "baseline": {k: finite_or_none(float(v)) for k, v in self.baseline.items()},
            "message": self.message,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Event:
        try:
            kind = obj["event"]
            modality = obj["modality"]
            if kind not in EVENT_KINDS:
                raise EventFormatError(f"unknown event kind {kind!r}")
            if modality not in MODALITIES:
                raise EventFormatError(f"unknown modality {modality!r}")

            def floats(m: Any) -> dict[str, float]:
                if not isinstance(m, Mapping):
                    raise EventFormatError("features and baseline must be objects")
                return {str(k): math.nan if v is None else float(v) for k, v in m.items()}

            return cls(
                id=str(obj["id"]),
                event=kind,
                sensor=str(obj["sensor"]),
                channel=str(obj["channel"]),
                modality=modality,
                t=float(obj["t"]),
                wall_time=str(obj["wall_time"]),
                features=floats(obj.get("features", {})),
                baseline=floats(obj.get("baseline", {})),
                message=str(obj["message"]),
            )
        except KeyError as exc:
            raise EventFormatError(f"missing field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise EventFormatError(str(exc)) from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> Event:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EventFormatError(f"not JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise EventFormatError("an event must be a JSON object")
        return cls.from_dict(obj)
