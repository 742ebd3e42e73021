"""Myo EMG and the generic driver: exact values, sequence numbers and times."""

import struct

import numpy as np
import pytest

from monitor.core.errors import ConfigError, DecodeError
from monitor.inputs.ble import generic, myo


def test_myo_uuids_and_set_mode_command() -> None:
    assert myo.COMMAND == "d5060401-a904-deb9-4748-2c7f4a124842"
    assert (
        tuple(f"d506{k}05-a904-deb9-4748-2c7f4a124842" for k in ("01", "02", "03", "04"))
        == myo.EMG_DATA
    )
    cmds = myo.MyoEmg("arm").start_commands()
    assert cmds[0].payload == bytes([0x01, 3, 0x03, 0x00, 0x00])  # raw EMG, no IMU, no classifier
    assert cmds[1].payload == bytes([0x09, 1, 1])  # never sleep
    assert myo.MyoEmg("a", myo.MyoOptions(filtered=True)).start_commands()[0].payload[2] == 2


def test_myo_notification_is_two_samples_of_eight_int8() -> None:
    driver = myo.MyoEmg("arm")
    payload = bytes(range(8)) + bytes([0x80, 0xFF, 0x7F, 1, 2, 3, 4, 5])
    b0 = driver.decode(myo.EMG_DATA[0], payload, received=50.0)
    assert b0.fs == 200.0 and b0.channels == tuple(f"emg_{i}" for i in range(1, 9))
    assert b0.data[:, 0].tolist() == list(range(8))
    assert b0.data[:, 1].tolist() == [-128, -1, 127, 1, 2, 3, 4, 5]
    assert b0.seq == 0 and b0.t0 == pytest.approx(50.0 - 1 / 200)
    b1 = driver.decode(myo.EMG_DATA[1].upper(), payload, received=50.3)  # arrival jitter
    assert b1.seq == 1 and b1.t0 == pytest.approx(b0.t_end)
    driver.restart()
    b2 = driver.decode(myo.EMG_DATA[2], payload, received=80.0)
    assert b2.seq == 2 and b2.t0 == pytest.approx(80.0 - 1 / 200)
    with pytest.raises(DecodeError, match="bad_length"):
        driver.decode(myo.EMG_DATA[0], payload[:15], 0.0)
    with pytest.raises(DecodeError, match="bad_characteristic"):
        driver.decode(myo.COMMAND, payload, 0.0)


def make_generic(**opts: object) -> generic.GenericSensor:
    base = {"notify_uuid": "0000ffe1-0000-1000-8000-00805f9b34fb", "fs": 500.0}
    return generic.GenericSensor.from_options("board", {**base, **opts}, "ble.devices[0].options")


def test_generic_int24_with_counter_wrap_and_loss() -> None:
    d = make_generic(channels=2, dtype="int24", scale=0.5, counter="uint8")

    def frame(counter: int, *values: int) -> bytes:
        return bytes([counter]) + b"".join(v.to_bytes(3, "little", signed=True) for v in values)

    b0 = d.decode("", frame(254, 1, -1, 8388607, -8388608), received=10.0)
    assert b0.data.tolist() == [[0.5, 4194303.5], [-0.5, -4194304.0]]
    assert b0.seq == 0 and b0.t0 == pytest.approx(10.0 - 1 / 500)
    b1 = d.decode("", frame(255, 2, 2, 2, 2), received=10.5)
    b2 = d.decode("", frame(0, 2, 2, 2, 2), received=10.5)  # the counter wraps: contiguous
    assert (b1.seq, b2.seq) == (1, 2) and b2.t0 == pytest.approx(b1.t_end)
    b3 = d.decode("", frame(3, 2, 2, 2, 2), received=10.5)  # 1 and 2 lost
    assert b3.seq == 5 and b3.t0 == pytest.approx(b2.t_end + 2 * 2 / 500) and d.missed == 2
    with pytest.raises(DecodeError, match="duplicate"):
        d.decode("", frame(3, 2, 2, 2, 2), received=10.5)


def test_generic_float32_acc_and_start_command() -> None:
    d = make_generic(
        modality="acc",
        channels=3,
        dtype="float32",
        start_uuid="0000ffe2-0000-1000-8000-00805f9b34fb",
        start_command="01ff",
        unit="m/s^2",
    )
    assert d.start_commands()[0].payload == b"\x01\xff"
    b = d.decode("", struct.pack("<6f", 1, 2, 3, 4, 5, 6), received=1.0)
    assert b.channels == ("acc_x", "acc_y", "acc_z") and b.modality == "acc"
    np.testing.assert_array_equal(b.data, [[1, 4], [2, 5], [3, 6]])
    with pytest.raises(DecodeError, match="bad_value"):
        d.decode("", struct.pack("<3f", 1, float("nan"), 3), received=1.0)


@pytest.mark.parametrize(
    ("opts", "key"),
    [
        ({"channels": 0}, "channels"),
        ({"dtype": "int8"}, "dtype"),
        ({"start_command": "zz", "start_uuid": "x"}, "start_command"),
        ({"start_command": "01"}, "start_uuid"),
        ({"scale": 0.0}, "scale"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_generic_options_errors_name_the_key(opts: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_generic(**opts)
    assert info.value.key == f"ble.devices[0].options.{key}"
