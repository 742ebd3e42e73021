"""The [ble] settings, the example device files, the scan's driver guess and the CLI."""

import asyncio
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.core.config import load_settings
from monitor.core.errors import ConfigError
from monitor.inputs.ble.registry import driver_for
from monitor.inputs.ble.source import scan
from simulators.ble import VirtualAir, VirtualMyo, VirtualPolar, bumble_backend

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "config" / "examples").glob("ble-*.toml")))
def test_example_device_files_load(path: Path) -> None:
    settings = load_settings(path, environ={})
    assert len(settings.ble.devices) == 1


@pytest.mark.parametrize(
    ("devices", "key"),
    [
        ([{"driver": "polar", "sensor": "a b", "name": "x"}], "ble.devices[0].sensor"),
        ([{"driver": "polar", "sensor": "a"}], "ble.devices[0].name"),
        ([{"driver": "fitbit", "sensor": "a", "name": "x"}], "ble.devices[0].driver"),
        (
            [{"driver": "polar", "sensor": "a", "name": "x", "options": {"range_g": 3}}],
            "ble.devices[0].options.range_g",
        ),
        (
            [
                {"driver": "myo", "sensor": "a", "name": "x"},
                {"driver": "myo", "sensor": "a", "name": "y"},
            ],
            "ble.devices[1].sensor",
        ),
    ],
)
def test_device_errors_name_the_key(devices: list[dict[str, object]], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(overrides={"ble.devices": devices}, environ={})
    assert info.value.key == key


def test_driver_guess_from_advertisements() -> None:
    assert driver_for("Polar H10 0A1B2C3D", []) == "polar"
    assert driver_for(None, ["FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8"]) == "polar"
    assert driver_for("Myo", []) == "myo"
    assert driver_for("Thermometer", []) is None


def test_scan_lists_virtual_devices_with_their_drivers() -> None:
    async def scenario() -> dict[str, str | None]:
        x = __import__("numpy").zeros((8, 400))
        async with VirtualAir() as air:
            polar = VirtualPolar(air.new_device("Polar H10 0A1B2C3D"), x[:3])
            myo = VirtualMyo(air.new_device("Myo"), x)
            async with polar, myo:
                found = await scan(1.0, bumble_backend(air))
        return {f.name: f.driver for f in found}

    assert asyncio.run(scenario()) == {"Polar H10 0A1B2C3D": "polar", "Myo": "myo"}


def test_scan_without_an_adapter_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scan", "--seconds", "0.5"])
    err = capsys.readouterr().err
    if code == 0:
        pytest.skip("this machine has a Bluetooth adapter")
    assert code == 2 and "no usable Bluetooth adapter" in err and len(err.splitlines()) == 1
