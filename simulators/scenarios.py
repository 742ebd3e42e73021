"""A mixed, seeded set of recordings with truth: the benchmark a detector is scored on.

The mix covers what a fatigue/tremor detector must get right and what it must not be
fooled by: EMG that fatigues (onsets 20-120 s in, various decline rates, sometimes after a
change of force), EMG that does not (steady, force up and down, rests, mains hum, motion
artefacts, dropouts) and accelerometers with and without a tremor onset. Kinds are shuffled
so that a file's position or name says nothing about its truth.

Parameters are drawn from one set-level generator and every recording gets its own seed,
so ``rebuild_generator(truth)`` regenerates any single file exactly from its truth entry.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from simulators.acc import AccGenerator, AccScenario
from simulators.emg import Dropout, EmgGenerator, EmgScenario, ForceStep, RestPeriod
from simulators.errors import ScenarioError, TruthFormatError
from simulators.record import record
from simulators.truth import RecordingTruth, TruthSet, write_truth_set

__all__ = [
    "ACC_RATES",
    "EMG_RATES",
    "SETS",
    "PlannedRecording",
    "build_generator",
    "make_scenarios",
    "plan_scenarios",
    "plan_set",
    "rebuild_generator",
    "scenario_from_params",
]

EMG_RATES = (1000.0, 1024.0, 1500.0, 2000.0, 2048.0)
ACC_RATES = (50.0, 100.0, 200.0)
#: One cycle of kinds: 4 fatiguing EMG, 3 non-fatiguing EMG, 3 accelerometers.
_KIND_CYCLE = (
    "emg_fatigue",
    "emg_control",
    "acc_tremor",
    "emg_fatigue",
    "emg_control",
    "acc_still",
    "emg_fatigue",
    "emg_control",
    "emg_fatigue",
    "acc_tremor",
)
_CONTROL_KINDS = ("steady", "force", "rest", "mains", "motion", "dropout")
#: Scenario sets ``make_scenarios`` can write: the laboratory mix and the field conditions.
SETS = ("classic", "field")
#: CSV is slow to write and read; only recordings with at most this many values get it.
_CSV_MAX_VALUES = 400_000


@dataclass(frozen=True)
class PlannedRecording:
    """One recording of a set before it is generated."""

    file: str
    kind: str
    seed: int
    scenario: EmgScenario | AccScenario


def _u(rng: np.random.Generator, lo: float, hi: float, digits: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), digits)


def _mains(rng: np.random.Generator, lo: float, hi: float) -> tuple[float, float]:
    return (float(rng.choice([50.0, 60.0])), _u(rng, lo, hi, 4))


class _EmgCommon(TypedDict):
    fs: float
    n_channels: int
    mdf0_hz: float
    rms0_mv: float
    noise_mv: float
    rms_gain: float


def _emg_common(rng: np.random.Generator) -> _EmgCommon:
    return {
        "fs": float(rng.choice(EMG_RATES)),
        "n_channels": int(rng.integers(1, 4, endpoint=True)),
        "mdf0_hz": _u(rng, 60.0, 130.0, 2),
        "rms0_mv": _u(rng, 0.1, 1.0),
        "noise_mv": _u(rng, 0.002, 0.01, 4),
        "rms_gain": _u(rng, 0.5, 1.5),
    }


def _emg_fatigue(rng: np.random.Generator) -> EmgScenario:
    common = _emg_common(rng)
    onset = _u(rng, 20.0, 120.0, 1)
    duration = float(rng.integers(max(90, int(np.ceil(onset + 60.0))), 300, endpoint=True))
    steps: tuple[ForceStep, ...] = ()
    if onset >= 30.0 and rng.random() < 0.3:
        steps = (ForceStep(_u(rng, 8.0, onset - 15.0, 1), _u(rng, 0.6, 1.6)),)
    mains_hz, mains_mv = _mains(rng, 0.01, 0.15) if rng.random() < 0.4 else (0.0, 0.0)
    return EmgScenario(
        **common,
        duration_s=duration,
        onset_s=onset,
        decline_per_min=_u(rng, 0.1, 0.4),
        force_steps=steps,
        mains_hz=mains_hz,
        mains_mv=mains_mv,
    )


def _emg_control(rng: np.random.Generator, flavour: str) -> EmgScenario:
    common = _emg_common(rng)
    duration = float(rng.integers(90, 300, endpoint=True))
    extras = {f for f in _CONTROL_KINDS[1:] if rng.random() < 0.15} | {flavour}
    steps: list[ForceStep] = []
    rests: list[RestPeriod] = []
    dropouts: list[Dropout] = []
    if "force" in extras:
        times = np.sort(rng.uniform(10.0, duration - 10.0, int(rng.integers(2, 4, endpoint=True))))
        level = 1.0
        for t in times:
            # Alternate up and down so both directions of the JASA "same-way" change occur.
            level = _u(rng, 1.2, 2.0) if level <= 1.0 else _u(rng, 0.5, 0.9)
            steps.append(ForceStep(round(float(t), 1), level))
        steps = [s for i, s in enumerate(steps) if i == 0 or s.t_s - steps[i - 1].t_s >= 3.0]
    if "rest" in extras:
        t = _u(rng, 15.0, 40.0, 1)
        while t < duration - 40.0 and len(rests) < 3:
            length = _u(rng, 10.0, 30.0, 1)
            if not any(t <= s.t_s < t + length + 1.0 for s in steps):
                rests.append(RestPeriod(t, t + length))
            t += length + _u(rng, 30.0, 80.0, 1)
    mains_hz, mains_mv = _mains(rng, 0.05, 0.5) if "mains" in extras else (0.0, 0.0)
    motion = _u(rng, 2.0, 6.0, 2) if "motion" in extras else 0.0
    if "dropout" in extras:
        n_ch = common["n_channels"]
        for _ in range(int(rng.integers(1, 2, endpoint=True))):
            start = _u(rng, 10.0, duration - 15.0, 1)
            dropouts.append(
                Dropout(
                    start,
                    start + _u(rng, 2.0, 10.0, 1),
                    channels=(int(rng.integers(0, n_ch)),),
                    value_mv=0.0,
                )
            )
    return EmgScenario(
        **common,
        duration_s=duration,
        onset_s=None,
        force_steps=tuple(steps),
        rests=tuple(rests),
        mains_hz=mains_hz,
        mains_mv=mains_mv,
        motion_per_min=motion,
        motion_mv=_u(rng, 0.5, 3.0),
        dropouts=tuple(dropouts),
    )


def _acc(rng: np.random.Generator, tremor: bool) -> AccScenario:
    duration = float(rng.integers(60, 180, endpoint=True))
    onset = _u(rng, 20.0, duration - 40.0, 1) if tremor else None
    pathological = tremor and rng.random() < 0.3
    return AccScenario(
        fs=float(rng.choice(ACC_RATES)),
        duration_s=duration,
        onset_s=onset,
        ramp_s=_u(rng, 10.0, 20.0, 1),
        tremor_hz=_u(rng, 8.0, 11.0, 2),
        tremor_rms0=_u(rng, 0.01, 0.03, 4),
        tremor_gain=_u(rng, 3.0, 10.0, 2),
        pathological_hz=_u(rng, 4.0, 6.0, 2) if pathological else None,
        pathological_rms=_u(rng, 0.1, 0.5),
        movement_rms=_u(rng, 0.2, 1.0),
        noise_rms=_u(rng, 0.003, 0.01, 4),
        gravity_wobble_deg=_u(rng, 2.0, 10.0, 1) if rng.random() < 0.5 else 0.0,
    )


def _extension(rng: np.random.Generator, n_values: int, csv_share: float) -> str:
    if n_values <= _CSV_MAX_VALUES and rng.random() < csv_share:
        return ".csv"
    return ".edf"


def plan_scenarios(n: int, seed: int) -> list[PlannedRecording]:
    """The recordings ``make_scenarios(n, seed, ...)`` writes, without writing anything."""
    if n < 1:
        raise ScenarioError("n", n, "must be >= 1")
    rng = np.random.default_rng(seed)
    kinds = [_KIND_CYCLE[i % len(_KIND_CYCLE)] for i in range(n)]
    kinds = [kinds[i] for i in rng.permutation(n)]
    seeds = np.random.SeedSequence(seed).generate_state(n)
    plans: list[PlannedRecording] = []
    n_control = 0
    width = max(3, len(str(n - 1)))
    for i, kind in enumerate(kinds):
        scenario: EmgScenario | AccScenario
        if kind == "emg_fatigue":
            scenario = _emg_fatigue(rng)
        elif kind == "emg_control":
            flavour = _CONTROL_KINDS[n_control % len(_CONTROL_KINDS)]
            n_control += 1
            scenario = _emg_control(rng, flavour)
            kind = f"emg_control_{flavour}"
        else:
            scenario = _acc(rng, tremor=kind == "acc_tremor")
        n_values = scenario.n_samples * (
            scenario.n_channels if isinstance(scenario, EmgScenario) else 3
        )
        share = 0.15 if isinstance(scenario, EmgScenario) else 0.5
        name = f"rec_{i:0{width}d}{_extension(rng, n_values, share)}"
        plans.append(PlannedRecording(file=name, kind=kind, seed=int(seeds[i]), scenario=scenario))
    return plans


def build_generator(plan: PlannedRecording) -> EmgGenerator | AccGenerator:
    """The generator of one planned recording, seeded with the recording's own seed."""
    rng = np.random.default_rng(plan.seed)
    if isinstance(plan.scenario, EmgScenario):
        return EmgGenerator(plan.scenario, rng)
    return AccGenerator(plan.scenario, rng)


def make_scenarios(
    n: int,
    seed: int,
    out_dir: str | os.PathLike[str],
    *,
    on_recording: Callable[[int, PlannedRecording], None] | None = None,
    set_name: str = "classic",
) -> TruthSet:
    """Write ``n`` recordings of set ``set_name`` and ``out_dir/truth.json``; returns the
    truth set.

    Deterministic in ``seed``. ``on_recording(i, plan)`` is called before each file is
    generated (progress reporting).
    """
    plans = plan_set(set_name, n, seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truths = []
    for i, plan in enumerate(plans):
        if on_recording is not None:
            on_recording(i, plan)
        truth = record(build_generator(plan), out / plan.file, seed=plan.seed, sidecar=False)
        params = dict(truth.params)
        params["kind"] = plan.kind
        truths.append(dataclasses.replace(truth, params=params))
    truth_set = TruthSet(
        seed=seed,
        recordings=tuple(truths),
        set_name=None if set_name == "classic" else set_name,
    )
    write_truth_set(out, truth_set)
    return truth_set


def plan_set(set_name: str, n: int, seed: int) -> list[PlannedRecording]:
    """The plan of set ``set_name`` (one of ``SETS``)."""
    if set_name == "classic":
        return plan_scenarios(n, seed)
    if set_name == "field":
        # Imported here: the field set builds on this module's helpers.
        from simulators.field_set import plan_field

        return plan_field(n, seed)
    raise ScenarioError("set", set_name, f"must be one of {', '.join(SETS)}")


def scenario_from_params(params: Mapping[str, Any]) -> EmgScenario | AccScenario:
    """The scenario recorded in a truth's ``params`` (after a JSON round trip)."""
    kind = params.get("generator")
    raw = dict(params["scenario"])
    if kind == "acc":
        return AccScenario(**raw)
    if kind != "emg":
        raise TruthFormatError(f"unknown generator {kind!r} in params")
    raw["force_steps"] = tuple(ForceStep(**x) for x in raw.get("force_steps", ()))
    raw["rests"] = tuple(RestPeriod(**x) for x in raw.get("rests", ()))
    raw["dropouts"] = tuple(
        Dropout(
            start_s=d["start_s"],
            end_s=d["end_s"],
            channels=None if d.get("channels") is None else tuple(d["channels"]),
            value_mv=d.get("value_mv", 0.0),
        )
        for d in raw.get("dropouts", ())
    )
    raw["mains_harmonics"] = tuple(raw.get("mains_harmonics", ()))
    return EmgScenario(**raw)


def rebuild_generator(truth: RecordingTruth) -> EmgGenerator | AccGenerator:
    """A fresh generator that produces exactly the samples of the file ``truth`` describes."""
    if truth.seed is None:
        raise TruthFormatError(f"{truth.file}: no seed recorded, cannot rebuild")
    scenario = scenario_from_params(truth.params)
    return build_generator(PlannedRecording(truth.file, "", truth.seed, scenario))
