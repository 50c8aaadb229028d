"""Joint MoE planner: the vectorised solver vs a fair scipy Brent loop, interleaved.

``moeplan.plan.experts.joint_frontier`` (numpy, all budgets x expert counts at once) against
``scipy.optimize.minimize_scalar`` (bounded Brent over ln d_model, one call per budget and E) on
the same problem: a 16 GB (bf16) serving-memory limit, which binds at large budgets. The
reference is written independently of moeplan: the law as a plain ``math`` closure, the
largest d_model under the memory limit by ``scipy.optimize.brentq``, the loss at that bound
kept when it is lower (the optimum sits on the bound).

Goal (issue 12): >= 1000x faster per solved problem; best loss equal to 1e-9 (relative); N_act
and D within 1e-9 (relative) of the exact optimum: the root of dL/dx = 0 by brentq (x = ln
d_model), or the memory bound where that root is beyond it. Both sides run ``--repeats`` times,
interleaved; medians are compared. Brent is timed on a subset of the budgets, per problem.

    python benchmarks/bench_joint.py [--budgets 20000] [--brent-subset 200] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

GOAL_RATIO = 1000.0
GOAL_REL = 1e-9
MEMORY = 16e9  # bytes
BYTES_PER_PARAM = 2.0  # bf16
EXPERTS = (1, 2, 4, 8, 16, 32)


class Reference:
    """The joint law's problem for one (budget, E), written from SPEC.md §7 with ``math``."""

    def __init__(self, law, F, e):
        k = law.coefficients
        V, r = law.vocab_size, law.aspect_ratio
        shift = 1.0 / (1.0 / k["e_start"] - 1.0 / k["e_max"])
        eh = 1.0 / (1.0 / (e - 1.0 + shift) + 1.0 / k["e_max"])
        self.m = k["a"] * eh ** k["delta"]
        self.mu = k["alpha"] + k["gamma"] * math.log(eh)
        self.n = k["b"] * eh ** k["omega"]
        self.nu = k["beta"] + k["zeta"] * math.log(eh)
        self.c, self.F, self.V, self.r, self.e = k["c"], F, V, r, e

    def active(self, d):
        """Active parameters with embeddings: embeddings 2dV, 12 d^2 per block (+ router)."""
        return 2 * d * self.V + 13 * d**3 / self.r

    def loss(self, x):
        N = self.active(math.exp(x))
        return self.c + self.m * N**self.mu + self.n * (self.F / (6 * N)) ** self.nu

    def slope(self, x):
        d = math.exp(x)
        N = self.active(d)
        dlnN = (2 * d * self.V + 39 * d**3 / self.r) / N
        D = self.F / (6 * N)
        return (self.mu * self.m * N**self.mu - self.nu * self.n * D**self.nu) * dlnN

    def x_max(self):
        """ln of the largest d_model whose weights fit MEMORY (brentq on the cubic)."""
        from scipy.optimize import brentq

        def excess(x):
            d = math.exp(x)
            return BYTES_PER_PARAM * (2 * d * self.V + (4 + 9 * self.e) * d**3 / self.r) - MEMORY

        return brentq(excess, math.log(self.r), math.log(1e7), xtol=1e-15, rtol=1e-15)


def brent(law, F, e):
    """Least loss by bounded Brent over ln d_model in [ln r, ln d_max] (the fair reference)."""
    from scipy.optimize import minimize_scalar

    ref = Reference(law, F, e)
    lo, hi = math.log(ref.r), ref.x_max()
    res = minimize_scalar(ref.loss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    return min(res.fun, ref.loss(hi))


def exact(law, F, e):
    """(N_act, D) at the exact optimum: the stationary root, or the memory bound."""
    from scipy.optimize import brentq

    ref = Reference(law, F, e)
    lo, hi = math.log(ref.r), ref.x_max()
    if ref.slope(hi) < 0:  # still falling at the bound: the bound is the optimum
        x = hi
    else:
        x = brentq(ref.slope, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    N = ref.active(math.exp(x))
    return N, F / (6 * N)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", type=int, default=20_000)
    ap.add_argument("--brent-subset", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    import scipy.optimize  # noqa: F401  (import cost is not part of the timing)

    from moeplan import load_law
    from moeplan.plan.experts import joint_frontier
    from moeplan.plan.limits import Limits

    law = load_law("ludziejewski2025-joint")
    cons = Limits(memory=MEMORY, bytes_per_param=BYTES_PER_PARAM)
    budgets = np.logspace(19, 24, args.budgets)
    idx = np.unique(
        np.linspace(0, args.budgets - 1, min(args.brent_subset, args.budgets)).round().astype(int)
    )
    joint_frontier(law, budgets[:10], EXPERTS, cons)  # warm up

    ours_t, ref_t, ours_cpu, ref_cpu = [], [], [], []
    for _ in range(args.repeats):  # interleaved: machine load hits both alike
        t0, c0 = time.perf_counter(), time.process_time()
        fr = joint_frontier(law, budgets, EXPERTS, cons)
        ours_t.append((time.perf_counter() - t0) / (args.budgets * len(EXPERTS)))
        ours_cpu.append((time.process_time() - c0) / (args.budgets * len(EXPERTS)))
        t0, c0 = time.perf_counter(), time.process_time()
        ref = np.array([[brent(law, budgets[i], e) for e in EXPERTS] for i in idx])
        ref_t.append((time.perf_counter() - t0) / (len(idx) * len(EXPERTS)))
        ref_cpu.append((time.process_time() - c0) / (len(idx) * len(EXPERTS)))
    ours, theirs = statistics.median(ours_t), statistics.median(ref_t)
    cpu_ratio = statistics.median(ref_cpu) / statistics.median(ours_cpu)

    mine = fr.loss[idx]
    rel = np.abs(mine - ref) / ref
    ours_lower = np.mean(mine <= ref * (1 + 1e-15))
    ex = np.array([[exact(law, budgets[i], e) for e in EXPERTS] for i in idx])
    rel_n = np.max(np.abs(fr.n_active_with_embedding[idx] / ex[..., 0] - 1))
    rel_d = np.max(np.abs(fr.tokens[idx] / ex[..., 1] - 1))
    ok = (
        theirs / ours >= GOAL_RATIO
        and rel.max() <= GOAL_REL
        and rel_n <= GOAL_REL
        and rel_d <= GOAL_REL
    )
    calls = args.budgets * len(EXPERTS)
    print(
        f"budgets {args.budgets:,} x {len(EXPERTS)} expert counts = {calls:,} problems, "
        f"memory {MEMORY / 1e9:g} GB; {args.repeats} interleaved repeats, medians"
    )
    print(
        f"moeplan joint_frontier (numpy)  {ours * 1e9:10.0f} ns per problem  "
        f"({ours * calls:.3f} s for all)"
    )
    print(
        f"scipy minimize_scalar (bounded) {theirs * 1e9:10.0f} ns per problem  "
        f"(timed on {len(idx):,} budgets x {len(EXPERTS)} E per repeat)"
    )
    print(f"speed ratio                     {theirs / ours:10.0f} x    goal >= {GOAL_RATIO:.0f}x")
    print(
        f"  the same in CPU time            {cpu_ratio:10.0f} x    (less sensitive to other load)"
    )
    print(
        f"best loss vs Brent, max rel     {rel.max():10.2e}      goal <= {GOAL_REL:g}  "
        f"(ours <= Brent's on {ours_lower:.1%})"
    )
    print(f"N_act vs exact optimum          {rel_n:10.2e}      goal <= {GOAL_REL:g}")
    print(f"D vs exact optimum              {rel_d:10.2e}      goal <= {GOAL_REL:g}")
    print("all goals met" if ok else "GOAL MISSED")


if __name__ == "__main__":
    main()
