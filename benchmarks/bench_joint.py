"""Joint MoE planner: the vectorised solver vs a scipy Brent loop, measured in one run.

Prints the speed ratio of ``moeplan.plan.experts.joint_frontier`` (numpy, all budgets x expert
counts at once) over ``scipy.optimize.minimize_scalar`` (bounded Brent in ln d_model, one call per budget
and E), and the largest loss difference between the two. Brent is timed on a subset and scaled per
call when the full loop would be slow (the output says so). Usage:

    python benchmarks/bench_joint.py [N_BUDGETS]      # default 20,000
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np


def main(n_budgets: int = 20_000, brent_subset: int = 1_000) -> None:
    from scipy.optimize import minimize_scalar

    from moeplan import load_law
    from moeplan.plan.experts import joint_frontier
    from moeplan.plan.limits import Limits

    law = load_law("ludziejewski2025-joint")
    V, r = law.vocab_size, law.aspect_ratio
    experts = (1, 2, 4, 8, 16, 32)
    memory = 16e9  # bytes, bf16: a model-memory problem that binds at large budgets
    cons = Limits(memory=memory)
    budgets = np.logspace(19, 24, n_budgets)

    t0 = time.perf_counter()
    fr = joint_frontier(law, budgets, experts, cons)
    t_vec = time.perf_counter() - t0

    def brent(F, e):
        # d_max from the memory limit by bisection (independent of moeplan's Newton)
        lo, hi = r, 1e6
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            used = 2 * (2 * mid * V + (4 + 9 * e) * mid**3 / r)
            lo, hi = (mid, hi) if used <= memory else (lo, mid)
        d_max = lo

        def loss(log_d):
            d = math.exp(log_d)
            n = 2 * d * V + 13 * d**3 / r
            return float(law.loss(n, F / (6 * n), n_experts=e))

        res = minimize_scalar(loss, bounds=(math.log(r), math.log(d_max)), method="bounded",
                              options={"xatol": 1e-12})
        return min(res.fun, loss(math.log(d_max)))

    idx = np.linspace(0, n_budgets - 1, min(brent_subset, n_budgets)).astype(int)
    t0 = time.perf_counter()
    worst = 0.0
    for i in idx:
        for j, e in enumerate(experts):
            ref = brent(budgets[i], e)
            worst = max(worst, abs(fr.loss[i, j] - ref) / ref)
            # the vectorised optimum is never worse than Brent's (it is exact)
            assert fr.loss[i, j] <= ref * (1 + 1e-12), (budgets[i], e)
    t_brent = (time.perf_counter() - t0) / idx.size * n_budgets
    print(f"budgets x experts: {n_budgets} x {len(experts)} = {n_budgets * len(experts)} optima, "
          f"memory {memory / 1e9:g} GB")
    print(f"vectorised joint_frontier: {t_vec:.3f} s")
    scaled = f" (timed on {idx.size} budgets, scaled per call)" if idx.size < n_budgets else ""
    print(f"scipy Brent loop:          {t_brent:.3f} s{scaled}")
    print(f"speed ratio (Brent / vectorised): {t_brent / t_vec:.0f}x")
    print(f"largest relative loss difference: {worst:.2e} (vectorised <= Brent everywhere)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
