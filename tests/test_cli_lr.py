"""`moeplan lr` through the in-process runner (and once through the installed script)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from moeplan.cli import app


def run(runner, *args):
    return runner.invoke(app, ["lr", *args])


from reference import lr_rule as rule  # noqa: E402


def test_lr_json(runner):
    r = run(runner, "--params", "1.2B", "--experts", "8", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["learning_rate"] == pytest.approx(rule(1.2e9, 8), rel=1e-14)
    assert data["n_active"] == 1_200_000_000 and data["n_experts"] == 8
    assert "Ludziejewski" in data["source"] and "2502.05172" in data["source"]
    assert data["fitted_range"] == {"n_active": [None, 2_700_000_000], "n_experts": [1, 32]}
    assert data["warnings"] == [] and r.stderr == ""


def test_lr_human_table_and_default_dense(runner):
    r = run(runner, "--params", "100M")
    assert r.exit_code == 0
    assert f"{rule(1e8, 1):.4g}" in r.stdout
    assert "Ludziejewski" in r.stdout and "2.7B" in r.stdout and "E from 1 to 32" in r.stdout


def test_lr_warns_outside_fitted_range(runner):
    r = run(runner, "--params", "5B", "--experts", "64", "--json")
    assert r.exit_code == 0
    warnings = json.loads(r.stdout)["warnings"]
    assert len(warnings) == 2
    assert any("2.7e+09" in w for w in warnings) and any("64 experts" in w for w in warnings)
    assert all(f"warning: {w}" in r.stderr for w in warnings)


@pytest.mark.parametrize("args, needle", [
    (["--params", "1B", "--experts", "2.5"], "whole number"),
    (["--params", "1B", "--experts", "0"], "positive"),
    (["--params", "1B", "--experts", "-4"], "positive"),
    (["--params", "0", "--experts", "4"], "positive"),
    (["--params", "lots"], "not a number"),
    (["--experts", "4"], "--params"),
])
def test_lr_bad_input_exit_2(runner, args, needle):
    r = run(runner, *args)
    assert r.exit_code == 2
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_lr_help_has_example(runner):
    r = run(runner, "--help")
    assert r.exit_code == 0
    assert "moeplan lr --params 1.2B --experts 8" in r.stdout


def test_lr_installed_script(tmp_path):
    script = shutil.which("moeplan", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the moeplan script is not installed in this environment")
    out = subprocess.run([script, "lr", "--params", "1B", "--experts", "4", "--json"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={"PATH": "", "NO_COLOR": "1"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["learning_rate"] == pytest.approx(rule(1e9, 4), rel=1e-14)
