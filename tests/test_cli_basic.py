"""`moeplan loss`, `moeplan flops`, `moeplan laws` through the in-process runner."""

from __future__ import annotations

import json

import pytest

from moeplan.cli import app


def run(runner, *args):
    return runner.invoke(app, list(args))


def test_flops_worked_check_json(runner):
    r = run(
        runner,
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
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["n_active"] == 201_326_592
    assert data["n_total"] == 8_657_043_456
    assert data["flops"] == pytest.approx(1.3254e19, rel=5e-5)
    assert data["router_flops"] == pytest.approx(1.1744e18, rel=5e-5)
    assert data["router_params"] == 1024 * 64 * 8 * 16
    assert isinstance(data["warnings"], list) and data["warnings"]  # 8.66B is outside the range
    assert data["warnings"][0] in r.stderr


def test_flops_human_table(runner):
    r = run(
        runner,
        "flops",
        "--d-model",
        "1024",
        "--n-blocks",
        "16",
        "--tokens",
        "10B",
        "--granularity",
        "8",
    )
    assert r.exit_code == 0
    assert "router" in r.stdout and "8.86%" in r.stdout and "1.325e19" in r.stdout


def test_flops_with_n_experts_and_top_k(runner):
    a = json.loads(
        run(
            runner,
            "flops",
            "--d-model",
            "4096",
            "--n-blocks",
            "32",
            "--tokens",
            "1T",
            "--n-experts",
            "8",
            "--top-k",
            "2",
            "--vocab-size",
            "32000",
            "--json",
        ).stdout
    )
    assert a["expansion_rate"] == 4 and a["granularity"] == 2 and a["n_experts"] == 8
    assert a["n_embedding"] == 2 * 32000 * 4096
    assert a["n_total_with_embedding"] == 4096**2 * (8 * 4 + 4) * 32 + 2 * 32000 * 4096


def test_router_dominates_warning(runner):
    r = run(
        runner,
        "flops",
        "--d-model",
        "128",
        "--n-blocks",
        "2",
        "--tokens",
        "1e9",
        "--granularity",
        "64",
        "--json",
    )
    assert r.exit_code == 0
    warnings = json.loads(r.stdout)["warnings"]
    assert any("routing costs more FLOPs than the experts" in w for w in warnings)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["flops", "--d-model", "1x", "--n-blocks", "2", "--tokens", "1e9"], "--d-model"),
        (["flops", "--d-model", "100.5", "--n-blocks", "2", "--tokens", "1e9"], "whole number"),
        (["flops", "--d-model", "128", "--n-blocks", "2", "--tokens", "-1"], "positive"),
        (["flops", "--d-model", "128", "--n-blocks", "2", "--tokens", "nan"], "--tokens"),
        (
            ["flops", "--d-model", "128", "--n-blocks", "2", "--tokens", "1e9", "--n-experts", "8"],
            "--top-k",
        ),
        (
            [
                "flops",
                "--d-model",
                "128",
                "--n-blocks",
                "2",
                "--tokens",
                "1e9",
                "--n-experts",
                "8",
                "--top-k",
                "16",
            ],
            "more than",
        ),
        (["loss", "--params", "1B", "--tokens", "20B", "--law", "nope"], "unknown law"),
        (["loss", "--params", "1B", "--tokens", "20B", "--law", "/no/such.yaml"], "does not exist"),
        (
            [
                "loss",
                "--params",
                "1B",
                "--tokens",
                "20B",
                "--law",
                "krajewski2024-dense",
                "--granularity",
                "8",
            ],
            "--granularity",
        ),
        (["loss", "--params", "1B"], "--tokens"),
        (["loss", "--params", "0", "--tokens", "1"], "positive"),
        (["loss", "--params", "1B", "--tokens", "1e400"], "--tokens"),
        (["lss"], "loss"),
        (["loss", "--bogus"], "--bogus"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(runner, args, needle):
    r = run(runner, *args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.output and r.stdout == ""


def test_invalid_law_file_exit_2(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nform: chinchilla\ncoefficients: {a: 1}\ncolour: red\n")
    r = run(runner, "loss", "--params", "1B", "--tokens", "20B", "--law", str(bad))
    assert r.exit_code == 2 and "'colour'" in r.stderr


def test_loss_json_and_terms(runner):
    r = run(runner, "loss", "--params", "8.66B", "--tokens", "1e10", "--granularity", "8", "--json")
    data = json.loads(r.stdout)
    k = dict(a=18.1, alpha=0.115, b=30.8, beta=0.147, g=2.1, gamma=0.58, c=0.47)
    p = (k["g"] / 8 ** k["gamma"] + k["a"]) / 8.66e9 ** k["alpha"]
    d = k["b"] / 1e10 ** k["beta"]
    assert data["terms"] == pytest.approx({"irreducible": 0.47, "params": p, "data": d}, rel=1e-12)
    assert data["loss"] == pytest.approx(0.47 + p + d, rel=1e-12)
    assert data["law"] == "krajewski2024-moe"


@pytest.mark.parametrize(
    "law, expected",
    [
        ("krajewski2024-dense", 0.47 + 16.3 / 1e9**0.126 + 26.7 / 2e10**0.127),
        ("hoffmann2022-chinchilla", 1.69 + 406.4 / 1e9**0.34 + 410.7 / 2e10**0.28),
    ],
)
def test_loss_dense_sets(runner, law, expected):
    r = run(runner, "loss", "--params", "1B", "--tokens", "20B", "--law", law, "--json")
    assert json.loads(r.stdout)["loss"] == pytest.approx(expected, rel=1e-12)


def test_loss_joint_law(runner):
    r = run(
        runner,
        "loss",
        "--params",
        "1B",
        "--tokens",
        "20B",
        "--law",
        "ludziejewski2025-joint",
        "--n-experts",
        "8",
        "--json",
    )
    assert r.exit_code == 0
    assert json.loads(r.stdout)["n_experts"] == 8


def test_laws_lists_every_set(runner):
    r = run(runner, "laws", "--json")
    names = {law["name"] for law in json.loads(r.stdout)["laws"]}
    assert "krajewski2024-moe" in names and "ludziejewski2025-joint" in names
    r = run(runner, "laws")
    assert r.exit_code == 0 and "besiroglu2024-chinchilla" in r.stdout
    r = run(runner, "laws", "krajewski2024-moe")
    assert "arXiv:2402.07871" in r.stdout


def test_version_and_help(runner):
    from moeplan import __version__

    r = run(runner, "--version")
    assert r.exit_code == 0 and __version__ in r.stdout
    r = run(runner, "--help")
    assert r.exit_code == 0 and "flops" in r.stdout and "loss" in r.stdout
    for cmd in ("loss", "flops", "laws"):
        r = run(runner, cmd, "--help")
        assert r.exit_code == 0 and "Example" in r.stdout, cmd
