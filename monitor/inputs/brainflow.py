"""BrainFlow boards as a live source (OpenBCI, gForce, Callibri, Ganglion, ... and
BrainFlow's synthetic and playback-file boards).

``BrainFlowSource`` opens one board session (``prepare_session``, the configured
``config_board`` commands, ``start_stream``), reads the board's buffer every ``poll_s``
and yields ``SampleBlock``s: the board's EMG (ExG) rows as one EMG stream and its
accelerometer rows as one ACC stream of the same sensor, both from BrainFlow's board
description (for the playback-file and streaming boards, the ``master_board``'s). BrainFlow
blocks, so every call into it runs in a worker thread; the event loop never waits on it.

Units: BrainFlow gives ExG in microvolts; accelerometers in g on OpenBCI boards
(``acc_unit``), converted to m/s^2.

Block times are the first sample's BrainFlow timestamp plus the sample count at the
board's nominal rate (BrainFlow stamps samples on arrival, with the jitter of a serial or
BLE link). A timestamp ahead of that count by more than ``GAP_S`` means samples were lost
(a dropped packet, a stalled link): the count re-anchors there, a gap, and windows restart.
Timestamps behind the count are not a gap; they are what a playback faster than real time
looks like. A board that stops sending for ``stall_s``, or whose session fails, is
reported at once through ``on_lost`` and opened again after a capped backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self

import numpy as np

from monitor.core.backoff import Backoff
from monitor.core.errors import ConfigError
from monitor.core.model import G_MS2, SampleBlock, default_channels
from monitor.core.source_settings import BrainFlowBoard, BrainFlowSettings

log = logging.getLogger(__name__)

#: A timestamp this far ahead of the sample count's time is a gap (s).
GAP_S = 0.25
ACC_SCALE = {"g": G_MS2, "mg": G_MS2 / 1000.0, "m/s^2": 1.0}
#: Boards that replay or relay another board's data: their layout is the master board's.
RELAY_BOARDS = ("PLAYBACK_FILE_BOARD", "STREAMING_BOARD")


def board_id(board: str | int, key: str) -> int:
    """BrainFlow's id for a board given by id or by name (``CYTON_BOARD``, ``cyton``)."""
    from brainflow.board_shim import BoardIds

    if isinstance(board, int):
        if board not in {b.value for b in BoardIds}:
            raise ConfigError(key, board, "a BrainFlow board id (BoardIds)")
        return board
    name = board.strip().upper().replace("-", "_").replace(" ", "_")
    for candidate in (name, f"{name}_BOARD"):
        if candidate in BoardIds.__members__:
            return int(BoardIds[candidate].value)
    raise ConfigError(key, board, "a BrainFlow board name, e.g. SYNTHETIC_BOARD, CYTON_BOARD")


@dataclass(frozen=True, slots=True)
class BoardLayout:
    """Where a board's EMG, accelerometer and timestamp rows are, and its rate."""

    name: str
    fs: float
    emg_rows: tuple[int, ...]
    emg_names: tuple[str, ...]
    acc_rows: tuple[int, ...]
    timestamp_row: int


def board_layout(spec: BrainFlowBoard, key: str) -> tuple[int, dict[str, Any], BoardLayout]:
    """The board id, its input parameters and the layout of its rows (checked against
    what the board has, so a wrong ``emg_channels`` fails at start with its key)."""
    from brainflow.board_shim import BoardIds, BoardShim

    bid = board_id(spec.board, f"{key}.board")
    params = dict(spec.params)
    layout_id = bid
    if BoardIds(bid).name in RELAY_BOARDS:
        if "master_board" not in params:
            raise ConfigError(
                f"{key}.params.master_board", None, "the board whose data is replayed or relayed"
            )
        layout_id = params["master_board"] = board_id(
            params["master_board"], f"{key}.params.master_board"
        )
    descr = BoardShim.get_board_descr(layout_id)
    emg_all = tuple(int(r) for r in descr.get("emg_channels", ()))
    acc_all = tuple(int(r) for r in descr.get("accel_channels", ()))
    chosen = spec.emg_channels or tuple(range(len(emg_all)))
    if spec.emg and not emg_all:
        raise ConfigError(f"{key}.emg", True, f"{descr['name']} has no EMG rows: set emg = false")
    if spec.emg and max(chosen) >= len(emg_all):
        raise ConfigError(
            f"{key}.emg_channels", list(chosen), f"0..{len(emg_all) - 1} ({descr['name']})"
        )
    names = default_channels(len(emg_all), "emg")  # emg_1.. by the board's own order
    layout = BoardLayout(
        name=str(descr["name"]),
        fs=float(descr["sampling_rate"]),
        emg_rows=tuple(emg_all[i] for i in chosen) if spec.emg else (),
        emg_names=tuple(names[i] for i in chosen) if spec.emg else (),
        acc_rows=acc_all if spec.acc else (),
        timestamp_row=int(descr["timestamp_channel"]),
    )
    if not (layout.emg_rows or layout.acc_rows):
        raise ConfigError(f"{key}.acc", spec.acc, f"{descr['name']} has no accelerometer rows")
    return bid, params, layout


@dataclass(frozen=True, slots=True)
class BrainFlowStatus:
    """One board's link, for the stats message."""

    board: str
    connected: bool
    sessions: int
    last_error: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class BrainFlowSource:
    """One configured board, opened and re-opened until cancelled."""

    def __init__(
        self,
        spec: BrainFlowBoard,
        settings: BrainFlowSettings,
        on_lost: Callable[[str], None] | None = None,
        key: str = "brainflow.boards[0]",
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.on_lost = on_lost
        self.sensor = spec.sensor
        self.board_id, self._params, self.layout = board_layout(spec, key)
        self.connected = False
        self.sessions = 0
        self.last_error = ""
        self._shim: Any = None
        # The BrainFlow call running in a worker thread, if any: kept across a
        # cancellation so that leaving waits for it before releasing the session.
        self._inflight: asyncio.Future[Any] | None = None
        self._ready: deque[SampleBlock] = deque()
        self._anchor = math.nan
        self._count = 0
        self._seq = 0
        self._last_data = 0.0
        self._backoff = Backoff(cap=settings.backoff_max_s)
        self._acc_scale = ACC_SCALE[spec.acc_unit]

    def status(self) -> BrainFlowStatus:
        return BrainFlowStatus(self.layout.name, self.connected, self.sessions, self.last_error)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._inflight is not None and not self._inflight.done():
            with contextlib.suppress(Exception):
                await self._inflight  # an open or read still in BrainFlow: let it end
        if self._shim is not None:
            await asyncio.to_thread(self._close)

    def __aiter__(self) -> Self:
        return self

    async def _call(self, fn: Callable[[], Any]) -> Any:
        """``fn`` in a worker thread (BrainFlow blocks), shielded from cancellation."""
        self._inflight = asyncio.ensure_future(asyncio.to_thread(fn))
        return await asyncio.shield(self._inflight)

    # -- worker-thread calls into BrainFlow ------------------------------------------------
    def _open(self) -> None:
        from brainflow.board_shim import BoardShim, BrainFlowInputParams

        BoardShim.disable_board_logger()  # its errors reach us as exceptions, with codes
        params = BrainFlowInputParams()
        for name, value in self._params.items():
            if not hasattr(params, name):
                raise ConfigError(f"brainflow params.{name}", value, "a BrainFlowInputParams field")
            setattr(params, name, value)
        shim = BoardShim(self.board_id, params)
        shim.prepare_session()
        try:
            for command in self.spec.commands:
                shim.config_board(command)
            shim.start_stream()
        except BaseException:
            shim.release_session()
            raise
        self._shim = shim

    def _read(self) -> np.ndarray:
        data: np.ndarray = self._shim.get_board_data()
        return data

    def _close(self) -> None:
        shim, self._shim = self._shim, None
        if shim is None:
            return
        try:
            shim.release_session()  # stops the stream too
        except Exception as exc:  # a board that is already gone: nothing left to save
            log.debug("closing BrainFlow board %s: %s", self.sensor, exc)

    # -- the iterator ----------------------------------------------------------------------
    async def __anext__(self) -> SampleBlock:
        from brainflow.exit_codes import BrainFlowError

        while not self._ready:
            if self._shim is None:
                try:
                    await self._call(self._open)
                except BrainFlowError as exc:
                    self.last_error = str(exc)
                    log.error("BrainFlow board %s (%s): %s", self.sensor, self.layout.name, exc)
                    await asyncio.sleep(self._backoff.next())
                    continue
                self.sessions += 1
                self._last_data = time.monotonic()
                self._anchor, self._count = math.nan, 0
                log.info(
                    "BrainFlow board %s: %s at %g Hz, %d EMG and %d accelerometer rows",
                    self.sensor,
                    self.layout.name,
                    self.layout.fs,
                    len(self.layout.emg_rows),
                    len(self.layout.acc_rows),
                )
            await asyncio.sleep(self.settings.poll_s)
            try:
                data = await self._call(self._read)
            except BrainFlowError as exc:
                await self._lost(str(exc))
                continue
            if data.ndim != 2 or data.shape[1] == 0:
                if time.monotonic() - self._last_data > self.settings.stall_s:
                    await self._lost(f"no data for {self.settings.stall_s:g} s")
                continue
            self._last_data = time.monotonic()
            self._backoff.reset()
            self.connected = True
            self._ready.extend(self._blocks(data))
        return self._ready.popleft()

    def _blocks(self, data: np.ndarray) -> list[SampleBlock]:
        """One board read as an EMG block and an ACC block with the same times."""
        lay = self.layout
        stamp = float(data[lay.timestamp_row, 0])
        ahead = stamp - (self._anchor + self._count / lay.fs)
        if not ahead <= GAP_S:  # the first read (NaN) or samples lost on the way
            self._anchor, self._count = stamp, 0
        t0 = self._anchor + self._count / lay.fs
        self._count += data.shape[1]
        blocks = []
        if lay.emg_rows:
            blocks.append(
                SampleBlock(
                    sensor=self.sensor,
                    modality="emg",
                    fs=lay.fs,
                    t0=t0,
                    seq=self._seq,
                    channels=lay.emg_names,
                    unit="uV",
                    data=np.ascontiguousarray(data[list(lay.emg_rows)], dtype=np.float32),
                )
            )
        if lay.acc_rows:
            acc = data[list(lay.acc_rows)] * self._acc_scale
            blocks.append(
                SampleBlock(
                    sensor=self.sensor,
                    modality="acc",
                    fs=lay.fs,
                    t0=t0,
                    seq=self._seq,
                    channels=default_channels(len(lay.acc_rows), "acc"),
                    unit="m/s^2",
                    data=np.ascontiguousarray(acc, dtype=np.float32),
                )
            )
        self._seq += 1
        return blocks

    async def _lost(self, why: str) -> None:
        """Report the loss at once, release the session off the event loop, and wait a
        growing backoff before opening it again (a board that opens but never sends is
        not hammered every ``stall_s``)."""
        if self.connected:
            log.warning("BrainFlow board %s lost: %s", self.sensor, why)
            if self.on_lost is not None:
                self.on_lost(self.sensor)
        self.connected = False
        self.last_error = why
        await self._call(self._close)
        await asyncio.sleep(self._backoff.next())
