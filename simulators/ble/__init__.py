"""Virtual BLE sensors on bumble, and a bleak backend on bumble to reach them.

``VirtualAir`` is the in-process radio; ``VirtualPolar``, ``VirtualMyo`` and
``VirtualGeneric`` are peripherals; ``bumble_backend(air)`` gives the bleak backend
classes for ``monitor.inputs.ble.source.BleSource``.
"""

from simulators.ble.air import VirtualAir
from simulators.ble.backend import bumble_backend
from simulators.ble.peripherals import VirtualGeneric, VirtualMyo, VirtualPolar

__all__ = ["VirtualAir", "VirtualGeneric", "VirtualMyo", "VirtualPolar", "bumble_backend"]
