"""Fixtures shared by the recording-reader tests; the data lives in tests/data/ (never /work)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from monitor.core.model import SampleBlock

DATA = Path(__file__).resolve().parents[1] / "data"

Joined = dict[tuple[str, str], npt.NDArray[np.float32]]


def join_blocks(blocks: Iterable[SampleBlock]) -> Joined:
    """Concatenate each stream's blocks, checking seq, t0 and block sizes on the way."""
    parts: dict[tuple[str, str], list[SampleBlock]] = {}
    for block in blocks:
        parts.setdefault(block.stream, []).append(block)
    out: Joined = {}
    for key, items in parts.items():
        assert [b.seq for b in items] == list(range(len(items)))
        for prev, nxt in pairwise(items):
            assert nxt.t0 == pytest.approx(prev.t0 + prev.n_samples / prev.fs, abs=1e-9)
        sizes = {b.n_samples for b in items[:-1]}
        assert len(sizes) <= 1, "every block but the last has the same size"
        out[key] = np.concatenate([b.data for b in items], axis=1)
    return out


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "rec.csv") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def join() -> Callable[[Iterable[SampleBlock]], Joined]:
    """``join_blocks`` as a fixture: test modules must not import conftest by name."""
    return join_blocks
