"""fatigue-monitor: live muscle-fatigue and tremor monitoring from EMG and accelerometer streams.

The public Python API (docs/python-api.md): ``analyze`` for a recording or an array,
``Monitor`` for streaming (``push`` blocks, get feature frames and events), the three
values that cross every boundary (``SampleBlock``, ``FeatureFrame``, ``Event``),
``Settings`` and ``open_recording``. Everything else is internal and may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from monitor.core.errors import (
    ConfigError,
    DecodeError,
    EventFormatError,
    MonitorError,
    RecordingError,
    SampleBlockError,
)
from monitor.core.model import Event, FeatureFrame, SampleBlock

if TYPE_CHECKING:
    from monitor.analysis import Analysis, analyze
    from monitor.core.config import Settings, load_settings
    from monitor.core.monitor import Monitor, Step
    from monitor.inputs.files.recording import open_recording

# Loaded on first use: they pull in scipy (about a second), and every submodule import
# (the CLI, the simulators, a sensor-side codec) runs this file first.
_LAZY = {
    "Analysis": "monitor.analysis",
    "analyze": "monitor.analysis",
    "Settings": "monitor.core.config",
    "load_settings": "monitor.core.config",
    "Monitor": "monitor.core.monitor",
    "Step": "monitor.core.monitor",
    "open_recording": "monitor.inputs.files.recording",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Analysis",
    "ConfigError",
    "DecodeError",
    "Event",
    "EventFormatError",
    "FeatureFrame",
    "Monitor",
    "MonitorError",
    "RecordingError",
    "SampleBlock",
    "SampleBlockError",
    "Settings",
    "Step",
    "analyze",
    "load_settings",
    "open_recording",
]
__version__ = "0.1.0"
