"""`moeplan optimize`, `compare` and `sweep` through the in-process runner."""

from __future__ import annotations

import csv
import io
import json
import math
import sys

import pytest
import yaml
from reference import (
    CONFIG_KEYS,  # noqa: E402
    dense_flops_to_reach,  # noqa: E402
)

from moeplan.cli import app
from moeplan.coefficients import law_to_mapping, load_law


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(r, *needles):
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------------------------
# optimize
# --------------------------------------------------------------------------------------------


def test_optimize_json_contract(runner):
    r = run(runner, "optimize", "--flops", "1e22", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    for key in ("budget_flops", "law", "recommended", "continuous", "candidates", "warnings"):
        assert key in data
    assert data["budget_flops"] == 1e22 and data["law"] == "krajewski2024-moe"
    rec, cont = data["recommended"], data["continuous"]
    assert CONFIG_KEYS <= set(rec) and CONFIG_KEYS <= set(cont)
    for key in ("d_model", "n_blocks", "n_experts", "top_k", "d_expert", "n_active", "n_total"):
        assert isinstance(rec[key], int), key  # whole numbers, plain JSON ints
    assert rec["d_model"] % 64 == 0
    assert rec["n_experts"] == rec["granularity"] * 64
    assert rec["flops"] == pytest.approx(1e22, rel=1e-12)
    spent = (
        (12 * rec["d_model"] ** 2 * 6 + rec["d_model"] * 64 * rec["granularity"] * 14)
        * rec["tokens"]
        * rec["n_blocks"]
    )
    assert spent == pytest.approx(1e22, rel=1e-12)
    assert not float(cont["d_model"]).is_integer()
    assert cont["best_real_granularity"] > 1
    assert len(data["candidates"]) == 9
    losses = [c["loss"] for c in data["candidates"]]
    assert losses == sorted(losses) and losses[0] == cont["loss"]
    # 3.9e11 parameters is far outside the fitted range: a warning, not a failure
    assert any("extrapolation" in w for w in data["warnings"])
    assert "extrapolation" in r.stderr


def test_optimize_human_tables(runner):
    r = run(runner, "optimize", "--flops", "1e21", "--gpu", "h100", "--gpus", "256")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    for text in (
        "Recommended configuration (krajewski2024-moe; 1.000e21 FLOPs)",
        "Best loss at each candidate granularity",
        "Realizable configurations",
        "d_model x n_blocks",
        "heads x head dim",
        "memory (2 bytes/param)",
        "tokens per active param",
        "router share",
        "predicted loss",
        "best real-valued G",
        "time on 256 x h100 at 40% MFU",
        "Train ",
    ):
        assert text in out, text
    assert "{" not in out  # no JSON on the human path


def test_optimize_gpu_time_json(runner):
    r = run(
        runner,
        "optimize",
        "--flops",
        "1e22",
        "--gpu",
        "mi300x",
        "--mfu",
        "0.5",
        "--gpus",
        "2048",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    t, rec = data["training_time"], data["recommended"]
    # executed FLOPs (SPEC §10): law + attention scores 12·n·s·d + output head 6·d·V per token
    d, n, D = rec["d_model"], rec["n_blocks"], rec["tokens"]
    executed = 1e22 + (12 * n * 4096 * d + 6 * d * 50257) * D
    assert t["law_flops"] == pytest.approx(1e22, rel=1e-9)
    assert t["flops"] == pytest.approx(executed, rel=1e-9)
    hours = executed / (1307e12 * 0.5) / 3600
    assert t["gpu_hours"] == pytest.approx(hours, rel=1e-9)
    assert t["days"] == pytest.approx(hours / 2048 / 24, rel=1e-9)


def test_optimize_constraints_say_what_binds(runner):
    r = run(
        runner,
        "optimize",
        "--flops",
        "1e22",
        "--memory",
        "80GB",
        "--kv-tokens",
        "100k",
        "--max-tokens",
        "2T",
    )
    assert r.exit_code == 0, r.stderr
    assert "Constraints" in r.stdout and "memory" in r.stdout and "80 GB" in r.stdout
    assert "binds: it costs" in r.stderr
    r = run(
        runner, "optimize", "--flops", "1e22", "--memory", "80GB", "--kv-tokens", "100k", "--json"
    )
    data = json.loads(r.stdout)
    (mem,) = data["constraints"]
    assert mem["name"] == "memory" and mem["binding"] and mem["loss_cost"] > 0
    rec = data["recommended"]
    weights = rec["n_total"] + rec["router_params"]
    assert (weights + 2 * 100e3 * rec["n_blocks"] * rec["d_model"]) * 2 <= 80e9


def test_optimize_target_loss_and_params(runner):
    r = run(runner, "optimize", "--target-loss", "2.3", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["target_loss"] == 2.3
    assert data["continuous"]["loss"] == pytest.approx(2.3, rel=1e-9)
    r2 = run(runner, "optimize", "--flops", str(data["budget_flops"] * 0.999), "--json")
    assert json.loads(r2.stdout)["continuous"]["loss"] > 2.3
    r = run(runner, "optimize", "--flops", "1e21", "--params", "5B", "--json")
    data = json.loads(r.stdout)
    assert data["continuous"]["n_total"] == pytest.approx(5e9, rel=1e-12)
    assert abs(data["recommended"]["n_total"] / 5e9 - 1) <= 0.05


def test_optimize_dense_law_and_granularity_list(runner):
    r = run(runner, "optimize", "--flops", "1e21", "--law", "krajewski2024-dense", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)["recommended"]
    assert rec["n_experts"] == 1 and rec["router_flops"] == 0 and rec["n_total"] == rec["n_active"]
    r = run(runner, "optimize", "--flops", "1e21", "--law", "krajewski2024-dense")
    assert "Recommended dense model" in r.stdout and "granularity" not in r.stdout.lower()
    r = run(runner, "optimize", "--flops", "1e21", "--granularity", "4,8", "--json")
    data = json.loads(r.stdout)
    assert {c["granularity"] for c in data["candidates"]} == {4, 8}
    r = run(runner, "optimize", "--flops", "1e21", "--granularity", "8", "--json")
    assert json.loads(r.stdout)["recommended"]["granularity"] == 8


def test_optimize_with_bootstrap_law_file(runner, tmp_path):
    mapping = law_to_mapping(load_law("krajewski2024-moe"))
    mapping["name"] = "boot"
    mapping["bootstrap"] = {
        k: [v * f for f in (0.98, 0.99, 1.0, 1.01, 1.02)]
        for k, v in mapping["coefficients"].items()
    }
    path = tmp_path / "boot.yaml"
    path.write_text(yaml.safe_dump(mapping))
    r = run(runner, "optimize", "--flops", "1e21", "--law", path)
    assert r.exit_code == 0, r.stderr
    assert "Uncertainty over 5 bootstrap fits" in r.stdout
    data = json.loads(run(runner, "optimize", "--flops", "1e21", "--law", path, "--json").stdout)
    b = data["bootstrap"]
    assert b["samples"] == 5 and b["percentiles"] == [10, 50, 90]
    assert b["n_total"][0] <= b["n_total"][1] <= b["n_total"][2]


@pytest.mark.parametrize(
    "args,needles",
    [
        (["--flops", "0"], ["--flops", "positive"]),
        (["--flops", "-1e20"], ["--flops", "positive"]),
        (["--flops", "nan"], ["--flops", "not a number"]),
        (["--flops", "inf"], ["--flops", "not a number"]),
        (["--flops", "1e22", "--granularity", "0"], ["--granularity", "positive"]),
        (["--flops", "1e22", "--granularity", "4,-8"], ["--granularity", "positive"]),
        (["--flops", "1e22", "--memory", "1MB"], ["smallest model", "MB"]),
        (["--target-loss", "0.45"], ["floor", "0.47"]),
        (["--target-loss", "1.2", "--memory", "10GB"], ["cannot be reached", "10 GB"]),
        (
            ["--flops", "1e22", "--law", "ludziejewski2025-joint", "--granularity", "8"],
            ["--granularity", "does not apply", "ludziejewski2025-joint"],
        ),
        (
            ["--target-loss", "2.2", "--law", "ludziejewski2025-joint", "--gpu", "h100"],
            ["--target-loss", "does not apply"],
        ),
        (["--law", "ludziejewski2025-joint"], ["--flops"]),
        (["--flops", "1e22", "--experts", "4"], ["--experts", "ludziejewski2025-joint"]),
        (
            ["--flops", "1e22", "--law", "ludziejewski2025-joint", "--experts", "2.5"],
            ["whole number"],
        ),
        (["--flops", "1e22", "--law", "ludziejewski2025-joint", "--memory", "10MB"], ["smallest"]),
        (["--flops", "1e22", "--gpu", "tpu"], ["unknown GPU", "h100"]),
        (["--flops", "1e22", "--mfu", "0.5"], ["--gpu"]),
        (["--flops", "1e22", "--gpu", "h100", "--mfu", "2"], ["--mfu"]),
        (["--params", "7B"], ["--flops", "--target-loss"]),
        (["--flops", "1e22", "--target-loss", "2"], ["not both"]),
        (["--flops", "1e22", "--max-granularity", "0.5"], ["max granularity"]),
        (["--flops", "1e21", "--law", "krajewski2024-dense", "--granularity", "8"], ["dense"]),
        (["--flops", "1e22", "--law", "no-such-law"], ["unknown law"]),
    ],
)
def test_optimize_bad_input_is_one_line_exit_2(runner, args, needles):
    one_line_error(run(runner, "optimize", *args), *needles)


# --------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------


def test_compare_json_and_multipliers(runner):
    r = run(runner, "compare", "--flops", "1e20", "--flops", "1e23", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["rows"]) == 2
    for row, budget in zip(data["rows"], (1e20, 1e23)):
        assert row["budget_flops"] == budget
        dense, g1, opt = row["dense"], row["moe_g1"], row["moe_opt"]
        assert {"n_params", "tokens", "loss"} <= set(dense)
        assert CONFIG_KEYS <= set(g1) and CONFIG_KEYS <= set(opt)
        assert g1["granularity"] == 1 and opt["granularity"] > 1
        assert dense["loss"] > g1["loss"] > opt["loss"]
        # dense: Chinchilla optimum, F = 6ND
        assert 6 * dense["n_params"] * dense["tokens"] == pytest.approx(budget, rel=1e-9)
        expected = dense_flops_to_reach(opt["loss"]) / budget
        assert row["dense_compute_multiplier"] == pytest.approx(expected, rel=1e-9)
        assert 1 < row["g1_compute_multiplier"] < row["dense_compute_multiplier"]
    # the paper: ~20x at 1e20 FLOPs, growing with the budget
    m20, m23 = (row["dense_compute_multiplier"] for row in data["rows"])
    assert 15 < m20 < 30 and m23 > m20


def test_compare_human_and_csv(runner):
    r = run(runner, "compare", "--flops", "1e20")
    assert r.exit_code == 0, r.stderr
    assert "dense (krajewski2024-dense)" in r.stdout and "MoE, optimal G" in r.stdout
    verdict = [ln for ln in r.stdout.splitlines() if ln.startswith("At 1e20 FLOPs")]
    assert len(verdict) == 1 and "dense model needs" in verdict[0]
    r = run(runner, "compare", "--flops", "1e20", "--flops", "1e21", "--csv")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0][:3] == ["budget_flops", "model", "granularity"]
    assert [row[1] for row in rows[1:]] == ["dense", "moe_g1", "moe_opt"] * 2


def test_compare_without_a_comparable_dense_law(runner):
    r = run(runner, "compare", "--flops", "1e20", "--law", "krajewski2024-moe-e16", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["rows"][0]["dense"] is None
    assert data["rows"][0]["dense_compute_multiplier"] is None
    assert any("--dense-law" in w for w in data["warnings"])
    r = run(runner, "compare", "--flops", "1e20", "--dense-law", "hoffmann2022-chinchilla")
    assert r.exit_code == 0 and "not comparable" in r.stderr


@pytest.mark.parametrize(
    "args,needles",
    [
        (["--flops", "0"], ["--flops"]),
        (["--flops", "1e20", "--law", "krajewski2024-dense"], ["MoE law"]),
        (
            [
                "--flops",
                "1e20",
                "--law",
                "ludziejewski2025-joint",
                "--dense-law",
                "krajewski2024-dense",
            ],
            ["--dense-law", "does not apply"],
        ),
        (
            ["--flops", "1e20", "--law", "ludziejewski2025-joint", "--granularity", "8"],
            ["--granularity", "does not apply"],
        ),
        (["--flops", "1e20", "--dense-law", "krajewski2024-moe"], ["--dense-law"]),
        (["--flops", "1e20", "--json", "--csv"], ["--json", "--csv"]),
    ],
)
def test_compare_bad_input(runner, args, needles):
    one_line_error(run(runner, "compare", *args), *needles)


# --------------------------------------------------------------------------------------------
# sweep
# --------------------------------------------------------------------------------------------


def test_sweep_csv_json_and_table(runner):
    r = run(runner, "sweep", "--from", "1e18", "--to", "1e24", "--points", "7", "--csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 7
    flops = [float(x["flops"]) for x in rows]
    assert flops[0] == 1e18 and flops[-1] == 1e24
    for a, b in zip(flops, flops[1:]):
        assert b / a == pytest.approx(10.0, rel=1e-9)
    gs = [float(x["granularity"]) for x in rows]
    assert gs == sorted(gs) and gs[-1] > gs[0]  # optimal G grows with the budget
    mult = [float(x["dense_compute_multiplier"]) for x in rows]
    assert mult == sorted(mult)  # ... and so does the advantage
    for x in rows:
        assert float(x["loss"]) < float(x["loss_g1"]) < float(x["loss_dense"])
        assert float(x["dense_compute_multiplier"]) == pytest.approx(
            dense_flops_to_reach(float(x["loss"])) / float(x["flops"]), rel=1e-9
        )
    data = json.loads(
        run(runner, "sweep", "--from", "1e18", "--to", "1e24", "--points", "7", "--json").stdout
    )
    assert len(data["rows"]) == 7 and data["law"] == "krajewski2024-moe"
    r = run(runner, "sweep", "--from", "1e18", "--to", "1e24", "--points", "7")
    assert "Compute-optimal frontier" in r.stdout and "dense needs" in r.stdout


# SVG here; a PNG through the same save_figure: test_cli_joint::test_sweep_with_plot_and_csv
# (sweep --plot) and test_cli_fit::test_plot_writes_a_png
@pytest.mark.parametrize("suffix,magic", [(".svg", b"<?xml")])
def test_sweep_plot(runner, tmp_path, suffix, magic):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"frontier{suffix}"
    r = run(runner, "sweep", "--from", "1e18", "--to", "1e23", "--points", "12", "--plot", path)
    assert r.exit_code == 0, r.stderr
    assert path.read_bytes()[:5].startswith(magic)
    assert f"Plot written to {path}" in r.stdout
    assert path.stat().st_size > 10_000


def test_sweep_plot_without_matplotlib(runner, tmp_path, monkeypatch):
    for name in (
        "matplotlib",
        "matplotlib.figure",
        "matplotlib.backends",
        "matplotlib.backends.backend_agg",
    ):
        monkeypatch.setitem(sys.modules, name, None)
    path = tmp_path / "f.png"
    r = run(runner, "sweep", "--from", "1e18", "--to", "1e23", "--plot", path)
    one_line_error(r, "moeplan[plot]")
    assert not path.exists()


@pytest.mark.parametrize(
    "args,needles",
    [
        (["--from", "1e22", "--to", "1e20"], ["--from 1e+22 is above --to 1e+20"]),
        (["--from", "1e20", "--to", "1e22", "--points", "0"], ["--points"]),
        (["--from", "1e20", "--to", "1e22", "--points", "200000"], ["points"]),
        (
            ["--from", "1e20", "--to", "1e22", "--points", "1"],
            ["one point needs --from equal to --to"],
        ),
        (["--from", "0", "--to", "1e22"], ["--from"]),
        (["--from", "1e20", "--to", "1e22", "--plot", "out.txt"], [".png, .svg or .pdf"]),
        (["--from", "1e20", "--to", "1e22", "--plot", "/no/such/dir/f.png"], ["does not exist"]),
        (
            ["--from", "1e20", "--to", "1e22", "--law", "ludziejewski2025-joint", "--c-r", "6"],
            ["--c-r", "does not apply"],
        ),
        (["--from", "1e20", "--to", "1e22", "--memory", "1MB"], ["--memory", "smallest"]),
    ],
)
def test_sweep_bad_input(runner, args, needles):
    r = run(runner, "sweep", *args)
    one_line_error(r, *needles)
    assert "flops_" not in r.stderr  # the library's parameter names appear as flags


def test_help_has_examples(runner):
    for cmd in ("optimize", "compare", "sweep"):
        r = run(runner, cmd, "--help")
        assert r.exit_code == 0
        assert "Example: moeplan " + cmd in " ".join(r.stdout.split())


def test_json_numbers_are_plain(runner):
    data = json.loads(run(runner, "optimize", "--flops", "3e20", "--json").stdout)

    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, float):
            assert math.isfinite(v)

    walk(data)


# --- the joint law through the same three commands (SPEC §7) ---------------------------------


def test_optimize_joint_law_under_memory(runner):
    r = run(
        runner,
        "optimize",
        "--flops",
        "1e21",
        "--law",
        "ludziejewski2025-joint",
        "--memory",
        "16GB",
        "--kv-tokens",
        "4k",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    rec = data["recommended"]
    for key in ("budget_flops", "law", "recommended", "continuous", "candidates", "warnings"):
        assert key in data
    # memory respected exactly: (N_total + 2 T n_blocks d_model) * 2 bytes <= 16e9,
    # N_total with embeddings = 2 d V + (4 + 9E) n d^2 (SPEC §7), written out here
    d, n, E, V = rec["d_model"], rec["n_blocks"], rec["n_experts"], 50257
    n_total = 2 * d * V + (4 + 9 * E) * n * d * d
    assert (n_total + 2 * 4000 * n * d) * 2 <= 16e9
    assert rec["n_total_with_embedding"] == pytest.approx(n_total, rel=1e-12)
    assert d == 64 * n and rec["top_k"] == 1
    assert 6 * (2 * d * V + 13 * n * d * d) * rec["tokens"] == pytest.approx(1e21, rel=1e-9)


def test_compare_and_sweep_joint_law(runner, tmp_path):
    r = run(
        runner,
        "compare",
        "--flops",
        "1e21",
        "--law",
        "ludziejewski2025-joint",
        "--memory",
        "16GB",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    row = json.loads(r.stdout)["rows"][0]
    assert row["moe_opt"]["loss"] <= row["dense"]["loss"]
    r = run(
        runner,
        "sweep",
        "--from",
        "1e19",
        "--to",
        "1e23",
        "--points",
        "5",
        "--law",
        "ludziejewski2025-joint",
        "--memory",
        "16GB",
        "--csv",
    )
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("budget_flops,n_experts") and len(lines) == 6
    best_e = [float(line.split(",")[1]) for line in lines[1:]]
    assert best_e[0] > best_e[-1]  # under a memory cap the best E falls as the budget grows


def test_sweep_warns_like_compare_for_a_dense_law_fitted_on_other_data(runner):
    r = run(
        runner,
        "sweep",
        "--from",
        "1e20",
        "--to",
        "1e21",
        "--points",
        "2",
        "--dense-law",
        "hoffmann2022-chinchilla",
        "--json",
    )
    assert r.exit_code == 0 and "not comparable" in r.stderr


@pytest.mark.parametrize("law", ["krajewski2024-moe", "ludziejewski2025-joint"])
def test_compare_and_sweep_take_memory_limits_under_every_law(runner, law):
    """--memory bounds every model of compare and sweep, whatever the law (SPEC §7 memory:
    weights, router and embeddings where counted, 2 bytes each)."""
    r = run(runner, "compare", "--flops", "1e22", "--law", law, "--memory", "16GB", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["schema_version"] == 2 and data["command"] == "compare"
    row = data["rows"][0]
    for key in ("dense", "moe_g1", "moe_opt"):
        assert row[key]["memory_bytes"] <= 16e9 * (1 + 1e-12)
    free = json.loads(run(runner, "compare", "--flops", "1e22", "--law", law, "--json").stdout)
    assert free["rows"][0]["moe_opt"]["loss"] < row["moe_opt"]["loss"]  # the limit binds
    r = run(
        runner,
        "sweep",
        "--from",
        "1e20",
        "--to",
        "1e23",
        "--points",
        "4",
        "--law",
        law,
        "--memory",
        "16GB",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    for x in json.loads(r.stdout)["rows"]:
        assert x["budget_flops"] == x["flops"] and x["loss"] is not None


def test_every_law_has_the_same_json_keys(runner):
    """CLI.md Version 2: optimize, compare and sweep documents, their rows and configuration
    objects have the same key sets under every law."""
    keys = {}
    for law in ("krajewski2024-moe", "krajewski2024-dense", "ludziejewski2025-joint"):
        docs = {}
        for args in (
            ["optimize", "--flops", "1e21"],
            ["compare", "--flops", "1e21"],
            ["sweep", "--from", "1e20", "--to", "1e21", "--points", "2"],
        ):
            r = run(runner, *args, "--law", law, "--json")
            if r.exit_code == 2 and args[0] != "optimize":  # compare/sweep need an MoE law
                assert law == "krajewski2024-dense", r.stderr
                continue
            assert r.exit_code == 0, r.stderr
            d = json.loads(r.stdout)
            assert d["schema_version"] == 2 and d["command"] == args[0]
            docs[args[0]] = set(d)
            if args[0] == "optimize":
                docs["config"] = set(d["recommended"])
                docs["candidate"] = set(d["candidates"][0])
            else:
                docs[args[0] + "_row"] = set(d["rows"][0])
            if args[0] == "compare":
                docs["dense"] = set(d["rows"][0]["dense"])
                assert set(d["rows"][0]["moe_opt"]) == docs["config"]
        keys[law] = docs
    moe, dense, joint = (
        keys[k] for k in ("krajewski2024-moe", "krajewski2024-dense", "ludziejewski2025-joint")
    )
    assert moe == joint
    assert {k: v for k, v in moe.items() if k in dense} == dense
    assert {
        "n_active",
        "n_total",
        "tokens",
        "flops",
        "loss",
        "d_model",
        "n_blocks",
        "n_experts",
        "top_k",
        "d_expert",
        "n_heads",
        "head_dim",
        "granularity",
        "expansion_rate",
        "loss_range",
    } <= moe["config"]
    assert "budget_flops" in moe["compare_row"] and "budget_flops" in moe["sweep_row"]
