from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_proc import KINDS, BrokerProcess


@pytest.fixture(params=KINDS)
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(request.param, tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()
