"""Polar PMD accelerometer: byte sequences laid out by hand from Polar's Measurement Data
Specification (control point requests/responses, raw and delta-compressed frames)."""

import struct

import numpy as np
import pytest

from monitor.core.errors import BleDeviceError, ConfigError, DecodeError
from monitor.inputs.ble import polar
from monitor.inputs.ble.driver import Command

MG = 9.80665e-3  # m/s^2 per milli-g


def started(driver: polar.PolarAcc) -> polar.PolarAcc:
    """The driver after a successful start answer without parameters (factor 1)."""
    assert driver.check_response(driver.start_commands()[0], bytes([0xF0, 2, 2, 0, 0])) == ()
    assert driver.factor == 1.0
    return driver


def test_start_request_for_acc_200hz_8g_16bit() -> None:
    # op 0x02 start, type 0x02 ACC, then (setting, count, uint16 LE) for rate, resolution, range
    assert polar.start_request(polar.MEASUREMENT_ACC, 200, 8, 16) == bytes.fromhex(
        "02020001c8000101100002010800"
    )


def test_control_point_success_with_factor_parameter() -> None:
    driver = polar.PolarAcc("h10")
    cmd = driver.start_commands()[0]
    factor = struct.pack("<f", 0.5)
    assert driver.check_response(cmd, bytes.fromhex("f0020200000501") + factor) == ()
    assert driver.factor == 0.5


@pytest.mark.parametrize(
    ("status", "name"),
    [(8, "ERROR_INVALID_SAMPLE_RATE"), (9, "ERROR_INVALID_RANGE"), (13, "ERROR_DEVICE_IN_CHARGER")],
)
def test_control_point_errors_are_reported_by_name(status: int, name: str) -> None:
    driver = polar.PolarAcc("h10")
    cmd = driver.start_commands()[0]
    with pytest.raises(BleDeviceError) as info:
        driver.check_response(cmd, bytes([0xF0, 0x02, 0x02, status]))
    assert info.value.reason == name and "h10" in str(info.value)


def test_already_streaming_means_stop_then_start_again_with_the_fresh_factor() -> None:
    driver = polar.PolarAcc("h10")
    cmd = driver.start_commands()[0]
    # ERROR_ALREADY_IN_STATE: stop (op 3, ACC), then the same start request again.
    stop, again = driver.check_response(cmd, bytes([0xF0, 0x02, 0x02, 6]))
    assert stop.payload == bytes([0x03, 0x02]) and stop.response_uuid == polar.PMD_CONTROL
    assert again.payload == cmd.payload and again.retry and not cmd.retry
    assert driver.check_response(stop, bytes([0xF0, 0x03, 0x02, 0, 0])) == ()
    factor = struct.pack("<f", 0.25)
    assert driver.check_response(again, bytes.fromhex("f0020200000501") + factor) == ()
    assert driver.factor == 0.25
    block = driver.decode(polar.PMD_DATA, delta_frame(0), 0.0)  # compressed: scaled by 0.25
    np.testing.assert_allclose(block.data[:, 0], np.array([250, -125, 0.5]) * MG, rtol=1e-6)
    # A second refusal is an error, not a loop; a stop that fails is one too.
    with pytest.raises(BleDeviceError) as info:
        driver.check_response(again, bytes([0xF0, 0x02, 0x02, 6]))
    assert info.value.reason == "ERROR_ALREADY_IN_STATE"
    with pytest.raises(BleDeviceError, match="ERROR_INVALID_STATE"):
        driver.check_response(stop, bytes([0xF0, 0x03, 0x02, 12]))


def test_garbage_and_answers_to_other_requests_are_errors() -> None:
    driver = polar.PolarAcc("h10")
    cmd = driver.start_commands()[0]
    with pytest.raises(BleDeviceError, match="unreadable"):
        driver.check_response(cmd, b"\x01\x02")
    with pytest.raises(BleDeviceError, match="op 3"):
        driver.check_response(cmd, bytes([0xF0, 0x03, 0x02, 0]))
    with pytest.raises(BleDeviceError, match="measurement type 1, not 2"):  # ECG, not ACC
        driver.check_response(cmd, bytes([0xF0, 0x02, 0x01, 0, 0]))


def test_raw_int16_frame_values_and_t0() -> None:
    ts = 1_000_000_000_000  # ns since 2000-01-01 of the LAST sample = 1000 s
    payload = (
        bytes([0x02])
        + ts.to_bytes(8, "little")
        + bytes([0x01])  # raw, type 1: int16 x, y, z in milli-g
        + bytes.fromhex("e8030cfe0100")  # (1000, -500, 1)
        + bytes.fromhex("0000ffff1027")  # (0, -1, 10000)
    )
    block = polar.PolarAcc("h10").decode(polar.PMD_DATA, payload, received=0.0)
    assert block.channels == ("acc_x", "acc_y", "acc_z") and block.unit == "m/s^2"
    assert block.fs == 200.0 and block.seq == 0
    assert block.t0 == pytest.approx(1000.0 - 1 / 200)  # two samples: last one at 1000 s
    want = np.array([[1000, 0], [-500, -1], [1, 10000]]) * MG
    np.testing.assert_allclose(block.data, want, rtol=1e-6)


def delta_frame(ts: int) -> bytes:
    """Reference (1000, -500, 2) as int16, then three delta blocks of widths 3, 8 and 1.

    Width 3, 2 samples: deltas (1, -1, 0), (2, 0, -3) as 3-bit two's complement
    001 111 000 010 000 101, packed least significant bit first:
    1 | 7<<3 | 0<<6 | 2<<9 | 0<<12 | 5<<15 = 0x028439 -> bytes 39 84 02.
    Width 8, 1 sample: (100, -100, 5) -> 64 9c 05.
    Width 1, 1 sample: (-1, 0, -1) -> bits 1 0 1 -> 05.
    """
    return (
        bytes([0x02])
        + ts.to_bytes(8, "little")
        + bytes([0x81])  # bit 7: delta compressed; type 1
        + bytes.fromhex("e8030cfe0200")
        + bytes.fromhex("0302398402")
        + bytes.fromhex("0801649c05")
        + bytes.fromhex("010105")
    )


def test_delta_compressed_frame_with_three_bit_widths() -> None:
    frame = polar.parse_frame(delta_frame(5_000_000_000))
    assert frame.compressed and frame.frame_type == 1
    assert frame.samples.tolist() == [
        [1000, -500, 2],
        [1001, -501, 2],
        [1003, -501, -1],
        [1103, -601, 4],
        [1102, -601, 3],
    ]
    block = started(polar.PolarAcc("vs", polar.PolarOptions(rate_hz=52))).decode(
        polar.PMD_DATA, delta_frame(5_000_000_000), 0.0
    )
    assert block.n_samples == 5 and block.t0 == pytest.approx(5.0 - 4 / 52)
    np.testing.assert_allclose(block.data[:, -1], np.array([1102, -601, 3]) * MG, rtol=1e-6)


@pytest.mark.parametrize("resolution", [8, 16, 24])
def test_the_delta_reference_is_16_bit_whatever_the_resolution_option(resolution: int) -> None:
    # AccData parses the reference of a compressed ACC frame at 16 bits per channel: the
    # resolution asked for in the start request does not change the frame layout.
    driver = started(polar.PolarAcc("vs", polar.PolarOptions(rate_hz=52, resolution=resolution)))
    block = driver.decode(polar.PMD_DATA, delta_frame(5_000_000_000), 0.0)
    assert block.n_samples == 5
    np.testing.assert_allclose(block.data[:, 0], np.array([1000, -500, 2]) * MG, rtol=1e-6)
    np.testing.assert_allclose(block.data[:, 3], np.array([1103, -601, 4]) * MG, rtol=1e-6)


def test_compressed_frames_wait_for_the_start_answer_and_raw_ones_do_not() -> None:
    driver = polar.PolarAcc("vs")
    driver.start_commands()  # a new connection: no answer yet
    with pytest.raises(DecodeError) as info:
        driver.decode(polar.PMD_DATA, delta_frame(0), 0.0)
    assert info.value.reason == "no_factor"
    raw = polar.encode_raw(10**9, np.array([[1, 2, 3]]))
    np.testing.assert_allclose(driver.decode("", raw, 0.0).data[:, 0], np.array([1, 2, 3]) * MG)
    started(driver)
    assert driver.decode(polar.PMD_DATA, delta_frame(2 * 10**9), 0.0).n_samples == 5


def test_compressed_type1_values_are_scaled_by_the_start_factor() -> None:
    driver = polar.PolarAcc("vs")
    cmd = driver.start_commands()[0]
    driver.check_response(cmd, bytes.fromhex("f0020200000501") + struct.pack("<f", 0.25))
    block = driver.decode(polar.PMD_DATA, delta_frame(0), 0.0)
    np.testing.assert_allclose(block.data[:, 0], np.array([250, -125, 0.5]) * MG, rtol=1e-6)


def test_encoder_round_trip_over_many_widths() -> None:
    rng = np.random.default_rng(3)
    steps = rng.integers(-3000, 3000, size=(60, 3)) * (rng.random((60, 1)) < 0.3)
    samples = np.cumsum(steps, axis=0) // 4
    frame = polar.parse_frame(polar.encode_delta(7, samples, block=6))
    assert np.array_equal(frame.samples, samples)
    raw = polar.parse_frame(polar.encode_raw(7, samples))
    assert np.array_equal(raw.samples, samples)


def test_frames_continue_the_timeline_and_a_lost_frame_reanchors() -> None:
    driver = polar.PolarAcc("h10", polar.PolarOptions(rate_hz=100))
    x = np.zeros((10, 3), dtype=np.int64)
    first = int(100e9)  # last sample at 100 s
    b0 = driver.decode("", polar.encode_raw(first, x), 0.0)
    # The device clock runs 0.1 % fast: still the same contiguous timeline.
    b1 = driver.decode("", polar.encode_raw(first + int(0.1001e9), x), 0.0)
    assert b1.t0 == pytest.approx(b0.t_end) and b1.seq == 1
    # One frame (0.1 s) lost: the block starts where the device says, a gap for the pipeline.
    b2 = driver.decode("", polar.encode_raw(first + int(0.3002e9), x), 0.0)
    assert b2.t0 == pytest.approx(100.3002 - 0.09) and b2.seq == 2
    assert driver.resyncs == 1
    driver.restart()  # a reconnection: the next frame anchors afresh
    b3 = driver.decode("", polar.encode_raw(first + int(5e9), x), 0.0)
    assert b3.t0 == pytest.approx(105.0 - 0.09)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x02\x00", "truncated"),
        (bytes([2]) + bytes(8) + b"\x01" + b"\x00" * 5, "bad_length"),
        (bytes([2]) + bytes(8) + b"\x05" + b"\x00" * 6, "bad_frame_type"),
        (bytes([2]) + bytes(8) + b"\x81" + b"\x00" * 6 + b"\x03\x05\x00", "truncated"),
        (bytes([2]) + bytes(8) + b"\x81" + b"\x00" * 6 + b"\x00\x01", "bad_delta"),
        (bytes([1]) + bytes(8) + b"\x01" + b"\x00" * 6, "bad_measurement"),
    ],
)
def test_bad_frames_have_reasons(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        polar.PolarAcc("h10").decode(polar.PMD_DATA, payload, 0.0)
    assert info.value.reason == reason and info.value.sensor == "h10"


def test_options_are_validated_with_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        polar.PolarAcc.from_options("h10", {"rate_hz": 300}, "ble.devices[0].options")
    assert info.value.key == "ble.devices[0].options.rate_hz"
    assert isinstance(polar.PolarAcc("x").start_commands()[0], Command)
