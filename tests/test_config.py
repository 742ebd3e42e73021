import dataclasses
import tomllib
from pathlib import Path

import pytest

from monitor.core.config import Settings, load_settings
from monitor.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _keys(obj: object, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        out |= _keys(value, key + ".") if dataclasses.is_dataclass(value) else {key}
    return out


def _toml_keys(table: dict[str, object], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in table.items():
        out |= _toml_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return out


def test_default_toml_documents_exactly_the_defaults() -> None:
    path = ROOT / "config" / "default.toml"
    assert load_settings(path, environ={}) == Settings()
    with path.open("rb") as fh:
        written = _toml_keys(tomllib.load(fh))
    assert written == _keys(Settings())


def test_precedence_defaults_env_file_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[dsp.emg]\nmains_hz = 60\nwindow_s = 2.0\n")
    env = {"FATIGUE_MONITOR__DSP__EMG__MAINS_HZ": "50", "FATIGUE_MONITOR__DSP__EMG__HOP_S": "0.25"}
    s = load_settings(cfg, {"dsp.emg.window_s": 1.5}, environ=env)
    assert s.dsp.emg.mains_hz == 60  # file over env
    assert s.dsp.emg.hop_s == 0.25  # env over default
    assert s.dsp.emg.window_s == 1.5  # flag over file


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[dsp.emg]\nmains_hz = 55\n", "dsp.emg.mains_hz"),
        ("[dsp.emg]\nband_hz = [450, 20]\n", "dsp.emg.band_hz"),
        ("[dsp.emg]\nwindow_s = 'long'\n", "dsp.emg.window_s"),
        ("[dsp]\ndtype = 'float16'\n", "dsp.dtype"),
        ("[dsp.emgg]\nwindow_s = 1\n", "dsp.emgg"),
        ("[dsp.acc]\nhop_s = 9.0\n", "dsp.acc.hop_s"),
    ],
)
def test_errors_name_the_key_and_value(tmp_path: Path, toml: str, key: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    assert info.value.key == key
    assert key in str(info.value)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", environ={})
    bad = tmp_path / "x.toml"
    bad.write_text("[dsp\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, environ={})
