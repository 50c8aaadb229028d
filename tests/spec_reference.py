"""Independent references for tests: SPEC.md's formulas written out, and brute-force optima.

Nothing here imports the code under test; tests compare moeplan's answers with these.
"""

from __future__ import annotations

import re

import numpy as np
import pytest


def spec_loss(N, D, G, k):
    """SPEC.md §2: L = c + (g / G^gamma + a) / N^alpha + b / D^beta."""
    return k["c"] + (k["g"] / G ** k["gamma"] + k["a"]) / N ** k["alpha"] + k["b"] / D ** k["beta"]


def brute_force_optimum(k, F, E=64.0, cf=6.0, cr=14.0, r=64.0,
                        granularities=(1, 2, 4, 8, 16, 32, 64, 128, 256)):
    """(loss, tokens) of the best width on a fine log grid, SPEC.md §1-§3 written out here."""
    d = np.geomspace(1.0, 1e12, 60_001)[:, None]
    G = np.asarray(granularities, dtype=float)[None, :]
    n = d / r
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        D = F / ((12.0 * d * d * cf + d * E * G * cr) * n)
        loss = spec_loss(d * d * (8 * E + 4) * n, D, G, k)
    loss = np.where(np.isfinite(loss), loss, np.inf)
    i = np.unravel_index(np.argmin(loss), loss.shape)
    return float(loss[i]), float(D[i])


def assert_refusal_is_true(exc, k, E=64.0, cf=6.0, cr=14.0):
    """A refusal of a law's plan must say something true: each claim is checked here."""
    text = str(exc)
    assert text and "\n" not in text, repr(text)
    m = re.search(r"at ([0-9.e+-]+) FLOPs the optimum of \S+ trains on ([0-9.e+-]+) tokens "
                  r"\(fewer than one\)", text)
    if m:
        F, said = float(m.group(1)), float(m.group(2))
        _, tokens = brute_force_optimum(k, F, E, cf, cr)
        assert tokens < 1.0 and tokens == pytest.approx(said, rel=0.05), (text, tokens)
        return "fewer than one token"
    m = re.search(r"the optimal loss ([0-9.e+-]+) is within rounding of the floor", text)
    if m:
        assert float(m.group(1)) - k["c"] <= 1e-9 * k["c"], text
        return "loss at the floor"
    pytest.fail(f"unexpected refusal: {text}")
