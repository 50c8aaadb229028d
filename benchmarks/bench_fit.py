"""Benchmark of `moeplan fit` on the 240 Chinchilla runs; prints ratios measured in one run.

1. the refit (`fit_law`: screening grid + 10 L-BFGS-B starts) vs the exhaustive search from the
   4,500 Hoffmann/Besiroglu grid starts (same objective, gradient and optimiser settings):
   target >= 50x faster with an objective no worse;
2. end-to-end `moeplan fit FILE --json` (installed script, new process) vs
   `python -c "import scipy.optimize"`: target <= 4x;
3. 1,000 bootstrap refits of the 240 runs: target under 30 s on this 2-core machine.

    python benchmarks/bench_fit.py                 # everything (about a minute)
    python benchmarks/bench_fit.py --exhaustive-starts 450   # a 1-in-10 sample of the grid,
                                                             # timed and scaled to 4,500
"""

from __future__ import annotations

import os

# One BLAS thread is faster on a small shared machine; the user's own settings win.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import exhaustive_chinchilla as ex  # noqa: E402


def _median_time(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _wall(cmd, repeats, env):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exhaustive-starts", type=int, default=4500,
                    help="grid starts to time (a seeded sample when fewer than 4,500; the time "
                         "is scaled to 4,500)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args(argv)

    from moeplan.fit import bootstrap_fit, fit_law

    runs = ex.load_runs()
    fit_law(runs, "dense")  # warm up: scipy import, caches

    # 1. refit vs exhaustive search
    t_fit, res = _median_time(lambda: fit_law(runs, "dense"), args.repeats)
    starts = ex.grid_starts()
    if args.exhaustive_starts < len(starts):
        rng = np.random.default_rng(0)
        starts = starts[rng.choice(len(starts), args.exhaustive_starts, replace=False)]
    best, _, converged, t_ex = ex.exhaustive(runs, starts)
    t_ex_full = t_ex * 4500 / len(starts)
    print(f"1. refit vs exhaustive search on {len(runs)} runs")
    print(f"   moeplan fit_law: {t_fit * 1e3:.0f} ms (median of {args.repeats}), "
          f"{res.n_starts} starts, {res.n_evaluations} evaluations, objective "
          f"{res.objective:.15g}")
    print(f"   exhaustive:      {t_ex:.1f} s for {len(starts)} starts"
          + (f" (scaled to 4,500: {t_ex_full:.1f} s)" if len(starts) < 4500 else "")
          + f", {converged} converged, objective {best.objective:.15g}")
    speedup = t_ex_full / t_fit
    worse = res.objective - best.objective
    print(f"   speed-up {speedup:.0f}x (target >= 50x); objective difference "
          f"{worse:+.3g} ({'no worse' if worse <= 1e-12 * best.objective else 'WORSE'})")

    # 2. end-to-end command vs importing scipy.optimize
    script = shutil.which("moeplan", path=str(Path(sys.executable).parent)) or "moeplan"
    env = dict(os.environ, NO_COLOR="1")
    cmd = [script, "fit", str(ex.DATA), "--law-form", "dense", "--column",
           "params=Model Size", "--column", "flops=Training FLOP", "--drop-highest", "5",
           "--json"]
    t_cmd = _wall(cmd, args.repeats, env)
    t_scipy = _wall([sys.executable, "-c", "import scipy.optimize"], args.repeats, env)
    print("2. end-to-end `moeplan fit ... --json` vs `python -c \"import scipy.optimize\"`")
    print(f"   moeplan fit {t_cmd * 1e3:.0f} ms, import scipy.optimize {t_scipy * 1e3:.0f} ms "
          f"(medians of {args.repeats}): ratio {t_cmd / t_scipy:.2f}x (target <= 4x)")

    # 3. bootstrap refits
    t0 = time.perf_counter()
    boot = bootstrap_fit(runs, res, args.bootstrap, np.random.default_rng(0))
    t_boot = time.perf_counter() - t0
    print(f"3. {args.bootstrap} bootstrap refits of {len(runs)} runs: {t_boot:.1f} s "
          f"({t_boot / 30:.2f}x the 30 s budget; {t_boot / t_fit:.1f}x one full refit), "
          f"{boot.n_failed} did not converge")
    return 0


if __name__ == "__main__":
    sys.exit(main())
