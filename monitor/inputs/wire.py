"""MQTT payloads -> SampleBlock: the JSON and FMB1 formats of docs/protocol.md.

Every way a payload can be wrong raises ``DecodeError`` with a short ``reason`` (the key
the service counts problems under) and a detail for the log; nothing else escapes. The
decoder tells the formats apart by the first byte: ``{`` (after optional whitespace) is
JSON, ``F`` is FMB1.

FMB1, little-endian, 36-byte header then channel-major samples::

    offset size type     field
         0    4 bytes    magic "FMB1"
         4    1 uint8    version (1)
         5    1 uint8    dtype: 1 int16, 2 int32, 3 float32
         6    2 uint16   channels
         8    4 uint32   samples per channel
        12    4 uint32   seq
        16    8 float64  fs (Hz)
        24    8 float64  t0 (s, time of the first sample on the sensor clock)
        32    4 float32  scale (physical value = raw * scale)
        36  ...          channels x samples values, channel 0 first
"""

from __future__ import annotations

import functools
import json
import math
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.core.errors import DecodeError, SampleBlockError
from monitor.core.model import MODALITIES, Modality, SampleBlock

MAGIC = b"FMB1"
VERSION = 1
HEADER = struct.Struct("<4sBBHIIddf")
DTYPES: dict[int, np.dtype[Any]] = {
    1: np.dtype("<i2"),
    2: np.dtype("<i4"),
    3: np.dtype("<f4"),
}
DTYPE_CODES = {str(v): k for k, v in DTYPES.items()}
FLOAT32 = 3
SENSOR_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
DEFAULT_UNITS: dict[str, str] = {"emg": "mV", "acc": "m/s^2"}
MAX_CHANNELS = 64
MAX_FS = 100_000.0
# A valid JSON payload nests three deep (object, data, rows); past this it is hostile.
MAX_JSON_DEPTH = 8
# Below this many brackets a payload cannot nest deep enough to matter (64 channels make
# 66); above it the depth is measured before parsing. Number sizes are bounded while
# parsing by Python's int digit limit (4,300: a 5,000-digit seq is refused by json.loads),
# and huge values by OverflowError (a 401-digit fs, 1e400 samples).
DEPTH_CHECK_BRACKETS = 100
MAX_SEQ = 2**63 - 1
MAX_NAME_CHARS = 64


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what a payload may claim, so a hostile one cannot exhaust memory."""

    max_payload_bytes: int = 1_000_000
    max_samples: int = 100_000


DEFAULT_LIMITS = Limits()


def parse_topic(topic: str) -> tuple[str, Modality]:
    """``sensors/{sensor_id}/{modality}`` -> (sensor_id, modality)."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "sensors":
        raise DecodeError("bad_topic", f"topic {clip_repr(topic)} is not sensors/<id>/<modality>")
    sensor, modality = parts[1], parts[2]
    if not SENSOR_ID.match(sensor):
        raise DecodeError(
            "bad_sensor_id", f"sensor id {clip_repr(sensor)}: use 1-64 of A-Z a-z 0-9 _ . : -"
        )
    if modality not in MODALITIES:
        raise DecodeError(
            "unknown_modality", f"modality {clip_repr(modality)} is not emg or acc", sensor
        )
    return sensor, modality


@functools.lru_cache(maxsize=64)
def default_channels(modality: Modality, n: int) -> tuple[str, ...]:
    if modality == "acc" and n == 3:
        return ("acc_x", "acc_y", "acc_z")
    return tuple(f"{modality}_{i + 1}" for i in range(n))


def decode(topic: str, payload: bytes, limits: Limits = DEFAULT_LIMITS) -> SampleBlock:
    sensor, modality = parse_topic(topic)
    if len(payload) > limits.max_payload_bytes:
        raise DecodeError(
            "too_large", f"{len(payload)} bytes > {limits.max_payload_bytes} allowed", sensor
        )
    head = payload[:1]
    if head == b"F":
        return decode_fmb1(sensor, modality, payload, limits)
    if payload.lstrip()[:1] == b"{":
        return decode_json(sensor, modality, payload, limits)
    raise DecodeError(
        "bad_format", f"payload starts with {payload[:4]!r}, not JSON or FMB1", sensor
    )


def _check_rate_time(sensor: str, fs: float, t0: float) -> None:
    if not (math.isfinite(fs) and 0 < fs <= MAX_FS):
        raise DecodeError("bad_rate", f"fs {fs!r:.40} not in (0, {MAX_FS:g}] Hz", sensor)
    if not math.isfinite(t0):
        raise DecodeError("bad_field", f"t0 {t0!r:.40} is not finite", sensor)


def decode_fmb1(
    sensor: str, modality: Modality, payload: bytes, limits: Limits = DEFAULT_LIMITS
) -> SampleBlock:
    if len(payload) < HEADER.size:
        raise DecodeError("truncated", f"{len(payload)} bytes, the FMB1 header alone is 36", sensor)
    magic, version, code, channels, samples, seq, fs, t0, scale = HEADER.unpack_from(payload)
    if magic != MAGIC:
        raise DecodeError("bad_magic", f"magic {magic!r} is not {MAGIC!r}", sensor)
    if version != VERSION:
        raise DecodeError("bad_version", f"FMB1 version {version}, this decoder reads 1", sensor)
    dtype = DTYPES.get(code)
    if dtype is None:
        raise DecodeError(
            "bad_dtype", f"dtype code {code} (known: 1 int16, 2 int32, 3 float32)", sensor
        )
    if not 1 <= channels <= MAX_CHANNELS or not 1 <= samples <= limits.max_samples:
        raise DecodeError("bad_shape", f"{channels} channels x {samples} samples", sensor)
    _check_rate_time(sensor, fs, t0)
    if not (math.isfinite(scale) and scale != 0):
        raise DecodeError("bad_field", f"scale {scale!r}", sensor)
    expected = HEADER.size + channels * samples * dtype.itemsize
    if len(payload) != expected:
        reason = "truncated" if len(payload) < expected else "trailing_bytes"
        raise DecodeError(reason, f"{len(payload)} bytes, header says {expected}", sensor)
    raw = np.frombuffer(payload, dtype=dtype, offset=HEADER.size).reshape(channels, samples)
    if code == FLOAT32 and scale == 1.0:
        data = raw  # read-only view of the immutable payload: no copy on the hot path
    else:
        data = np.multiply(raw, np.float32(scale), dtype=np.float32)
    return _block(
        sensor,
        modality,
        fs,
        t0,
        seq,
        default_channels(modality, channels),
        DEFAULT_UNITS[modality],
        data,
    )


def _json_depth(payload: bytes) -> int:
    """The deepest bracket nesting of ``payload`` (brackets inside strings count too,
    which can only over-estimate): a C-speed pass instead of letting ``json.loads``
    recurse 100,000 deep."""
    if payload.count(b"[") + payload.count(b"{") <= DEPTH_CHECK_BRACKETS:
        return 0
    raw = np.frombuffer(payload, dtype=np.uint8)
    step = (raw == ord("[")).astype(np.int32) + (raw == ord("{"))
    step -= (raw == ord("]")).astype(np.int32) + (raw == ord("}"))
    return int(np.cumsum(step).max())


def _number(sensor: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("bad_field", f"{name} {clip_repr(value)} must be a number", sensor)
    try:
        return float(value)
    except OverflowError as exc:
        raise DecodeError("bad_field", f"{name} is too large", sensor) from exc


def clip_repr(value: Any, limit: int = 40) -> str:
    """A short ``repr`` for error messages: a hostile value can be megabytes long."""
    if isinstance(value, list | dict):
        return f"<{type(value).__name__} of {len(value)}>"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def decode_json(
    sensor: str, modality: Modality, payload: bytes, limits: Limits = DEFAULT_LIMITS
) -> SampleBlock:
    depth = _json_depth(payload)
    if depth > MAX_JSON_DEPTH:
        raise DecodeError("bad_json", f"nested {depth} deep (at most {MAX_JSON_DEPTH})", sensor)
    try:
        obj = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DecodeError("bad_json", f"not JSON: {exc}", sensor) from exc
    if not isinstance(obj, dict):
        raise DecodeError("bad_json", "the payload must be a JSON object", sensor)
    try:
        fs = _number(sensor, "fs", obj["fs"])
        t0 = _number(sensor, "t0", obj["t0"])
        seq = obj["seq"]
        data = obj["data"]
    except KeyError as exc:
        raise DecodeError("bad_field", f"missing field {exc.args[0]!r}", sensor) from exc
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
        raise DecodeError(
            "bad_field", f"seq {clip_repr(seq)} must be an integer in 0..2**63-1", sensor
        )
    _check_rate_time(sensor, fs, t0)
    arr = _json_samples(sensor, data, limits)
    names = obj.get("channels")
    if names is None:
        channels = default_channels(modality, arr.shape[0])
    elif isinstance(names, list) and all(
        isinstance(n, str) and 0 < len(n) <= MAX_NAME_CHARS for n in names
    ):
        channels = tuple(names)
    else:
        raise DecodeError(
            "bad_field", f"channels must be a list of 1-{MAX_NAME_CHARS} character names", sensor
        )
    if len(channels) != arr.shape[0]:
        raise DecodeError(
            "bad_shape", f"{len(channels)} channel names for {arr.shape[0]} data rows", sensor
        )
    unit = obj.get("unit", DEFAULT_UNITS[modality])
    if not isinstance(unit, str) or len(unit) > MAX_NAME_CHARS:
        raise DecodeError("bad_field", f"unit must be a string of at most {MAX_NAME_CHARS}", sensor)
    return _block(sensor, modality, fs, t0, seq, channels, unit, arr)


def _json_samples(sensor: str, data: Any, limits: Limits) -> npt.NDArray[np.float32]:
    if (
        not isinstance(data, list)
        or not data
        or not all(isinstance(row, list) for row in data)
        or len(data) > MAX_CHANNELS
    ):
        raise DecodeError("bad_shape", "data must be a non-empty list of per-channel lists", sensor)
    lengths = {len(row) for row in data}
    if len(lengths) != 1 or 0 in lengths:
        raise DecodeError("bad_shape", f"channel rows have lengths {sorted(lengths)}", sensor)
    if lengths.pop() > limits.max_samples:
        raise DecodeError("bad_shape", f"more than {limits.max_samples} samples", sensor)
    try:
        with np.errstate(over="ignore"):  # 1e300 becomes inf: held and counted as nonfinite
            arr = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DecodeError("bad_field", f"data holds a non-number: {exc}", sensor) from exc
    if arr.ndim != 2:
        raise DecodeError("bad_shape", f"data has shape {arr.shape}", sensor)
    return arr


def _block(
    sensor: str,
    modality: Modality,
    fs: float,
    t0: float,
    seq: int,
    channels: Sequence[str],
    unit: str,
    data: npt.NDArray[np.float32],
) -> SampleBlock:
    try:
        return SampleBlock(sensor, modality, fs, t0, int(seq), tuple(channels), unit, data)
    except SampleBlockError as exc:
        raise DecodeError("bad_shape", exc.problem, sensor) from exc


# -- encoders (virtual sensors, tests) ---------------------------------------------------


def encode_fmb1(block: SampleBlock, dtype: str = "<i2", scale: float | None = None) -> bytes:
    """FMB1 bytes for a block; integer dtypes quantise with ``scale`` (default: 16-bit
    full range over the block's peak, so a test round trip is exact to a quantum)."""
    code = DTYPE_CODES[str(np.dtype(dtype))]
    dt = DTYPES[code]
    data = np.asarray(block.data, dtype=np.float64)
    if scale is None:
        if dt.kind == "f":
            scale = 1.0
        else:
            peak = float(np.nanmax(np.abs(data))) if data.size else 0.0
            scale = (peak / (np.iinfo(dt).max - 1)) or 1.0
    raw = data / scale
    if dt.kind == "i":
        info = np.iinfo(dt)
        raw = np.clip(np.rint(np.nan_to_num(raw)), info.min, info.max)
    header = fmb1_header(
        code, len(block.channels), block.n_samples, block.seq, block.fs, block.t0, scale
    )
    return header + np.ascontiguousarray(raw, dtype=dt).tobytes()


def fmb1_header(
    dtype_code: int, channels: int, samples: int, seq: int, fs: float, t0: float, scale: float
) -> bytes:
    """The 36-byte FMB1 header; ``seq`` wraps at 2**32 like the field."""
    return HEADER.pack(
        MAGIC, VERSION, dtype_code, channels, samples, seq & 0xFFFFFFFF, fs, t0, scale
    )


def encode_json(block: SampleBlock) -> bytes:
    obj = {
        "fs": block.fs,
        "t0": block.t0,
        "seq": block.seq,
        "channels": list(block.channels),
        "data": block.data.tolist(),
        "unit": block.unit,
    }
    return json.dumps(obj, separators=(",", ":")).encode()
