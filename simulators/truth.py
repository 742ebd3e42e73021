"""Ground truth of simulated recordings and its JSON form (docs/truth-format.md).

The JSON is a contract read by evaluation commands, so the field names and meanings live in
one place (``RecordingTruth.to_dict``) and the reader (``from_dict``) is its exact inverse.
Every key is always present; a value that does not apply to the modality is ``null``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from monitor.core.model import MODALITIES, Modality
from simulators.errors import TruthFormatError

TRUTH_VERSION = 1
SIDECAR_SUFFIX = ".truth.json"
SET_FILE = "truth.json"
#: Dataclass field metadata: the field is left out of ``jsonable`` output while it holds
#: its default, so adding an optional scenario parameter leaves older truth files (and
#: every set generated before it existed) byte-identical.
OMIT_DEFAULT = "omit_default"

ExpectedEvent = Literal["fatigue_onset", "tremor_onset"]

#: JSON key of each curve's value array.
CURVE_VALUE_KEYS: Mapping[str, str] = {
    "mdf_true": "mdf_hz",
    "rms_true": "rms",
    "force_true": "force",
    "tremor_rms_true": "rms",
}


def _num(x: float | None, digits: int = 6) -> float | None:
    if x is None:
        return None
    v = float(x)
    return round(v, digits) if math.isfinite(v) else None


def jsonable(value: Any) -> Any:
    """Plain JSON types for parameters: dataclasses, tuples and numpy scalars flattened."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get(OMIT_DEFAULT) and getattr(value, f.name) == f.default)
        }
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _num(float(value), 9)
    return value


@dataclass(frozen=True)
class Phase:
    """A stretch of the recording with one activity: ``work``, ``rest``, ``force_change``
    (EMG) or ``baseline``, ``tremor_ramp``, ``tremor`` (ACC). ``force`` is the relative
    force held (or ramped to) in EMG work phases, else ``None``."""

    start_s: float
    end_s: float
    kind: str
    force: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": _num(self.start_s),
            "end_s": _num(self.end_s),
            "kind": self.kind,
            "force": _num(self.force),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Phase:
        force = obj.get("force")
        return cls(
            start_s=float(obj["start_s"]),
            end_s=float(obj["end_s"]),
            kind=str(obj["kind"]),
            force=None if force is None else float(force),
        )


@dataclass(frozen=True)
class Artifact:
    """A disturbance that is not physiology: ``motion`` (low-frequency transient) or
    ``dropout`` (electrode off: the channel holds a constant value)."""

    start_s: float
    end_s: float
    kind: str
    channels: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": _num(self.start_s),
            "end_s": _num(self.end_s),
            "kind": self.kind,
            "channels": list(self.channels),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Artifact:
        return cls(
            start_s=float(obj["start_s"]),
            end_s=float(obj["end_s"]),
            kind=str(obj["kind"]),
            channels=tuple(str(c) for c in obj["channels"]),
        )


def _opt_floats(values: Sequence[float | None]) -> tuple[float | None, ...]:
    return tuple(None if v is None else float(v) for v in values)


@dataclass(frozen=True)
class Curve:
    """A true quantity at instants ``t`` (seconds): nominal value plus, optionally, one
    series per channel. ``None`` marks instants where the quantity is undefined (EMG MDF
    while the muscle rests)."""

    t: tuple[float, ...]
    values: tuple[float | None, ...]
    by_channel: tuple[tuple[float | None, ...], ...] | None = None

    def to_dict(self, value_key: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "t": [_num(x, 3) for x in self.t],
            value_key: [_num(v) for v in self.values],
        }
        if self.by_channel is not None:
            out["by_channel"] = [[_num(v) for v in row] for row in self.by_channel]
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], value_key: str) -> Curve:
        by = obj.get("by_channel")
        return cls(
            t=tuple(float(x) for x in obj["t"]),
            values=_opt_floats(obj[value_key]),
            by_channel=None if by is None else tuple(_opt_floats(row) for row in by),
        )


@dataclass(frozen=True, kw_only=True)
class RecordingTruth:
    """Everything known about one simulated file. See docs/truth-format.md for each field."""

    file: str
    modality: Modality
    fs: float
    duration_s: float
    n_samples: int
    channels: tuple[str, ...]
    unit: str
    seed: int | None
    onset_s: float | None
    end_s: float
    mdf0_hz: float | None = None
    analysis_band_hz: tuple[float, float] | None = None
    phases: tuple[Phase, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    mdf_true: Curve | None = None
    rms_true: Curve | None = None
    force_true: Curve | None = None
    tremor_rms_true: Curve | None = None
    tremor_hz: float | None = None
    tremor_band_hz: tuple[float, float] | None = None
    tremor_rms_before: float | None = None
    tremor_rms_after: float | None = None
    noise_band_rms: float | None = None
    format: str | None = None
    unit_in_file: bool | None = None
    clipped_samples: int = 0
    padded_samples: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def expected_event(self) -> ExpectedEvent | None:
        """The onset event a perfect detector raises in this recording, if any."""
        if self.onset_s is None:
            return None
        return "fatigue_onset" if self.modality == "emg" else "tremor_onset"

    @property
    def fatigue(self) -> bool:
        """True when the recording contains an onset to detect (fatigue or tremor)."""
        return self.onset_s is not None

    def to_dict(self) -> dict[str, Any]:
        def curve(name: str, c: Curve | None) -> dict[str, Any] | None:
            return None if c is None else c.to_dict(CURVE_VALUE_KEYS[name])

        def pair(p: tuple[float, float] | None) -> list[float | None] | None:
            return None if p is None else [_num(p[0]), _num(p[1])]

        return {
            "truth_version": TRUTH_VERSION,
            "file": self.file,
            "modality": self.modality,
            "fs": float(self.fs),
            "duration_s": _num(self.duration_s),
            "n_samples": int(self.n_samples),
            "channels": list(self.channels),
            "unit": self.unit,
            "seed": self.seed,
            "fatigue": self.fatigue,
            "expected_event": self.expected_event,
            "onset_s": _num(self.onset_s),
            "end_s": _num(self.end_s),
            "mdf0_hz": _num(self.mdf0_hz),
            "analysis_band_hz": pair(self.analysis_band_hz),
            "tremor_hz": _num(self.tremor_hz),
            "tremor_band_hz": pair(self.tremor_band_hz),
            "tremor_rms_before": _num(self.tremor_rms_before),
            "tremor_rms_after": _num(self.tremor_rms_after),
            "noise_band_rms": _num(self.noise_band_rms),
            "format": self.format,
            "unit_in_file": self.unit_in_file,
            "clipped_samples": int(self.clipped_samples),
            "padded_samples": int(self.padded_samples),
            "phases": [p.to_dict() for p in self.phases],
            "artifacts": [a.to_dict() for a in self.artifacts],
            "params": jsonable(self.params),
            "mdf_true": curve("mdf_true", self.mdf_true),
            "rms_true": curve("rms_true", self.rms_true),
            "force_true": curve("force_true", self.force_true),
            "tremor_rms_true": curve("tremor_rms_true", self.tremor_rms_true),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> RecordingTruth:
        try:
            modality = obj["modality"]
            if modality not in MODALITIES:
                raise TruthFormatError(f"unknown modality {modality!r}")

            def opt(key: str) -> float | None:
                v = obj.get(key)
                return None if v is None else float(v)

            def pair(key: str) -> tuple[float, float] | None:
                v = obj.get(key)
                return None if v is None else (float(v[0]), float(v[1]))

            def curve(key: str) -> Curve | None:
                v = obj.get(key)
                return None if v is None else Curve.from_dict(v, CURVE_VALUE_KEYS[key])

            seed = obj.get("seed")
            uif = obj.get("unit_in_file")
            return cls(
                file=str(obj["file"]),
                modality=modality,
                fs=float(obj["fs"]),
                duration_s=float(obj["duration_s"]),
                n_samples=int(obj["n_samples"]),
                channels=tuple(str(c) for c in obj["channels"]),
                unit=str(obj["unit"]),
                seed=None if seed is None else int(seed),
                onset_s=opt("onset_s"),
                end_s=float(obj["end_s"]),
                mdf0_hz=opt("mdf0_hz"),
                analysis_band_hz=pair("analysis_band_hz"),
                phases=tuple(Phase.from_dict(p) for p in obj.get("phases", [])),
                artifacts=tuple(Artifact.from_dict(a) for a in obj.get("artifacts", [])),
                mdf_true=curve("mdf_true"),
                rms_true=curve("rms_true"),
                force_true=curve("force_true"),
                tremor_rms_true=curve("tremor_rms_true"),
                tremor_hz=opt("tremor_hz"),
                tremor_band_hz=pair("tremor_band_hz"),
                tremor_rms_before=opt("tremor_rms_before"),
                tremor_rms_after=opt("tremor_rms_after"),
                noise_band_rms=opt("noise_band_rms"),
                format=None if obj.get("format") is None else str(obj["format"]),
                unit_in_file=None if uif is None else bool(uif),
                clipped_samples=int(obj.get("clipped_samples", 0)),
                padded_samples=int(obj.get("padded_samples", 0)),
                params=dict(obj.get("params", {})),
            )
        except TruthFormatError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise TruthFormatError(f"bad recording truth: {exc!r}") from exc


@dataclass(frozen=True)
class TruthSet:
    """The truth of a scenario directory: one ``RecordingTruth`` per file, paths relative."""

    seed: int
    recordings: tuple[RecordingTruth, ...]
    #: Name of the scenario set (``"field"``); None (no ``set`` key) for the classic set.
    set_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"truth_version": TRUTH_VERSION, "seed": self.seed}
        if self.set_name is not None:
            head["set"] = self.set_name
        return {**head, "recordings": [r.to_dict() for r in self.recordings]}

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> TruthSet:
        try:
            name = obj.get("set")
            return cls(
                seed=int(obj["seed"]),
                recordings=tuple(RecordingTruth.from_dict(r) for r in obj["recordings"]),
                set_name=None if name is None else str(name),
            )
        except (KeyError, TypeError) as exc:
            raise TruthFormatError(f"bad truth set: {exc!r}") from exc


def sidecar_path(recording: str | os.PathLike[str]) -> Path:
    """``rec.edf`` -> ``rec.edf.truth.json``: the full name is kept so rec.edf and rec.csv
    never share a sidecar."""
    return Path(os.fspath(recording) + SIDECAR_SUFFIX)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _render(obj: Mapping[str, Any], indent: str) -> str:
    """One key per line, each value on one line: readable, and curves stay compact."""
    inner = indent + " "
    lines = [f"{inner}{json.dumps(k)}: {_compact(v)}" for k, v in obj.items()]
    return "{\n" + ",\n".join(lines) + "\n" + indent + "}"


def _dump(path: Path, text: str) -> None:
    """Write via a temporary file so a reader never sees half a truth file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)


def write_truth(recording: str | os.PathLike[str], truth: RecordingTruth) -> Path:
    """Write the sidecar of ``recording``; returns its path."""
    path = sidecar_path(recording)
    _dump(path, _render(truth.to_dict(), ""))
    return path


def read_truth(path: str | os.PathLike[str]) -> RecordingTruth:
    """Read a sidecar, given either the sidecar itself or the recording it belongs to."""
    p = Path(path)
    if not p.name.endswith(SIDECAR_SUFFIX):
        p = sidecar_path(p)
    return RecordingTruth.from_dict(json.loads(p.read_text(encoding="utf-8")))


def write_truth_set(directory: str | os.PathLike[str], truth_set: TruthSet) -> Path:
    path = Path(directory) / SET_FILE
    head = truth_set.to_dict()
    recs = ",\n".join("  " + _render(r.to_dict(), "  ") for r in truth_set.recordings)
    text = (
        "{\n"
        + "".join(
            f" {json.dumps(k)}: {_compact(v)},\n" for k, v in head.items() if k != "recordings"
        )
        + ' "recordings": [\n'
        + recs
        + "\n ]\n}"
    )
    _dump(path, text)
    return path


def read_truth_set(path: str | os.PathLike[str]) -> TruthSet:
    """Read ``DIR/truth.json``, given the directory or the file."""
    p = Path(path)
    if p.is_dir():
        p = p / SET_FILE
    return TruthSet.from_dict(json.loads(p.read_text(encoding="utf-8")))
