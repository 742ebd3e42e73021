"""A minimal XDF writer for the tests (the format: github.com/sccn/xdf/wiki/Specifications).

Chunks are [length bytes count][length][tag][content]; a stream header is XML, samples
carry an 8-byte timestamp each; numbers are little-endian."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class XdfStream:
    name: str
    kind: str
    srate: float
    labels: list[str]
    units: list[str]
    times: np.ndarray
    values: np.ndarray | list[str]  # (samples, channels) float32, or marker strings


def _varlen(n: int) -> bytes:
    if n < 256:
        return b"\x01" + struct.pack("<B", n)
    if n < 2**32:
        return b"\x04" + struct.pack("<I", n)
    return b"\x08" + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes) -> bytes:
    body = struct.pack("<H", tag) + content
    return _varlen(len(body)) + body


def _header_xml(s: XdfStream) -> bytes:
    fmt = "string" if isinstance(s.values, list) else "float32"
    count = 1 if isinstance(s.values, list) else s.values.shape[1]
    chans = "".join(
        f"<channel><label>{lb}</label><unit>{u}</unit></channel>"
        for lb, u in zip(s.labels, s.units, strict=True)
    )
    return (
        f'<?xml version="1.0"?><info><name>{s.name}</name><type>{s.kind}</type>'
        f"<channel_count>{count}</channel_count><nominal_srate>{s.srate}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format><created_at>0</created_at>"
        f"<desc><channels>{chans}</channels></desc></info>"
    ).encode()


def write_xdf(path: Path, streams: list[XdfStream]) -> None:
    out = [b"XDF:", _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')]
    for sid, s in enumerate(streams, start=1):
        out.append(_chunk(2, struct.pack("<I", sid) + _header_xml(s)))
    for sid, s in enumerate(streams, start=1):
        n = len(s.times)
        for a in range(0, n, 500):
            b = min(n, a + 500)
            parts = [struct.pack("<I", sid), _varlen(b - a)]
            for i in range(a, b):
                parts.append(b"\x08" + struct.pack("<d", float(s.times[i])))
                if isinstance(s.values, list):
                    text = s.values[i].encode()
                    parts.append(_varlen(len(text)) + text)
                else:
                    parts.append(np.asarray(s.values[i], dtype="<f4").tobytes())
            out.append(_chunk(3, b"".join(parts)))
    for sid, s in enumerate(streams, start=1):
        footer = (
            f'<?xml version="1.0"?><info><first_timestamp>{s.times[0]}</first_timestamp>'
            f"<last_timestamp>{s.times[-1]}</last_timestamp>"
            f"<sample_count>{len(s.times)}</sample_count></info>"
        ).encode()
        out.append(_chunk(6, struct.pack("<I", sid) + footer))
    path.write_bytes(b"".join(out))
