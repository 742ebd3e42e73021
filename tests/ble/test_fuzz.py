"""Every decoder, fed arbitrary bytes: a DecodeError or a well-formed block, nothing else."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.core.errors import BleDeviceError, DecodeError
from monitor.core.model import SampleBlock
from monitor.inputs.ble import generic, myo, polar
from monitor.inputs.ble.driver import BleDriver


def started(driver: polar.PolarAcc) -> polar.PolarAcc:
    """After a start answer (factor 0.5), so compressed frames are decoded, not refused."""
    answer = bytes([0xF0, 2, 2, 0, 0, 5, 1]) + b"\x00\x00\x00\x3f"
    driver.check_response(driver.start_commands()[0], answer)
    return driver


def drivers() -> list[BleDriver]:
    return [
        started(polar.PolarAcc("p")),
        started(polar.PolarAcc("p24", polar.PolarOptions(resolution=24))),
        myo.MyoEmg("m"),
        generic.GenericSensor(
            "g",
            generic.GenericOptions(notify_uuid="x", channels=3, dtype="int24", counter="uint16"),
        ),
        generic.GenericSensor(
            "f", generic.GenericOptions(notify_uuid="x", channels=2, dtype="float32")
        ),
    ]


def check(block: SampleBlock, driver: BleDriver) -> None:
    assert block.sensor == driver.sensor and block.modality == driver.modality
    assert block.data.dtype == np.float32 and block.data.ndim == 2
    assert block.data.shape[0] == len(block.channels) and block.data.shape[1] > 0
    assert np.all(np.isfinite(block.data)) and np.isfinite(block.t0)


PREFIXES = st.sampled_from(
    [
        b"",
        bytes([2]) + bytes(8) + b"\x81",
        bytes([2]) + bytes(8) + b"\x01",
        bytes([2]) + bytes(8) + b"\x80",
        bytes([2]) + bytes(8) + b"\x02",
    ]
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(prefix=PREFIXES, tail=st.binary(max_size=300), which=st.integers(0, 4))
def test_arbitrary_bytes_give_decode_errors_or_good_blocks(
    prefix: bytes, tail: bytes, which: int
) -> None:
    driver = drivers()[which]
    uuid = driver.data_uuids[0]
    for payload in (prefix + tail, tail):
        try:
            check(driver.decode(uuid, payload, received=1.0), driver)
        except DecodeError as exc:
            problem = (exc.sensor, bool(exc.reason))
            assert problem == (driver.sensor, True)


@given(payload=st.binary(max_size=40))
def test_arbitrary_control_point_answers_give_device_errors_or_pass(payload: bytes) -> None:
    driver = polar.PolarAcc("p")
    try:
        driver.check_response(driver.start_commands()[0], payload)
    except BleDeviceError as exc:
        device = exc.device
        assert device == "p"
