"""Fixtures shared by the studio tests."""

from __future__ import annotations

import pytest

from busanchain.platform.context import PlatformContext
from busanchain.studio.service import StudioService
from tests.token.conftest import platform  # noqa: F401 (fixture)


@pytest.fixture
def service(platform: PlatformContext) -> StudioService:  # noqa: F811 (fixture)
    """The studio service on a platform with the contracts deployed."""
    return StudioService(platform)
