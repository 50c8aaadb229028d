"""Benchmark of `moeplan fit --bootstrap 1000` on the 240 Chinchilla runs (issue 12).

Goal: `moeplan fit ... --bootstrap 1000` end to end <= 8x `python -c "import scipy.optimize"`
(both with OPENBLAS_NUM_THREADS=1, new processes, runs interleaved, medians), with the
bootstrap percentiles unchanged to 4 significant digits against the L-BFGS-B path (every
resample refitted by L-BFGS-B, as before the batched Newton refits).

    python benchmarks/bench_fit.py                     # about a minute on 2 busy cores
    python benchmarks/bench_fit.py --repeats 7 --bootstrap 1000
    python benchmarks/bench_fit.py --exhaustive-starts 450   # also the refit vs the exhaustive
                                                             # 4,500-start search (scaled)

It measures this checkout: the command is `python -m moeplan` with the repository root first
on PYTHONPATH.
"""

from __future__ import annotations

import os

# One BLAS thread, as the goal says (the work is small vectors); a value set by the user wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import exhaustive_chinchilla as ex

GOAL_RATIO = 8.0
GOAL_DIGITS = 4


def _env() -> dict:
    env = dict(os.environ, NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users run compiled bytecode
    return env


def _run(cmd, env, ok=(0,)):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return elapsed, proc.stdout


def interleaved(cmd, baseline, repeats, env, ok=(0,)):
    """Times of ``cmd`` and ``baseline`` run alternately (the order swapped every round, so
    machine load falls on both alike), after one warm-up run of each; ``ok``: the exit
    statuses ``cmd`` may end with."""
    _run(cmd, env, ok)
    _run(baseline, env)
    t_cmd, t_base, out = [], [], None
    for i in range(repeats):
        pair = [(cmd, t_cmd), (baseline, t_base)]
        for c, times in pair if i % 2 == 0 else pair[::-1]:
            t, stdout = _run(c, env, ok if c is cmd else (0,))
            times.append(t)
            if c is cmd:
                out = stdout
    return t_cmd, t_base, out


def digits_equal(a: float, b: float, digits: int) -> bool:
    """``a`` and ``b`` agree when rounded to ``digits`` significant digits."""
    return float(f"{a:.{digits - 1}e}") == float(f"{b:.{digits - 1}e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5, help="interleaved runs of each (default 5)")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--exhaustive-starts",
        type=int,
        default=0,
        help="also time the exhaustive grid search on this many of its 4,500 starts "
        "(scaled to 4,500); 0: skip (default)",
    )
    args = ap.parse_args(argv)

    from moeplan.fit import bootstrap_fit, fit_law

    env = _env()
    cmd = [
        sys.executable,
        "-m",
        "moeplan",
        "fit",
        str(ex.DATA),
        "--law-form",
        "dense",
        "--column",
        "params=Model Size",
        "--column",
        "flops=Training FLOP",
        "--drop-highest",
        "5",
        "--bootstrap",
        str(args.bootstrap),
        "--seed",
        str(args.seed),
        "--json",
    ]
    baseline = [sys.executable, "-c", "import scipy.optimize"]
    print(
        f"goal: `moeplan fit` on the 240 Chinchilla runs with --bootstrap {args.bootstrap} "
        f'<= {GOAL_RATIO:g}x `python -c "import scipy.optimize"` end to end '
        f"(OPENBLAS_NUM_THREADS={env['OPENBLAS_NUM_THREADS']}), percentiles unchanged to "
        f"{GOAL_DIGITS} digits"
    )

    # 1. end to end, interleaved
    t_cmd, t_base, stdout = interleaved(cmd, baseline, args.repeats, env)
    m_cmd, m_base = statistics.median(t_cmd), statistics.median(t_base)
    ratio = m_cmd / m_base
    print(f"1. end to end ({args.repeats} interleaved runs each, medians)")
    print(
        f"   moeplan fit --bootstrap {args.bootstrap}   {m_cmd * 1e3:7.0f} ms "
        f"(min {min(t_cmd) * 1e3:.0f}, max {max(t_cmd) * 1e3:.0f})"
    )
    print(
        f"   python -c 'import scipy.optimize'  {m_base * 1e3:7.0f} ms "
        f"(min {min(t_base) * 1e3:.0f}, max {max(t_base) * 1e3:.0f})"
    )
    print(
        f"   ratio {ratio:.2f}x   goal <= {GOAL_RATIO:g}x   "
        f"{'MET' if ratio <= GOAL_RATIO else 'NOT MET'}"
    )

    # 2. the command's percentiles against the L-BFGS-B path on the same resamples
    data = json.loads(stdout)
    runs = ex.load_runs()
    fitted = fit_law(runs, "dense")
    t0 = time.perf_counter()
    newton = bootstrap_fit(runs, fitted, args.bootstrap, np.random.default_rng(args.seed))
    t_newton = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference = bootstrap_fit(
        runs, fitted, args.bootstrap, np.random.default_rng(args.seed), method="lbfgsb"
    )
    t_ref = time.perf_counter() - t0
    worst, same = 0.0, True
    for name, ref in reference.percentiles.items():
        for q, value in ref.items():
            got = data["percentiles"][name][q]
            worst = max(worst, abs(got - value) / abs(value))
            same &= digits_equal(got, value, GOAL_DIGITS)
    print(
        f"2. percentiles of `moeplan fit` vs every resample refitted by L-BFGS-B (seed {args.seed})"
    )
    print(
        f"   largest relative difference {worst:.2g}; equal to {GOAL_DIGITS} digits: "
        f"{'yes' if same else 'NO'}   ({newton.n_fallback} resamples fell back to "
        f"L-BFGS-B, {newton.n_failed} failed)"
    )
    print(
        f"   in process: batched Newton {t_newton * 1e3:.0f} ms, L-BFGS-B {t_ref * 1e3:.0f} ms "
        f"({t_ref / t_newton:.1f}x faster; one run each)"
    )

    # 3. optional: the refit's multi-start search vs the exhaustive grid search
    if args.exhaustive_starts:
        starts = ex.grid_starts()
        if args.exhaustive_starts < len(starts):
            rng = np.random.default_rng(0)
            starts = starts[rng.choice(len(starts), args.exhaustive_starts, replace=False)]
        t0 = time.perf_counter()
        res = fit_law(runs, "dense")
        t_fit = time.perf_counter() - t0
        best, _, converged, t_ex = ex.exhaustive(runs, starts)
        t_ex_full = t_ex * 4500 / len(starts)
        worse = res.objective - best.objective
        print(
            f"3. refit ({res.n_starts} starts, {t_fit * 1e3:.0f} ms) vs exhaustive search "
            f"({len(starts)} starts, {t_ex:.1f} s, scaled to 4,500: {t_ex_full:.1f} s, "
            f"{converged} converged): {t_ex_full / t_fit:.0f}x faster, objective "
            f"{'no worse' if worse <= 1e-12 * best.objective else 'WORSE'} ({worse:+.3g})"
        )
    return 0 if ratio <= GOAL_RATIO and same else 1


if __name__ == "__main__":
    sys.exit(main())
