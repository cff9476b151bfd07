"""Shared fixtures: one embedded Ray for the whole test session."""

from __future__ import annotations

import pytest

from raydeval.engine.session import RaySession


@pytest.fixture(scope="session")
def ray_local():
    """An embedded local Ray (2 CPUs) started as raydeval starts it (its session files in a temp
    folder of its own, removed at the end); evaluations forced onto Ray (`address="local"`) reuse it."""
    session = RaySession("local", 2)
    session.start()
    yield session
    session.close()
