"""Response bodies of the API. They are the OpenAPI schema (``/openapi.json``) and what
schemathesis checks responses against, so each field says what it means and its unit."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from monitor.core.model import EventKind, Modality

SensorStatus = Literal["streaming", "lost", "fatigued", "tremor"]
Number = float | None


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    uptime_s: float | None = Field(description="seconds since the service started")
    mqtt_connected: bool | None = Field(description="broker link up; null when unknown")
    auth_required: bool = Field(description="the other routes need a bearer token")


class StreamView(BaseModel):
    modality: Modality
    fs: float = Field(description="sample rate, Hz")
    channels: list[str] = Field(description="the stream's input channels")
    status: SensorStatus
    last_seen: float = Field(description="wall-clock time of the last payload, Unix seconds")


class SensorSummary(BaseModel):
    id: str
    status: SensorStatus = Field(
        description="the most severe of its channels: lost > fatigued > tremor > streaming"
    )
    last_seen: float = Field(description="Unix seconds")
    streams: list[StreamView]


class ChannelView(BaseModel):
    name: str = Field(description="output channel (an accelerometer's axes make one)")
    modality: Modality
    status: SensorStatus
    phase: str = Field(description="detector phase: learning, monitoring, fatigued or tremor")
    active: bool = Field(description="the last window passed the activity gate")
    baseline: dict[str, Number] | None = Field(
        description="learned baseline (EMG: mdf_hz, rms; ACC: tremor_rms); null while learning"
    )
    mdf_band_hz: tuple[float, float] | None = Field(
        description="EMG: baseline MDF -/+ detect.emg.min_drop, the band a fatigue onset leaves"
    )
    latest: dict[str, Number | str | bool] | None = Field(
        description="the newest window's features (plus quality and active), if any"
    )
    latest_wall: float | None = Field(description="when that window arrived, Unix seconds")


class SensorDetail(SensorSummary):
    channels: list[ChannelView]


class FeatureRow(BaseModel):
    modality: Modality
    channel: str
    t: float = Field(description="window end on the stream's clock, seconds")
    wall: float = Field(description="when it was stored, Unix seconds")
    quality: str | None
    active: bool | None = Field(
        None, description="whether the activity gate called the window muscle work (EMG)"
    )
    features: dict[str, Number]


class ChannelIndices(BaseModel):
    """The standard fatigue indices of one EMG channel over its stored feature history."""

    channel: str
    samples: int = Field(description="stored feature samples the indices were computed from")
    indices: dict[str, Any] = Field(
        description=(
            "n_windows, n_usable, initial_mdf_hz, mdf_first_hz, mdf_last_hz, mdf_change_pct, "
            "mdf_slope and rms_slope ({pct_per_min, ci95, clear, n_points}), drop10_s, "
            "quadrant, quadrant_caveat, contractions (docs/signal-processing.md section 6)"
        )
    )


class EventBody(BaseModel):
    """The Event JSON of the design brief, field for field."""

    id: str
    event: EventKind
    sensor: str
    channel: str
    modality: Modality
    t: float = Field(description="seconds on the stream's clock")
    wall_time: str = Field(description="ISO-8601 UTC")
    features: dict[str, Number]
    baseline: dict[str, Number]
    message: str


class Recalibrated(BaseModel):
    sensor: str
    streams: int = Field(description="streams whose baselines restart learning")


class ErrorBody(BaseModel):
    detail: str
