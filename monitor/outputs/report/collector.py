"""Keeps the time series a report needs while a replay runs (a sink like any other)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from monitor.core.indices import FatigueIndices, fatigue_indices, usable_windows
from monitor.core.model import Event, FeatureFrame, Modality
from monitor.core.tremor_character import TremorCharacter, tremor_character

REPORT_FEATURES: dict[str, tuple[str, ...]] = {
    "emg": ("mdf_hz", "mnf_hz", "rms"),
    "acc": ("tremor_rms", "tremor_peak_hz", "acc_rms", "tremor_peak_rms", "voluntary_hz"),
}


@dataclass
class ChannelSeries:
    sensor: str
    channel: str
    modality: Modality
    t: list[float] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    quality_bad: int = 0
    events: list[Event] = field(default_factory=list)
    usable: list[bool] = field(default_factory=list)

    def array(self, name: str) -> npt.NDArray[np.float64]:
        return np.asarray(self.values.get(name, []), dtype=np.float64)

    def times(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.t, dtype=np.float64)

    def usable_mask(self) -> npt.NDArray[np.bool_]:
        """Windows the detector called active, of quality ``ok``, and not at the noise
        floor in hindsight: the only ones whose MDF is the muscle's (a rest window's MDF
        is the noise floor's). The same mask as the indices' (``usable_windows``)."""
        return usable_windows(
            self.array("mdf_hz"), self.array("mnf_hz"), self.array("rms"), self.usable
        )

    def tremor_character(self) -> TremorCharacter:
        """What tremor this (accelerometer) channel shows; see monitor/core/tremor_character.py."""
        return tremor_character(
            self.array("tremor_peak_hz"),
            self.array("tremor_rms"),
            self.array("tremor_peak_rms"),
            self.array("voluntary_hz"),
        )

    def indices(self, stride: int = 1) -> FatigueIndices:
        """The fatigue indices of this (EMG) channel; see monitor/core/indices.py."""
        return fatigue_indices(
            self.times(),
            self.array("mdf_hz"),
            self.array("mnf_hz"),
            self.array("rms"),
            self.usable_mask(),
            stride=stride,
        )


class ReportCollector:
    """``stride``: every how many windows the indices' regressions take one; window / hop
    makes the windows they use disjoint (monitor/core/indices.py, ``trend``)."""

    def __init__(self, stride: int = 1) -> None:
        self.series: dict[tuple[str, str, str], ChannelSeries] = {}
        self.stride = stride

    def _get(self, sensor: str, channel: str, modality: Modality) -> ChannelSeries:
        key = (sensor, modality, channel)
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = ChannelSeries(sensor, channel, modality)
            for name in REPORT_FEATURES[modality]:
                s.values[name] = []
        return s

    def frames(self, frames: Sequence[FeatureFrame]) -> None:
        for frame in frames:
            names = REPORT_FEATURES[frame.modality]
            for ch, channel in enumerate(frame.channels):
                s = self._get(frame.sensor, channel, frame.modality)
                s.t.append(frame.t)
                for name in names:
                    s.values[name].append(float(frame.features[name][ch]))
                ok = frame.quality[ch] == "ok"
                if not ok:
                    s.quality_bad += 1
                # Without a detector (no activity flags) every good window counts.
                s.usable.append(ok and (frame.active is None or bool(frame.active[ch])))

    def events(self, events: Sequence[Event]) -> None:
        for event in events:
            self._get(event.sensor, event.channel, event.modality).events.append(event)
