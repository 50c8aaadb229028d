"""Peak memory of the two large jobs of issue 12, each in a fresh process.

Goals (issue 12, "Peak memory"):
- `moeplan fit` on 24,000 runs: peak resident memory <= 600 MB;
- `moeplan sweep --points 100000 --csv`: peak <= 250 MB and <= 15x the numpy floor (the peak of
  `python -c "import numpy"`), end to end. Its time is printed too (no goal).

The 24,000 runs are drawn here from the shipped krajewski2024-moe law (N from 1e7 to 1e10, D
from 1e9 to 1e12, G in 1..64) with 1% log-normal noise, written to a temporary CSV. Peak memory
is the child's ``ru_maxrss`` (each command runs under its own small Python parent, so one
command's peak is never another's).

    python benchmarks/bench_memory.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOAL_FIT_MB = 600.0
GOAL_SWEEP_MB = 250.0
GOAL_SWEEP_RATIO = 15.0
#: Runs one command and prints its peak resident memory in KiB (Linux ru_maxrss unit).
_PEAK = (
    "import resource, subprocess, sys; "
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
    "sys.stderr.write(p.stderr.decode()[-400:]) if p.returncode else None; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)"
)


def _env() -> dict:
    env = dict(os.environ, NO_COLOR="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users run compiled bytecode
    return env


def peak_mb(cmd: list[str], env: dict) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, *cmd], capture_output=True, text=True, env=env, check=True
    )
    kib, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"{' '.join(cmd)} failed ({rc}): {out.stderr}")
    return int(kib) / 1024.0


def _time(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - t0


def write_runs(path: Path, n: int = 24_000, seed: int = 0) -> None:
    """``n`` runs of the shipped MoE law with 1% log-normal noise, as a CSV."""
    k = dict(a=18.1, alpha=0.115, b=30.8, beta=0.147, g=2.1, gamma=0.58, c=0.47)  # SPEC §2
    rng = np.random.default_rng(seed)
    N = 10 ** rng.uniform(7, 10, n)
    D = 10 ** rng.uniform(9, 12, n)
    G = 2.0 ** rng.integers(0, 7, n)
    loss = k["c"] + (k["g"] / G ** k["gamma"] + k["a"]) / N ** k["alpha"] + k["b"] / D ** k["beta"]
    loss *= np.exp(rng.normal(0.0, 0.01, n))
    rows = "\n".join(f"{a:.6g},{b:.6g},{g:g},{v:.6f}" for a, b, g, v in zip(N, D, G, loss))
    path.write_text("params,tokens,granularity,loss\n" + rows + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    env = _env()
    moeplan = [sys.executable, "-m", "moeplan"]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs.csv"
        write_runs(runs)
        fit = moeplan + ["fit", str(runs), "--law-form", "moe", "--json"]
        mb = peak_mb(fit, env)
        ok &= mb <= GOAL_FIT_MB
        print(f"fit of 24,000 runs: peak {mb:.0f} MB   goal <= {GOAL_FIT_MB:.0f} MB")

        # --csv prints the rows on stdout (to /dev/null here, as to a pipe)
        sweep = moeplan + ["sweep", "--from", "1e18", "--to", "1e25", "--points", "100000"]
        sweep += ["--csv"]
        mb = min(peak_mb(sweep, env) for _ in range(args.repeats))
        floor_mb = min(peak_mb([sys.executable, "-c", "import numpy"], env) for _ in range(3))
        ok &= mb <= GOAL_SWEEP_MB and mb / floor_mb <= GOAL_SWEEP_RATIO
        print(
            f"sweep --points 100000 --csv: peak {mb:.0f} MB = {mb / floor_mb:.1f}x the numpy "
            f"floor ({floor_mb:.0f} MB)   goal <= {GOAL_SWEEP_MB:.0f} MB and <= "
            f"{GOAL_SWEEP_RATIO:g}x"
        )
        t = statistics.median(_time(sweep, env) for _ in range(args.repeats))
        t0 = statistics.median(_time([sys.executable, "-c", "import numpy"], env) for _ in range(3))
        print(f"  (its time: {t:.2f} s, {t / t0:.0f}x `python -c 'import numpy'`; no goal)")
    print("all goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
