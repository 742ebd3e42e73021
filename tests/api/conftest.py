"""Fixtures of the API tests; the helpers are in api_support.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from api_support import TOKEN, Fed, build_app, connect, feed

from monitor.outputs.store import Store


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    with Store(tmp_path_factory.mktemp("api") / "m.db") as store:
        yield feed(store)


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Fed]:
    """A short run of its own (baselines learned, no onset yet), for tests that change state."""
    with Store(tmp_path / "m.db") as store:
        yield feed(store, seconds=30.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(fed: Fed) -> AsyncIterator[httpx.AsyncClient]:
    async with connect(build_app(fed, TOKEN), TOKEN) as c:
        yield c
