from __future__ import annotations

import os
import shutil

# Two test workers on two cores: one torch thread each, set before any test imports torch
# (torch reads these at import), so workers do not fight over cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest
from hypothesis import HealthCheck, settings

# Fixed example counts and no deadline: CI machines are shared and noisy, runs must be bounded.
settings.register_profile(
    "default", max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("default")

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def need_dot() -> None:
    """Skip without Graphviz's ``dot``, except in CI, where it must be installed."""
    if shutil.which("dot") is None:
        if IN_CI:
            pytest.fail("Graphviz 'dot' is not installed in CI; .ci/run (make test) must install it")
        pytest.skip("Graphviz 'dot' not installed")
