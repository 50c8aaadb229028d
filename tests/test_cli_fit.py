"""`moeplan fit` through the in-process runner (and once through the installed script)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from moeplan import fit as fitmod
from moeplan.cli import app
from moeplan.coefficients import load_law

from conftest import data_path

FROZEN = Path(__file__).parent / "data" / "chinchilla_exhaustive.json"
from reference import MOE as PAPER_MOE  # noqa: E402
from reference import moe_loss  # noqa: E402

CHIN_ARGS = [
    "--law-form",
    "dense",
    "--column",
    "params=Model Size",
    "--column",
    "flops=Training FLOP",
    "--drop-highest",
    "5",
]


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def moe_csv(tmp_path):
    """Runs on a grid of N, D, G with 0.3% multiplicative noise (seeded)."""
    rng = np.random.default_rng(2024)
    lines = ["params,tokens,granularity,loss"]
    for n in (1.29e8, 4e8, 1.2e9, 3.7e9):
        for d in (1.6e10, 4.5e10, 1.3e11):
            for g in (1, 2, 4, 8, 16):
                loss = moe_loss(n, d, g) * float(np.exp(rng.normal(0, 0.003)))
                lines.append(f"{n!r},{d!r},{g},{loss!r}")
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def chinchilla_csv():
    return data_path("chinchilla", "svg_extracted_data.csv")


def test_chinchilla_json_contract_and_reference(runner, chinchilla_csv):
    r = run(runner, "fit", chinchilla_csv, *CHIN_ARGS, "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    for key in (
        "coefficients",
        "objective",
        "rmse",
        "n_runs",
        "success",
        "warnings",
        "r2",
        "message",
        "n_evaluations",
        "worst_runs",
    ):
        assert key in data, key
    assert set(data["coefficients"]) == {"a", "alpha", "b", "beta", "c"}
    assert data["n_runs"] == 240 and data["success"] is True
    assert data["law_form"] == "chinchilla" and data["tokens_from_flops"] is True
    ref = json.loads(FROZEN.read_text())
    assert data["objective"] <= ref["objective"] * (1 + 1e-12)
    assert "percentiles" not in data


def test_human_output_has_the_tables(runner, chinchilla_csv):
    r = run(runner, "fit", chinchilla_csv, *CHIN_ARGS, "--at-flops", "1e21,1e24", "--starts", "2")
    assert r.exit_code == 0, r.stderr
    for needle in (
        "Fitted dense (Chinchilla form) law (240 runs",
        "Fit quality",
        "RMSE",
        "Worst-fitted runs",
        "Compute-optimal allocation",
        "alpha",
        "row 6",
        "5 highest-loss dropped",
    ):
        assert needle in r.stdout, needle
    # 1e24 FLOPs needs ~1e11 parameters, far above the largest run (1.6e10)
    assert "an extrapolation" in r.stderr


def test_moe_bootstrap_out_and_reuse_as_law(runner, moe_csv, tmp_path):
    out = tmp_path / "mine.yaml"
    r = run(
        runner,
        "fit",
        moe_csv,
        "--bootstrap",
        "6",
        "--seed",
        "3",
        "--at-flops",
        "1e20,1e21",
        "--out",
        out,
        "--starts",
        "2",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data["coefficients"]) == {"a", "alpha", "b", "beta", "g", "gamma", "c"}
    assert set(data["percentiles"]) == set(data["coefficients"])
    for p in data["percentiles"].values():
        assert p["p10"] <= p["p50"] <= p["p90"]
    assert data["bootstrap"] == {"n_samples": 6, "n_failed": 0, "seed": 3}
    rows = data["compute_optimal"]
    assert [row["flops"] for row in rows] == [1e20, 1e21]
    for row in rows:
        for key in ("params", "tokens", "granularity"):
            assert row[key]["p10"] <= row[key]["p50"] <= row[key]["p90"]
    assert data["out"] == str(out)

    law = load_law(str(out))
    assert law.form == "fine_grained_moe" and law.name == "mine"
    assert law.coefficients == pytest.approx(data["coefficients"], rel=1e-12)
    assert len(law.bootstrap["gamma"]) == 6
    assert law.provenance["n_runs"] == 60 and len(law.provenance["runs_sha256"]) == 64
    assert law.fitted_range["granularity"] == (1.0, 16.0)

    # every command takes it as --law: the loss is the law's formula with the fitted numbers
    k = data["coefficients"]
    r = run(
        runner,
        "loss",
        "--params",
        "1B",
        "--tokens",
        "20B",
        "--granularity",
        "8",
        "--law",
        out,
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["loss"] == pytest.approx(moe_loss(1e9, 2e10, 8, k), rel=1e-12)
    # and `optimize` turns the stored bootstrap samples into 10-90% ranges
    r = run(runner, "optimize", "--flops", "1e21", "--law", out)
    assert r.exit_code == 0, r.stderr
    assert "6 bootstrap" in r.stdout


@pytest.fixture
def identifiable_csv(tmp_path):
    """175 runs that identify all seven coefficients: N over four decades (1e7 to 1e11), D over
    four (1e9 to 1e13), G from 1 to 64, 0.1% multiplicative noise (seeded).

    The 60-run grid of ``moe_csv`` (N over 1.5 decades, D over one) cannot: its best fit puts
    beta at 0.094 for a truth of 0.147, trading it against b and c.
    """
    rng = np.random.default_rng(2024)
    lines = ["params,tokens,granularity,loss"]
    for n in np.geomspace(1e7, 1e11, 5).tolist():
        for d in np.geomspace(1e9, 1e13, 5).tolist():
            for g in (1, 2, 4, 8, 16, 32, 64):
                loss = moe_loss(n, d, g) * float(np.exp(rng.normal(0, 0.001)))
                lines.append(f"{n!r},{d!r},{g},{loss!r}")
    path = tmp_path / "identifiable.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_recovered_coefficients_are_near_the_truth(runner, identifiable_csv):
    # every coefficient, not only alpha (measured: all within 0.8% here, 2.2% over three seeds)
    r = run(runner, "fit", identifiable_csv, "--starts", "4", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["n_runs"] == 175 and data["success"] is True
    for name, truth in PAPER_MOE.items():
        assert data["coefficients"][name] == pytest.approx(truth, rel=0.05), name
    assert data["rmse"] < 0.002 * 3.5  # the noise is 0.1% of losses up to ~3.4
    # holding gamma at its true value leaves the others where they were
    r = run(runner, "fit", identifiable_csv, "--fix", "gamma=0.58", "--starts", "4", "--json")
    data = json.loads(r.stdout)
    assert data["fixed"] == {"gamma": 0.58} and data["coefficients"]["gamma"] == 0.58
    for name, truth in PAPER_MOE.items():
        assert data["coefficients"][name] == pytest.approx(truth, rel=0.05), name


def test_yaml_runs_and_holdout(runner, tmp_path):
    n, d = (
        v.ravel() for v in np.meshgrid(np.geomspace(7e7, 1.6e10, 5), np.geomspace(5e9, 5e11, 4))
    )
    loss = 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28
    path = tmp_path / "runs.yaml"
    path.write_text(
        "".join(
            f"- {{params: {float(a)!r}, tokens: {float(b)!r}, loss: {float(c)!r}}}\n"
            for a, b, c in zip(n, d, loss)
        )
    )
    r = run(
        runner, "fit", path, "--law-form", "dense", "--holdout", "0.2", "--starts", "2", "--json"
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["coefficients"]["alpha"] == pytest.approx(0.34, rel=1e-5)
    hold = data["holdout"]
    assert hold["n_validation"] == 4 and hold["n_train"] == 16
    assert hold["validation_rmse"] < 1e-6  # noiseless: the refit extrapolates exactly
    r = run(runner, "fit", path, "--law-form", "dense", "--holdout", "0.2", "--starts", "1")
    assert "Hold-out: refit without the 4 lowest-loss runs" in r.stdout


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


HEADER = "params,tokens,granularity,loss\n"


@pytest.mark.parametrize(
    "name, text, extra, needles",
    [
        ("empty.csv", "", [], ["empty.csv", "empty"]),
        ("header.csv", HEADER, [], ["header.csv", "no runs"]),
        ("nan.csv", HEADER + "1e8,1e9,1,nan\n", [], ["nan.csv", "row 1", "'loss'"]),
        ("zero.csv", HEADER + "1e8,1e9,0,3\n", [], ["zero.csv", "row 1", "'granularity'"]),
        ("neg.csv", HEADER + "-1e8,1e9,1,3\n", [], ["neg.csv", "row 1", "'params'"]),
        ("word.csv", HEADER + "1e8,many,1,3\n", [], ["word.csv", "row 1", "'tokens'"]),
        (
            "dup.csv",
            "params,params,tokens,granularity,loss\n1,1,1,1,1\n",
            [],
            ["dup.csv", "header", "'params'", "twice"],
        ),
        ("nog.csv", "params,tokens,loss\n1e8,1e9,3\n", [], ["nog.csv", "'granularity'"]),
        ("few.csv", HEADER + "1e8,1e9,1,3\n2e8,2e9,2,2.9\n", [], ["few.csv", "2 runs", "7 free"]),
        ("ok.csv", HEADER + "1e8,1e9,1,3\n", ["--column", "params"], ["NAME=HEADER"]),
        ("ok.csv", HEADER + "1e8,1e9,1,3\n", ["--fix", "gamma"], ["NAME=VALUE"]),
        ("ok.csv", HEADER + "1e8,1e9,1,3\n", ["--law-form", "sparse"], ["moe or dense"]),
        ("ok.csv", HEADER + "1e8,1e9,1,3\n", ["--objective", "mse"], ["chinchilla or paper"]),
        ("ok.csv", HEADER + "1e8,1e9,1,3\n", ["--at-flops", "lots"], ["--at-flops"]),
        ("ok.csv", HEADER + "1e8,1e9,1,3\n", ["--huber-delta", "-1"], ["--huber-delta"]),
        ("ok.csv", HEADER + "1e8,1e9,1,3\n", ["--out", "x.json"], [".yaml"]),
        ("ok.csv", HEADER + "1e8,1e9,1,3\n", ["--bootstrap", "-1"], ["--bootstrap"]),
    ],
)
def test_bad_input_exits_2_with_one_line(runner, tmp_path, name, text, extra, needles):
    path = write(tmp_path, name, text)
    r = run(runner, "fit", path, *extra)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_single_granularity_is_refused_then_fixed_on_request(runner, tmp_path):
    lines = [HEADER.strip()]
    for n in (1e8, 4e8, 1.6e9):
        for d in (1e10, 4e10, 1.6e11):
            lines.append(f"{n},{d},8,{moe_loss(n, d, 8)!r}")
    path = write(tmp_path, "one_g.csv", "\n".join(lines) + "\n")
    r = run(runner, "fit", path)
    assert r.exit_code == 2 and "one granularity value" in r.stderr and "--fix" in r.stderr
    r = run(runner, "fit", path, "--fix", "gamma=0.58", "--fix", "g=2.1", "--starts", "2", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["coefficients"]["a"] == pytest.approx(18.1, rel=1e-4)


def test_not_converged_exits_3_and_writes_no_law(runner, moe_csv, tmp_path, monkeypatch):
    monkeypatch.setitem(fitmod.LBFGS_OPTIONS, "maxiter", 1)
    out = tmp_path / "never.yaml"
    r = run(runner, "fit", moe_csv, "--starts", "2", "--out", out, "--json")
    assert r.exit_code == 3
    data = json.loads(r.stdout)
    assert data["success"] is False and data["message"].startswith("did not converge")
    assert not out.exists()
    assert "did not converge" in r.stderr and "not written" in r.stderr


def test_plot_writes_a_png(runner, chinchilla_csv, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "fit.png"
    r = run(runner, "fit", chinchilla_csv, *CHIN_ARGS, "--starts", "1", "--plot", png)
    assert r.exit_code == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in r.stdout


@pytest.mark.parametrize(
    "name, needle",
    [
        ("x.txt", "use a .png"),
        ("missing/x.png", "does not exist"),
        ("folder.png", "is a directory"),
    ],
)
def test_bad_plot_path_fails_before_fitting_and_writes_nothing(
    runner, moe_csv, tmp_path, name, needle
):
    pytest.importorskip("matplotlib")
    out = tmp_path / "law.yaml"
    (tmp_path / "folder.png").mkdir()
    r = run(runner, "fit", moe_csv, "--starts", "2", "--out", out, "--plot", tmp_path / name)
    assert r.exit_code == 2 and needle in r.stderr and r.stdout == ""
    assert not out.exists()


def test_plot_without_matplotlib_says_what_to_install(runner, moe_csv, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = run(runner, "fit", moe_csv, "--plot", tmp_path / "x.png")
    assert r.exit_code == 2
    assert "moeplan[plot]" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_help_has_an_example(runner):
    r = run(runner, "fit", "--help")
    assert r.exit_code == 0 and "Example" in r.stdout and "--bootstrap" in r.stdout


def test_skip_invalid_fits_the_valid_runs_and_lists_the_others(runner, moe_csv, tmp_path):
    lines = moe_csv.read_text().splitlines()
    header, body = lines[0], lines[1:]
    bad = ["2e8,2e10,4,nan", "3e8,,8,3.0", "4e8,4e10"]  # NaN loss, empty tokens, short row
    messy = write(tmp_path, "messy.csv", "\n".join([header, body[0], *bad, *body[1:]]) + "\n")
    r = run(runner, "fit", messy, "--starts", "2")
    assert r.exit_code == 2 and r.stdout == ""
    assert "messy.csv" in r.stderr and "row 4" in r.stderr  # the ragged row is found first

    clean = run(runner, "fit", moe_csv, "--starts", "1", "--json")
    r = run(runner, "fit", messy, "--starts", "1", "--skip-invalid", "--json")
    assert r.exit_code == 0, r.stderr
    data, ref = json.loads(r.stdout), json.loads(clean.stdout)
    assert data["n_runs"] == ref["n_runs"] == 60
    assert data["skipped_runs"] == [
        {"run": "row 2 (line 3)", "column": "loss", "reason": "'nan'"},
        {"run": "row 3 (line 4)", "column": "tokens", "reason": "empty"},
        {"run": "row 4 (line 5)", "column": "granularity", "reason": "missing (short row)"},
    ]
    # the valid runs are the clean file's runs: the same fit
    assert data["coefficients"] == pytest.approx(ref["coefficients"], rel=1e-9)
    assert "left out 3 runs with a missing or NaN value: row 2 (line 3): 'loss'" in r.stderr
    assert "skipped_runs" not in ref  # without the flag the key is absent (unchanged output)

    r = run(runner, "fit", messy, "--starts", "1", "--skip-invalid")
    assert r.exit_code == 0 and "3 with missing or NaN values skipped" in r.stdout
