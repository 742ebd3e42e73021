"""What the live service reports about itself, as one typed snapshot.

Why a module of its own: the service builds it and the API reads it (``/api/health``,
``/metrics``); the API must not import the service that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.core.streams import Counters
from monitor.inputs.ble.source import BleStatus
from monitor.inputs.brainflow import BrainFlowStatus
from monitor.inputs.lsl import LslStatus
from monitor.live.pipeline import Overload


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """The service at one instant: read by the stats message (``to_dict``, its JSON as in
    docs/operations.md), ``/api/health``, ``/metrics`` and the demo's summary."""

    uptime_s: float = 0.0
    connected: bool | None = None  # None: no broker configured
    connections: int = 0
    backlog: int = 0
    streams: int = 0
    outbox_waiting: int = 0
    outbox_dropped: int = 0
    published_alerts: int = 0
    published_features: int = 0
    tick_p99_s: float | None = None
    overload: Overload = field(default_factory=Overload)
    counters: Counters = field(default_factory=Counters)
    ble: dict[str, BleStatus] = field(default_factory=dict)
    lsl: dict[str, LslStatus] = field(default_factory=dict)
    brainflow: dict[str, BrainFlowStatus] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "uptime_s": self.uptime_s,
            "connected": self.connected,
            "connections": self.connections,
            "backlog": self.backlog,
            "streams": self.streams,
            "outbox_waiting": self.outbox_waiting,
            "outbox_dropped": self.outbox_dropped,
            "published_alerts": self.published_alerts,
            "published_features": self.published_features,
            "tick_p99_s": self.tick_p99_s,
            **self.overload.to_dict(),
            **self.counters.as_dict(),
        }
        if self.ble:
            out["ble"] = {sensor: b.to_dict() for sensor, b in self.ble.items()}
        if self.lsl:
            out["lsl"] = {name: x.to_dict() for name, x in self.lsl.items()}
        if self.brainflow:
            out["brainflow"] = {name: b.to_dict() for name, b in self.brainflow.items()}
        return out
