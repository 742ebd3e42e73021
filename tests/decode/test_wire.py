"""The MQTT payload formats: exact round trips, and a clear reason for every bad input."""

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.errors import DecodeError
from monitor.core.model import SampleBlock
from monitor.inputs.wire import HEADER, Limits, decode, encode_fmb1, encode_json, parse_topic


def block(modality: str = "emg", channels: int = 2, n: int = 40, seq: int = 7) -> SampleBlock:
    rng = np.random.default_rng(0)
    names = (
        ("acc_x", "acc_y", "acc_z")[:channels]
        if modality == "acc"
        else tuple(f"emg_{i + 1}" for i in range(channels))
    )
    return SampleBlock(
        "s1", modality, 2000.0, 12.5, seq, names, "mV", rng.standard_normal((channels, n))
    )  # type: ignore[arg-type]


def test_fmb1_layout_is_exactly_as_documented() -> None:
    b = block(n=3)
    raw = encode_fmb1(b, "<f4")
    assert len(raw) == 36 + 2 * 3 * 4
    magic, version, code, ch, n, seq, fs, t0, scale = struct.unpack_from("<4sBBHIIddf", raw)
    assert (magic, version, code, ch, n, seq, fs, t0, scale) == (
        b"FMB1",
        1,
        3,
        2,
        3,
        7,
        2000.0,
        12.5,
        1.0,
    )
    np.testing.assert_array_equal(np.frombuffer(raw[36:], "<f4").reshape(2, 3), b.data)


@pytest.mark.parametrize("dtype", ["<i2", "<i4", "<f4"])
def test_fmb1_round_trip(dtype: str) -> None:
    b = block()
    out = decode("sensors/s1/emg", encode_fmb1(b, dtype))
    assert (out.sensor, out.modality, out.fs, out.t0, out.seq) == ("s1", "emg", 2000.0, 12.5, 7)
    assert out.channels == ("emg_1", "emg_2")
    quantum = float(np.max(np.abs(b.data))) / 32766 if dtype == "<i2" else 1e-6
    np.testing.assert_allclose(out.data, b.data, atol=quantum)


def test_json_round_trip_keeps_names_and_unit() -> None:
    b = block("acc", 3)
    out = decode("sensors/s1/acc", encode_json(b))
    assert out.channels == ("acc_x", "acc_y", "acc_z") and out.unit == "mV"
    np.testing.assert_allclose(out.data, b.data, rtol=1e-6)


def good_fmb1() -> bytes:
    return encode_fmb1(block(), "<i2")


def with_header(**fields: object) -> bytes:
    raw = bytearray(good_fmb1())
    values = list(HEADER.unpack_from(raw))
    names = ["magic", "version", "dtype", "channels", "samples", "seq", "fs", "t0", "scale"]
    for k, v in fields.items():
        values[names.index(k)] = v
    HEADER.pack_into(raw, 0, *values)
    return bytes(raw)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("sensors/s1/emg", good_fmb1()[:-5], "truncated"),
        ("sensors/s1/emg", good_fmb1()[:20], "truncated"),
        ("sensors/s1/emg", good_fmb1() + b"xx", "trailing_bytes"),
        ("sensors/s1/emg", b"FMB2" + good_fmb1()[4:], "bad_magic"),
        ("sensors/s1/emg", with_header(version=2), "bad_version"),
        ("sensors/s1/emg", with_header(dtype=9), "bad_dtype"),
        ("sensors/s1/emg", with_header(fs=float("nan")), "bad_rate"),
        ("sensors/s1/emg", with_header(fs=-5.0), "bad_rate"),
        ("sensors/s1/emg", with_header(channels=0), "bad_shape"),
        ("sensors/s1/emg", b"\x00\x01garbage", "bad_format"),
        ("sensors/s1/emg", b"{not json", "bad_json"),
        ("sensors/s1/emg", b"[1, 2]", "bad_format"),
        ("sensors/s1/emg", b'{"fs": 1000, "t0": 0, "seq": 1, "data": [[1, 2], [3]]}', "bad_shape"),
        ("sensors/s1/emg", b'{"fs": 1000, "t0": 0, "seq": 1, "data": [1, 2, 3]}', "bad_shape"),
        ("sensors/s1/emg", b'{"fs": 1000, "t0": 0, "seq": 1, "data": [[1, "a"]]}', "bad_field"),
        ("sensors/s1/emg", b'{"fs": 1000, "t0": 0, "seq": -1, "data": [[1]]}', "bad_field"),
        ("sensors/s1/emg", b'{"fs": 1000, "t0": 0, "data": [[1]]}', "bad_field"),
        (
            "sensors/s1/emg",
            b'{"fs": 1000, "t0": 0, "seq": 1, "channels": ["a", "b"], "data": [[1]]}',
            "bad_shape",
        ),
        ("sensors/s1/emg", b" " * 2_000_000, "too_large"),
        ("sensors/s1/eeg", good_fmb1(), "unknown_modality"),
        ("sensors/a#b/emg", good_fmb1(), "bad_sensor_id"),
        ("sensors/a/b/emg", good_fmb1(), "bad_topic"),
        ("other/s1/emg", good_fmb1(), "bad_topic"),
    ],
)
def test_every_bad_payload_has_a_reason(topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(topic, payload)
    assert info.value.reason == reason


def test_nan_samples_decode_and_are_left_to_the_stream() -> None:
    payload = json.dumps(
        {"fs": 1000, "t0": 0, "seq": 0, "data": [[1.0, float("nan"), 2.0]]}
    ).encode()
    out = decode("sensors/s1/emg", payload)
    assert np.isnan(out.data[0, 1])


def test_a_10_mb_payload_is_refused_before_parsing() -> None:
    with pytest.raises(DecodeError, match="too_large"):
        decode("sensors/s1/emg", b"F" * 10_000_000)


def test_limits_bound_claimed_sizes() -> None:
    with pytest.raises(DecodeError) as info:
        decode("sensors/s1/emg", with_header(samples=10**9), Limits())
    assert info.value.reason == "bad_shape"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_block_or_a_decode_error(payload: bytes) -> None:
    for candidate in (payload, b"FMB1" + payload, good_fmb1()[:36] + payload):
        try:
            out = decode("sensors/s1/emg", candidate)
        except DecodeError:
            continue
        assert out.data.ndim == 2 and out.data.shape[0] == len(out.channels)


def test_parse_topic() -> None:
    assert parse_topic("sensors/arm-1/acc") == ("arm-1", "acc")
