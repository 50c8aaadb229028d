"""Start-up cost of ``moeplan optimize --flops 1e22`` relative to ``python -c "import numpy"``.

Runs both commands interleaved (so machine load affects them alike), stdout to a pipe as a
script would, and prints the medians and their ratio. Target: ratio <= 2.0.

    python benchmarks/bench_startup.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _moeplan_command() -> list[str]:
    exe = Path(sys.executable).with_name("moeplan")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("moeplan")
    if found:
        return [found]
    return [sys.executable, "-m", "moeplan"]


def _time(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): "
                         f"{proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    # an installed package has its bytecode compiled (pip does it, or the first run writes it);
    # with PYTHONDONTWRITEBYTECODE every run would recompile moeplan's sources, which is not
    # what users see
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    baseline = [sys.executable, "-c", "import numpy"]
    planner = _moeplan_command() + ["optimize", "--flops", "1e22"]
    # warm the file cache (and write the bytecode) once for each
    _time(baseline, env)
    _time(planner, env)
    base_t, plan_t = [], []
    for _ in range(args.repeats):
        base_t.append(_time(baseline, env))
        plan_t.append(_time(planner, env))
    b, p = statistics.median(base_t), statistics.median(plan_t)
    print(f"python -c 'import numpy'         median {b * 1000:7.1f} ms  "
          f"(min {min(base_t) * 1000:.1f})")
    print(f"moeplan optimize --flops 1e22    median {p * 1000:7.1f} ms  "
          f"(min {min(plan_t) * 1000:.1f})")
    print(f"ratio (median)                   {p / b:7.2f}   target <= 2.0   "
          f"[{args.repeats} interleaved repeats]")


if __name__ == "__main__":
    main()
