"""The joint law's sweep checks every point against every fitted range (issue 10 item 7): N_act
with embeddings up to 2.7B, 0.5B to 80B tokens, total parameters up to 5B (SPEC §7 and the
paper's Section 3), for the optimal MoE and the dense (E = 1) row, each line naming its row,
the span of budgets and the worst factor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from moeplan import load_law, sweep

ACTIVE_MAX, TOKENS = 2.7e9, (5e8, 8e10)  # typed from SPEC §7


@pytest.fixture(scope="module")
def res():
    return sweep(load_law("ludziejewski2025-joint"), 1e17, 1e23, points=7)


def _line(res, row, what):
    lines = [w for w in res.warnings if w.startswith(row + ",") and what in w]
    assert len(lines) == 1, res.warnings
    return lines[0]


def test_tokens_above_the_runs_are_named_with_the_worst_factor(res):
    rows = res.rows()
    tokens = np.array([r["tokens"] for r in rows])
    over = tokens > TOKENS[1]
    assert over.sum() >= 2  # 1e22 and 1e23: more than 80B tokens
    w = _line(res, "optimal MoE", "tokens")
    assert f"at {over.sum()} of 7 budgets" in w
    assert f"{tokens.max() / TOKENS[1]:.3g}x above" in w


def test_active_parameters_every_point(res):
    n_act_e = np.array([r["n_active_with_embedding"] for r in res.rows()])
    w = _line(res, "optimal MoE", "active parameters (with embeddings)")
    assert f"{n_act_e.max() / ACTIVE_MAX:.3g}x above" in w
    assert f"at {(n_act_e > ACTIVE_MAX).sum()} of 7 budgets" in w


def test_total_parameters_and_the_dense_row(res):
    assert "total parameters" in _line(res, "optimal MoE", "total parameters")
    # the dense row is checked too: at 1e17 it trains on fewer than 0.5B tokens
    w = _line(res, "dense (E = 1)", "below the range")
    assert "at 1e17 FLOPs" in w and "tokens" in w
    # and for E = 1 the total is the active count: no second line saying the same
    assert not [w for w in res.warnings if w.startswith("dense (E = 1),") and "total" in w]


def test_inside_the_ranges_no_warning():
    quiet = sweep(load_law("ludziejewski2025-joint"), 1e18, 1e19, points=3)
    assert not [w for w in quiet.warnings if "fitted on" in w], quiet.warnings


def test_compare_names_every_row_with_its_factor():
    from moeplan import compare

    res = compare(load_law("ludziejewski2025-joint"), 1e21, experts=(2, 4, 8, 16, 32))
    row = res.rows[0]
    dense_n = row.dense.n_active_with_embedding
    moe_total = row.moe_opt.n_total_with_embedding
    assert dense_n > ACTIVE_MAX  # 5.8B active with embeddings at 1e21
    dense_lines = [
        w for w in res.warnings if w.startswith("at 1e21 FLOPs, the dense model (E = 1)")
    ]
    assert len(dense_lines) == 1 and f"{dense_n / ACTIVE_MAX:.3g}x above" in dense_lines[0]
    moe_lines = [w for w in res.warnings if w.startswith("at 1e21 FLOPs, the optimal MoE (E = 32)")]
    assert any(f"{moe_total / 5e9:.3g}x above" in w and "total parameters" in w for w in moe_lines)
    # no unnamed copy of a row's range warning
    assert not [w for w in res.warnings if w.startswith(("active parameters", "total parameters"))]


def test_check_of_a_real_model_names_its_total_parameters(runner):
    """Mixtral 8x7B under the joint law: 46.7B parameters with embeddings (transformers' exact
    count, tests/data/hf_param_counts.json) against the law's 5B total."""
    from moeplan.cli import app

    path = Path(__file__).parent / "data" / "hf-configs" / "mixtral-8x7b-v0.1.config.json"
    res = runner.invoke(
        app, ["check", str(path), "--tokens", "1T", "--law", "ludziejewski2025-joint"]
    )
    assert res.exit_code in (0, 1), res.output
    assert f"total parameters 4.67e+10 (with embeddings) is {46_702_792_704 / 5e9:.3g}x above" in (
        res.output
    )
