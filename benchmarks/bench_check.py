"""Benchmark of `moeplan check PROPOSAL` (issue 12: a proposal is parsed once).

Issue 12 sets no ratio for `check`; this prints what it costs, interleaved with
`python -c "import numpy"` (both with OPENBLAS_NUM_THREADS=1, new processes, medians), and
in process what reading the proposal costs against the second, pure-Python parse it used to
make for line numbers.

    python benchmarks/bench_check.py [--repeats 11] [--proposal examples/proposal.yaml]

It measures this checkout: the command is `python -m moeplan` with the repository root first
on PYTHONPATH.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import _env, interleaved


def _in_process(path: Path, repeats: int):
    import yaml

    from moeplan.proposal import load_proposal

    text = path.read_text()
    load_proposal(path)  # warm up: imports
    once, compose = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        load_proposal(path)
        once.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        yaml.compose(text, Loader=yaml.SafeLoader)  # what the second parse cost
        compose.append(time.perf_counter() - t0)
    return statistics.median(once), statistics.median(compose)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--proposal", default=str(ROOT / "examples" / "proposal.yaml"))
    args = ap.parse_args(argv)
    path = Path(args.proposal)
    env = _env()
    cmd = [sys.executable, "-m", "moeplan", "check", str(path), "--json"]
    baseline = [sys.executable, "-c", "import numpy"]
    print("goal: none in issue 12 for `check` (its proposal is now parsed once); informational")
    t_cmd, t_base, _ = interleaved(cmd, baseline, args.repeats, env, ok=(0, 1))
    m_cmd, m_base = statistics.median(t_cmd), statistics.median(t_base)
    print(f"1. end to end ({args.repeats} interleaved runs each, medians)")
    print(f"   moeplan check {path.name:<22} {m_cmd * 1e3:7.1f} ms (min {min(t_cmd) * 1e3:.1f})")
    print(
        f"   python -c 'import numpy'            {m_base * 1e3:7.1f} ms "
        f"(min {min(t_base) * 1e3:.1f})"
    )
    print(f"   ratio {m_cmd / m_base:.2f}x")
    once, compose = _in_process(path, args.repeats * 10)
    print(
        f"2. in process: load_proposal {once * 1e3:.2f} ms; the removed second parse "
        f"(yaml.compose, pure-Python SafeLoader) took {compose * 1e3:.2f} ms more"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
