"""Polar H10 / Verity Sense accelerometer over the Polar Measurement Data (PMD) service.

Source: Polar BLE SDK, ``technical_documentation/Polar_Measurement_Data_Specification.pdf``
and the SDK's PMD client (polarofficial/polar-ble-sdk: ``PmdControlPointCommand``,
``PmdControlPointResponse``, ``PmdSetting``, ``PmdDataFrame``, ``AccData``). Written from
that description, not from its code. docs/devices.md has the byte tables.

Control point (write, indicate)::

    request : op (1 byte) | measurement type (1) | settings...
              a setting is: type (1) | count (1) | value (2 bytes LE; 4 for type 3)
    response: 0xF0 | op | measurement type | status | more (1) | parameters...

Data (notify)::

    measurement type (1) | timestamp uint64 LE, ns since 2000-01-01T00:00 of the LAST
    sample (8) | frame type (1; bit 7 = delta compressed) | content

Raw ACC frames carry x, y, z per sample as signed ints of 1, 2 or 3 bytes (frame type 0,
1, 2) in milli-g. A delta-compressed frame starts with a reference sample (one signed
16-bit value per channel, whatever the ``resolution`` setting: the SDK's ``AccData``
parses the reference of compressed ACC frames at 16 bits), followed by blocks of
``bit width (1) | sample count (1) | count * channels * width bits``: bit-packed signed
deltas, least significant bit first, x y z of a sample in turn, each sample being the
previous one plus its deltas. The reference is the first sample of the frame. Compressed
type 1 values times the start response's factor are milli-g; compressed type 0 values
times the factor are g.

Start sequence (as the SDK does it): subscribe to the data characteristic first (so the
first frames are not lost), then write the start request; an ``ERROR_ALREADY_IN_STATE``
answer (the device still streams from an earlier link) is followed by a stop request and
a fresh start, whose answer carries the factor the frames need.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.core.errors import BleDeviceError, ConfigError, DecodeError
from monitor.core.model import G_MS2, Modality, SampleBlock
from monitor.core.tables import build
from monitor.inputs.ble.driver import Command

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
RESPONSE_CODE = 0xF0
MEASUREMENT_ACC = 0x02

SETTING_SAMPLE_RATE = 0
SETTING_RESOLUTION = 1
SETTING_RANGE = 2
SETTING_RANGE_MILLIUNIT = 3
SETTING_CHANNELS = 4
SETTING_FACTOR = 5
_SETTING_SIZE = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}

#: Control point status codes, by the names the SDK documents.
STATUS_NAMES: tuple[str, ...] = (
    "SUCCESS",
    "ERROR_INVALID_OP_CODE",
    "ERROR_INVALID_MEASUREMENT_TYPE",
    "ERROR_NOT_SUPPORTED",
    "ERROR_INVALID_LENGTH",
    "ERROR_INVALID_PARAMETER",
    "ERROR_ALREADY_IN_STATE",
    "ERROR_INVALID_RESOLUTION",
    "ERROR_INVALID_SAMPLE_RATE",
    "ERROR_INVALID_RANGE",
    "ERROR_INVALID_MTU",
    "ERROR_INVALID_NUMBER_OF_CHANNELS",
    "ERROR_INVALID_STATE",
    "ERROR_DEVICE_IN_CHARGER",
    "ERROR_DISK_FULL",
)

POLAR_EPOCH_UNIX_S = 946_684_800  # 2000-01-01T00:00:00Z in Unix seconds
ACC_CHANNELS = ("acc_x", "acc_y", "acc_z")
HEADER = struct.Struct("<BQB")  # measurement type, timestamp ns, frame type
MAX_SAMPLES_PER_FRAME = 4096
#: Bytes per channel of the reference sample of a delta-compressed ACC frame (AccData).
DELTA_REFERENCE_BYTES = 2


def status_name(code: int) -> str:
    return STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES) else f"UNKNOWN_STATUS_{code}"


# -- control point ------------------------------------------------------------------------
def start_request(
    measurement: int = MEASUREMENT_ACC, rate_hz: int = 200, range_g: int = 8, resolution: int = 16
) -> bytes:
    """REQUEST_MEASUREMENT_START with sample rate, resolution and range (one value each)."""
    return bytes([OP_START, measurement]) + b"".join(
        struct.pack("<BBH", setting, 1, value)
        for setting, value in (
            (SETTING_SAMPLE_RATE, rate_hz),
            (SETTING_RESOLUTION, resolution),
            (SETTING_RANGE, range_g),
        )
    )


def stop_request(measurement: int = MEASUREMENT_ACC) -> bytes:
    return bytes([OP_STOP, measurement])


@dataclass(frozen=True, slots=True)
class ControlPointResponse:
    op: int
    measurement: int
    status: int
    more: bool
    parameters: bytes

    @property
    def status_name(self) -> str:
        return status_name(self.status)

    @property
    def ok(self) -> bool:
        return self.status == 0


def parse_response(payload: bytes) -> ControlPointResponse:
    if len(payload) < 4:
        raise DecodeError("truncated", f"control point response of {len(payload)} bytes (< 4)")
    if payload[0] != RESPONSE_CODE:
        raise DecodeError("bad_response", f"first byte 0x{payload[0]:02x} is not 0xF0")
    ok = payload[3] == 0
    more = ok and len(payload) > 4 and payload[4] != 0
    params = bytes(payload[5:]) if ok else b""
    return ControlPointResponse(payload[1], payload[2], payload[3], more, params)


def parse_settings(params: bytes) -> dict[int, list[int]]:
    """Settings TLVs (type, count, values) -> {type: [values]}; the factor is a float32
    (returned as its raw uint32 bits: use ``factor_of``)."""
    out: dict[int, list[int]] = {}
    i = 0
    while i < len(params):
        if i + 2 > len(params):
            raise DecodeError("truncated", f"setting header at byte {i} of {len(params)}")
        kind, count = params[i], params[i + 1]
        size = _SETTING_SIZE.get(kind)
        if size is None:
            raise DecodeError("bad_setting", f"unknown setting type {kind}")
        i += 2
        if i + count * size > len(params):
            raise DecodeError("truncated", f"setting {kind} needs {count * size} bytes")
        out[kind] = [
            int.from_bytes(params[i + k * size : i + (k + 1) * size], "little")
            for k in range(count)
        ]
        i += count * size
    return out


def factor_of(settings: Mapping[int, list[int]]) -> float:
    raw = settings.get(SETTING_FACTOR)
    if not raw:
        return 1.0
    value = float(struct.unpack("<f", struct.pack("<I", raw[0]))[0])
    if not (math.isfinite(value) and value != 0):
        raise DecodeError("bad_setting", f"factor {value!r}")
    return value


# -- data frames ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PmdFrame:
    measurement: int
    timestamp_ns: int
    frame_type: int
    compressed: bool
    samples: npt.NDArray[np.int64]  # (n_samples, channels), device units before the factor


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def decode_delta(content: bytes, channels: int) -> npt.NDArray[np.int64]:
    """A delta-compressed frame body -> samples (n, channels), reference sample first
    (16-bit signed per channel)."""
    ref_size = DELTA_REFERENCE_BYTES
    if len(content) < channels * ref_size:
        raise DecodeError(
            "truncated", f"{len(content)} bytes, the reference alone is {channels * ref_size}"
        )
    ref = [
        _signed(int.from_bytes(content[c * ref_size : (c + 1) * ref_size], "little"), 8 * ref_size)
        for c in range(channels)
    ]
    rows = [np.array(ref, dtype=np.int64)]
    total = 1
    i = channels * ref_size
    while i < len(content):
        if i + 2 > len(content):
            raise DecodeError("truncated", f"delta block header at byte {i} of {len(content)}")
        width, count = content[i], content[i + 1]
        i += 2
        if not 1 <= width <= 32 or count == 0:
            raise DecodeError("bad_delta", f"bit width {width}, count {count}")
        total += count
        if total > MAX_SAMPLES_PER_FRAME:
            raise DecodeError("too_large", f"more than {MAX_SAMPLES_PER_FRAME} samples")
        nbits = width * count * channels
        nbytes = (nbits + 7) // 8
        if i + nbytes > len(content):
            raise DecodeError("truncated", f"delta block of {nbytes} bytes at byte {i}")
        bits = int.from_bytes(content[i : i + nbytes], "little")  # LSB of byte 0 first
        i += nbytes
        mask = (1 << width) - 1
        deltas = np.array(
            [_signed((bits >> (k * width)) & mask, width) for k in range(count * channels)],
            dtype=np.int64,
        ).reshape(count, channels)
        rows.extend(rows[-1] + np.cumsum(deltas, axis=0))
    return np.vstack(rows)


def parse_frame(payload: bytes, channels: int = 3) -> PmdFrame:
    if len(payload) < HEADER.size:
        raise DecodeError("truncated", f"{len(payload)} bytes, the PMD header alone is 10")
    measurement, ts, ftype = HEADER.unpack_from(payload)
    compressed = bool(ftype & 0x80)
    kind = ftype & 0x7F
    content = payload[HEADER.size :]
    if compressed:
        if kind not in (0, 1):
            raise DecodeError("bad_frame_type", f"compressed frame type {kind}")
        samples = decode_delta(content, channels)
    else:
        if kind not in (0, 1, 2):
            raise DecodeError("bad_frame_type", f"raw frame type {kind}")
        size = kind + 1
        step = size * channels
        if not content or len(content) % step:
            raise DecodeError(
                "bad_length",
                f"{len(content)} content bytes, not a multiple "
                f"of {step} ({channels} channels x {size} bytes)",
            )
        raw = np.frombuffer(content, dtype=np.uint8).reshape(-1, size).astype(np.int64)
        value = sum(raw[:, k] << (8 * k) for k in range(size))
        value = np.where(value >= 1 << (8 * size - 1), value - (1 << (8 * size)), value)
        samples = value.reshape(-1, channels)
    return PmdFrame(measurement, ts, ftype & 0x7F, compressed, samples.astype(np.int64))


def to_milli_g(frame: PmdFrame, factor: float) -> npt.NDArray[np.float64]:
    x = frame.samples.astype(np.float64)
    if frame.compressed:
        x = x * factor * (1000.0 if frame.frame_type == 0 else 1.0)
    return x


# -- encoders (virtual devices and tests) ---------------------------------------------------
def encode_raw(
    timestamp_ns: int,
    samples: npt.NDArray[np.integer[Any]],
    frame_type: int = 1,
    measurement: int = MEASUREMENT_ACC,
) -> bytes:
    size = frame_type + 1
    body = b"".join(int(v).to_bytes(size, "little", signed=True) for v in samples.ravel())
    return HEADER.pack(measurement, timestamp_ns, frame_type) + body


def encode_delta(
    timestamp_ns: int,
    samples: npt.NDArray[np.integer[Any]],
    block: int = 8,
    frame_type: int = 1,
    measurement: int = MEASUREMENT_ACC,
) -> bytes:
    """Samples (n, channels) -> one compressed frame, ``block`` samples per delta block,
    each block with the smallest bit width that holds its deltas (16-bit reference)."""
    s = np.asarray(samples, dtype=np.int64)
    ref_size = DELTA_REFERENCE_BYTES
    out = bytearray(HEADER.pack(measurement, timestamp_ns, 0x80 | frame_type))
    for v in s[0]:
        out += int(v).to_bytes(ref_size, "little", signed=True)
    deltas = np.diff(s, axis=0)
    for start in range(0, len(deltas), block):
        d = deltas[start : start + block]
        peak = int(max(np.max(d), -np.min(d) - 1, 0))
        width = max(2, peak.bit_length() + 1)
        bits = 0
        for k, v in enumerate(d.ravel()):
            bits |= (int(v) & ((1 << width) - 1)) << (k * width)
        out += bytes([width, len(d)]) + bits.to_bytes((width * d.size + 7) // 8, "little")
    return bytes(out)


# -- the driver ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PolarOptions:
    """``[[ble.devices]] options`` of the ``polar`` driver."""

    rate_hz: int = 200
    range_g: int = 8
    resolution: int = 16
    resync_s: float = 1.0

    def validate(self, key: str) -> None:
        if self.rate_hz not in (25, 50, 52, 100, 104, 200, 208, 416):
            raise ConfigError(
                f"{key}.rate_hz",
                self.rate_hz,
                "an ACC rate the device offers "
                "(H10: 25, 50, 100, 200; Verity Sense: 52, 104, 208, 416)",
            )
        if self.range_g not in (2, 4, 8, 16):
            raise ConfigError(f"{key}.range_g", self.range_g, "2, 4, 8 or 16")
        if self.resolution not in (8, 16, 24):
            raise ConfigError(f"{key}.resolution", self.resolution, "8, 16 or 24 bits")
        if not self.resync_s > 0:
            raise ConfigError(f"{key}.resync_s", self.resync_s, "must be > 0")


class PolarAcc:
    """The PMD accelerometer stream of one Polar device.

    Time: the first frame after a (re)start anchors ``t0`` at the device timestamp (last
    sample) minus ``(n - 1) / fs``. Later frames continue the nominal timeline as long as
    the device timestamp advanced by about one frame (a lost notification shows as a jump
    of a frame or more and re-anchors, which the pipeline counts as a gap) and the
    device clock has not drifted more than ``resync_s`` from the nominal one. The sensor
    clock of the stream is seconds since 2000-01-01 on the device.
    """

    name = "polar"

    def __init__(self, sensor: str, options: PolarOptions | None = None) -> None:
        self.sensor = sensor
        self.modality: Modality = "acc"
        self.options = options or PolarOptions()
        self.fs = float(self.options.rate_hz)
        self.factor = 1.0
        self.started = False  # a start answer (and its factor) was seen this session
        self.seq = 0
        self._last_ts: int | None = None
        self._next_t0 = 0.0
        self.resyncs = 0

    @classmethod
    def from_options(cls, sensor: str, options: Mapping[str, Any], key: str) -> PolarAcc:
        opts = build(PolarOptions, options, key)
        opts.validate(key)
        return cls(sensor, opts)

    @property
    def data_uuids(self) -> Sequence[str]:
        return (PMD_DATA,)

    @property
    def control_uuids(self) -> Sequence[str]:
        return (PMD_CONTROL,)

    def _start(self, retry: bool = False) -> Command:
        o = self.options
        return Command(
            PMD_CONTROL,
            start_request(MEASUREMENT_ACC, o.rate_hz, o.range_g, o.resolution),
            f"start ACC at {o.rate_hz} Hz, {o.range_g} g" + (" (again)" if retry else ""),
            response_uuid=PMD_CONTROL,
            retry=retry,
        )

    def start_commands(self) -> Sequence[Command]:
        """Called once per connection: until its start is answered, compressed frames
        (which need the answer's factor) are refused."""
        self.started = False
        return (self._start(),)

    def check_response(self, command: Command, payload: bytes) -> Sequence[Command]:
        try:
            resp = parse_response(payload)
        except DecodeError as exc:
            raise BleDeviceError(self.sensor, command.what, f"unreadable answer: {exc}") from exc
        op, measurement = command.payload[0], command.payload[1]
        if resp.op != op:
            raise BleDeviceError(self.sensor, command.what, f"answer to op {resp.op}, not {op}")
        if resp.measurement != measurement:
            raise BleDeviceError(
                self.sensor,
                command.what,
                f"answer for measurement type {resp.measurement}, not {measurement}",
            )
        if op == OP_STOP:
            if resp.ok or resp.status_name == "ERROR_ALREADY_IN_STATE":  # stopped already
                return ()
            raise BleDeviceError(self.sensor, command.what, resp.status_name)
        if resp.status_name == "ERROR_ALREADY_IN_STATE" and not command.retry:
            # Still streaming from an earlier link, with settings (and a factor) we did not
            # see: stop it and start afresh, as the SDK does.
            return (
                Command(
                    PMD_CONTROL,
                    stop_request(measurement),
                    "stop ACC (it was already on)",
                    response_uuid=PMD_CONTROL,
                ),
                self._start(retry=True),
            )
        if not resp.ok:
            raise BleDeviceError(self.sensor, command.what, resp.status_name)
        try:
            self.factor = factor_of(parse_settings(resp.parameters))
        except DecodeError:
            self.factor = 1.0  # parameters are optional; raw frames do not need them
        self.started = True
        return ()

    def restart(self) -> None:
        self._last_ts = None

    def lost(self, notifications: int) -> None:
        # The device timestamp would show the hole too; re-anchor at it and skip seq, so
        # the gap never depends on how far the timestamp jumped.
        self._last_ts = None
        self.seq += notifications

    def decode(self, uuid: str, payload: bytes, received: float) -> SampleBlock:
        try:
            frame = parse_frame(payload, 3)
        except DecodeError as exc:
            raise DecodeError(exc.reason, exc.detail, self.sensor) from exc
        if frame.measurement != MEASUREMENT_ACC:
            raise DecodeError(
                "bad_measurement", f"measurement type {frame.measurement}, not ACC (2)", self.sensor
            )
        if frame.compressed and not self.started:
            raise DecodeError(
                "no_factor", "compressed frame before the start answer gave its factor", self.sensor
            )
        n = frame.samples.shape[0]
        t_last = frame.timestamp_ns * 1e-9
        t0_device = t_last - (n - 1) / self.fs
        t0 = t0_device
        if self._last_ts is not None:
            advance = (frame.timestamp_ns - self._last_ts) * 1e-9
            frame_s = n / self.fs
            lost = abs(advance - frame_s) > 0.5 * frame_s
            if not lost and abs(t0_device - self._next_t0) <= self.options.resync_s:
                t0 = self._next_t0
            else:
                self.resyncs += 1
        self._last_ts = frame.timestamp_ns
        self._next_t0 = t0 + n / self.fs
        data = (to_milli_g(frame, self.factor) * (G_MS2 / 1000.0)).T.astype(np.float32)
        if not np.all(np.isfinite(data)):
            raise DecodeError("bad_value", "non-finite sample after scaling", self.sensor)
        seq = self.seq
        self.seq += 1
        return SampleBlock(self.sensor, "acc", self.fs, t0, seq, ACC_CHANNELS, "m/s^2", data)
