"""The compute-optimal frontier: moeplan's vectorised Newton vs a loop of
``scipy.optimize.minimize_scalar`` (bounded Brent over ln d_model, one call per budget per G).

Goal (issue 12): >= 1000x faster per solved problem; best loss equal to 1e-9 (relative); N and
D within 1e-9 (relative) of an exact root of the stationarity condition dL/d(ln d_model) = 0,
found here by ``scipy.optimize.brentq`` on the derivative written out below (independently of
moeplan's solver) at the granularity moeplan chose.

moeplan solves all budgets x granularities at once; scipy is timed on an evenly spaced subset of
the budgets (per problem; the output says so). The two are run interleaved, ``--repeats`` times
each, and the medians are compared.

    python benchmarks/bench_frontier.py [--budgets 100000] [--scipy-subset 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from moeplan import load_law
from moeplan.plan.solve import GRANULARITIES_DEFAULT, frontier

GOAL_RATIO = 1000.0
GOAL_REL = 1e-9
#: ln d_model between 1 and 2^20: every model anyone builds, and the law's optimum for any
#: budget of the benchmark (the bounded method needs the bounds; wider bounds cost it a few
#: more evaluations)
BOUNDS = (0.0, 20 * math.log(2.0))


def _law_terms(law):
    k = law.coefficients
    return (
        k["a"],
        k["alpha"],
        k["b"],
        k["beta"],
        k["g"],
        k["gamma"],
        k["c"],
        law.expansion_rate,
        law.aspect_ratio,
        law.c_f,
        law.c_r,
    )


def scipy_frontier(law, budgets, granularities):
    """The paper's method: bounded Brent over ln d_model for each (budget, G), best G kept."""
    from scipy.optimize import minimize_scalar

    a, al, b, be, g, ga, c, E, r, cf, cr = _law_terms(law)
    best = np.empty(len(budgets))
    best_g = np.empty(len(budgets))
    for i, F in enumerate(budgets):
        lowest, g_best = math.inf, math.nan
        for G in granularities:
            A = g / G**ga + a
            k_r = E * G * cr

            def loss(x, F=F, A=A, k_r=k_r):
                d = math.exp(x)
                n = d / r
                N = (8 * E + 4) * d * d * n
                D = F / ((12 * cf * d * d + k_r * d) * n)
                return c + A / N**al + b / D**be

            res = minimize_scalar(loss, bounds=BOUNDS, method="bounded", options={"xatol": 1e-10})
            if res.fun < lowest:
                lowest, g_best = res.fun, G
        best[i], best_g[i] = lowest, g_best
    return best, best_g


def exact_root(law, F, G):
    """(N, D) at the exact root of dL/dx = 0 (x = ln d_model) for budget F at granularity G."""
    from scipy.optimize import brentq

    a, al, b, be, g, ga, c, E, r, cf, cr = _law_terms(law)
    A, k = g / G**ga + a, E * G * cr

    def parts(x):
        N = (8 * E + 4) * math.exp(3 * x) / r
        D = F * r / (math.exp(2 * x) * (12 * cf * math.exp(x) + k))
        return N, D

    def slope(x):
        N, D = parts(x)
        s = 12 * cf * math.exp(x) / (12 * cf * math.exp(x) + k)
        return -3 * al * A / N**al + be * (2 + s) * b / D**be

    x = brentq(slope, *BOUNDS, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    return parts(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", type=int, default=100_000)
    ap.add_argument(
        "--scipy-subset",
        type=int,
        default=200,
        help="budgets timed with scipy per repeat (per-problem times compared)",
    )
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    law = load_law("krajewski2024-moe")
    grans = list(GRANULARITIES_DEFAULT)
    budgets = np.logspace(17, 26, args.budgets)
    idx = np.unique(
        np.linspace(0, args.budgets - 1, min(args.scipy_subset, args.budgets)).round().astype(int)
    )
    import scipy.optimize  # noqa: F401  (import cost is not part of the timing)

    frontier(law, budgets[:10])  # warm up
    ours_t, ref_t, ours_cpu, ref_cpu = [], [], [], []
    for _ in range(args.repeats):  # interleaved: machine load hits both alike
        t0, c0 = time.perf_counter(), time.process_time()
        fr = frontier(law, budgets)
        ours_t.append((time.perf_counter() - t0) / (args.budgets * len(grans)))
        ours_cpu.append((time.process_time() - c0) / (args.budgets * len(grans)))
        t0, c0 = time.perf_counter(), time.process_time()
        ref, ref_g = scipy_frontier(law, budgets[idx], grans)
        ref_t.append((time.perf_counter() - t0) / (len(idx) * len(grans)))
        ref_cpu.append((time.process_time() - c0) / (len(idx) * len(grans)))
    ours, theirs = statistics.median(ours_t), statistics.median(ref_t)
    cpu_ratio = statistics.median(ref_cpu) / statistics.median(ours_cpu)

    rel = np.abs(fr.loss[idx] - ref) / ref
    ours_lower = np.mean(fr.loss[idx] <= ref * (1 + 1e-15))
    exact = np.array([exact_root(law, budgets[i], fr.granularity[i]) for i in idx])
    rel_n = np.max(np.abs(fr.n_total[idx] / exact[:, 0] - 1))
    rel_d = np.max(np.abs(fr.tokens[idx] / exact[:, 1] - 1))

    calls = args.budgets * len(grans)
    ok = (
        theirs / ours >= GOAL_RATIO
        and rel.max() <= GOAL_REL
        and rel_n <= GOAL_REL
        and rel_d <= GOAL_REL
    )
    print(
        f"budgets {args.budgets:,} x {len(grans)} granularities = {calls:,} 1-D problems; "
        f"{args.repeats} interleaved repeats, medians"
    )
    print(
        f"moeplan frontier (numpy)        {ours * 1e9:10.0f} ns per problem  "
        f"({ours * calls:.3f} s for all)"
    )
    print(
        f"scipy minimize_scalar (bounded) {theirs * 1e9:10.0f} ns per problem  "
        f"(timed on {len(idx):,} budgets x {len(grans)} G per repeat)"
    )
    print(f"speed ratio                     {theirs / ours:10.0f} x    goal >= {GOAL_RATIO:.0f}x")
    print(
        f"  the same in CPU time            {cpu_ratio:10.0f} x    (less sensitive to other load)"
    )
    print(
        f"best loss vs scipy, max rel     {rel.max():10.2e}      goal <= {GOAL_REL:g}  "
        f"(ours <= scipy's on {ours_lower:.1%})"
    )
    print(f"N vs exact stationary root      {rel_n:10.2e}      goal <= {GOAL_REL:g}")
    print(f"D vs exact stationary root      {rel_d:10.2e}      goal <= {GOAL_REL:g}")
    print(f"best granularity agrees         {np.mean(ref_g == fr.granularity[idx]):10.1%}")
    print("all goals met" if ok else "GOAL MISSED")


if __name__ == "__main__":
    main()
