"""Docs that cannot drift: the README's command reference, its library session, help texts."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import moeplan
from moeplan.cli import COMMAND_MODULES, app
from moeplan.cli.reference import BEGIN, END, markdown, replace_section

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def test_readme_command_reference_matches_the_commands():
    text = README.read_text(encoding="utf-8")
    assert replace_section(text, markdown()) == text, (
        "README.md's command reference differs from the commands; regenerate it with "
        "`python -m moeplan.cli.reference README.md`"
    )
    assert BEGIN in text and END in text


def test_readme_first_screen_has_install_and_test_commands():
    first = "\n".join(README.read_text(encoding="utf-8").splitlines()[:15])
    assert "pip install . && moeplan optimize --flops 1e22" in first
    assert "python -m pytest" in first


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert "python -m pytest" in ci and '".[test' in ci


def _python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_library_session_runs():
    blocks = [b for b in _python_blocks(README.read_text(encoding="utf-8")) if ">>>" in b]
    assert blocks
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for i, block in enumerate(blocks):
        test = parser.get_doctest(block, {}, f"README block {i}", "README.md", 0)
        runner.run(test)
    assert runner.failures == 0


def test_package_docstring_example_runs():
    assert doctest.testmod(moeplan, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def test_every_command_is_listed_with_a_summary_and_an_example(runner):
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for name in COMMAND_MODULES:
        assert re.search(rf"\b{name}\b\s+\S", r.stdout), name
        h = runner.invoke(app, [name, "--help"])
        assert h.exit_code == 0 and "Example" in h.stdout, name


def test_command_table_matches_the_modules():
    import importlib
    import pkgutil

    import moeplan.cli as cli

    found = {}
    for info in pkgutil.iter_modules(cli.__path__):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"moeplan.cli.{info.name}")
            for name in module.COMMANDS:
                found[name] = info.name
    assert found == COMMAND_MODULES


@pytest.mark.parametrize("name", list(COMMAND_MODULES))
def test_lean_entry_point_builds_the_same_command(name, capsys, monkeypatch):
    from moeplan.cli import main

    monkeypatch.setattr("sys.argv", ["moeplan", name, "--help"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    assert f"moeplan {name}" in capsys.readouterr().out


def test_help_texts_have_no_square_brackets():
    # Rich reads "[plot]" in a help text as a style tag and drops it from --help.
    import typer.main

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        for text in texts:
            assert "[" not in text, (name, text)


def test_readme_cites_papers_not_the_internal_spec():
    # users do not have SPEC.md: the README cites the papers (section, table, figure)
    text = README.read_text(encoding="utf-8")
    assert "SPEC" not in text
    for citation in ("Krajewski et al. 2024", "Ludziejewski et al. 2025", "Besiroglu et al."):
        assert citation in text, citation


def test_readme_fit_example_runs_on_the_shipped_file(runner, monkeypatch):
    # the console session's `moeplan fit` line names a file in the repository, and its table is
    # what that file gives (the bootstrap columns are left out here: 1,000 refits take seconds)
    import json
    import shlex

    text = README.read_text(encoding="utf-8")
    block = re.search(r"\$ (moeplan fit .*?)\n(?!    )", text.replace("\\\n", " "), flags=re.S)
    assert block, "no `$ moeplan fit` line in the README"
    args = shlex.split(block.group(1))[1:]
    assert (REPO / args[1]).is_file(), args[1]
    i = args.index("--bootstrap")
    del args[i : i + 2]
    if "--out" in args:
        j = args.index("--out")
        del args[j : j + 2]
    monkeypatch.chdir(REPO)
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    fitted = json.loads(r.stdout)["coefficients"]
    for name in ("a", "alpha", "b", "beta", "c"):
        shown = re.search(rf"^{name}\s+([\d.]+)\s", text, flags=re.M)
        assert shown, name
        assert fitted[name] == pytest.approx(float(shown.group(1)), rel=5e-4), name
