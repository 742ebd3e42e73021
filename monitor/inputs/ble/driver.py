"""What a BLE device driver is: GATT addresses, a start sequence as data, and a decoder.

A driver does no I/O. It says which characteristics to subscribe to, which commands to
write (and whether each one answers on a control characteristic), how to judge an answer,
and how to turn one notification into a ``SampleBlock``. ``monitor/inputs/ble/source.py`` does
the talking. Keeping the protocol pure means every byte rule is tested without a radio,
and a new device is a new small module, not a change to the connection code.

Drivers keep a per-stream timeline (sequence counter, time anchor) because most devices
send no counter, or one that wraps: ``restart()`` is called after every (re)connection so
the next block re-anchors its time and the pipeline sees the outage as a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.core.model import Modality, SampleBlock


@dataclass(frozen=True, slots=True)
class Command:
    """One write of the start sequence.

    ``response_uuid`` names the characteristic (subscribed before the write) on which the
    device answers; ``None`` means the write itself (with response) is the acknowledgement.
    """

    uuid: str
    payload: bytes
    what: str
    response_uuid: str | None = None
    #: Sent again after the device refused it once (a driver never retries a retry).
    retry: bool = False


class BleDriver(Protocol):
    """The interface ``monitor.inputs.ble.source.BleSource`` drives. See docs/devices.md."""

    #: Config name of the driver (``[[ble.devices]] driver = ...``).
    name: str
    sensor: str
    modality: Modality

    @property
    def data_uuids(self) -> Sequence[str]:
        """Characteristics whose notifications carry samples."""
        ...

    @property
    def control_uuids(self) -> Sequence[str]:
        """Characteristics to subscribe to before the start commands (their answers)."""
        ...

    def start_commands(self) -> Sequence[Command]:
        """The writes that make the device stream, in order."""
        ...

    def check_response(self, command: Command, payload: bytes) -> Sequence[Command]:
        """Raise ``BleDeviceError`` if ``payload`` says that ``command`` failed; else the
        commands to send next, before the rest of the sequence (usually none; Polar:
        stop and start again when the stream was already on)."""
        ...

    def decode(self, uuid: str, payload: bytes, received: float) -> SampleBlock:
        """One notification of ``uuid`` -> one block, or ``DecodeError``. ``received`` is
        the host's wall-clock time of arrival, for devices without a clock of their own."""
        ...

    def restart(self) -> None:
        """Forget the time anchor: the next block starts a new segment of the stream."""
        ...

    def lost(self, notifications: int) -> None:
        """``notifications`` notifications were lost before the next one (the source's
        queue overflowed, or they could not be decoded): the next block must show a gap
        (a ``seq`` jump or a new time anchor) so that no window spans the missing data."""
        ...


def lower_uuids(uuids: Sequence[str]) -> tuple[str, ...]:
    """bleak reports UUIDs in lower case; compare in one case everywhere."""
    return tuple(u.lower() for u in uuids)


class Timeline:
    """Sequence numbers and times for devices whose frames carry no usable clock.

    ``seq`` counts blocks over the whole life of the source (it never goes back, so the
    pipeline never takes a block after a reconnection for a duplicate). Time is anchored
    at the host's arrival time of the first block after ``restart()`` and then advances
    by the nominal sample count, so the stream is contiguous while connected and jumps
    (a gap for the pipeline) across a reconnection; ``lost()`` (notifications dropped by
    the source) also leaves a hole in ``seq``, so the pipeline restarts its windows
    rather than splicing the samples on either side of the loss together.
    """

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self.seq = 0
        self._anchor: float | None = None
        self._samples = 0

    @property
    def anchor(self) -> float | None:
        """``t0`` of the first block since the last ``restart()`` or ``lost()``."""
        return self._anchor

    def restart(self) -> None:
        self._anchor = None

    def lost(self, blocks: int) -> None:
        """``blocks`` blocks of unknown size were lost: a hole in ``seq`` and a new time
        anchor at the next block's arrival (sample counts cannot bridge the hole)."""
        self.seq += blocks
        self._anchor = None

    def skip(self, blocks: int, n_samples: int) -> None:
        """``blocks`` blocks of ``n_samples`` each were lost: leave a hole in seq and time."""
        self.seq += blocks
        self._samples += blocks * n_samples

    def next(self, n_samples: int, received: float) -> tuple[int, float]:
        """(seq, t0) for a block of ``n_samples`` that arrived at ``received``."""
        if self._anchor is None:
            # The block's last sample arrived now; its first one n-1 periods earlier.
            self._anchor = received - (n_samples - 1) / self.fs
            self._samples = 0
        t0 = self._anchor + self._samples / self.fs
        self._samples += n_samples
        seq = self.seq
        self.seq += 1
        return seq, t0
