"""Output hygiene (issue 7, item 4) and the JSON contract of every command (CLI.md).

- Plain text when stdout is not a terminal or NO_COLOR is set; Rich tables on a terminal.
- ``--json``: stdout is exactly one JSON document, warnings go to stderr (and into the
  document's ``warnings``), nothing else on stdout.
- The JSON keys CLI.md lists are pinned here for every command: renaming one breaks a test.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest
from reference import CONFIG_KEYS

from moeplan.cli import app, render

import fuzz_support as fz

ANSI = "\x1b["
BOX = set("━─│┃╭╮╰╯┏┓┗┛")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    paths = fz.make_files(tmp_path_factory.mktemp("output"))
    return {kind: paths[kind][0] for kind in ("proposal", "config", "runs", "law")}


def run(args, **env):
    from click.testing import CliRunner

    # the click command tree built once (typer's CliRunner rebuilds it, ~50 ms, per call)
    return CliRunner().invoke(fz.click_command(app), args, env=env or None)


def json_of(args):
    result = run(args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout), result  # the whole stdout is one document


# --------------------------------------------------------------------------- plain vs Rich

COMMANDS_WITH_TABLES = [
    ["optimize", "--flops", "1e22"],
    ["compare", "--flops", "1e22"],
    ["sweep", "--from", "1e20", "--to", "1e22", "--points", "3"],
    ["loss", "--params", "1B", "--tokens", "20B"],
    ["flops", "--d-model", "1024", "--n-blocks", "16", "--tokens", "1e10"],
    ["check", "{proposal}"],
    ["inspect", "{config}"],
    ["fit", "{runs}", "--starts", "1"],
    ["lr", "--params", "1.2B"],
    ["laws"],
]


def _fill(args, files):
    return [a.format(**files) for a in args]


@pytest.mark.parametrize("args", COMMANDS_WITH_TABLES, ids=lambda a: a[0])
def test_plain_text_when_not_a_terminal(files, args, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)  # not a TTY is enough
    result = run(_fill(args, files))
    assert result.exit_code in (0, 1), result.output
    assert result.stdout.strip()
    assert ANSI not in result.output
    assert not BOX & set(result.stdout), result.stdout[:300]


@pytest.mark.parametrize("args", COMMANDS_WITH_TABLES[:4], ids=lambda a: a[0])
def test_rich_tables_on_a_terminal(files, args, monkeypatch):
    # Rich is used exactly when use_rich() says so; pretend stdout is a terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(render, "use_rich", lambda stream=None: True)
    result = run(_fill(args, files))
    assert result.exit_code == 0, result.output
    assert BOX & set(result.stdout), result.stdout[:300]


def test_use_rich_rules(monkeypatch):
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert render.use_rich(Stream(True)) is True
    assert render.use_rich(Stream(False)) is False
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: set at all, whatever its value
    assert render.use_rich(Stream(True)) is False


def _on_a_pty(args, no_color):
    """Run the installed CLI with stdout on a pseudo-terminal; returns what it printed."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "MOEPLAN_DEBUG")}
    env.update(COLUMNS="120", TERM="xterm-256color")
    if no_color:
        env["NO_COLOR"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moeplan", *args], stdout=slave, stderr=subprocess.DEVNULL, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace"), proc.returncode


def test_terminal_gets_rich_and_no_color_gets_plain():
    args = ["loss", "--params", "1B", "--tokens", "20B"]
    rich, code = _on_a_pty(args, no_color=False)
    assert code == 0 and BOX & set(rich), rich[:300]
    plain, code = _on_a_pty(args, no_color=True)
    assert code == 0 and not BOX & set(plain) and ANSI not in plain, plain[:300]
    assert "Predicted loss" in plain and "irreducible" in plain


# --------------------------------------------------------------------------- --json: one document

JSON_COMMANDS = [
    ["optimize", "--flops", "1e22", "--json"],
    ["optimize", "--flops", "1e22", "--law", "ludziejewski2025-joint", "--json"],
    ["compare", "--flops", "1e20", "--flops", "1e22", "--json"],
    ["compare", "--flops", "1e22", "--law", "ludziejewski2025-joint", "--json"],
    ["sweep", "--from", "1e20", "--to", "1e22", "--points", "3", "--json"],
    [
        "sweep",
        "--from",
        "1e20",
        "--to",
        "1e22",
        "--points",
        "3",
        "--law",
        "ludziejewski2025-joint",
        "--json",
    ],
    ["loss", "--params", "100B", "--tokens", "20T", "--json"],
    ["flops", "--d-model", "1024", "--n-blocks", "16", "--tokens", "1e10", "--json"],
    ["check", "{proposal}", "--json"],
    ["check", "{proposal}", "--format", "json"],
    ["inspect", "{config}", "--json"],
    ["fit", "{runs}", "--starts", "1", "--json"],
    ["lr", "--params", "100B", "--json"],
    ["laws", "--json"],
]


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_json_is_one_document_and_warnings_go_to_stderr(files, args):
    doc, result = json_of(_fill(args, files))
    assert isinstance(doc, dict)
    assert isinstance(doc["warnings"], list)
    assert "warning:" not in result.stdout
    for w in doc["warnings"]:
        assert w in result.stderr
    # warnings are the only thing on stderr
    assert all(line.startswith("warning: ") for line in result.stderr.splitlines())


def test_json_warnings_are_really_exercised():
    # 100B parameters and 20T tokens are far outside the fitted range: warnings must show
    doc, result = json_of(["loss", "--params", "100B", "--tokens", "20T", "--json"])
    assert len(doc["warnings"]) >= 2 and result.stderr.count("warning: ") == len(doc["warnings"])


def test_json_numbers_are_plain_base_units():
    doc, _ = json_of(
        ["flops", "--d-model", "1024", "--n-blocks", "16", "--tokens", "10B", "--json"]
    )
    assert doc["tokens"] == 10_000_000_000 and isinstance(doc["n_active"], int)


# --------------------------------------------------------------------------- the JSON contract


def test_contract_optimize():
    doc, _ = json_of(["optimize", "--flops", "1e22", "--json"])
    assert {"budget_flops", "law", "recommended", "continuous", "candidates", "warnings"} <= set(
        doc
    )
    for cfg in (doc["recommended"], doc["continuous"], *doc["candidates"]):
        assert CONFIG_KEYS <= set(cfg), CONFIG_KEYS - set(cfg)
    doc, _ = json_of(["optimize", "--flops", "1e22", "--vocab-size", "32000", "--json"])
    assert {"n_active_with_embedding", "n_total_with_embedding", "n_embedding"} <= set(
        doc["recommended"]
    )


def test_contract_optimize_joint_law():
    doc, _ = json_of(
        [
            "optimize",
            "--flops",
            "1e22",
            "--law",
            "ludziejewski2025-joint",
            "--memory",
            "80GB",
            "--json",
        ]
    )
    assert {"budget_flops", "law", "recommended", "continuous", "candidates", "warnings"} <= set(
        doc
    )
    assert CONFIG_KEYS | {
        "n_active_with_embedding",
        "n_total_with_embedding",
        "n_embedding",
    } <= set(doc["recommended"])


def test_contract_compare():
    doc, _ = json_of(["compare", "--flops", "1e20", "--flops", "1e22", "--json"])
    assert len(doc["rows"]) == 2
    for row in doc["rows"]:
        assert {
            "budget_flops",
            "dense",
            "moe_g1",
            "moe_opt",
            "dense_compute_multiplier",
            "g1_compute_multiplier",
        } <= set(row)
        assert {"n_params", "tokens", "loss"} <= set(row["dense"])
        assert CONFIG_KEYS <= set(row["moe_g1"]) and CONFIG_KEYS <= set(row["moe_opt"])
    doc, _ = json_of(["compare", "--flops", "1e22", "--law", "ludziejewski2025-joint", "--json"])
    assert {"budget_flops", "dense", "moe_opt", "dense_compute_multiplier"} <= set(doc["rows"][0])


def test_contract_loss():
    doc, _ = json_of(["loss", "--params", "1B", "--tokens", "20B", "--json"])
    assert {"loss", "terms"} <= set(doc)
    assert set(doc["terms"]) == {"irreducible", "params", "data"}
    assert sum(doc["terms"].values()) == pytest.approx(doc["loss"], rel=1e-12)


def test_contract_flops():
    doc, _ = json_of(
        ["flops", "--d-model", "1024", "--n-blocks", "16", "--tokens", "1e10", "--json"]
    )
    assert {"flops", "router_flops", "n_active", "n_total", "router_params"} <= set(doc)


def test_contract_check(files):
    doc, _ = json_of(["check", files["proposal"], "--json"])
    assert {"passed", "checks", "proposal", "optimal"} <= set(doc)
    assert isinstance(doc["passed"], bool) and doc["checks"]
    for c in doc["checks"]:
        assert {"name", "passed", "value", "limit", "message"} <= set(c)


def test_contract_fit(files):
    doc, _ = json_of(["fit", files["runs"], "--starts", "1", "--bootstrap", "3", "--json"])
    assert {"coefficients", "objective", "rmse", "n_runs", "success", "percentiles"} <= set(doc)
    assert set(doc["coefficients"]) == {"a", "alpha", "b", "beta", "c", "g", "gamma"}
    doc, _ = json_of(["fit", files["runs"], "--law-form", "dense", "--starts", "1", "--json"])
    assert set(doc["coefficients"]) == {"a", "alpha", "b", "beta", "c"}


def test_contract_sweep():
    doc, _ = json_of(["sweep", "--from", "1e20", "--to", "1e22", "--points", "3", "--json"])
    assert {"law", "rows", "warnings"} <= set(doc) and len(doc["rows"]) == 3
    assert {
        "flops",
        "granularity",
        "d_model",
        "n_blocks",
        "n_active",
        "n_total",
        "tokens",
        "tokens_per_active_param",
        "router_flops",
        "loss",
        "loss_g1",
        "loss_dense",
        "g1_compute_multiplier",
        "dense_compute_multiplier",
    } <= set(doc["rows"][0])
    doc, _ = json_of(
        [
            "sweep",
            "--from",
            "1e20",
            "--to",
            "1e22",
            "--points",
            "3",
            "--law",
            "ludziejewski2025-joint",
            "--json",
        ]
    )
    assert {"budget_flops", "n_experts", "loss", "tokens"} <= set(doc["rows"][0])


def test_contract_inspect(files):
    doc, _ = json_of(["inspect", files["config"], "--json"])
    assert {
        "n_total",
        "n_active",
        "n_total_with_embedding",
        "n_active_with_embedding",
        "n_embedding",
        "expansion_rate",
        "granularity",
        "n_experts",
        "top_k",
        "flops_per_token",
    } <= set(doc)


def test_contract_laws_and_lr():
    doc, _ = json_of(["laws", "--json"])
    names = {law["name"] for law in doc["laws"]}
    assert {
        "krajewski2024-moe",
        "krajewski2024-moe-robust",
        "krajewski2024-moe-e16",
        "krajewski2024-dense",
        "hoffmann2022-chinchilla",
        "besiroglu2024-chinchilla",
        "ludziejewski2025-joint",
    } <= names
    for law in doc["laws"]:
        assert {"name", "form", "coefficients"} <= set(law)
    doc, _ = json_of(["lr", "--params", "1.2B", "--experts", "8", "--json"])
    assert {"learning_rate", "n_active", "n_experts"} <= set(doc)


def test_csv_is_rows_only():
    result = run(["sweep", "--from", "1e20", "--to", "1e22", "--points", "3", "--csv"])
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == 4
    assert lines[0].startswith("budget_flops,") and "warning" not in result.stdout
