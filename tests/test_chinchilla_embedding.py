"""The Chinchilla sets plan with their own N: all parameters, embeddings included (issue 10
item 11; SPEC.md §1: "Hoffmann et al. 2022 counted all parameters, embeddings included").

References are written here by hand, independently of moeplan: the Chinchilla closed form

    N_opt = G·(C/6)^(β/(α+β)),  G = (α·A/(β·B))^(1/(α+β)),  D_opt = C/(6·N_opt)

with A, α, B, β typed in from SPEC.md §2, and the architecture N = 12·d³/r + k·V·d (r = 64,
V = 32,000, k = 1 tied: Hoffmann et al.'s Table A9 sizes count one V·d_model matrix, e.g.
the 44M model is 13·512²·8 + 32,000·512 = 43.6M, where a second matrix would make it 60M).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import moeplan
from moeplan.check import check_proposal
from moeplan.cli import app
from moeplan.proposal import proposal_from_mapping

# SPEC.md §2, typed in by hand
HOFFMANN = dict(A=406.4, alpha=0.34, B=410.7, beta=0.28, E=1.69)
BESIROGLU = dict(A=482.01, alpha=0.3478, B=2085.43, beta=0.3658, E=1.8172)
SETS = {"hoffmann2022-chinchilla": HOFFMANN, "besiroglu2024-chinchilla": BESIROGLU}
V = 32_000  # Hoffmann et al.'s SentencePiece vocabulary
R = 64.0  # the sets' aspect ratio d_model / n_blocks
CHINCHILLA_FLOPS = 5.76e23  # Chinchilla's (and Gopher's) budget


def n_opt(C, k):
    """Chinchilla's closed-form compute-optimal N (all parameters) for C = 6·N·D."""
    a, b = k["alpha"], k["beta"]
    G = (a * k["A"] / (b * k["B"])) ** (1.0 / (a + b))
    return G * (C / 6.0) ** (b / (a + b))


def loss(N, D, k):
    return k["E"] + k["A"] / N ** k["alpha"] + k["B"] / D ** k["beta"]


def with_embedding(d, n_blocks, vocab=V, tied=True):
    """All parameters of the dense block architecture: 12·d²·n_blocks + k·V·d."""
    return 12.0 * d * d * n_blocks + (1 if tied else 2) * vocab * d


def rel(x, y):
    return abs(x / y - 1.0)


# ---- the continuous optimum is Chinchilla's closed form, in N with embeddings -----------------


@pytest.mark.parametrize("name", sorted(SETS))
def test_continuous_optimum_is_the_closed_form_with_embeddings(name):
    k = SETS[name]
    res = moeplan.optimize(name, CHINCHILLA_FLOPS)
    c = res.continuous
    N = n_opt(CHINCHILLA_FLOPS, k)
    assert c.n_total_with_embedding == pytest.approx(N, rel=1e-6)
    assert c.tokens == pytest.approx(CHINCHILLA_FLOPS / (6.0 * N), rel=1e-6)
    assert c.loss == pytest.approx(loss(N, CHINCHILLA_FLOPS / (6.0 * N), k), rel=1e-9)
    # its width solves 12·d³/r + V·d = N (tied, the set's vocabulary), shape rule held
    d = c.d_model
    assert c.n_blocks == pytest.approx(d / R, rel=1e-12)
    assert rel(12.0 * d**3 / R + V * d, N) < 1e-6
    assert c.n_embedding == pytest.approx(V * d, rel=1e-12)
    assert c.n_total == pytest.approx(12.0 * d**3 / R, rel=1e-12)  # non-embedding, as before
    # the law's FLOPs: 6·N·D with N counting the embeddings
    assert c.flops == pytest.approx(CHINCHILLA_FLOPS, rel=1e-9)


def test_hoffmann_rounded_coefficients_give_32b_at_chinchillas_budget():
    """Issue 10: "rounded published coefficients give 32B / 3T at 5.76e23"."""
    c = moeplan.optimize("hoffmann2022-chinchilla", CHINCHILLA_FLOPS).continuous
    assert 31.5e9 < c.n_total_with_embedding < 32.5e9
    assert 2.9e12 < c.tokens < 3.1e12


def test_realized_configuration_counts_v_d_in_the_laws_n():
    k = HOFFMANN
    rec = moeplan.optimize("hoffmann2022-chinchilla", CHINCHILLA_FLOPS).recommended
    d, n = rec.d_model, rec.n_blocks
    assert d == int(d) and n == int(n)
    N = with_embedding(d, n)
    assert rec.n_total == 12.0 * d * d * n
    assert rec.n_total_with_embedding == pytest.approx(N, rel=1e-12)
    assert rec.n_embedding == V * d
    # the budget is 6·N·D with that N, and the loss is the law's at that N
    assert 6.0 * N * rec.tokens == pytest.approx(CHINCHILLA_FLOPS, rel=1e-9)
    assert rec.flops == pytest.approx(CHINCHILLA_FLOPS, rel=1e-9)
    assert rec.loss == pytest.approx(loss(N, rec.tokens, k), rel=1e-12)
    assert rec.memory_bytes == pytest.approx(2.0 * N, rel=1e-12)  # bf16, embeddings stored


@pytest.mark.parametrize(
    "vocab, tied", [(V, False), (50_257, True), (50_257, False), (128_000, True)]
)
def test_vocabulary_and_tying_change_the_width_not_the_laws_n(vocab, tied):
    """The law's optimum N does not depend on how it splits into blocks and embeddings; the
    width does: 12·d³/r + k·V·d = N with k = 2 untied."""
    res = moeplan.optimize("hoffmann2022-chinchilla", 1e22, vocab_size=vocab, tied_embeddings=tied)
    c = res.continuous
    N = n_opt(1e22, HOFFMANN)
    assert c.n_total_with_embedding == pytest.approx(N, rel=1e-6)
    kk = 1 if tied else 2
    assert rel(12.0 * c.d_model**3 / R + kk * vocab * c.d_model, N) < 1e-6
    rec = res.recommended
    assert rec.n_total_with_embedding == pytest.approx(
        with_embedding(rec.d_model, rec.n_blocks, vocab, tied), rel=1e-12
    )
    assert rec.loss == pytest.approx(
        loss(rec.n_total_with_embedding, rec.tokens, HOFFMANN), rel=1e-12
    )


def test_untied_is_narrower_than_tied():
    tied = moeplan.optimize("hoffmann2022-chinchilla", 1e21).continuous
    untied = moeplan.optimize("hoffmann2022-chinchilla", 1e21, tied_embeddings=False).continuous
    assert untied.d_model < tied.d_model
    assert untied.n_embedding == pytest.approx(2 * V * untied.d_model, rel=1e-12)


# ---- range warnings test the law's own N --------------------------------------------------


def test_range_warning_names_the_laws_n_with_embeddings():
    """The brief's example: at 5.76e23 the warning printed 3.13e+10, the non-embedding count."""
    res = moeplan.optimize("hoffmann2022-chinchilla", CHINCHILLA_FLOPS)
    rec = res.recommended
    want = f"{rec.n_total_with_embedding:.3g}"
    assert want != f"{rec.n_total:.3g}"  # the two counts print differently here
    (w,) = [w for w in res.warnings if w.startswith("parameters (with embeddings)")]
    assert f"parameters (with embeddings) {want} is" in w
    factor = rec.n_total_with_embedding / 1.6e10
    assert f"{factor:.3g}x above" in w


def test_range_warning_below_counts_the_embeddings():
    """A model whose blocks alone are below the fitted 70M but whose N with embeddings is
    inside: no warning about N (the old planner warned, testing the blocks alone)."""
    p = proposal_from_mapping(
        {
            "law": "hoffmann2022-chinchilla",
            "model": {"d_model": 768, "n_blocks": 8},  # 56.6M blocks + 24.6M embedding
            "training": {"tokens": "20B"},
        },
        "x.yaml",
    )
    r = check_proposal(p)
    assert not any("parameters" in w for w in r.warnings), r.warnings
    small = proposal_from_mapping(
        {
            "law": "hoffmann2022-chinchilla",
            "model": {"d_model": 512, "n_blocks": 6},  # 18.9M + 16.4M = 35.2M
            "training": {"tokens": "20B"},
        },
        "y.yaml",
    )
    r = check_proposal(small)
    N = with_embedding(512, 6)
    (w,) = [w for w in r.warnings if w.startswith("parameters (with embeddings)")]
    assert f"{N:.3g} is {7e7 / N:.3g}x below" in w


# ---- limits: what each counts -------------------------------------------------------------


def test_fixed_size_is_the_laws_n():
    rec = moeplan.optimize("hoffmann2022-chinchilla", CHINCHILLA_FLOPS, params=70e9).recommended
    assert rel(rec.n_total_with_embedding, 70e9) <= 0.03
    c = moeplan.optimize("hoffmann2022-chinchilla", CHINCHILLA_FLOPS, params=70e9).continuous
    assert c.n_total_with_embedding == pytest.approx(70e9, rel=1e-9)


def test_max_total_params_caps_the_non_embedding_count():
    res = moeplan.optimize("hoffmann2022-chinchilla", 1e23, max_total_params=5e9)
    c = res.continuous
    assert c.n_total == pytest.approx(5e9, rel=1e-9)  # binding, non-embedding
    assert c.n_total_with_embedding == pytest.approx(5e9 + V * c.d_model, rel=1e-9)
    assert res.recommended.n_total <= 5e9


def test_memory_counts_the_embeddings():
    cap = 20e9
    res = moeplan.optimize("hoffmann2022-chinchilla", 1e23, memory=cap)
    c = res.continuous
    # binding: (12·d³/r + V·d)·2 bytes = the cap
    assert 2.0 * with_embedding(c.d_model, c.d_model / R) == pytest.approx(cap, rel=1e-9)
    assert c.memory_bytes == pytest.approx(cap, rel=1e-9)
    assert res.recommended.memory_bytes <= cap


def test_inference_flops_are_two_per_law_parameter():
    F, Dinf = 1e22, 1e12
    res = moeplan.optimize("hoffmann2022-chinchilla", F, inference_tokens=Dinf)
    for cfg in (res.continuous, res.recommended):
        N = cfg.n_total_with_embedding
        assert cfg.inference_flops == pytest.approx(2.0 * N * Dinf, rel=1e-12)
        assert cfg.flops == pytest.approx(6.0 * N * cfg.tokens, rel=1e-12)
    assert res.continuous.flops + res.continuous.inference_flops == pytest.approx(F, rel=1e-9)


def test_target_loss_reaches_the_target_with_the_laws_n():
    res = moeplan.optimize("hoffmann2022-chinchilla", target_loss=2.0)
    c = res.continuous
    # closed-form least budget: at the optimum L - E = (A/N^α)(1 + α/β)
    k = HOFFMANN
    N = (k["A"] * (1 + k["alpha"] / k["beta"]) / (2.0 - k["E"])) ** (1 / k["alpha"])
    assert c.n_total_with_embedding == pytest.approx(N, rel=1e-6)
    assert loss(c.n_total_with_embedding, c.tokens, k) == pytest.approx(2.0, abs=1e-9)


# ---- compare, sweep, frontier, check ------------------------------------------------------


def test_compare_dense_row_under_a_chinchilla_law():
    # budgets where the MoE's loss stays above Hoffmann's floor (the multiplier is defined)
    res = moeplan.compare("krajewski2024-moe", [1e17, 1e20], dense_law="hoffmann2022-chinchilla")
    for row in res.rows:
        dense = row.dense
        N = n_opt(row.budget_flops, HOFFMANN)
        assert dense.n_total_with_embedding == pytest.approx(N, rel=1e-6)
        assert dense.n_total_with_embedding == pytest.approx(
            dense.n_total + V * dense.d_model, rel=1e-12
        )
        assert dense.loss == pytest.approx(loss(N, row.budget_flops / (6 * N), HOFFMANN), 1e-9)
    # at 1e17 the dense optimum's N with embeddings (~28M) is below the fitted 70M: named with
    # its own N and factor (the blocks alone, ~15M, would claim ~4.8x)
    small = res.rows[0].dense
    N = small.n_total_with_embedding
    assert any(
        "dense baseline (hoffmann2022-chinchilla)" in w
        and f"parameters (with embeddings) {N:.3g} is {7e7 / N:.3g}x below" in w
        for w in res.warnings
    ), res.warnings


def test_sweep_dense_baseline_warns_on_the_laws_n():
    res = moeplan.sweep("krajewski2024-moe", 1e17, 1e18, 3, dense_law="hoffmann2022-chinchilla")
    worst = n_opt(1e17, HOFFMANN)  # the smallest N, farthest below 70M
    (w,) = [
        w for w in res.warnings if "dense baseline" in w and "parameters (with embeddings)" in w
    ]
    assert f"worst: parameters (with embeddings) {worst:.3g} is {7e7 / worst:.3g}x below" in w


def test_frontier_is_the_closed_form_and_solves_the_cubic():
    budgets = [1e19, 1e21, 1e23, 1e25]
    fr = moeplan.frontier("besiroglu2024-chinchilla", budgets)
    for F, d, n_total, D in zip(budgets, fr.d_model, fr.n_total, fr.tokens):
        N = n_opt(F, BESIROGLU)
        assert rel(12.0 * d**3 / R + V * d, N) < 1e-6
        assert n_total == pytest.approx(12.0 * d**3 / R, rel=1e-12)
        assert D == pytest.approx(F / (6.0 * N), rel=1e-6)


def test_check_proposal_uses_the_laws_n():
    """Chinchilla itself: d_model 8192, 80 blocks, 1.4T tokens."""
    p = proposal_from_mapping(
        {
            "law": "hoffmann2022-chinchilla",
            "model": {"d_model": 8192, "n_blocks": 80},
            "training": {"tokens": "1.4T"},
        },
        "chinchilla.yaml",
    )
    r = check_proposal(p)
    N = with_embedding(8192, 80)
    m = r.proposal
    assert m["loss"] == pytest.approx(loss(N, 1.4e12, HOFFMANN), rel=1e-12)
    assert m["flops"] == pytest.approx(6.0 * N * 1.4e12, rel=1e-12)
    assert m["n_total_with_embedding"] == pytest.approx(N, rel=1e-12)
    # the optimum it is judged against: the closed form at the proposal's own FLOPs
    opt_N = n_opt(m["flops"], HOFFMANN)
    assert m["optimal_loss"] == pytest.approx(
        loss(opt_N, m["flops"] / (6 * opt_N), HOFFMANN), rel=1e-9
    )
    assert any(f"parameters (with embeddings) {N:.3g}" in w for w in r.warnings)


def test_check_proposal_with_its_own_vocabulary_untied():
    p = proposal_from_mapping(
        {
            "law": "hoffmann2022-chinchilla",
            "model": {
                "d_model": 2048,
                "n_blocks": 32,
                "vocab_size": 50_000,
                "tied_embeddings": False,
            },
            "training": {"flops": 1e21},
        },
        "own.yaml",
    )
    r = check_proposal(p)
    N = with_embedding(2048, 32, 50_000, tied=False)
    assert r.proposal["tokens"] == pytest.approx(1e21 / (6.0 * N), rel=1e-12)
    assert r.proposal["loss"] == pytest.approx(loss(N, 1e21 / (6 * N), HOFFMANN), rel=1e-12)


# ---- the dense Krajewski set stays non-embedding ------------------------------------------


def test_krajewski_dense_is_unchanged():
    k = dict(A=16.3, alpha=0.126, B=26.7, beta=0.127, E=0.47)  # SPEC.md §2, dense row
    c = moeplan.optimize("krajewski2024-dense", 1e20).continuous
    assert c.n_embedding is None and c.n_total_with_embedding is None
    assert c.n_total == pytest.approx(n_opt(1e20, k), rel=1e-6)
    assert c.n_total == pytest.approx(12.0 * c.d_model**3 / R, rel=1e-12)


def test_a_law_counting_embeddings_without_vocabulary_warns():
    import dataclasses

    law = dataclasses.replace(
        moeplan.load_law("hoffmann2022-chinchilla"), name="mine", vocab_size=None
    )
    res = moeplan.optimize(law, 1e21)
    assert any("states no vocabulary" in w for w in res.warnings)
    assert res.continuous.n_total == pytest.approx(n_opt(1e21, HOFFMANN), rel=1e-6)
    res = moeplan.optimize(law, 1e21, vocab_size=V)
    assert not any("states no vocabulary" in w for w in res.warnings)
    assert res.continuous.n_total_with_embedding == pytest.approx(n_opt(1e21, HOFFMANN), 1e-6)


# ---- time-optimal plans (optimize --profile) ---------------------------------------------


def test_time_optimal_plan_uses_the_laws_n():
    from moeplan.plan.timeopt import optimize_time

    res = optimize_time("hoffmann2022-chinchilla", "h200", gpus=64, days=10)
    rec = res.recommended.config
    N = with_embedding(rec.d_model, rec.n_blocks)
    assert rec.n_total_with_embedding == pytest.approx(N, rel=1e-12)
    assert rec.loss == pytest.approx(loss(N, rec.tokens, HOFFMANN), rel=1e-12)
    assert rec.flops == pytest.approx(6.0 * N * rec.tokens, rel=1e-12)


# ---- CLI --------------------------------------------------------------------------------


def test_cli_shows_both_counts(runner):
    r = runner.invoke(app, ["optimize", "--flops", "5.76e23", "--law", "hoffmann2022-chinchilla"])
    assert r.exit_code == 0, r.output
    assert "n_total (non-embedding)" in r.stdout
    assert "with embedding (the law's N)" in r.stdout
    r = runner.invoke(
        app,
        ["optimize", "--flops", "5.76e23", "--law", "hoffmann2022-chinchilla", "--json"],
    )
    rec = json.loads(r.stdout)["recommended"]
    assert rec["n_embedding"] == V * rec["d_model"]
    assert rec["n_total_with_embedding"] == rec["n_total"] + V * rec["d_model"]
    r = runner.invoke(
        app,
        [
            "optimize",
            "--flops",
            "1e21",
            "--law",
            "hoffmann2022-chinchilla",
            "--untied-embeddings",
            "--json",
        ],
    )
    rec = json.loads(r.stdout)["recommended"]
    assert rec["n_embedding"] == 2 * V * rec["d_model"]


# ---- property: every budget -------------------------------------------------------------


@settings(max_examples=40)
@given(
    log_f=st.floats(min_value=math.log(1e18), max_value=math.log(1e27)),
    name=st.sampled_from(sorted(SETS)),
)
def test_property_optimum_is_closed_form_and_realization_counts_embeddings(log_f, name):
    F = math.exp(log_f)
    k = SETS[name]
    res = moeplan.optimize(name, F, n_alternatives=1, use_bootstrap=False)
    c = res.continuous
    N = n_opt(F, k)
    assert c.n_total_with_embedding == pytest.approx(N, rel=1e-6)
    assert rel(12.0 * c.d_model**3 / R + V * c.d_model, N) < 1e-6
    rec = res.recommended
    N_rec = with_embedding(rec.d_model, rec.n_blocks)
    assert rec.n_total_with_embedding == pytest.approx(N_rec, rel=1e-12)
    assert 6.0 * N_rec * rec.tokens == pytest.approx(F, rel=1e-9)
    assert rec.loss == pytest.approx(loss(N_rec, rec.tokens, k), rel=1e-12)
    # the whole-number model can be no better than the continuous optimum (same law, same F)
    assert rec.loss >= c.loss - 1e-12
