"""Start-up cost of ``moeplan optimize --flops 1e22`` and ``moeplan --help`` relative to
``python -c "import numpy"`` with one BLAS thread.

Goals (issue 12): optimize <= 1.6x and --help <= 2x the floor, both sides with
``OPENBLAS_NUM_THREADS=1`` (moeplan's entry point chooses one thread itself when the user set no
thread variable; the second optimize line measures that, with the variable unset). The commands
run interleaved (machine load hits them alike), stdout to a pipe as a script would; medians.
For where the time goes: ``OPENBLAS_NUM_THREADS=1 python -X importtime -m moeplan optimize
--flops 1e22 2>&1 >/dev/null | sort -t'|' -k2 -n | tail``.

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
        raise SystemExit(
            f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}"
        )
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
    one = dict(env, OPENBLAS_NUM_THREADS="1")
    unset = {
        k: v
        for k, v in env.items()
        if k
        not in (
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "GOTO_NUM_THREADS",
            "BLIS_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS",
        )
    }
    moeplan = _moeplan_command()
    runs = {  # name: (command, environment, goal as a ratio to the floor)
        "python -c 'import numpy'": ([sys.executable, "-c", "import numpy"], one, None),
        "moeplan optimize --flops 1e22": (moeplan + ["optimize", "--flops", "1e22"], one, 1.6),
        "  (no thread variable set)": (moeplan + ["optimize", "--flops", "1e22"], unset, 1.6),
        "moeplan --help": (moeplan + ["--help"], one, 2.0),
    }
    for cmd, e, _ in runs.values():  # warm the file cache (and write the bytecode) once
        _time(cmd, e)
    times = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (cmd, e, _) in runs.items():
            times[name].append(_time(cmd, e))
    floor = statistics.median(times["python -c 'import numpy'"])
    ok = True
    for name, (_, _, goal) in runs.items():
        m = statistics.median(times[name])
        line = f"{name:32s} median {m * 1000:7.1f} ms  (min {min(times[name]) * 1000:.1f})"
        if goal is not None:
            ok &= m / floor <= goal
            line += f"  ratio {m / floor:5.2f}  goal <= {goal}"
        print(line)
    print(
        f"[{args.repeats} interleaved repeats, OPENBLAS_NUM_THREADS=1 unless said] "
        + ("all goals met" if ok else "GOAL MISSED")
    )


if __name__ == "__main__":
    main()
