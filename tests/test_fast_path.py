"""The entry point's typer-free fast path (moeplan/cli/fast.py, issue 12).

``moeplan optimize ...`` and ``moeplan --help`` run without typer or click when they can; any
other command line goes to the Typer app. These tests hold the two to the same behaviour: the
generated tables equal what the app says now, the fast path calls the command's body with
exactly the values the Typer command passes, and for a catalogue of command lines (accepted
ones and mistakes) both ways print the same stdout and stderr and exit with the same status.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import moeplan.cli as cli
from moeplan.cli import _fast_tables, cmd_plan, fast, generate, render

ROOT = Path(__file__).resolve().parents[1]

#: Command lines (after ``optimize``) the fast path takes; together they give every flag.
FAST = [
    [],
    ["--flops", "1e22"],
    ["--flops=1e22", "--json"],
    ["--flops", "3.5e21", "--law", "ludziejewski2025-joint", "--experts", "1,8", "--experts", "32"],
    [
        "--target-loss",
        "2.4",
        "--granularity",
        "1,2",
        "--granularity",
        "8",
        "--max-granularity",
        "16",
    ],
    ["--flops", "1e21", "--params", "2B"],
    ["--flops", "1e22", "--expansion", "32", "--aspect-ratio", "100", "--c-f", "6", "--c-r", "14"],
    ["--flops", "1e22", "--expansion-rate", "16"],
    ["--flops", "1e22", "--memory", "80GB", "--bytes-per-param", "1", "--kv-tokens", "1M"],
    ["--flops", "1e22", "--inference-tokens", "1T", "--vocab-size", "32k", "--tied-embeddings"],
    [
        "--flops",
        "1e22",
        "--max-total-params",
        "10B",
        "--max-tokens",
        "100B",
        "--multiple-of",
        "256",
    ],
    ["--flops", "5.76e23", "--law", "hoffmann2022-chinchilla", "--untied-embeddings"],
    ["--flops", "1e22", "--shape-tolerance", "1.25", "--alternatives", "3", "--tp", "4"],
    ["--gpu", "h100", "--gpus", "64", "--days", "10", "--mfu", "0.4", "--seq-len", "8192"],
    ["--gpu", "a100", "--gpu-hours", "1e4", "--micro-batch", "2"],
    ["--flops", "1e22", "--hf-config", "HF_PATH"],
    ["--profile", "h200", "--gpus", "8", "--days", "1", "--a2a-bandwidth", "50"],
    ["--profile", "h200", "--flops", "1e22"],  # refused by the body: same message both ways
    ["--flops", "1e22", "--days", "3"],  # refused by the body
    ["--flops", "1e22", "--law", "no-such-law"],  # refused by the body
    ["--flops", "1e22", "--law", ""],
]

#: Command lines (after ``optimize``) the fast path leaves to the Typer app.
TYPER = [
    ["--help"],
    ["-h"],
    ["--flops", "1e22", "--help"],
    ["--flops", "1e22x"],
    ["--flops"],
    ["--flops", "-1e22"],
    ["--flops=0"],
    ["--flops", "1e22", "--flops", "2e22"],
    ["--json", "--json"],
    ["--json=yes"],
    ["--bogus"],
    ["--flop", "1e22"],
    ["1e22"],
    ["--flops", "1e22", "--"],
    ["--granularity", "0,1"],
    ["--multiple-of", "1.5"],
    ["--memory", "80XB"],
    ["--c-f", "1e6"],
    ["--vocab-size", "1e300"],
]

#: Those whose output is compared end to end (a few of each kind; the rest compare values).
OUTPUT = [FAST[i] for i in (1, 2, 3, 4, 9, 11, 15, 17, 18, 19, 20)] + TYPER


def _argv(words, tmp_path) -> list[str]:
    return [str(tmp_path / "config.json") if w == "HF_PATH" else w for w in words]


def _run(argv, fast_path: bool):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        with pytest.raises(SystemExit) as exit_:
            cli.run(argv, fast=fast_path)
    code = exit_.value.code
    return (0 if code is None else code), out.getvalue(), err.getvalue()


@pytest.fixture
def spy(monkeypatch):
    """What the Typer command passes to the body (it runs nothing)."""
    seen = []

    def body(**values):
        seen.append(values)
        return 0

    monkeypatch.setattr(cmd_plan, "run_optimize", body)
    return seen


def test_tables_are_fresh():
    # regenerate with `python -m moeplan.cli.generate` after changing optimize's options or
    # the help of `moeplan --help`
    stored = Path(_fast_tables.__file__).read_text(encoding="utf-8")
    assert generate.module_text() == stored


def test_every_optimize_option_is_parsed_by_the_fast_path():
    import typer.main

    command = typer.main.get_command(cli.build_app(["optimize"])).commands["optimize"]
    flags = {f for p in command.params for f in p.opts + p.secondary_opts}
    assert set(_fast_tables.OPTIMIZE) == flags
    assert all(entry is not None for entry in _fast_tables.OPTIMIZE.values())
    given = {w.partition("=")[0] for argv in FAST for w in argv if w.startswith("--")}
    assert given == flags  # the catalogue gives every one


@pytest.mark.parametrize("words", FAST, ids=" ".join)
def test_fast_path_passes_what_typer_passes(words, spy, tmp_path):
    argv = _argv(words, tmp_path)
    values = fast.parse(_fast_tables.OPTIMIZE, _fast_tables.OPTIMIZE_DEFAULTS, argv)
    assert values is not None
    assert _run(["optimize", *argv], fast_path=False)[0] == 0
    (typer_values,) = spy
    assert values == typer_values
    assert {k: type(v) for k, v in values.items()} == {k: type(v) for k, v in typer_values.items()}


@pytest.mark.parametrize("words", TYPER, ids=" ".join)
def test_fast_path_leaves_the_rest_to_typer(words):
    assert fast.parse(_fast_tables.OPTIMIZE, _fast_tables.OPTIMIZE_DEFAULTS, words) is None


@pytest.mark.parametrize("words", OUTPUT, ids=" ".join)
def test_same_output_and_exit_code_both_ways(words, tmp_path):
    argv = ["optimize", *_argv(words, tmp_path)]
    quick = _run(argv, fast_path=True)
    assert quick == _run(argv, fast_path=False)
    assert quick[0] in (0, 2)
    if quick[0] == 2:
        assert quick[1] == "" and quick[2].count("\n") == 1 and "error:" in quick[2]
    if "--json" in words and quick[0] == 0:
        assert json.loads(quick[1])["command"] == "optimize"
    assert render.command_name is None  # the fast path leaves no state behind


@pytest.mark.parametrize(
    ("argv", "columns"),
    [
        (["--help"], None),
        (["-h"], "80"),
        ([], None),
        (["--help"], "200"),
        (["--help"], "79"),
        ([], "40"),
    ],
    ids=str,
)
def test_cached_help_is_what_the_app_prints(argv, columns, monkeypatch):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    quick = _run(argv, fast_path=True)
    assert quick == _run(argv, fast_path=False)
    assert quick[0] == (0 if argv else 2)
    assert "Usage: moeplan" in (quick[1] if argv else quick[2])


@pytest.mark.parametrize(
    ("interrupt", "stderr"), [(KeyboardInterrupt, ""), (EOFError, "\nAborted.\n")]
)
def test_an_interrupt_ends_the_same_way_both_ways(interrupt, stderr, monkeypatch):
    def stopped(**values):
        raise interrupt

    monkeypatch.setattr(cmd_plan, "run_optimize", stopped)
    monkeypatch.setattr("moeplan.cli.plan_views.run_optimize", stopped)
    argv = ["optimize", "--flops", "1e22"]
    quick = _run(argv, fast_path=True)
    assert quick == _run(argv, fast_path=False) == (130, "", stderr)


def test_tables_of_edited_files_are_not_used(monkeypatch, capsys):
    # an edit of cmd_plan.py (say) without regenerating: the Typer app answers, never a stale table
    called = []
    monkeypatch.setattr(fast, "parse", lambda *a: called.append(a))
    monkeypatch.setitem(_fast_tables.OPTIMIZE_SOURCES, "cmd_plan.py", "0" * 64)
    monkeypatch.setitem(_fast_tables.HELP_SOURCES, "cmd_fit.py", "0" * 64)
    monkeypatch.setattr(_fast_tables, "HELP", "stale help")
    argv = ["optimize", "--flops", "1e22"]
    assert _run(argv, fast_path=True) == _run(argv, fast_path=False)
    assert called == []
    code, out, _ = _run(["--help"], fast_path=True)
    assert code == 0 and out.startswith("Usage: moeplan")
    assert fast._fresh({"cmd_plan.py": fast.sha256_of("cmd_plan.py")})
    assert fast.sha256_of("no-such-file.py") is None


def test_shell_completion_goes_to_typer(monkeypatch):
    called = []
    monkeypatch.setattr(fast, "parse", lambda *a: called.append(a))
    monkeypatch.setenv("_MOEPLAN_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "moeplan optimize --fl")
    monkeypatch.setenv("COMP_CWORD", "2")
    argv = ["optimize", "--flops", "1e22"]
    assert _run(argv, fast_path=True) == _run(argv, fast_path=False)
    assert called == []


def test_fast_path_loads_neither_typer_nor_click():
    code = (
        "import io, json, sys, contextlib\n"
        "import moeplan.cli\n"
        "out = io.StringIO()\n"
        "for argv in (['optimize', '--flops', '1e22', '--json'], ['--help']):\n"
        "    try:\n"
        "        with contextlib.redirect_stdout(out):\n"
        "            moeplan.cli.run(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), exc.code\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = set(json.loads(proc.stdout.splitlines()[-1]))
    assert "numpy" in modules and "moeplan" in modules  # it did plan
    assert modules & {"typer", "click", "rich", "scipy", "shutil"} == set()


def test_help_loads_no_numpy():
    code = (
        "import io, json, sys, contextlib\n"
        "import moeplan.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        moeplan.cli.run(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100")
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = set(json.loads(proc.stdout.splitlines()[-1]))
    assert modules & {"numpy", "typer", "click"} == set()
