"""Driver names -> driver classes, and which driver would handle an advertising device.

A plain constant table (no registration at import time, no plugin magic): adding a device
means adding a module and one line here (docs/devices.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from monitor.core.errors import ConfigError
from monitor.inputs.ble import generic, myo, polar
from monitor.inputs.ble.driver import BleDriver


class DriverFactory(Protocol):
    def __call__(self, sensor: str, options: Mapping[str, Any], key: str) -> BleDriver: ...


DRIVERS: Mapping[str, DriverFactory] = {
    "polar": polar.PolarAcc.from_options,
    "myo": myo.MyoEmg.from_options,
    "generic": generic.GenericSensor.from_options,
}


def make_driver(name: str, sensor: str, options: Mapping[str, Any], key: str) -> BleDriver:
    """Build and validate a driver; a bad option raises ``ConfigError`` naming
    ``{key}.options.<option>``."""
    factory = DRIVERS.get(name)
    if factory is None:
        raise ConfigError(f"{key}.driver", name, f"one of {sorted(DRIVERS)}")
    return factory(sensor, options, f"{key}.options")


def driver_for(name: str | None, service_uuids: Sequence[str]) -> str | None:
    """The driver that would handle a device, from its advertisement: the service UUIDs
    when advertised, else the name Polar and Thalmic give their devices."""
    uuids = {u.lower() for u in service_uuids}
    if polar.PMD_SERVICE in uuids:
        return "polar"
    if uuids & {myo.CONTROL_SERVICE, myo.EMG_SERVICE}:
        return "myo"
    label = (name or "").lower()
    if label.startswith("polar "):
        return "polar"
    if label.startswith("myo"):
        return "myo"
    return None
