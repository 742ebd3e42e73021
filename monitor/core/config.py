"""Settings: built-in defaults < environment < TOML file < command-line flags.

Everything is validated once, here, at the edge: a bad value raises ``ConfigError`` naming
the dotted key, the value and what was expected, so nothing deeper has to re-check.
Environment variables use the dotted key in upper case with ``__`` between levels and the
prefix ``FATIGUE_MONITOR__``, e.g. ``FATIGUE_MONITOR__DSP__EMG__MAINS_HZ=50``; their values
are parsed as TOML values (``50``, ``[20, 450]``, ``"float64"``), falling back to a string.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from monitor.core.broker_url import parse_broker
from monitor.core.errors import ConfigError
from monitor.core.source_settings import BleSettings, BrainFlowSettings, LslSettings
from monitor.core.tables import build, deep_update, env_value, positive, set_dotted

ENV_PREFIX = "FATIGUE_MONITOR__"


@dataclass(frozen=True, slots=True)
class EmgDsp:
    window_s: float = 1.0
    hop_s: float = 0.5
    segment_s: float = 0.0
    band_hz: tuple[float, float] = (20.0, 450.0)
    filter_order: int = 4
    mains_hz: float = 0.0
    notch_q: float = 30.0
    mains_interpolation: bool = True

    def validate(self, key: str) -> None:
        positive(f"{key}.window_s", self.window_s)
        positive(f"{key}.hop_s", self.hop_s)
        if self.hop_s > self.window_s:
            raise ConfigError(f"{key}.hop_s", self.hop_s, "must not exceed window_s")
        if not 0 <= self.segment_s <= self.window_s:
            raise ConfigError(
                f"{key}.segment_s", self.segment_s, "0 (one periodogram) or at most window_s"
            )
        _band(f"{key}.band_hz", self.band_hz)
        if not 1 <= self.filter_order <= 8:
            raise ConfigError(f"{key}.filter_order", self.filter_order, "an integer 1..8")
        if self.mains_hz not in (0, 50, 60):
            raise ConfigError(f"{key}.mains_hz", self.mains_hz, "0 (off), 50 or 60")
        positive(f"{key}.notch_q", self.notch_q)


@dataclass(frozen=True, slots=True)
class AccDsp:
    window_s: float = 4.0
    hop_s: float = 1.0
    highpass_hz: float = 1.0
    highpass_order: int = 2
    tremor_band_hz: tuple[float, float] = (4.0, 12.0)
    peak_band_hz: tuple[float, float] = (3.5, 12.5)
    spectral_window: Literal["hann", "hamming", "blackman", "blackmanharris"] = "blackmanharris"

    def validate(self, key: str) -> None:
        positive(f"{key}.window_s", self.window_s)
        positive(f"{key}.hop_s", self.hop_s)
        if self.hop_s > self.window_s:
            raise ConfigError(f"{key}.hop_s", self.hop_s, "must not exceed window_s")
        positive(f"{key}.highpass_hz", self.highpass_hz)
        if not 1 <= self.highpass_order <= 8:
            raise ConfigError(f"{key}.highpass_order", self.highpass_order, "an integer 1..8")
        _band(f"{key}.tremor_band_hz", self.tremor_band_hz)
        _band(f"{key}.peak_band_hz", self.peak_band_hz)


@dataclass(frozen=True, slots=True)
class DspSettings:
    dtype: Literal["float32", "float64"] = "float32"
    flat_min_s: float = 0.05
    acc_flat_min_s: float = 1.0
    emg: EmgDsp = field(default_factory=EmgDsp)
    acc: AccDsp = field(default_factory=AccDsp)

    def validate(self, key: str) -> None:
        positive(f"{key}.flat_min_s", self.flat_min_s)
        positive(f"{key}.acc_flat_min_s", self.acc_flat_min_s)
        self.emg.validate(f"{key}.emg")
        self.acc.validate(f"{key}.acc")


@dataclass(frozen=True, slots=True)
class EmgDetect:
    baseline_s: float = 6.0
    baseline_max_s: float = 60.0
    settle_s: float = 1.0
    active_ratio: float = 2.0
    min_drop: float = 0.10
    min_sigma: float = 0.03
    arl0_hours: float = 20.0
    force_ratio: float = 1.15
    recover_fraction: float = 0.5
    recover_s: float = 10.0
    jasa_s: float = 8.0

    def validate(self, key: str) -> None:
        for name in ("baseline_s", "recover_s", "jasa_s", "arl0_hours", "min_sigma"):
            positive(f"{key}.{name}", getattr(self, name))
        if self.baseline_max_s < self.baseline_s:
            raise ConfigError(f"{key}.baseline_max_s", self.baseline_max_s, ">= baseline_s")
        if self.settle_s < 0:
            raise ConfigError(f"{key}.settle_s", self.settle_s, "must be >= 0")
        if not self.active_ratio > 1:
            raise ConfigError(f"{key}.active_ratio", self.active_ratio, "must be > 1")
        if not 0 < self.min_drop < 0.9:
            raise ConfigError(f"{key}.min_drop", self.min_drop, "a fraction in (0, 0.9)")
        if not self.force_ratio > 1:
            raise ConfigError(f"{key}.force_ratio", self.force_ratio, "must be > 1")
        if not 0 < self.recover_fraction < 1:
            raise ConfigError(f"{key}.recover_fraction", self.recover_fraction, "in (0, 1)")


@dataclass(frozen=True, slots=True)
class TremorDetect:
    baseline_s: float = 20.0
    min_ratio: float = 2.0
    floor_ms2: float = 0.02
    arl0_hours: float = 20.0
    min_sigma: float = 0.25
    recover_s: float = 10.0

    def validate(self, key: str) -> None:
        for name in ("baseline_s", "floor_ms2", "arl0_hours", "min_sigma", "recover_s"):
            positive(f"{key}.{name}", getattr(self, name))
        if not self.min_ratio > 1:
            raise ConfigError(f"{key}.min_ratio", self.min_ratio, "must be > 1")


@dataclass(frozen=True, slots=True)
class DetectSettings:
    signal_lost_s: float = 2.0
    emg: EmgDetect = field(default_factory=EmgDetect)
    tremor: TremorDetect = field(default_factory=TremorDetect)

    def validate(self, key: str) -> None:
        positive(f"{key}.signal_lost_s", self.signal_lost_s)
        self.emg.validate(f"{key}.emg")
        self.tremor.validate(f"{key}.tremor")


@dataclass(frozen=True, slots=True)
class ReplaySettings:
    chunk_s: float = 1.0
    max_speed_chunk_s: float = 10.0

    def validate(self, key: str) -> None:
        positive(f"{key}.chunk_s", self.chunk_s)
        positive(f"{key}.max_speed_chunk_s", self.max_speed_chunk_s)


@dataclass(frozen=True, slots=True)
class MqttSettings:
    broker: str = ""
    topics: tuple[str, ...] = ("sensors/+/emg", "sensors/+/acc")
    client_id: str = ""  # empty: fatigue-monitor-<host>-<random> (``unique_client_id``)
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    keepalive_s: int = 30
    backoff_max_s: float = 30.0
    max_payload_bytes: int = 1_000_000

    def validate(self, key: str) -> None:
        if self.broker:
            parse_broker(self.broker, f"{key}.broker")
        if not self.topics:
            raise ConfigError(f"{key}.topics", list(self.topics), "at least one topic pattern")
        if not 5 <= self.keepalive_s <= 3600:
            raise ConfigError(f"{key}.keepalive_s", self.keepalive_s, "5..3600 seconds")
        positive(f"{key}.backoff_max_s", self.backoff_max_s)
        positive(f"{key}.max_payload_bytes", self.max_payload_bytes)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    db: str = "fatigue-monitor.db"
    tick_s: float = 0.1
    silence_s: float = 5.0
    queue_size: int = 200_000
    queue_mb: float = 32.0
    state_save_s: float = 30.0
    features_store_every_s: float = 5.0
    host: str = "127.0.0.1"
    port: int = 8080
    token: str = ""
    api: bool = True
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    # -- bounds (#11): what hostile or huge input may cost; docs/configuration.md --------
    max_streams: int = 5000
    evict_after_s: float = 3600.0
    outbox_size: int = 10_000

    def validate(self, key: str) -> None:
        for name in ("tick_s", "silence_s", "state_save_s", "features_store_every_s"):
            positive(f"{key}.{name}", getattr(self, name))
        if self.queue_size < 100:
            raise ConfigError(f"{key}.queue_size", self.queue_size, "at least 100")
        if not self.queue_mb >= 1.0:
            raise ConfigError(f"{key}.queue_mb", self.queue_mb, "at least 1 (MB)")
        if self.max_streams < 1:
            raise ConfigError(f"{key}.max_streams", self.max_streams, "at least 1")
        if not self.evict_after_s >= self.silence_s:
            raise ConfigError(f"{key}.evict_after_s", self.evict_after_s, ">= silence_s")
        if self.outbox_size < 1:
            raise ConfigError(f"{key}.outbox_size", self.outbox_size, "at least 1")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{key}.port", self.port, "0..65535")
        if not self.host:
            raise ConfigError(f"{key}.host", self.host, "an address, e.g. 127.0.0.1")
        for origin in self.cors_origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ConfigError(
                    f"{key}.cors_origins", origin, "'*' or origins like https://host:port"
                )
        for name in self.allowed_hosts:
            if not name or name != name.strip() or "/" in name:
                raise ConfigError(
                    f"{key}.allowed_hosts", name, "'*' or host names like lab.example.org"
                )


@dataclass(frozen=True, slots=True)
class Settings:
    dsp: DspSettings = field(default_factory=DspSettings)
    detect: DetectSettings = field(default_factory=DetectSettings)
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    ble: BleSettings = field(default_factory=BleSettings)
    lsl: LslSettings = field(default_factory=LslSettings)
    brainflow: BrainFlowSettings = field(default_factory=BrainFlowSettings)

    def validate(self, key: str = "") -> None:
        self.dsp.validate("dsp")
        self.detect.validate("detect")
        self.replay.validate("replay")
        self.mqtt.validate("mqtt")
        self.service.validate("service")
        self.ble.validate("ble")
        self.lsl.validate("lsl")
        self.brainflow.validate("brainflow")


def _band(key: str, band: tuple[float, float]) -> None:
    if not 0 < band[0] < band[1]:
        raise ConfigError(key, list(band), "[low, high] with 0 < low < high")


def load_settings(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Defaults, then environment, then the TOML file, then ``overrides`` (dotted keys)."""
    merged: dict[str, Any] = {}
    env = os.environ if environ is None else environ
    for name, raw in env.items():
        if name.startswith(ENV_PREFIX):
            dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
            set_dotted(merged, dotted, env_value(Settings, dotted, raw))
    if path is not None:
        p = Path(path)
        try:
            with p.open("rb") as fh:
                deep_update(merged, tomllib.load(fh))
        except FileNotFoundError as exc:
            raise ConfigError("--config", str(p), "file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", str(p), f"not valid TOML: {exc}") from exc
    for dotted, value in (overrides or {}).items():
        set_dotted(merged, dotted, value)
    settings = build(Settings, merged, "")
    settings.validate()
    return settings
