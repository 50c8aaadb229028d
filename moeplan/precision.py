"""What the published coefficients support (SPEC.md §8): samples within their rounding.

A published coefficient such as ``alpha = 0.115`` stands for any value in [0.1145, 0.1155]:
half a unit in its last printed digit, recorded per coefficient in each shipped set's
``precision`` mapping (``Law.precision``). :func:`coefficient_samples` draws coefficient sets
within those intervals, seeded, so that a prediction solved for all of them at once
(vectorised) gives a band ``[low, high]`` instead of one over-precise number. A law fitted
with ``moeplan fit --bootstrap`` carries its own samples; they are used instead.

Only numpy is needed; nothing here solves anything.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from .laws import COEFFICIENT_NAMES

#: Corners are added only up to this many uncertain coefficients (2**12 = 4096 sets).
MAX_CORNER_DIMS = 12


def rounding_intervals(law) -> dict:
    """Coefficient name -> (low, high): the published value ± its recorded precision.

    Coefficients without a recorded precision get a zero-width interval.
    """
    out = {}
    for name in COEFFICIENT_NAMES[law.form]:
        v = float(law.coefficients[name])
        h = float(law.precision.get(name, 0.0)) if law.precision else 0.0
        out[name] = (v - h, v + h)
    return out


def _latin_hypercube(n: int, dims: int, rng) -> np.ndarray:
    """(n, dims) points in [0, 1): one point in each of n equal strata along every axis."""
    strata = (
        np.stack([rng.permutation(n) for _ in range(dims)], axis=1)
        if dims
        else np.empty((n, 0), dtype=int)
    )
    return (strata + rng.random((n, dims))) / n


_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)


def _halton(n: int, dims: int) -> np.ndarray:
    """(n, dims) points of the Halton sequence in (0, 1): the radical inverse of 1..n in the
    first ``dims`` primes. Deterministic and evenly spread, and it needs no random generator
    (numpy.random costs ~18 ms to import: the planner's bands use this at every start)."""
    return _halton_cached(n, dims).copy()  # a plan asks for the same points several times


@functools.lru_cache(maxsize=16)
def _halton_cached(n: int, dims: int) -> np.ndarray:
    if dims > len(_PRIMES):
        raise ValueError(
            f"{dims} uncertain coefficients: the Halton sequence here has {len(_PRIMES)} bases"
        )
    out = np.empty((n, dims))
    idx = np.arange(1, n + 1)
    for j, base in enumerate(_PRIMES[:dims]):
        k, f, r = idx.copy(), 1.0, np.zeros(n)
        while np.any(k > 0):
            f /= base
            r += f * (k % base)
            k //= base
        out[:, j] = r
    return out


def coefficient_samples(
    law, n: int = 256, rng=0, *, corners: bool = True, method: str = "lhs"
) -> dict:
    """Coefficient sets within the published rounding (or the law's bootstrap samples).

    Parameters
    ----------
    law : Law
        A loaded coefficient set; its ``precision`` gives each coefficient's half-width.
    n : int
        Number of random draws (at least 1).
    rng : numpy Generator or int seed, optional
        Seeded by default (seed 0), so the same call gives the same samples.
    corners : bool
        Also include every corner of the box (each uncertain coefficient at its low or high
        end), for predictions that are monotone in the coefficients; skipped when more than
        :data:`MAX_CORNER_DIMS` coefficients are uncertain.
    method : {"lhs", "uniform", "halton"}
        Latin hypercube (one draw per stratum on every axis), plain uniform draws, or the
        deterministic Halton sequence (``rng`` unused; no numpy.random import).

    Returns
    -------
    dict
        Coefficient name -> 1-D float array, all of the same length S. Entry 0 is the
        published point; then the corners (if any), then the ``n`` draws. For a law with
        ``bootstrap`` samples: the published point followed by those samples (no draws).
        Pass ``{k: v[:, None]}`` to the vectorised laws to broadcast against budgets.
    """
    names = COEFFICIENT_NAMES[law.form]
    point = {k: float(law.coefficients[k]) for k in names}
    if law.bootstrap:
        return {
            k: np.concatenate([[point[k]], np.asarray(law.bootstrap[k], dtype=float)])
            if k in law.bootstrap
            else np.full(1 + len(next(iter(law.bootstrap.values()))), point[k])
            for k in names
        }
    n = int(n)
    if n < 1:
        raise ValueError(f"n = {n}: draw at least one sample")
    if method not in ("lhs", "uniform", "halton"):
        raise ValueError(f"method {method!r}: use 'lhs', 'uniform' or 'halton'")
    intervals = rounding_intervals(law)
    uncertain = [k for k in names if intervals[k][1] > intervals[k][0]]
    if method == "halton":
        u = _halton(n, len(uncertain))
    else:
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        u = (
            _latin_hypercube(n, len(uncertain), rng)
            if method == "lhs"
            else rng.random((n, len(uncertain)))
        )
    blocks = [np.array([[point[k] for k in uncertain]])]
    if corners and 0 < len(uncertain) <= MAX_CORNER_DIMS:
        ends = [intervals[k] for k in uncertain]
        blocks.append(np.array(list(itertools.product(*ends)), dtype=float))
    lo = np.array([intervals[k][0] for k in uncertain])
    hi = np.array([intervals[k][1] for k in uncertain])
    blocks.append(lo + u * (hi - lo))
    table = np.concatenate(blocks, axis=0)
    size = table.shape[0]
    out = {}
    for k in names:
        out[k] = table[:, uncertain.index(k)].copy() if k in uncertain else np.full(size, point[k])
    return out


def band(values) -> list:
    """``[low, high]`` of the finite values (None, None when there are none)."""
    v = np.asarray(values, dtype=float).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return [None, None]
    return [float(v.min()), float(v.max())]
