"""TOML tables to typed settings: one checked builder for the service's settings and
every BLE driver's own options table, so a wrong key or type is reported the same way
(``ConfigError`` naming the dotted key) wherever it is; and the dotted keys themselves
(``dsp.emg.mains_hz``) as the environment and the command line give them."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

from monitor.core.errors import ConfigError

T = TypeVar("T")


def build(cls: type[T], data: Mapping[str, Any], key: str) -> T:
    """Build dataclass ``cls`` from a mapping, checking every key and type."""
    if not isinstance(data, Mapping):
        raise ConfigError(key or "<root>", data, "a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - set(fields)
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(join_key(key, name), data[name], f"unknown key; known: {sorted(fields)}")
    kwargs = {
        name: _coerce(hints[name], value, join_key(key, name)) for name, value in data.items()
    }
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)  # type: ignore[arg-type]
    if origin is Mapping:  # a free-form table (driver options), validated by its owner
        if not isinstance(value, Mapping):
            raise ConfigError(key, value, "a table")
        return dict(value)
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(key, value, f"one of {list(get_args(tp))}")
        return value
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            if not isinstance(value, list | tuple):
                raise ConfigError(key, value, "a list")
            return tuple(_coerce(args[0], v, key) for v in value)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(key, value, f"a list of {len(args)} numbers")
        return tuple(_coerce(a, v, key) for a, v in zip(args, value, strict=True))
    if origin in (types.UnionType, typing.Union):
        for arg in get_args(tp):
            try:
                return _coerce(arg, value, key)
            except ConfigError:
                continue
        raise ConfigError(key, value, f"a value of type {tp}")
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, value, "true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, value, "an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, value, "a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(key, value, "a string")
        return value
    if tp is type(None):
        if value is not None:
            raise ConfigError(key, value, "nothing")
        return None
    raise ConfigError(key, value, f"unsupported setting type {tp}")


def join_key(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(dotted, value, f"{part} is not a table")
    node[parts[-1]] = value


def deep_update(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for k, v in source.items():
        if isinstance(v, Mapping) and isinstance(target.get(k), dict):
            deep_update(target[k], v)
        else:
            target[k] = v


def env_value(root: type, dotted: str, raw: str) -> Any:
    """A string setting takes the variable's text as it is: a numeric password or token
    (``FATIGUE_MONITOR__MQTT__PASSWORD=123456``) must not become an integer and then be
    refused, with the secret in the error. Other settings parse as TOML values."""
    if _setting_type(root, dotted) is str:
        return raw
    return _parse_env_value(raw)


def _setting_type(root: type, dotted: str) -> Any:
    tp: Any = root
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(tp):
            return None
        hint = typing.get_type_hints(tp).get(part)
        if hint is None:
            return None
        tp = hint
    return tp


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def positive(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(key, value, "must be > 0")
