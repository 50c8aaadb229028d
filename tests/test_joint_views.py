"""Report builders for the joint law (moeplan.cli.joint_views): JSON keys, tables, CSV."""

from __future__ import annotations

import json
import math
from typing import Annotated, Optional

import pytest
import typer

from moeplan.cli import MoeplanGroup
from moeplan.cli.common import (
    MEMORY,
    NON_NEGATIVE,
    NUMBER_LIST,
    POSITIVE,
    CsvFlag,
    JsonFlag,
    LawOption,
    finish,
    output_format,
)
from moeplan.cli.joint_views import (
    joint_compare_report,
    joint_optimize_report,
    joint_sweep_report,
    learning_rate_report,
)
from moeplan.cli.render import Report, emit, plain_table, to_json
from moeplan.errors import InfeasibleError, InputError

LAW = "ludziejewski2025-joint"
CONFIG_KEYS = {"granularity", "expansion_rate", "n_experts", "top_k", "d_model", "n_blocks",
               "d_expert", "n_active", "n_total", "tokens", "flops", "router_flops", "loss",
               "tokens_per_active_param"}
JOINT_KEYS = {"n_active_with_embedding", "n_total_with_embedding", "n_embedding",
              "memory_bytes", "binding_constraint", "learning_rate"}


def emitted_json(report, capsys):
    emit(report, "json")
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def test_optimize_report_keys(capsys):
    rep = joint_optimize_report(LAW, 1e21, memory=16e9, kv_tokens=1e5, bytes_per_param=2,
                                inference_tokens=1e11, experts=[1, 2, 4, 8], max_total_params=None)
    assert isinstance(rep, Report) and rep.exit_code == 0
    data, err = emitted_json(rep, capsys)
    assert {"budget_flops", "law", "recommended", "continuous", "candidates",
            "warnings"} <= set(data)
    assert data["budget_flops"] == 1e21 and data["law"] == LAW
    assert data["problem"] == "total-memory + inference-aware"
    rec, cont = data["recommended"], data["continuous"]
    for cfg in (rec, cont):
        assert CONFIG_KEYS | JOINT_KEYS <= set(cfg)
        assert cfg["granularity"] == 1 and cfg["top_k"] == 1 and cfg["router_flops"] == 0
        assert cfg["expansion_rate"] == cfg["n_experts"] and cfg["d_expert"] == 3 * cfg["d_model"]
        assert cfg["n_active_with_embedding"] == cfg["n_active"] + cfg["n_embedding"]
        assert cfg["n_total_with_embedding"] == cfg["n_total"] + cfg["n_embedding"]
    # realizable: whole numbers, d_model = 64·n_blocks, memory within the limit
    assert isinstance(rec["d_model"], int) and rec["d_model"] == 64 * rec["n_blocks"]
    assert rec["memory_bytes"] <= 16e9 and rec["realizable"] is True
    assert cont["realizable"] is False
    # the budget is spent by training plus inference
    assert rec["flops"] + rec["inference_flops"] == pytest.approx(1e21, rel=1e-12)
    losses = [c["loss"] for c in data["candidates"]]
    assert losses == sorted(losses) and len(losses) == 4
    assert data["candidates"][0]["n_experts"] == rec["n_experts"]
    assert {"constraint_cost", "unconstrained_loss", "continuous_loss", "feasible"} <= set(
        data["candidates"][0])
    assert isinstance(data["warnings"], list)
    assert all(f"warning: {w}" in err for w in data["warnings"])
    assert data["constraints"]["memory_bytes"] == 16e9


def test_optimize_report_human_and_csv(capsys):
    rep = joint_optimize_report(LAW, 1e21, memory=8e9)
    text = "\n\n".join(plain_table(t) for t in rep.tables)
    assert "Recommended: E = 8 experts" in text
    assert "model-memory" in text and "memory limit" in text
    assert "learning rate" in text and "Ludziejewski" in text
    assert len(rep.csv_rows) == 6 and all(len(r) == len(rep.csv_columns) for r in rep.csv_rows)
    emit(rep, "csv")
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("n_experts,feasible,d_model") and len(lines) == 7


def test_optimize_report_leaves_out_experts_that_do_not_fit():
    smallest = 2 * (2 * 64 * 50257 + 13 * 64 * 64)  # bf16, one block, dense
    rep = joint_optimize_report(LAW, 1e20, memory=smallest * 1.05)
    data = json.loads(to_json(rep.data))
    infeasible = [c for c in data["candidates"] if not c["feasible"]]
    assert infeasible and all(c["reason"] for c in infeasible)
    assert data["candidates"][-1]["feasible"] is False  # infeasible last
    assert any("cannot fit" in w for w in rep.warnings)
    assert "no fit" in plain_table(rep.tables[1])


@pytest.mark.parametrize("kwargs, error", [
    (dict(memory=1e6), InfeasibleError), (dict(experts=[2.5]), InputError),
    (dict(experts=[0, 2]), InputError), (dict(max_total_params=1e3), InfeasibleError)])
def test_optimize_report_bad_input(kwargs, error):
    with pytest.raises(error):
        joint_optimize_report(LAW, 1e21, **kwargs)


def test_options_as_the_cli_passes_them():
    # unset CLI options arrive as None
    rep = joint_optimize_report(LAW, 1e20, experts=None, memory=None, kv_tokens=None,
                                bytes_per_param=None, inference_tokens=None,
                                max_total_params=None)
    assert rep.data["problem"] == "compute-optimal"
    assert rep.data["constraints"]["bytes_per_param"] == 2.0


def test_compare_report(capsys):
    rep = joint_compare_report(LAW, [1e20, 1e22], memory=16e9)
    data, _ = emitted_json(rep, capsys)
    assert len(data["rows"]) == 2
    for row in data["rows"]:
        assert {"budget_flops", "dense", "moe_g1", "moe_opt", "dense_compute_multiplier",
                "g1_compute_multiplier", "rule_of_thumb"} <= set(row)
        assert {"n_params", "tokens", "loss"} <= set(row["dense"])
        assert row["dense"]["n_experts"] == 1 and row["moe_opt"]["n_experts"] > 1
        assert CONFIG_KEYS <= set(row["moe_opt"]) and row["moe_g1"] == row["moe_opt"]
        assert row["g1_compute_multiplier"] == 1
        assert row["rule_of_thumb"]["holds"] in (True, False)
        assert row["dense"]["memory_bytes"] <= 16e9 and row["moe_opt"]["memory_bytes"] <= 16e9
        assert math.isclose(row["loss_gain"], row["dense"]["loss"] - row["moe_opt"]["loss"],
                            rel_tol=1e-12)
    # under a 16 GB limit MoE wins at 1e20 and dense needs more FLOPs to match it
    assert data["rows"][0]["loss_gain"] > 0 and data["rows"][0]["dense_compute_multiplier"] > 1
    text = plain_table(rep.tables[0]) + "\n".join(rep.lines)
    assert "rule of thumb" in text and "dense needs" in text
    assert len(rep.csv_rows) == 2 and all(len(r) == len(rep.csv_columns) for r in rep.csv_rows)


def test_sweep_report_with_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep.png"
    rep = joint_sweep_report(LAW, 1e19, 1e24, 6, memory=16e9, plot=out)
    assert out.exists() and rep.data["plot"] == str(out)
    assert any(str(out) in line for line in rep.lines)
    data, _ = emitted_json(rep, capsys)
    assert [r["n_experts"] for r in data["rows"]][0] == 32
    assert data["rows"][-1]["n_experts"] == 1
    assert set(data["rows"][0]["loss_by_experts"]) == {"1", "2", "4", "8", "16", "32"}
    assert rep.csv_columns[-6:] == ["loss_e1", "loss_e2", "loss_e4", "loss_e8", "loss_e16",
                                    "loss_e32"]
    assert all(len(r) == len(rep.csv_columns) for r in rep.csv_rows)
    emit(rep, "csv")
    assert len(capsys.readouterr().out.strip().splitlines()) == 7


def test_sweep_report_without_plot_has_no_lines():
    rep = joint_sweep_report(LAW, 1e19, 1e21, 3, memory=4e9)
    assert rep.lines == [] and "plot" not in rep.data
    assert "Memory-optimal number of experts" in plain_table(rep.tables[0])


def test_learning_rate_report(capsys):
    rep = learning_rate_report(1e9, 8)
    data, err = emitted_json(rep, capsys)
    assert data["learning_rate"] == pytest.approx(
        math.exp(8.39 - 0.81 * math.log(1e9) - 0.25 * math.log(8)), rel=1e-14)
    assert data["warnings"] == [] and err == ""


# ---- the views behind a command, wired as the team lead will wire `optimize` ----------------

def _mini_app():
    """A throwaway app with the CLI.md options, calling the views in one line each."""
    app = typer.Typer(cls=MoeplanGroup, add_completion=False)

    @app.command("optimize")
    def optimize(
        flops: Annotated[float, typer.Option("--flops", click_type=POSITIVE)],
        law: LawOption = None,
        experts: Annotated[Optional[list], typer.Option("--experts",
                                                        click_type=NUMBER_LIST)] = None,
        memory: Annotated[Optional[float], typer.Option("--memory", click_type=MEMORY)] = None,
        kv_tokens: Annotated[float, typer.Option("--kv-tokens", click_type=NON_NEGATIVE)] = 0.0,
        bytes_per_param: Annotated[float, typer.Option("--bytes-per-param",
                                                       click_type=POSITIVE)] = 2.0,
        inference_tokens: Annotated[float, typer.Option("--inference-tokens",
                                                        click_type=NON_NEGATIVE)] = 0.0,
        max_total_params: Annotated[Optional[float], typer.Option(
            "--max-total-params", click_type=POSITIVE)] = None,
        json_flag: JsonFlag = False,
        csv_flag: CsvFlag = False,
    ) -> None:
        finish(joint_optimize_report(law, flops, experts=experts, memory=memory,
                                     kv_tokens=kv_tokens, bytes_per_param=bytes_per_param,
                                     inference_tokens=inference_tokens,
                                     max_total_params=max_total_params),
               output_format(json_flag, csv_flag))

    @app.command("other")
    def other() -> None:  # a second command keeps `optimize` a subcommand
        pass

    return app


def test_views_through_a_command(runner):
    app = _mini_app()
    r = runner.invoke(app, ["optimize", "--law", LAW, "--flops", "1e21", "--memory", "80GB",
                            "--kv-tokens", "1M", "--inference-tokens", "100B",
                            "--experts", "1,2,4,8", "--json"])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["recommended"]["memory_bytes"] <= 80e9
    assert data["experts"] == [1, 2, 4, 8]
    r = runner.invoke(app, ["optimize", "--law", LAW, "--flops", "1e21", "--csv"])
    assert r.exit_code == 0 and r.stdout.startswith("n_experts,")


@pytest.mark.parametrize("args, needle", [
    (["--memory", "10MB"], "smallest possible model"),
    (["--experts", "2.5,4"], "whole number of experts"),
    (["--experts", "0,4"], "positive"),
    (["--max-total-params", "1M"], "--max-total-params"),
    (["--inference-tokens", "1e15", "--flops", "1e20"], "inference"),
])
def test_bad_input_exits_2_with_one_line(runner, args, needle):
    base = ["optimize", "--law", LAW, "--flops", "1e21"]
    r = runner.invoke(_mini_app(), base + args)
    assert r.exit_code == 2
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
