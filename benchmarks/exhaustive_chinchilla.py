"""Exhaustive multi-start search on the Chinchilla runs: the reference `moeplan fit` must reach.

Hoffmann et al. (2022) and Besiroglu et al. (2024) fitted the Chinchilla law by running L-BFGS
from every point of a grid over (log A, log B, log E, alpha, beta) and keeping the best:

    alpha, beta in {0, 0.5, ..., 2}   e in {-1, -0.5, ..., 1}   a, b in {0, 5, ..., 25}

5 x 5 x 5 x 6 x 6 = 4,500 starts. This script runs that search with moeplan's own objective
(Huber, delta = 1e-3, on log-loss residuals, sum over runs), the same analytic gradient and the
same L-BFGS-B settings as `moeplan fit`, on the 240 runs left after dropping the five of highest
loss (as Besiroglu et al. did). It takes minutes.

    python benchmarks/exhaustive_chinchilla.py            # print the result
    python benchmarks/exhaustive_chinchilla.py --write    # freeze it into tests/data/

The frozen file records the grid, the date, the versions, the data file's SHA-256 and the best
objective and coefficients; tests/test_fit.py asserts that `fit_law` reaches that objective.
"""

from __future__ import annotations

import os

# One BLAS thread is faster on a small shared machine; the user's own settings win.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "chinchilla" / "svg_extracted_data.csv"
FROZEN = REPO / "tests" / "data" / "chinchilla_exhaustive.json"
COLUMNS = {"params": "Model Size", "flops": "Training FLOP"}
DROP_HIGHEST = 5

#: The Hoffmann et al. / Besiroglu et al. grid of starting points.
GRID = {
    "alpha": [0.0, 0.5, 1.0, 1.5, 2.0],
    "beta": [0.0, 0.5, 1.0, 1.5, 2.0],
    "log_c": [-1.0, -0.5, 0.0, 0.5, 1.0],
    "log_a": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
    "log_b": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
}


def load_runs(path=DATA):
    from moeplan.runs import read_runs

    return read_runs(path, "dense", COLUMNS).drop_highest_loss(DROP_HIGHEST)


def grid_starts() -> np.ndarray:
    """The 4,500 starting vectors, in moeplan's order (log_a, alpha, log_b, beta, log_c)."""
    from moeplan.fit import PARAMETERS

    names = PARAMETERS["dense"]
    combos = itertools.product(*(GRID[n] for n in names))
    return np.array(list(combos), dtype=float)


def exhaustive(runs, starts=None, progress=False):
    """Run L-BFGS-B from every grid start; return (best LocalResult, all objectives, seconds)."""
    from moeplan.fit import _Problem, local_minimize

    starts = grid_starts() if starts is None else starts
    problem = _Problem(runs, "dense", 1e-3, 0.0)
    t0 = time.perf_counter()
    best = None
    objectives = np.empty(len(starts))
    converged = 0
    for i, s in enumerate(starts):
        res = local_minimize(problem, s)
        objectives[i] = res.objective
        converged += res.success
        if best is None or res.objective < best.objective:
            best = res
        if progress and (i + 1) % 500 == 0:
            print(f"  {i + 1}/{len(starts)} starts, best {best.objective:.12g}", file=sys.stderr)
    return best, objectives, converged, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"freeze the result into {FROZEN}")
    args = ap.parse_args(argv)
    import scipy

    from moeplan.fit import theta_to_coefficients

    runs = load_runs()
    best, objectives, converged, seconds = exhaustive(runs, progress=True)
    coeffs = theta_to_coefficients(best.theta, "dense")
    within = int(np.sum(objectives <= best.objective * (1 + 1e-9)))
    result = {
        "what": "exhaustive multi-start L-BFGS-B search, Chinchilla law on the Chinchilla runs",
        "script": "benchmarks/exhaustive_chinchilla.py",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "file": "tests/data/chinchilla/svg_extracted_data.csv",
            "sha256": hashlib.sha256(DATA.read_bytes()).hexdigest(),
            "columns": COLUMNS,
            "tokens": "flops / (6 params)",
            "dropped_highest_loss": DROP_HIGHEST,
            "n_runs": len(runs),
        },
        "objective_definition": "sum over runs of huber_delta(LSE(log_a - alpha log N, log_b - "
        "beta log D, log_c) - log L), delta = 1e-3, no weight decay",
        "grid": GRID,
        "n_starts": len(objectives),
        "optimizer": "scipy L-BFGS-B, analytic gradient, moeplan.fit.LBFGS_OPTIONS, bounds "
        "alpha, beta in [0, 10], logs in [-30, 60]",
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
        "seconds": round(seconds, 2),
        "n_converged": int(converged),
        "n_starts_at_best": within,
        "objective": best.objective,
        "theta": dict(
            zip(("log_a", "alpha", "log_b", "beta", "log_c"), (float(x) for x in best.theta))
        ),
        "coefficients": coeffs,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.write:
        FROZEN.parent.mkdir(parents=True, exist_ok=True)
        FROZEN.write_text(text + "\n")
        print(f"written to {FROZEN}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
