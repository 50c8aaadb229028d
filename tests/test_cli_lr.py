"""`moeplan lr` through the in-process runner (and once through the installed script)."""

from __future__ import annotations

import json

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
    assert data["fitted_range"] == {
        "n_active": [None, 2_480_000_000],
        "n_experts": [1, 8],
        "n_experts_validated": [4, 32],
    }
    assert data["warnings"] == [] and r.stderr == ""


def test_lr_human_table_and_default_dense(runner):
    r = run(runner, "--params", "100M")
    assert r.exit_code == 0
    assert f"{rule(1e8, 1):.4g}" in r.stdout
    assert "Ludziejewski" in r.stdout and "2.48B" in r.stdout and "2.7B" in r.stdout
    assert "E = 1 and 8" in r.stdout and "validated at E = 4 and 32" in r.stdout
    assert "E from 1 to 32" not in r.stdout


def test_lr_warns_outside_fitted_range(runner):
    r = run(runner, "--params", "5B", "--experts", "64", "--json")
    assert r.exit_code == 0
    warnings = json.loads(r.stdout)["warnings"]
    assert len(warnings) == 2
    assert any("2.48e+09" in w for w in warnings) and any("64 experts" in w for w in warnings)
    assert all(f"warning: {w}" in r.stderr for w in warnings)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--params", "1B", "--experts", "2.5"], "whole number"),
        (["--params", "1B", "--experts", "0"], "positive"),
        (["--params", "1B", "--experts", "-4"], "positive"),
        (["--params", "0", "--experts", "4"], "positive"),
        (["--params", "lots"], "not a number"),
        (["--experts", "4"], "--params"),
    ],
)
def test_lr_bad_input_exit_2(runner, args, needle):
    r = run(runner, *args)
    assert r.exit_code == 2
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_lr_help_has_example(runner):
    r = run(runner, "--help")
    assert r.exit_code == 0
    assert "moeplan lr --params 1.2B --experts 8" in r.stdout


def test_lr_limit_is_the_largest_model_without_embeddings(runner):
    # issue 10 item 12: the joint paper's largest model, 2.7B active parameters WITH embeddings
    # (SPEC §7: N_act = 2 d V + 13 n d^2, n = d/64, V = 50,257), has ~2.48B without them
    v = 50257
    lo, hi = 256.0, 8192.0
    for _ in range(200):
        d = 0.5 * (lo + hi)
        lo, hi = (d, hi) if 2 * d * v + 13 * d**3 / 64 < 2.7e9 else (lo, d)
    non_embedding = 13 * lo**3 / 64
    assert non_embedding == pytest.approx(2.48e9, rel=0.005)
    data = json.loads(run(runner, "--params", "2.6B", "--experts", "8", "--json").stdout)
    assert data["fitted_range"]["n_active"][1] == pytest.approx(non_embedding, rel=0.005)
    assert len(data["warnings"]) == 1 and "2.7B with embeddings" in data["warnings"][0]


@pytest.mark.parametrize(
    "experts, words",
    [(1, None), (4, None), (8, None), (16, "fitted on"), (32, None), (64, "extrapolation")],
)
def test_lr_experts_fitted_at_1_and_8_validated_at_4_and_32(runner, experts, words):
    data = json.loads(run(runner, "--params", "1B", "--experts", str(experts), "--json").stdout)
    if words is None:
        assert data["warnings"] == []
    else:
        assert len(data["warnings"]) == 1 and words in data["warnings"][0]
