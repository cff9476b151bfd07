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


@pytest.fixture
def ray_temp():
    """A short folder for Ray's session files (Ray's socket paths must stay short), removed after
    the test: Ray processes started by a test never leave folders under /tmp/ray."""
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="rdt", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)
