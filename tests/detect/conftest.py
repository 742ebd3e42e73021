import pytest

from monitor.config import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings()
