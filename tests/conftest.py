"""Every test outside tests/redis/ belongs to the core suite, run on every Python."""

from __future__ import annotations

from pathlib import Path

import pytest

_REDIS = Path(__file__).parent / "redis"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _REDIS not in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.core)
