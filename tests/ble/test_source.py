"""BleSource's connection loop and queue, against virtual peripherals on the in-process
link (bumble backend) or fed directly: error mapping, retries, the start timeout, the
backoff, the stall watchdog and the gap left by dropped notifications."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError
from bumble import att

from monitor.core.model import SampleBlock
from monitor.core.source_settings import BleDevice, BleSettings
from monitor.inputs.ble import generic, myo
from monitor.inputs.ble.driver import Command
from monitor.inputs.ble.source import BleSource, BleStatus
from simulators.ble import VirtualAir, VirtualMyo, VirtualPolar, bumble_backend
from simulators.ble.signals import myo_emg

MYO = BleDevice(driver="myo", sensor="arm", name="Myo")
FAST = BleSettings(scan_timeout_s=3.0, backoff_max_s=0.1, start_timeout_s=3.0)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for ``condition`` (polled every 10 ms) or fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def emg() -> Any:
    return myo_emg(20.0, seed=4)


def test_bumble_errors_reach_bleak_callers_as_bleak_errors() -> None:
    async def scenario() -> list[str]:
        async with VirtualAir() as air, VirtualMyo(air.new_device("Myo"), emg()) as arm:
            backend = bumble_backend(air)
            arm.reject_writes = att.ErrorCode.WRITE_NOT_PERMITTED
            found = await BleakScanner.find_device_by_filter(
                lambda _d, adv: adv.local_name == "Myo", timeout=3.0, backend=backend.scanner
            )
            assert found is not None and found.address == arm.address
            client = BleakClient(found, backend=backend.client)
            errors = []
            async with client:
                with pytest.raises(BleakError) as info:
                    await client.write_gatt_char(myo.COMMAND, b"\x01\x03\x03\x00\x00", True)
                errors.append(str(info.value))
            return errors

    (write,) = asyncio.run(scenario())
    assert write.startswith("bumble: write d5060401") and "WRITE_NOT_PERMITTED" in write


def test_a_refused_start_command_is_retried_for_ever_without_raising() -> None:
    async def scenario() -> BleStatus:
        async with VirtualAir() as air, VirtualMyo(air.new_device("Myo"), emg()) as arm:
            arm.reject_writes = att.ErrorCode.WRITE_NOT_PERMITTED
            async with BleSource(MYO, FAST, backend=bumble_backend(air)) as source:
                await until(lambda: source.attempts >= 3, timeout=20.0)
                assert source._task is not None and not source._task.done()
                return source.status()

    status = asyncio.run(scenario())
    assert status.connections == 0 and status.failures == 0
    assert "WRITE_NOT_PERMITTED" in status.last_error


class BrokenMyo(myo.MyoEmg):
    """A driver with a bug in its start sequence."""

    def start_commands(self) -> Sequence[Command]:
        raise ZeroDivisionError("driver bug")


def test_an_unexpected_error_is_counted_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> BleStatus:
        async with VirtualAir() as air, VirtualMyo(air.new_device("Myo"), emg()):
            source = BleSource(MYO, FAST, driver=BrokenMyo("arm"), backend=bumble_backend(air))
            async with source:
                await until(lambda: source.failures >= 2, timeout=20.0)
                assert source._task is not None and not source._task.done()
                return source.status()

    status = asyncio.run(scenario())
    assert status.last_error == "ZeroDivisionError: driver bug"
    assert any("arm" in r.getMessage() and r.exc_info for r in caplog.records)


def test_an_unanswered_start_times_out_and_is_retried() -> None:
    async def scenario() -> tuple[BleStatus, int]:
        async with VirtualAir() as air:
            x = np.zeros((3, 2000))
            async with VirtualPolar(air.new_device("Polar H10 1"), x) as h10:
                h10.mute = True
                settings = BleSettings(scan_timeout_s=3.0, backoff_max_s=0.1, start_timeout_s=2.5)
                device = BleDevice(driver="polar", sensor="h10", name="Polar H10")
                async with BleSource(device, settings, backend=bumble_backend(air)) as source:
                    await until(lambda: len(h10.requests) >= 2, timeout=20.0)
                    return source.status(), len(h10.requests)

    status, _ = asyncio.run(scenario())
    assert status.connections == 0 and status.failures == 0
    assert status.last_error.endswith("not done in 2.5 s")
    assert "start ACC" in status.last_error


def test_backoff_grows_while_links_drop_at_once_and_resets_after_a_stable_stream() -> None:
    async def scenario(stable_s: float) -> tuple[int, int]:
        async with VirtualAir() as air, VirtualMyo(air.new_device("Myo"), emg()) as arm:
            source = BleSource(MYO, FAST, backend=bumble_backend(air), stable_s=stable_s)
            async with source:
                for n in range(1, 4):
                    await until(lambda n=n: source.connections >= n and source.connected.is_set())
                    if stable_s < 1.0:  # stream a while (past stable_s) first
                        first = arm.sent
                        await until(lambda first=first: arm.sent >= first + 40)
                    await arm.drop()
                    await until(lambda n=n: source.disconnects >= n)
                await until(lambda: source.connections >= 4)
                return source.backoff.attempt, source.attempts

    attempt, attempts = asyncio.run(scenario(stable_s=10.0))
    assert attempts == 4 and attempt == 3  # never reset: 0.5, 1, 2 s (capped here)...
    attempt, attempts = asyncio.run(scenario(stable_s=0.2))
    assert attempts == 4 and attempt == 1  # reset after each stable stream


def test_a_silent_link_is_dropped_and_started_again() -> None:
    async def scenario() -> tuple[BleStatus, list[str], int]:
        async with VirtualAir() as air, VirtualMyo(air.new_device("Myo"), emg()) as arm:
            lost: list[str] = []
            settings = BleSettings(scan_timeout_s=3.0, backoff_max_s=0.1, stall_s=0.3)
            source = BleSource(MYO, settings, backend=bumble_backend(air), on_lost=lost.append)
            async with source:
                await until(lambda: source.connected.is_set() and arm.sent > 0)
                arm.streaming = False  # connected, but the device stopped sending
                await until(lambda: source.connections >= 2 and source.connected.is_set())
                return source.status(), lost, arm.starts

    status, lost, starts = asyncio.run(scenario())
    assert status.stalls == 1 and status.disconnects == 1 and lost == ["arm"]
    assert starts == 2  # the set-mode command went out again
    assert "no data for 0.3 s" in status.last_error


def _blocks_around_an_overflow(source: BleSource, uuid: str, payload: bytes) -> list[SampleBlock]:
    """4 notifications, 2 decoded; 14 more into a queue of 10 (6 dropped); the rest."""
    char = cast(BleakGATTCharacteristic, SimpleNamespace(uuid=uuid))

    async def scenario() -> list[SampleBlock]:
        for _ in range(4):
            source._notified(char, bytearray(payload))
        blocks = [await source.__anext__(), await source.__anext__()]
        for _ in range(14):
            source._notified(char, bytearray(payload))
        while source._queue:
            blocks.append(await source.__anext__())
        return blocks

    return asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["myo", "generic"])
def test_dropped_notifications_leave_a_gap_not_a_splice(kind: str) -> None:
    # Notifications of 2 samples at 200 Hz arrive exactly on time (every 10 ms), so only
    # the source knows that 6 of them never reached the driver.
    arrivals = iter(100.0 + 0.01 * k for k in range(100))
    if kind == "myo":
        device, uuid, payload = MYO, myo.EMG_DATA[0], bytes(range(16))
    else:
        uuid = "0000ffe1-0000-1000-8000-00805f9b34fb"
        options = {"notify_uuid": uuid, "channels": 2, "fs": 200.0}  # no counter
        device = BleDevice(driver="generic", sensor="arm", name="X", options=options)
        payload = bytes(range(8))  # 2 samples x 2 channels x int16
    source = BleSource(device, BleSettings(queue_size=10), clock=lambda: next(arrivals))
    assert isinstance(source.driver, myo.MyoEmg | generic.GenericSensor)
    blocks = _blocks_around_an_overflow(source, uuid, payload)
    assert source.dropped == 6 and len(blocks) == 2 + 10
    assert [b.seq for b in blocks] == [0, 1, *range(8, 18)]  # a hole of 6: windows restart
    before, after = blocks[1], blocks[2]
    assert after.t0 == pytest.approx(before.t_end + 6 * 2 / 200)  # re-anchored at arrival
    assert after.t0 == pytest.approx(100.08 - 1 / 200)
    for a, b in itertools.pairwise(blocks[2:]):  # contiguous again after it
        assert b.t0 == pytest.approx(a.t_end)


def test_an_undecodable_notification_is_a_hole_too() -> None:
    arrivals = iter(100.0 + 0.01 * k for k in range(10))
    source = BleSource(MYO, BleSettings(), clock=lambda: next(arrivals))
    char = cast(BleakGATTCharacteristic, SimpleNamespace(uuid=myo.EMG_DATA[0]))

    async def scenario() -> list[SampleBlock]:
        for payload in (bytes(16), bytes(15), bytes(16)):
            source._notified(char, bytearray(payload))
        return [await source.__anext__(), await source.__anext__()]

    first, second = asyncio.run(scenario())
    assert source.decode_errors == {"bad_length": 1}
    assert (first.seq, second.seq) == (0, 2)
    assert second.t0 == pytest.approx(100.02 - 1 / 200)
