"""Detectors of one stream: a fatigue or tremor detector per output channel, plus signal
loss, behind one ``update(frame) -> events`` with ``reset``/``recalibrate`` and a
JSON-friendly ``state_dict``/``load_state`` so a restart keeps the baselines."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.core.config import DetectSettings, DspSettings
from monitor.core.model import Event, EventKind, FeatureFrame, Modality
from monitor.detect.fatigue import FatigueChannel, WindowFeatures
from monitor.detect.tremor import TremorChannel, TremorWindow

BAD_SIGNAL = ("flat", "nonfinite")
CONTACT_TROUBLE = ("flat", "nonfinite", "clipped")


@dataclass(frozen=True, slots=True)
class ChannelState:
    """One channel's detector state, as the API, the metrics and the retained MQTT state
    read it; ``to_dict`` is its one JSON form (docs/protocol.md, ``fatigue/{id}/state``)."""

    modality: Modality
    phase: str
    signal_lost: bool
    active: bool
    baseline: Mapping[str, float] | None

    @property
    def fatigued(self) -> bool:
        return self.modality == "emg" and self.phase == "fatigued"

    @property
    def tremor(self) -> bool:
        return self.modality == "acc" and self.phase == "tremor"

    def to_dict(self) -> dict[str, Any]:
        flag = {"fatigued": self.fatigued} if self.modality == "emg" else {"tremor": self.tremor}
        return {
            "phase": self.phase,
            **flag,
            "signal_lost": self.signal_lost,
            "active": self.active,
            "baseline": None if self.baseline is None else dict(self.baseline),
        }


class StreamDetector:
    def __init__(
        self,
        sensor: str,
        modality: Modality,
        channels: tuple[str, ...],
        detect: DetectSettings,
        dsp: DspSettings,
    ) -> None:
        self.sensor = sensor
        self.modality = modality
        self.channels = channels
        self.settings = detect
        dsp_mod = dsp.emg if modality == "emg" else dsp.acc
        self.hop_s = dsp_mod.hop_s
        stride = max(1, round(dsp_mod.window_s / dsp_mod.hop_s))
        self._fatigue = (
            [FatigueChannel(detect.emg, self.hop_s, stride) for _ in channels]
            if modality == "emg"
            else []
        )
        self._tremor = (
            [
                TremorChannel(detect.tremor, self.hop_s, stride, dsp.acc.tremor_band_hz)
                for _ in channels
            ]
            if modality == "acc"
            else []
        )
        self._bad_since: list[float | None] = [None] * len(channels)
        self._lost = [False] * len(channels)
        self.last_active: npt.NDArray[np.bool_] = np.zeros(len(channels), dtype=bool)

    @classmethod
    def for_frame(
        cls, frame: FeatureFrame, detect: DetectSettings, dsp: DspSettings
    ) -> StreamDetector:
        return cls(frame.sensor, frame.modality, frame.channels, detect, dsp)

    # -- persistence ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "sensor": self.sensor,
            "modality": self.modality,
            "channels": list(self.channels),
            "fatigue": [c.state_dict() for c in self._fatigue],
            "tremor": [c.state_dict() for c in self._tremor],
            "bad_since": list(self._bad_since),
            "lost": list(self._lost),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        if tuple(state["channels"]) != self.channels or state["modality"] != self.modality:
            raise ValueError(
                f"state for {state['modality']} {state['channels']} does not fit "
                f"{self.modality} {list(self.channels)}"
            )
        for c, s in zip(self._fatigue, state["fatigue"], strict=True):
            c.load_state(s)
        for t, s in zip(self._tremor, state["tremor"], strict=True):
            t.load_state(s)
        self._bad_since = list(state["bad_since"])
        self._lost = [bool(x) for x in state["lost"]]

    def recalibrate(self) -> None:
        for c in self._fatigue:
            c.recalibrate()
        for t in self._tremor:
            t.recalibrate()

    def reset(self) -> None:
        """Back to a new detector: baselines, CUSUMs and signal state all forgotten."""
        self._fatigue = [FatigueChannel(c.settings, c.hop_s, c.stride) for c in self._fatigue]
        self._tremor = [TremorChannel(t.settings, t.hop_s, t.stride, t.band) for t in self._tremor]
        self._bad_since = [None] * len(self.channels)
        self._lost = [False] * len(self.channels)

    def status(self) -> dict[str, ChannelState]:
        """Current state of every channel, for the retained MQTT state topic and the API."""
        out: dict[str, ChannelState] = {}
        for ch, name in enumerate(self.channels):
            emg = self.modality == "emg"
            phase = self._fatigue[ch].phase if emg else self._tremor[ch].phase
            out[name] = ChannelState(
                modality=self.modality,
                phase=phase,
                signal_lost=self._lost[ch],
                active=bool(self.last_active[ch]),
                baseline=self.baselines[ch],
            )
        return out

    @property
    def baselines(self) -> list[dict[str, float] | None]:
        out: list[dict[str, float] | None] = []
        for c in self._fatigue:
            b = c.baseline
            out.append(None if b is None else {"mdf_hz": b.mdf_hz, "rms": math.exp(b.log_rms)})
        for t in self._tremor:
            out.append(None if t.base_log is None else {"tremor_rms": math.exp(t.base_log)})
        return out

    # -- behaviour -----------------------------------------------------------------
    def _event(
        self,
        kind: EventKind,
        ch: int,
        t: float,
        message: str,
        features: dict[str, float] | None = None,
        baseline: dict[str, float] | None = None,
    ) -> Event:
        return Event(
            event=kind,
            sensor=self.sensor,
            channel=self.channels[ch],
            modality=self.modality,
            t=t,
            message=message,
            features=features or {},
            baseline=baseline or {},
        )

    def _signal(self, ch: int, t: float, quality: str) -> Event | None:
        if quality in BAD_SIGNAL:
            since = self._bad_since[ch]
            if since is None:
                self._bad_since[ch] = since = t
            if not self._lost[ch] and t - since + self.hop_s >= self.settings.signal_lost_s:
                self._lost[ch] = True
                return self._event(
                    "signal_lost", ch, t, f"no usable signal ({quality}) since {since:.1f} s"
                )
            return None
        self._bad_since[ch] = None
        if self._lost[ch]:
            self._lost[ch] = False
            return self._event("signal_restored", ch, t, "signal back")
        return None

    def silent(self, t: float) -> list[Event]:
        """The stream stopped delivering data (called by the live pipeline)."""
        events = []
        for ch in range(len(self.channels)):
            if not self._lost[ch]:
                self._lost[ch] = True
                self._bad_since[ch] = t
                events.append(self._event("signal_lost", ch, t, "the sensor stopped sending data"))
        return events

    def update(self, frame: FeatureFrame) -> list[Event]:
        events: list[Event] = []
        # Plain floats once per frame: indexing numpy arrays per channel and feature cost
        # more than the detector's own arithmetic.
        f = {name: values.tolist() for name, values in frame.features.items()}
        active = np.zeros(len(self.channels), dtype=bool)
        for ch in range(len(self.channels)):
            q = frame.quality[ch]
            sig = self._signal(ch, frame.t, q)
            if sig is not None:
                events.append(sig)
            good = q == "ok"
            if self.modality == "emg":
                d = self._fatigue[ch].update(
                    WindowFeatures(
                        t=frame.t,
                        mdf=f["mdf_hz"][ch],
                        mnf=f["mnf_hz"][ch],
                        rms=f["rms"][ch],
                        arv=f["arv"][ch],
                        fi=f["fi_nsm5"][ch],
                        good=good,
                        contact=q not in CONTACT_TROUBLE,
                        mains_share=f["mains_share"][ch] if "mains_share" in f else 0.0,
                        hum=q == "mains",
                    )
                )
                active[ch] = d.active
                if d.kind is not None:
                    events.append(
                        self._event(d.kind, ch, frame.t, d.message, d.features, d.baseline)
                    )
            else:
                td = self._tremor[ch].update(
                    TremorWindow(
                        t=frame.t,
                        tremor_rms=f["tremor_rms"][ch],
                        peak_hz=f["tremor_peak_hz"][ch],
                        ratio=f["tremor_ratio"][ch],
                        disp_mm=f["tremor_disp_mm"][ch],
                        peak_rms=f["tremor_peak_rms"][ch]
                        if "tremor_peak_rms" in f
                        else f["tremor_rms"][ch],
                        voluntary_hz=f["voluntary_hz"][ch] if "voluntary_hz" in f else math.nan,
                        env_cv=f["tremor_env_cv"][ch] if "tremor_env_cv" in f else math.nan,
                        acc_rms=f["acc_rms"][ch] if "acc_rms" in f else math.nan,
                        good=good,
                    )
                )
                active[ch] = good
                if td.kind is not None:
                    events.append(
                        self._event(td.kind, ch, frame.t, td.message, td.features, td.baseline)
                    )
        self.last_active = active
        return events
