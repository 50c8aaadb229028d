"""Reference formulas and coefficients for the tests, written once, from SPEC.md, independently
of moeplan's code (never computed by the code under test). Every test file imports them from
here instead of keeping its own copy."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

# ---- SPEC.md §2 tables, typed in by hand ------------------------------------------------------
MOE = dict(a=18.1, alpha=0.115, b=30.8, beta=0.147, g=2.1, gamma=0.58, c=0.47)
MOE_ROBUST = dict(a=17.6, alpha=0.114, b=26.7, beta=0.140, g=2.07, gamma=0.570, c=0.472)
MOE_E16 = dict(a=19.64, alpha=0.124, b=57.07, beta=0.169, g=1.18, gamma=0.986, c=0.472)
DENSE = dict(a=16.3, alpha=0.126, b=26.7, beta=0.127, c=0.47)
HOFFMANN = dict(a=406.4, alpha=0.34, b=410.7, beta=0.28, c=1.69)
BESIROGLU = dict(a=482.01, alpha=0.3478, b=2085.43, beta=0.3658, c=1.8172)
SPEC_SETS = {
    "krajewski2024-moe": MOE,
    "krajewski2024-moe-robust": MOE_ROBUST,
    "krajewski2024-moe-e16": MOE_E16,
    "krajewski2024-dense": DENSE,
    "hoffmann2022-chinchilla": HOFFMANN,
    "besiroglu2024-chinchilla": BESIROGLU,
}

# ---- SPEC.md §7, the joint law's rounded coefficients as printed there ------------------------
JOINT = dict(
    a=35.91,
    alpha=-0.1889,
    delta=-0.2285,
    gamma=0.0098,
    b=35.98,
    beta=-0.1775,
    omega=0.5529,
    zeta=-0.0259,
    e_start=2.0732,
    e_max=290.4521,
    c=1.3637,
)
VOCAB = 50257  # GPT-2
ASPECT = 64  # n_blocks = d_model / 64


def moe_loss(N, D, G, k=MOE):
    """SPEC §2: c + (g/G^γ + a)/N^α + b/D^β."""
    return k["c"] + (k["g"] / G ** k["gamma"] + k["a"]) / N ** k["alpha"] + k["b"] / D ** k["beta"]


def dense_loss(N, D, k=DENSE):
    """SPEC §2: c + a/N^α + b/D^β."""
    return k["c"] + k["a"] / N ** k["alpha"] + k["b"] / D ** k["beta"]


def chinchilla_params(F, k=DENSE, c_f=6.0, a=None):
    """Hoffmann et al.: N* = (αa/(βb))^(1/(α+β)) (F/c_f)^(β/(α+β)) (``a`` overrides k["a"])."""
    al, be = k["alpha"], k["beta"]
    a = k["a"] if a is None else a
    return (al * a / (be * k["b"])) ** (1 / (al + be)) * (F / c_f) ** (be / (al + be))


def dense_flops_to_reach(loss, k=DENSE, c_f=6.0):
    """Chinchilla optimum reaching `loss`: at the optimum α·a/N^α = β·b/D^β (SPEC §4)."""
    p = (loss - k["c"]) / (1 + k["alpha"] / k["beta"])  # a / N^α
    N = (k["a"] / p) ** (1 / k["alpha"])
    D = (k["b"] / (k["alpha"] * p / k["beta"])) ** (1 / k["beta"])
    return c_f * N * D


def lr_rule(n, e):
    """SPEC §7: LR = exp(8.39 − 0.81 ln N − 0.25 ln E)."""
    return math.exp(8.39 - 0.81 * math.log(n) - 0.25 * math.log(e))


def e_hat(e, k=JOINT):
    return 1.0 / (
        1.0 / (e - 1.0 + 1.0 / (1.0 / k["e_start"] - 1.0 / k["e_max"])) + 1.0 / k["e_max"]
    )


def reduction(e, k=JOINT):
    """The joint law at fixed E in Chinchilla form: (m, μ, n, ν)."""
    eh = e_hat(e, k)
    return (
        k["a"] * eh ** k["delta"],
        k["alpha"] + k["gamma"] * math.log(eh),
        k["b"] * eh ** k["omega"],
        k["beta"] + k["zeta"] * math.log(eh),
    )


def joint_loss(n_act, tokens, e):
    m, mu, n, nu = reduction(e)
    return m * n_act**mu + n * tokens**nu + JOINT["c"]


def joint_n_act(n_blocks):
    """N_act with embeddings of the whole-number model with n_blocks blocks (SPEC §7)."""
    d = ASPECT * n_blocks
    return 2 * d * VOCAB + 13 * n_blocks * d * d


def joint_n_total(n_blocks, e):
    """N_total with embeddings (SPEC §7)."""
    d = ASPECT * n_blocks
    return 2 * d * VOCAB + (4 + 9 * e) * n_blocks * d * d


def joint_chinchilla_optimum(e, flops):
    """Closed form of min m·N^μ + n·D^ν s.t. 6·N·D = F (N with embeddings).

    Stationarity: m·μ·N^μ = n·ν·D^ν with D = F/(6N), so N^(μ+ν) = (n·ν)/(m·μ)·(F/6)^ν.
    """
    m, mu, n, nu = reduction(e)
    N = ((n * nu) / (m * mu) * (flops / 6.0) ** nu) ** (1.0 / (mu + nu))
    return N, flops / (6.0 * N)


# ---- brute force (was tests/spec_reference.py) ------------------------------------------------


def spec_loss(N, D, G, k):
    """SPEC.md §2 with explicit coefficients: L = c + (g / G^gamma + a) / N^alpha + b / D^beta."""
    return moe_loss(N, D, G, k)


def brute_force_optimum(
    k, F, E=64.0, cf=6.0, cr=14.0, r=64.0, granularities=(1, 2, 4, 8, 16, 32, 64, 128, 256)
):
    """(loss, tokens) of the best width on a fine log grid, SPEC.md §1-§3 written out here."""
    # widths up to 1e15: extreme laws put 1e30 FLOPs into d_model ~ 5e12 (fewer than one token)
    d = np.geomspace(1.0, 1e15, 75_001)[:, None]
    G = np.asarray(granularities, dtype=float)[None, :]
    n = d / r
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        D = F / ((12.0 * d * d * cf + d * E * G * cr) * n)
        loss = moe_loss(d * d * (8 * E + 4) * n, D, G, k)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    i = np.unravel_index(np.argmin(loss), loss.shape)
    return float(loss[i]), float(D[i])


def assert_refusal_is_true(exc, k, E=64.0, cf=6.0, cr=14.0):
    """A refusal of a law's plan must say something true: each claim is checked here."""
    text = str(exc)
    assert text and "\n" not in text, repr(text)
    m = re.search(
        r"at ([0-9.e+-]+) FLOPs (the optimum|the G = 1 baseline) of \S+ trains on "
        r"([0-9.e+-]+) tokens "
        r"\(fewer than one\)",
        text,
    )
    if m:
        F, said = float(m.group(1)), float(m.group(3))
        gs = (1,) if m.group(2) == "the G = 1 baseline" else (1, 2, 4, 8, 16, 32, 64, 128, 256)
        _, tokens = brute_force_optimum(k, F, E, cf, cr, granularities=gs)
        assert tokens < 1.0 and tokens == pytest.approx(said, rel=0.05), (text, tokens)
        return "fewer than one token"
    m = re.search(r"the optimal loss ([0-9.e+-]+) is within rounding of the floor", text)
    if m:
        assert float(m.group(1)) - k["c"] <= 1e-9 * k["c"], text
        return "loss at the floor"
    pytest.fail(f"unexpected refusal: {text}")


#: The keys every configuration object has at least (CLI.md, "Commands and the JSON keys that
#: are part of the contract"), written once for the contract tests.
CONFIG_KEYS = frozenset(
    {
        "granularity",
        "expansion_rate",
        "n_experts",
        "top_k",
        "d_model",
        "n_blocks",
        "d_expert",
        "n_active",
        "n_total",
        "tokens",
        "flops",
        "router_flops",
        "loss",
        "tokens_per_active_param",
    }
)
