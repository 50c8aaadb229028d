"""The joint law through the real optimize, compare, sweep and lr commands: JSON keys, tables,
CSV, one-line errors (the views of the former moeplan.cli.joint_views, now one renderer)."""

from __future__ import annotations

import json
import math

import pytest

from moeplan.cli import app
from tests import reference

LAW = "ludziejewski2025-joint"
#: the contract's keys (tests/reference.CONFIG_KEYS) and what joint-law configurations add
CONFIG_KEYS = reference.CONFIG_KEYS | {
    "n_active_with_embedding",
    "n_total_with_embedding",
    "n_embedding",
    "memory_bytes",
    "binding",
    "binding_constraint",
    "learning_rate",
    "n_heads",
    "head_dim",
    "loss_range",
}


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


def ok_json(runner, *args):
    r = run(runner, *args, "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["schema_version"] == 2 and data["command"] == args[0]
    assert all(f"warning: {w}" in r.stderr for w in data["warnings"])
    return data


def test_optimize_keys(runner):
    data = ok_json(
        runner,
        "optimize",
        "--law",
        LAW,
        "--flops",
        "1e21",
        "--memory",
        "16GB",
        "--kv-tokens",
        "100k",
        "--inference-tokens",
        "100B",
        "--experts",
        "1,2,4,8",
    )
    assert data["budget_flops"] == 1e21 and data["law"] == LAW
    assert data["problem"] == "total-memory + inference-aware" and data["choice"] == "n_experts"
    rec, cont = data["recommended"], data["continuous"]
    for cfg in (rec, cont):
        assert CONFIG_KEYS <= set(cfg)
        assert cfg["granularity"] == 1 and cfg["top_k"] == 1 and cfg["router_flops"] == 0
        assert cfg["expansion_rate"] == cfg["n_experts"] and cfg["d_expert"] == 3 * cfg["d_model"]
        assert cfg["n_active_with_embedding"] == cfg["n_active"] + cfg["n_embedding"]
        assert cfg["n_total_with_embedding"] == cfg["n_total"] + cfg["n_embedding"]
    assert isinstance(rec["d_model"], int) and rec["d_model"] == 64 * rec["n_blocks"]
    assert rec["memory_bytes"] <= 16e9 and rec["realizable"] is True
    assert cont["realizable"] is False
    assert rec["flops"] + rec["inference_flops"] == pytest.approx(1e21, rel=1e-12)
    losses = [c["loss"] for c in data["candidates"]]
    assert losses == sorted(losses) and len(losses) == 4
    assert {"constraint_cost", "unconstrained_loss", "feasible", "realized", "choice"} <= set(
        data["candidates"][0]
    )
    assert data["limits"]["memory"] == 16e9 and data["limits"]["memory_bytes"] == 16e9
    assert data["settings"]["experts"] == [1, 2, 4, 8]
    assert [c["name"] for c in data["constraints"]] == ["memory", "inference_tokens"]
    assert data["success"] is True and data["message"]


def test_optimize_human(runner):
    r = run(runner, "optimize", "--law", LAW, "--flops", "1e21", "--memory", "8GB")
    assert r.exit_code == 0, r.stderr
    for text in (
        "Recommended configuration (ludziejewski2025-joint",
        "experts E / top-k",
        "binding limit",
        "learning rate (Ludziejewski",
        "candidate number of experts",
        "whole blocks: loss",
        "Constraints",
    ):
        assert text in r.stdout, text


def test_optimize_leaves_out_experts_that_do_not_fit(runner):
    smallest = 2 * (2 * 64 * 50257 + 13 * 64 * 64)  # bf16, one block, dense
    r = run(
        runner,
        "optimize",
        "--law",
        LAW,
        "--flops",
        "1e20",
        "--memory",
        f"{smallest * 1.05:.0f}",
        "--json",
    )
    data = json.loads(r.stdout)
    infeasible = [c for c in data["candidates"] if not c["feasible"]]
    assert infeasible and all(c["reason"] for c in infeasible)
    assert data["candidates"][-1]["feasible"] is False  # infeasible last
    assert set(data["excluded_choices"]) == {c["choice"] for c in infeasible}
    assert any("cannot fit" in w for w in data["warnings"])


def test_compare(runner):
    data = ok_json(
        runner, "compare", "--law", LAW, "--flops", "1e20", "--flops", "1e22", "--memory", "16GB"
    )
    assert len(data["rows"]) == 2
    for row in data["rows"]:
        assert {
            "budget_flops",
            "dense",
            "moe_g1",
            "moe_opt",
            "dense_compute_multiplier",
            "g1_compute_multiplier",
            "rule_of_thumb",
            "loss_gain",
        } <= set(row)
        assert {"n_params", "tokens", "loss"} <= set(row["dense"])
        assert row["dense"]["n_experts"] == 1 and row["moe_opt"]["n_experts"] > 1
        assert row["moe_g1"] == row["moe_opt"] and row["g1_compute_multiplier"] == 1
        assert row["rule_of_thumb"]["holds"] in (True, False)
        assert row["dense"]["memory_bytes"] <= 16e9 and row["moe_opt"]["memory_bytes"] <= 16e9
        assert math.isclose(
            row["loss_gain"], row["dense"]["loss"] - row["moe_opt"]["loss"], rel_tol=1e-12
        )
    assert data["rows"][0]["loss_gain"] > 0 and data["rows"][0]["dense_compute_multiplier"] > 1
    r = run(runner, "compare", "--law", LAW, "--flops", "1e20", "--memory", "16GB")
    assert "rule of thumb" in r.stdout and "dense needs" in r.stdout
    r = run(runner, "compare", "--law", LAW, "--flops", "1e20", "--flops", "1e21", "--csv")
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("budget_flops,model,n_experts") and len(lines) == 5


def test_sweep_with_plot_and_csv(runner, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "sweep.png"
    r = run(
        runner,
        "sweep",
        "--law",
        LAW,
        "--from",
        "1e19",
        "--to",
        "1e24",
        "--points",
        "6",
        "--memory",
        "16GB",
        "--plot",
        out,
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and data["plot"] == str(out)
    assert [x["n_experts"] for x in data["rows"]][0] == 32
    assert data["rows"][-1]["n_experts"] == 1
    assert set(data["rows"][0]["loss_by_choice"]) == {"1", "2", "4", "8", "16", "32"}
    r = run(
        runner,
        "sweep",
        "--law",
        LAW,
        "--from",
        "1e19",
        "--to",
        "1e24",
        "--points",
        "6",
        "--memory",
        "16GB",
        "--csv",
    )
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 7 and lines[0].endswith(
        "loss_n_experts_1,loss_n_experts_2,loss_n_experts_4,loss_n_experts_8,"
        "loss_n_experts_16,loss_n_experts_32"
    )
    assert len({len(line.split(",")) for line in lines}) == 1
    r = run(
        runner,
        "sweep",
        "--law",
        LAW,
        "--from",
        "1e19",
        "--to",
        "1e21",
        "--points",
        "3",
        "--memory",
        "4GB",
    )
    assert "Memory-optimal number of experts" in r.stdout and "Plot" not in r.stdout


def test_learning_rate(runner):
    r = run(runner, "lr", "--params", "1e9", "--experts", "8", "--json")
    data = json.loads(r.stdout)
    assert data["learning_rate"] == pytest.approx(
        math.exp(8.39 - 0.81 * math.log(1e9) - 0.25 * math.log(8)), rel=1e-14
    )
    assert data["warnings"] == [] and r.stderr == ""


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--memory", "10MB"], "smallest possible model"),
        (["--experts", "2.5,4"], "whole number"),
        (["--experts", "0,4"], "positive"),
        (["--max-total-params", "50k"], "--max-total-params"),
        (["--inference-tokens", "1e15", "--flops", "1e20"], "inference"),
        (["--max-tokens", "1T"], "--max-tokens does not apply"),
    ],
)
def test_bad_input_exits_2_with_one_line(runner, args, needle):
    r = run(runner, "optimize", "--law", LAW, "--flops", "1e21", *args)
    assert r.exit_code == 2
    assert needle in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
