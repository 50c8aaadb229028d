"""The installed `moeplan` script, `python -m moeplan`, and a core free of heavy imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["NO_COLOR"] = "1"
    return env


def _script():
    path = shutil.which("moeplan", path=str(BIN)) or shutil.which("moeplan")
    if path is None:
        pytest.skip("the moeplan script is not installed in this environment")
    return path


WORKED = [
    "flops",
    "--d-model",
    "1024",
    "--n-blocks",
    "16",
    "--tokens",
    "1e10",
    "--expansion",
    "64",
    "--granularity",
    "8",
    "--json",
]


@pytest.mark.parametrize("prefix", ["script", "module"])
def test_installed_command_from_another_folder(tmp_path, prefix):
    cmd = [_script()] if prefix == "script" else [sys.executable, "-m", "moeplan"]
    out = subprocess.run(
        cmd + WORKED, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["flops"] == (12 * 1024**2 * 6 + 1024 * 64 * 8 * 14) * 10**10 * 16
    bad = subprocess.run(
        cmd + ["loss", "--params", "x", "--tokens", "1"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_laws_found_by_installed_script(tmp_path):
    # from another folder with an empty PATH: the wheel's coefficient sets are found
    out = subprocess.run(
        [_script(), "laws", "--json"],
        cwd=tmp_path,
        env={"PATH": "", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["laws"]) >= 7


def _loaded(code):
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parent.parent,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout))


HEAVY = ("typer", "click", "rich", "scipy", "matplotlib")


def test_core_imports_no_cli_or_heavy_modules():
    # every module outside moeplan/cli, subpackages (moeplan.plan.*, moeplan.laws.*) included:
    # the one check of the core's imports (fit, runs, plot, hf, proposal, check, plan.experts ...)
    code = (
        "import sys, json, pkgutil, importlib, moeplan\n"
        "names, todo = [], [moeplan]\n"
        "while todo:\n"  # walk_packages would import moeplan.cli to look inside it
        "    pkg = todo.pop()\n"
        "    for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if m.name in ('moeplan.cli', 'moeplan.__main__'): continue\n"
        "        mod = importlib.import_module(m.name); names.append(m.name)\n"
        "        if m.ispkg: todo.append(mod)\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules] + [f'{{len(names)}} modules']))"
    )
    loaded = _loaded(code)
    counted = {n for n in loaded if n.endswith(" modules")}
    assert loaded - counted == set()
    assert int(counted.pop().split()[0]) >= 35  # the walk reached moeplan.plan.* and moeplan.laws.*
