"""Start-up guards (issue 12): what a command imports, and numpy's BLAS threads.

No timing asserts: these check the causes of slow start-up (heavy modules imported where they
are not needed, OpenBLAS starting a thread per core), which do not depend on machine load.
benchmarks/bench_startup.py measures the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Never needed to plan and print one optimum, nor for --help.
HEAVY = ("scipy", "matplotlib", "rich", "yaml", "hashlib", "pandas", "torch", "transformers")
THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def _fresh(code: str, env_extra: dict | None = None, drop_threads=True) -> dict:
    """Run ``code`` in a fresh interpreter; it prints a JSON object as its last line."""
    env = {k: v for k, v in os.environ.items() if not (drop_threads and k in THREAD_VARS)}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


_RUN_MAIN = """
import contextlib, io, json, sys
sys.argv = ["moeplan"] + {argv!r}
import moeplan.cli
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        moeplan.cli.main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "out": out.getvalue()[:200],
                  "modules": sorted(m.split(".")[0] for m in sys.modules)}}))
"""


def _heavy(modules) -> list:
    return sorted(set(modules) & set(HEAVY))


def test_package_import_is_lazy():
    # `import moeplan` loads no numpy, so the command line can choose BLAS threads first
    res = _fresh(
        "import json, sys, moeplan\n"
        "print(json.dumps({'numpy': 'numpy' in sys.modules,"
        " 'law': moeplan.load_law().name, 'all': sorted(moeplan.__all__),"
        " 'missing': [n for n in moeplan.__all__ if not hasattr(moeplan, n)]}))"
    )
    assert res["numpy"] is False
    assert res["law"] == "krajewski2024-moe"
    assert res["missing"] == []


def test_lazy_package_names_match_all():
    import moeplan

    assert set(moeplan.__all__) == set(moeplan._EXPORTS) | {"__version__"}
    assert set(moeplan.__all__) <= set(dir(moeplan))
    with pytest.raises(AttributeError):
        moeplan.no_such_name  # noqa: B018


def test_building_optimize_imports_nothing_heavy():
    res = _fresh(
        "import json, sys\n"
        "import typer.main\n"
        "from moeplan.cli import build_app\n"
        "typer.main.get_command(build_app(['optimize']))\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    assert isinstance(res, list) and "moeplan" in res
    assert _heavy(res) == []


def test_optimize_run_imports_nothing_heavy():
    res = _fresh(_RUN_MAIN.format(argv=["optimize", "--flops", "1e22"]))
    assert res["code"] == 0, res
    assert "d_model" in res["out"] or res["out"], res  # it printed its plan
    assert _heavy(res["modules"]) == []


def test_help_imports_nothing_heavy():
    res = _fresh(_RUN_MAIN.format(argv=["--help"]))
    assert res["code"] == 0
    assert "optimize" in res["out"]
    assert _heavy(res["modules"]) == []


def test_version_needs_no_numpy():
    res = _fresh(_RUN_MAIN.format(argv=["--version"]))
    assert res["code"] == 0 and res["out"].startswith("moeplan ")
    assert "numpy" not in res["modules"]


_THREADS = """
import json, os, sys
import moeplan.cli
moeplan.cli._one_blas_thread()
import numpy
tasks = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else None
print(json.dumps({"env": {k: os.environ.get(k) for k in moeplan.cli.BLAS_THREAD_VARS},
                  "tasks": tasks}))
"""


@pytest.mark.skipif(
    not os.path.isdir("/proc/self/task") or (os.cpu_count() or 1) < 2,
    reason="counts threads through /proc on a multi-core machine",
)
def test_one_blas_thread_by_default_and_the_environment_left_as_it_was():
    res = _fresh(_THREADS)
    assert res["tasks"] == 1  # OpenBLAS started no worker threads
    assert all(v is None for v in res["env"].values())  # nothing left behind for children
    # the reference point: numpy alone starts its threads, so the check above can fail
    plain = _fresh("import json, os, numpy\nprint(json.dumps(len(os.listdir('/proc/self/task'))))")
    assert plain > 1


@pytest.mark.parametrize("var", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"])
def test_the_users_thread_setting_wins(var):
    res = _fresh(_THREADS, {var: "2"})
    assert res["env"][var] == "2"
    assert all(v is None for k, v in res["env"].items() if k != var)
    if res["tasks"] is not None and var != "MKL_NUM_THREADS" and (os.cpu_count() or 1) >= 2:
        assert res["tasks"] == 2  # OpenBLAS got the user's two threads


def test_record_methods_match_the_generated_ones():
    from dataclasses import dataclass, field, replace

    from moeplan._record import Record

    @dataclass(frozen=True)
    class Generated:
        a: float
        b: tuple = ()
        c: str = field(default="x", compare=False, repr=False)

    @dataclass(frozen=True, eq=False, repr=False)
    class Shared(Record):
        a: float
        b: tuple = ()
        c: str = field(default="x", compare=False, repr=False)

    for args in [(1.5,), (2.0, (1, "z")), (float("nan"),)]:
        g, s = Generated(*args), Shared(*args)
        assert repr(s).replace("Shared", "Generated", 1) == repr(g)
        assert hash(s) == hash(g)
        assert (s == Shared(*args)) == (g == Generated(*args))
        assert (s == replace(s, c="other")) == (g == replace(g, c="other"))  # c not compared
        assert s != replace(s, a=-1.0) and g != replace(g, a=-1.0)
        assert s != g and s.__eq__(g) is NotImplemented  # another class is never equal


def test_planner_results_compare_and_print_like_dataclasses():
    import moeplan

    r1 = moeplan.optimize("krajewski2024-moe", 1e21)
    r2 = moeplan.optimize("krajewski2024-moe", 1e21)
    assert r1.recommended == r2.recommended and r1.limits == moeplan.Limits()
    assert hash(r1.limits) == hash(moeplan.Limits())
    assert r1.recommended != r1.continuous
    assert repr(r1.recommended).startswith("Configuration(granularity=")
