"""Shared fixtures: paths to the vendored real data in tests/data and a CLI runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

#: numpy's and scipy's OpenBLAS read their thread count once, when they load. The tests run
#: in-process what `moeplan` runs from its entry point (cli.main and fit._scipy_minimize load
#: them with one thread); left at the default, both libraries start one thread per core that
#: spin-wait between the tiny BLAS calls of the fits, doubling the suite's CPU time on a
#: 2-core machine. Set only around these imports and removed again, as the product does, so
#: child processes that the tests start see the environment the tests give them.
_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
if "numpy" not in sys.modules and not any(os.environ.get(v) for v in _BLAS_VARS):
    for _v in _BLAS_VARS:
        os.environ[_v] = "1"
    try:
        import numpy  # noqa: F401
        import scipy.optimize  # noqa: F401
    finally:
        for _v in _BLAS_VARS:
            os.environ.pop(_v, None)

# A CI profile with a fixed seed: the suite is reproducible and bounded in time. 50 examples
# for a property without its own settings (Hypothesis' default is 100): the examples are fixed
# (derandomize), so a larger count does not search further run after run; the random search
# lives in benchmarks/ (fuzz_cli.py). HYPOTHESIS_PROFILE=thorough gives those properties 1,000
# random examples each (tests with their own max_examples keep it).
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "moeplan",
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "moeplan"))


def data_path(*parts: str) -> Path:
    """A file under tests/data (real data nobody here produced, vendored with its provenance).

    Never skips: the files ship with the repository, so a missing one is a failure.
    """
    path = DATA.joinpath(*parts)
    assert path.is_file(), f"{path} is missing from the repository"
    return path


@pytest.fixture(scope="session")
def chinchilla():
    """The vendored Chinchilla runs as the fit tests read them (5 highest losses dropped)."""
    from moeplan.runs import read_runs

    path = data_path("chinchilla", "svg_extracted_data.csv")
    return read_runs(
        path, "dense", {"params": "Model Size", "flops": "Training FLOP"}
    ).drop_highest_loss(5)


@pytest.fixture(scope="session")
def chinchilla_fit(chinchilla):
    """Their dense fit with the default starts, done once for test_fit and
    test_bootstrap_newton (read-only: a frozen FitResult)."""
    from moeplan.fit import fit_law

    return fit_law(chinchilla, "dense")


@pytest.fixture
def runner():
    """typer's CliRunner, with the click command tree built once per app instead of per call."""
    import typer
    from typer.testing import CliRunner

    import fuzz_support

    class Runner(CliRunner):
        def invoke(self, app, *args, **kwargs):
            if isinstance(app, typer.Typer):
                return super(CliRunner, self).invoke(
                    fuzz_support.click_command(app), *args, **kwargs
                )
            return super().invoke(app, *args, **kwargs)

    return Runner()


@pytest.fixture(autouse=True)
def _no_color(monkeypatch):
    # The renderer draws Rich tables only on a terminal; CliRunner is not one, but make sure.
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("MOEPLAN_DEBUG", raising=False)


#: The one skip a clean run may show: a permission test cannot work as root.
ALLOWED_SKIP = "root can read any file"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With MOEPLAN_NO_SKIP=1 (set by .ci/run) any other skip is a failure.

    A clone installed with the test extra has the data, matplotlib and the installed script, so
    a skip there means something is missing that the README promises.
    """
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("MOEPLAN_NO_SKIP") or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if ALLOWED_SKIP not in str(reason):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped under MOEPLAN_NO_SKIP=1 (only '{ALLOWED_SKIP}' may skip): {reason}"
        )
