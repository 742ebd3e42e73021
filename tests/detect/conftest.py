import pytest

from monitor.core.config import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings()
