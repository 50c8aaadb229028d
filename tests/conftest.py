"""Shared fixtures: paths to the real data in ../shared and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# A CI profile with a fixed seed: the suite is reproducible and bounded in time.
settings.register_profile("moeplan", max_examples=100, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "moeplan"))


def shared_path(*parts: str) -> Path:
    """A file under ../shared (real data nobody here produced); skip if it is not beside us."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture(autouse=True)
def _no_color(monkeypatch):
    # The renderer draws Rich tables only on a terminal; CliRunner is not one, but make sure.
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("MOEPLAN_DEBUG", raising=False)
