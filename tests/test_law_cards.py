"""Issue 10, items 10, 11, 13 (data), 14: each shipped set's own fitted range, N convention,
published precision and loss definition, and what `moeplan laws NAME` prints of them.

Expected values are typed from SPEC.md §2/§7 and the papers (Krajewski et al. 2024, Tables 4
and 7; Ludziejewski et al. 2025, Appendix C; Hoffmann et al. 2022), never from the loader.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.cli import app
from moeplan.coefficients import (
    coefficients_dir,
    law_from_mapping,
    law_to_mapping,
    load_law,
    shipped_law_names,
)
from moeplan.errors import FileFormatError
from moeplan.laws import COEFFICIENT_NAMES
from moeplan.precision import band, coefficient_samples, rounding_intervals

# -- item 10: fitted ranges from each source's own table ---------------------------------------


def test_dense_set_has_its_own_runs_range_not_the_moe_one():
    # Table 4: about 3M to 85M non-embedding parameters, 16B to 66B tokens
    dense = load_law("krajewski2024-dense")
    lo, hi = dense.fitted_range["params"]
    assert 2e6 <= lo <= 4e6 and 8e7 <= hi <= 9e7
    assert dense.fitted_range["tokens"] == pytest.approx((16e9, 66e9))
    assert dense.fitted_range != load_law("krajewski2024-moe").fitted_range


def test_e16_set_has_its_own_runs_range():
    # Table 7: about 35M to 541M total parameters, 8B to 66B tokens, G 1 to 16, E = 16
    e16 = load_law("krajewski2024-moe-e16")
    assert e16.fitted_range["params"] == pytest.approx((35e6, 541e6), rel=0.05)
    assert e16.fitted_range["tokens"] == pytest.approx((8e9, 66e9))
    assert e16.fitted_range["granularity"] == (1, 16)
    assert e16.fitted_range["expansion_rate"] == (16, 16)


def test_e64_range_as_spec():
    moe = load_law("krajewski2024-moe")
    assert moe.fitted_range["params"] == pytest.approx((129e6, 3.7e9))
    assert moe.fitted_range["tokens"] == pytest.approx((16e9, 130e9))


def test_joint_law_has_a_token_range_and_a_tokens_per_parameter_limit():
    joint = load_law("ludziejewski2025-joint")
    assert joint.fitted_range["tokens"] == pytest.approx((0.5e9, 80e9))
    lo, hi = joint.fitted_range["tokens_per_param"]
    assert lo == 0 and hi == 414
    # 705 tokens per active parameter (the issue's plan) is beyond it: the range check says so
    warnings = joint.range_warnings(params=1e9, tokens=30e9)
    assert not warnings  # inside both ranges
    assert joint.range_warnings(tokens=90e9) and "tokens" in joint.range_warnings(tokens=90e9)[0]
    # tokens per parameter: 500 > 414 warns with the factor; 400 does not
    (w,) = joint.range_warnings(params=100e6, tokens=50e9)
    assert "500 tokens per parameter" in w and "1.21x above" in w and "414" in w
    assert joint.range_warnings(params=100e6, tokens=40e9) == []


def test_joint_plan_beyond_the_token_data_says_so(runner):
    # the issue's plan: 1e21 FLOPs in 24 GB puts ~300B tokens on a small active model
    r = runner.invoke(
        app,
        [
            "optimize",
            "--flops",
            "1e21",
            "--law",
            "ludziejewski2025-joint",
            "--memory",
            "24GB",
            "--kv-tokens",
            "16384",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    warnings = json.loads(r.stdout)["warnings"]
    assert any("tokens per parameter" in w and "414" in w for w in warnings)
    assert any(w.startswith("tokens ") and "8e+10" in w for w in warnings)


@pytest.mark.parametrize(
    "name",
    [
        "krajewski2024-dense",
        "krajewski2024-moe-e16",
        "krajewski2024-moe",
        "ludziejewski2025-joint",
        "hoffmann2022-chinchilla",
    ],
)
def test_each_set_cites_where_its_range_comes_from(name):
    law = load_law(name)
    assert re.search(r"Table \d|Appendix [A-Z]|Section \d", law.fitted_range_source), name


def test_loader_accepts_tokens_per_param_and_rejects_a_bad_one():
    base = law_to_mapping(load_law("ludziejewski2025-joint"))
    assert law_from_mapping(base).fitted_range["tokens_per_param"] == (0.0, 414.0)
    base["fitted_range"]["tokens_per_param"] = [500, 414]
    with pytest.raises(FileFormatError, match="tokens_per_param"):
        law_from_mapping(base)


# -- item 11: Chinchilla sets count embeddings ---------------------------------------------------


@pytest.mark.parametrize("name", ["hoffmann2022-chinchilla", "besiroglu2024-chinchilla"])
def test_chinchilla_sets_count_all_parameters(name):
    law = load_law(name)
    assert law.params_meaning == "total_with_embedding"
    # the round trip keeps it
    assert law_from_mapping(law_to_mapping(law)).params_meaning == "total_with_embedding"


def test_unknown_params_meaning_still_rejected():
    m = law_to_mapping(load_law("hoffmann2022-chinchilla"))
    m["variables"]["params"] = "with_embeddings"
    with pytest.raises(FileFormatError, match="total_with_embedding"):
        law_from_mapping(m)


def _chinchilla_optimum_by_hand(a, alpha, b, beta, flops):
    # minimise a/N^alpha + b/D^beta with 6 N D = C (Hoffmann et al. 2022, eq. 4):
    # N* = G (C/6)^(beta/(alpha+beta)), G = (alpha a / (beta b))^(1/(alpha+beta))
    g = (alpha * a / (beta * b)) ** (1 / (alpha + beta))
    n = g * (flops / 6) ** (beta / (alpha + beta))
    return n, flops / (6 * n)


def test_hoffmann_published_coefficients_give_32b_3t_not_70b_1_4t():
    n, d = _chinchilla_optimum_by_hand(406.4, 0.34, 410.7, 0.28, 5.76e23)
    assert n == pytest.approx(32e9, rel=0.03) and d == pytest.approx(3.0e12, rel=0.03)
    # and the planner's dense closed form agrees with the hand computation
    from moeplan.fit import compute_optimal

    law = load_law("hoffmann2022-chinchilla")
    out = compute_optimal(
        "dense", {k: law.coefficients[k] for k in ("a", "alpha", "b", "beta", "c")}, [5.76e23]
    )
    assert float(np.ravel(out["params"])[0]) == pytest.approx(n, rel=1e-9)
    assert abs(n - 70e9) / 70e9 > 0.5


def test_laws_card_says_the_chinchilla_coefficients_do_not_give_70b(runner):
    r = runner.invoke(app, ["laws", "hoffmann2022-chinchilla"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "32B" in text and "3T" in text and "70B / 1.4T" in text and "5.76e23" in text
    assert "total_with_embedding" in text


# -- item 14: what the loss is ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["krajewski2024-moe", "krajewski2024-moe-robust", "krajewski2024-moe-e16"]
)
def test_krajewski_loss_definition(name, runner):
    law = load_law(name)
    for word in ("C4", "GPT-2", "Expert Choice", "Top-k token choice"):
        assert word in law.loss_definition, word
    r = runner.invoke(app, ["laws", name])
    assert r.exit_code == 0, r.output
    assert "Expert Choice" in " ".join(r.stdout.split())


def test_dense_and_joint_loss_definitions(runner):
    assert "C4" in load_law("krajewski2024-dense").loss_definition
    joint = load_law("ludziejewski2025-joint").loss_definition
    assert "FineWeb-Edu" in joint and "top-1" in joint and "capacity factor" in joint
    r = runner.invoke(app, ["laws", "ludziejewski2025-joint", "--json"])
    data = json.loads(r.stdout)["laws"][0]
    assert "FineWeb-Edu" in data["loss_definition"]
    assert data["fitted_range"]["tokens_per_param"] == [None, 414.0]


@pytest.mark.parametrize("name", sorted(shipped_law_names()))
def test_every_shipped_set_states_loss_and_precision(name):
    law = load_law(name)
    assert law.loss_definition
    assert set(law.precision) == set(COEFFICIENT_NAMES[law.form])


# -- item 13 (data): published precision, half a unit in the last printed digit ----------------


def _literals(name):
    """Coefficient -> the number as printed in the YAML file (its text, not the parsed float)."""
    text = (coefficients_dir() / f"{name}.yaml").read_text()
    block = text.split("coefficients:\n", 1)[1].split("\nvariables:", 1)[0]
    return dict(re.findall(r"^\s+(\w+):\s*(-?[0-9.]+)\s*$", block, flags=re.MULTILINE))


@pytest.mark.parametrize("name", sorted(shipped_law_names()))
def test_precision_is_half_a_unit_in_the_last_published_digit(name):
    law = load_law(name)
    for key, literal in _literals(name).items():
        decimals = len(literal.split(".")[1]) if "." in literal else 0
        assert law.precision[key] == pytest.approx(0.5 * 10.0**-decimals), (key, literal)


def test_precision_examples_from_the_issue():
    moe = load_law("krajewski2024-moe")
    assert moe.precision["a"] == 0.05 and moe.precision["alpha"] == 0.0005  # 18.1, 0.115
    assert load_law("krajewski2024-moe-robust").precision["beta"] == 0.0005  # 0.140
    assert load_law("ludziejewski2025-joint").precision["alpha"] == 0.00005  # -0.1889


def test_loader_rejects_precision_of_an_unknown_coefficient_or_negative():
    m = law_to_mapping(load_law("krajewski2024-dense"))
    m["precision"]["g"] = 0.05
    with pytest.raises(FileFormatError, match="'g'"):
        law_from_mapping(m)
    m = law_to_mapping(load_law("krajewski2024-dense"))
    m["precision"]["a"] = -0.05
    with pytest.raises(FileFormatError, match="precision.a"):
        law_from_mapping(m)


# -- moeplan.precision ---------------------------------------------------------------------------


def test_samples_stay_within_the_rounding_box_and_include_point_and_corners():
    law = load_law("krajewski2024-moe")
    s = coefficient_samples(law, 200, 1)
    size = 1 + 2**7 + 200
    for k in COEFFICIENT_NAMES[law.form]:
        v, h = law.coefficients[k], law.precision[k]
        assert s[k].shape == (size,)
        assert s[k][0] == v
        assert np.all(s[k] >= v - h - 1e-15) and np.all(s[k] <= v + h + 1e-15)
        # both ends occur (the corners), and the draws are not all the same
        assert np.isclose(s[k], v - h).any() and np.isclose(s[k], v + h).any()
        assert np.ptp(s[k][-200:]) > h
    corners = np.stack([s[k][1:129] for k in COEFFICIENT_NAMES[law.form]], axis=1)
    assert len({tuple(row) for row in corners}) == 128


def test_latin_hypercube_puts_one_draw_in_each_stratum():
    law = load_law("krajewski2024-dense")
    n = 50
    s = coefficient_samples(law, n, 3, corners=False)
    for k in COEFFICIENT_NAMES[law.form]:
        v, h = law.coefficients[k], law.precision[k]
        draws = s[k][1:]
        strata = np.floor((draws - (v - h)) / (2 * h) * n).astype(int)
        assert sorted(strata) == list(range(n)), k


def test_samples_are_seeded():
    law = load_law("ludziejewski2025-joint")
    a = coefficient_samples(law, 30, 7, corners=False, method="uniform")
    b = coefficient_samples(law, 30, np.random.default_rng(7), corners=False, method="uniform")
    c = coefficient_samples(law, 30, 8, corners=False, method="uniform")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    # 11 uncertain coefficients: 2**11 corners are within MAX_CORNER_DIMS
    assert coefficient_samples(law, 5)["a"].shape == (1 + 2**11 + 5,)


def test_a_fitted_law_uses_its_bootstrap_samples():
    m = law_to_mapping(load_law("krajewski2024-dense"))
    m["bootstrap"] = {
        "a": [16.0, 16.5],
        "alpha": [0.12, 0.13],
        "b": [26.0, 27.0],
        "beta": [0.12, 0.13],
        "c": [0.46, 0.48],
    }
    s = coefficient_samples(law_from_mapping(m), 100)
    assert s["alpha"].tolist() == [0.126, 0.12, 0.13]


def test_bad_arguments_are_refused():
    law = load_law("krajewski2024-moe")
    with pytest.raises(ValueError):
        coefficient_samples(law, 0)
    with pytest.raises(ValueError):
        coefficient_samples(law, 5, method="sobol")


def test_rounding_matters_for_the_dense_optimum_at_1e25():
    # SPEC §8: the rounding alone moves 1e25 predictions by tens of percent; the compute-optimal
    # N of the dense law, by the hand-written closed form, is one such prediction
    law = load_law("krajewski2024-dense")
    s = coefficient_samples(law, 300, 0)
    n, _ = _chinchilla_optimum_by_hand(s["a"], s["alpha"], s["b"], s["beta"], 1e25)
    lo, hi = band(n)
    assert lo < n[0] < hi and hi / lo > 1.2
    assert band([np.nan, np.inf]) == [None, None]


@given(st.integers(1, 60), st.integers(0, 10_000), st.sampled_from(sorted(shipped_law_names())))
def test_property_every_sample_is_inside_its_interval(n, seed, name):
    law = load_law(name)
    s = coefficient_samples(law, n, seed, corners=False)
    for k, (lo, hi) in rounding_intervals(law).items():
        assert s[k].shape == (n + 1,)
        assert np.all(
            (s[k] >= lo - 1e-12 * max(1.0, abs(lo))) & (s[k] <= hi + 1e-12 * max(1.0, abs(hi)))
        )
        assert math.isclose(s[k][0], law.coefficients[k])


def test_halton_samples_fill_the_rounding_box_without_a_random_generator():
    # the planner's bands use the deterministic Halton points (no numpy.random at start-up):
    # the first points of base 2 and 3 are 1/2, 1/4, 3/4 and 1/3, 2/3, 1/9 (radical inverses)
    from moeplan.precision import _halton, rounding_intervals

    h = _halton(3, 2)
    assert h[:, 0].tolist() == [0.5, 0.25, 0.75]
    assert np.allclose(h[:, 1], [1 / 3, 2 / 3, 1 / 9], rtol=1e-15)
    law = load_law("krajewski2024-moe")
    s = coefficient_samples(law, 64, corners=False, method="halton")
    for k, (lo, hi) in rounding_intervals(law).items():
        v = s[k][1:]
        assert np.all((v >= lo) & (v <= hi))
        if hi > lo:  # spread over the box: both halves of every interval are visited
            mid = (lo + hi) / 2
            assert (v < mid).sum() >= 16 and (v > mid).sum() >= 16
