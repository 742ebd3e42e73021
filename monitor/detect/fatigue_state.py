"""A fatigue channel's state as JSON-friendly data, and back: what the store keeps so
a restarted monitor (or another one taking over the sensor) goes on with its baselines."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from monitor.detect.baseline import Baseline
from monitor.detect.cusum import Cusum
from monitor.detect.emg_window import WindowFeatures

if TYPE_CHECKING:
    from monitor.detect.fatigue import FatigueChannel


def state_dict(ch: FatigueChannel) -> dict[str, Any]:
    return {
        "phase": ch.phase,
        "baseline": None if ch.baseline is None else asdict(ch.baseline),
        "learn": [list(x) for x in ch.learn],
        "sample": [list(x) for x in ch.sample],
        "active_run": ch.active_run,
        "index": ch.index,
        "cusum": ch.cusum.state_dict(),
        "recent": [list(x) for x in ch.recent],
        "last_t": ch.last_t,
        "learn_t0": ch.learn_t0,
        "level": ch.level,
        "post": None if ch.post is None else [list(x) for x in ch.post],
        "rebased": ch.rebased,
        "gap": ch.gap,
        "held": [[asdict(hw), i] for hw, i in ch.held],
        "gate": {
            "floor": ch.gate.floor,
            "peak": ch.gate.peak,
            "recent": list(ch.gate.recent),
        },
    }


def load_state(ch: FatigueChannel, state: dict[str, Any]) -> None:
    ch.phase = state["phase"]
    b = state["baseline"]
    ch.baseline = None if b is None else Baseline(**{"mdf_hz": b["mdf"], **b})
    ch.learn = [_row4(x) for x in state["learn"]]
    ch.sample = [_row4(x) for x in state["sample"]]
    ch._mirror.reset()
    ch.active_run = int(state["active_run"])
    ch.index = int(state["index"])
    ch.cusum = Cusum.from_state(state["cusum"])
    ch.recent = [_row3(x) for x in state["recent"]]
    ch.last_t = state.get("last_t")
    ch.learn_t0 = state.get("learn_t0")
    ch.level = state.get("level")
    post = state.get("post")
    ch.post = None if post is None else [_row3(x) for x in post]
    ch.rebased = int(state.get("rebased", 0))
    ch.gap = bool(state.get("gap", False))
    ch.held = [(WindowFeatures(**hw), int(i)) for hw, i in state.get("held", [])]
    g = state["gate"]
    ch.gate.floor, ch.gate.peak, ch.gate.recent = g["floor"], g["peak"], list(g["recent"])


def _row4(x: list[float]) -> tuple[float, float, float, float]:
    """A learned window from a saved state; states saved before the index carry 3 values."""
    a, b, c = float(x[0]), float(x[1]), float(x[2])
    return (a, b, c, float(x[3]) if len(x) > 3 else a)


def _row3(x: list[float]) -> tuple[float, float, float]:
    a, b = float(x[0]), float(x[1])
    return (a, b, float(x[2]) if len(x) > 2 else a)
