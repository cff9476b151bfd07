"""Shared fixtures: one embedded Ray for the whole test session."""

from __future__ import annotations

import pytest
import ray


@pytest.fixture(scope="session")
def ray_local():
    """An embedded local Ray (2 CPUs); raydeval's engine reuses it instead of starting its own."""
    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()
