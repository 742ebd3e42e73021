"""Score the real detector against recordings with known ground truth (docs/evaluation.md).

Reads a set directory with ``truth.json`` (docs/truth-format.md: the contract with the
simulators, which the monitor does not import), replays every recording through the same
engine and detectors as ``replay``, and counts:

* detection: the first onset event of the expected kind (any channel) at or after
  ``onset_s - tolerance_s`` and at or before ``end_s``; delay = its t - onset_s;
* false alarm: every onset event of that kind in non-fatiguing signal, i.e. in a recording
  without onset, or before ``onset_s - tolerance_s`` in one with it (events after ``end_s``
  of a fatiguing recording are neither);
* false alarms per hour: false alarms / hours of non-fatiguing signal, counted as above.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from monitor.core.config import Settings
from monitor.core.errors import MonitorError
from monitor.core.model import Event, FeatureFrame
from monitor.replay import replay

ONSET_KINDS = {"emg": "fatigue_onset", "acc": "tremor_onset"}


@dataclass(frozen=True, slots=True)
class TruthItem:
    file: str
    modality: str
    onset_s: float | None
    end_s: float
    duration_s: float
    expected_event: str
    condition: str = ""


@dataclass
class RecordingResult:
    file: str
    modality: str
    onset_s: float | None
    condition: str = ""
    detected_at: float | None = None
    delay_s: float | None = None
    false_alarms: int = 0
    negative_hours: float = 0.0
    events: int = 0

    @property
    def outcome(self) -> str:
        if self.onset_s is None:
            return "TN" if self.false_alarms == 0 else "FP"
        return "TP" if self.detected_at is not None else "FN"


@dataclass
class Summary:
    recordings: int
    positives: int
    detected: int
    sensitivity: float
    false_alarms: int
    negative_hours: float
    false_alarms_per_hour: float
    delay_median_s: float | None
    delay_p90_s: float | None
    tolerance_s: float
    by_modality: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_condition: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_truth_set(directory: Path) -> list[TruthItem]:
    path = directory / "truth.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        items = []
        for rec in doc["recordings"]:
            modality = rec["modality"]
            onset = rec.get("onset_s")
            items.append(
                TruthItem(
                    file=str(rec["file"]),
                    modality=modality,
                    onset_s=None if onset is None else float(onset),
                    end_s=float(rec.get("end_s", rec["duration_s"])),
                    duration_s=float(rec["duration_s"]),
                    expected_event=str(rec.get("expected_event") or ONSET_KINDS[modality]),
                    # The simulators name each recording's condition in params.kind; a
                    # set from elsewhere may not, and is then scored as one condition.
                    condition=str((rec.get("params") or {}).get("kind") or ""),
                )
            )
    except FileNotFoundError as exc:
        raise MonitorError(f"{path}: no truth.json (see docs/truth-format.md)") from exc
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise MonitorError(f"{path}: not a truth set ({exc!r}); see docs/truth-format.md") from exc
    if not items:
        raise MonitorError(f"{path}: lists no recordings")
    return items


class _Events:
    def __init__(self) -> None:
        self.items: list[Event] = []

    def frames(self, frames: Sequence[FeatureFrame]) -> None:
        return None

    def events(self, events: Sequence[Event]) -> None:
        self.items.extend(events)


def score_recording(
    item: TruthItem, events: Sequence[Event], tolerance_s: float
) -> RecordingResult:
    onsets = sorted(e.t for e in events if e.event == item.expected_event)
    result = RecordingResult(
        item.file, item.modality, item.onset_s, condition=item.condition, events=len(events)
    )
    if item.onset_s is None:
        result.false_alarms = len(onsets)
        result.negative_hours = item.duration_s / 3600.0
        return result
    earliest = item.onset_s - tolerance_s
    result.false_alarms = sum(1 for t in onsets if t < earliest)
    result.negative_hours = max(0.0, earliest) / 3600.0
    hits = [t for t in onsets if earliest <= t <= item.end_s]
    if hits:
        result.detected_at = hits[0]
        result.delay_s = hits[0] - item.onset_s
    return result


def _summarise(results: Sequence[RecordingResult], tolerance_s: float) -> Summary:
    positives = [r for r in results if r.onset_s is not None]
    detected = [r for r in positives if r.detected_at is not None]
    delays = sorted(r.delay_s for r in detected if r.delay_s is not None)
    fa = sum(r.false_alarms for r in results)
    hours = sum(r.negative_hours for r in results)

    def pct(q: float) -> float | None:
        if not delays:
            return None
        return float(delays[min(len(delays) - 1, math.ceil(q * len(delays)) - 1)])

    return Summary(
        recordings=len(results),
        positives=len(positives),
        detected=len(detected),
        sensitivity=len(detected) / len(positives) if positives else math.nan,
        false_alarms=fa,
        negative_hours=hours,
        false_alarms_per_hour=fa / hours if hours > 0 else math.nan,
        delay_median_s=float(statistics.median(delays)) if delays else None,
        delay_p90_s=pct(0.9),
        tolerance_s=tolerance_s,
    )


def evaluate(
    directory: Path,
    settings: Settings,
    tolerance_s: float = 2.0,
    progress: Callable[[RecordingResult], None] | None = None,
) -> tuple[list[RecordingResult], Summary]:
    items = read_truth_set(directory)
    results = []
    for item in items:
        sink = _Events()
        replay(
            [directory / item.file],
            settings,
            modality=item.modality,  # type: ignore[arg-type]
            sinks=[sink],
        )
        res = score_recording(item, sink.items, tolerance_s)
        results.append(res)
        if progress is not None:
            progress(res)
    summary = _summarise(results, tolerance_s)
    skip = ("by_modality", "by_condition", "tolerance_s")
    for modality in sorted({r.modality for r in results}):
        part = _summarise([r for r in results if r.modality == modality], tolerance_s)
        summary.by_modality[modality] = {k: v for k, v in asdict(part).items() if k not in skip}
    for condition in sorted({r.condition for r in results if r.condition}):
        part = _summarise([r for r in results if r.condition == condition], tolerance_s)
        summary.by_condition[condition] = {k: v for k, v in asdict(part).items() if k not in skip}
    return results, summary


def format_result(r: RecordingResult) -> str:
    onset = "-" if r.onset_s is None else f"{r.onset_s:7.1f}"
    hit = "-" if r.detected_at is None else f"{r.detected_at:7.1f}"
    delay = "" if r.delay_s is None else f"delay {r.delay_s:+6.1f} s"
    fa = f"  false alarms {r.false_alarms}" if r.false_alarms else ""
    return (
        f"{r.outcome}  {r.file:28s} {r.modality}  onset {onset:>7}  detected {hit:>7}  {delay}{fa}"
    )


def format_summary(s: Summary) -> str:
    def fmt(v: float | None) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"

    lines = [
        f"recordings {s.recordings}, with onset {s.positives}, detected {s.detected}",
        "sensitivity: no recording with an onset"
        if s.positives == 0
        else f"sensitivity {s.sensitivity * 100:.1f} %",
        f"false alarms {s.false_alarms} in {s.negative_hours:.2f} h of non-fatiguing signal "
        f"= {s.false_alarms_per_hour:.2f} per hour",
        f"delay after onset: median {fmt(s.delay_median_s)} s, 90th percentile "
        f"{fmt(s.delay_p90_s)} s (tolerance {s.tolerance_s:g} s before onset)",
    ]
    for modality, part in s.by_modality.items():
        lines.append(
            f"  {modality}: {part['detected']}/{part['positives']} detected, "
            f"{part['false_alarms']} false alarms in {part['negative_hours']:.2f} h, "
            f"median delay {fmt(part['delay_median_s'])} s"
        )
    if len(s.by_condition) > 1:
        lines.append("by condition:")
        for condition, part in s.by_condition.items():
            found = f"{part['detected']}/{part['positives']} detected" if part["positives"] else ""
            lines.append(
                f"  {condition:24s} {part['recordings']:3d} rec  {found:14s} "
                f"{part['false_alarms']} FA in {part['negative_hours']:.2f} h  "
                f"delay median {fmt(part['delay_median_s'])} s, p90 {fmt(part['delay_p90_s'])} s"
            )
    return "\n".join(lines)
