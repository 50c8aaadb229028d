"""Reproduce a few points of a hardware profile with calibrate's own measuring functions.

On a machine with torch and a CUDA GPU it re-measures a handful of routed-expert points
(E = 8, d_model 1024 and 4096, G = 1, 16, 64) and the dense FFN pair, and prints each next to
the value in the profile (shipped name or path; default: the shipped ``h200``, else none).
Without torch or a GPU it says so and exits 0.

    python benchmarks/bench_calibrate.py                     # against the shipped h200
    python benchmarks/bench_calibrate.py --profile my.yaml   # against any profile
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moeplan import calibrate as cal
from moeplan.errors import MoeplanError

POINTS = [(8, 1024, 1), (8, 1024, 16), (8, 1024, 64), (8, 4096, 1), (8, 4096, 16), (8, 4096, 64)]


def _reference(name):
    from moeplan.profiles import load_profile, shipped_profile_names

    if name is None and "h200" not in shipped_profile_names():
        return None
    return load_profile(name or "h200")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="profile name or YAML path to compare with")
    parser.add_argument("--tokens", type=int, default=cal.DEFAULT_TOKENS)
    args = parser.parse_args(argv)
    try:
        torch = cal.require_torch()
    except MoeplanError as exc:
        print(f"bench_calibrate: needs a CUDA GPU with torch; skipped ({exc})")
        return 0
    try:
        ref = _reference(args.profile)
    except MoeplanError as exc:
        print(f"bench_calibrate: {exc}", file=sys.stderr)
        return 2
    grid = cal.make_grid(tokens=args.tokens)
    use_gmm, why = cal.grouped_mm_available(torch)
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; {why}")
    if ref is not None:
        print(
            f"profile: {ref.name} ({ref.gpu}, {ref.provenance.get('date')}, "
            f"torch {ref.provenance.get('torch')})"
        )
    print(f"{'part':<34}{'now TFLOP/s':>12}{'profile':>10}{'ratio':>8}")

    def show(label, rec, old):
        now = rec.get("tflops")
        ratio = f"{now / old:.2f}" if now and old else "-"
        print(f"{label:<34}{(now or rec['status']):>12}{(old or '-'):>10}{ratio:>8}")

    for e, d, g in POINTS:
        point = cal.ExpertPoint(e, d, g, cal.experts_per_gpu(e, d, g), args.tokens)
        rec = cal.measure_expert(torch, point, grid, use_gmm)
        old = None
        if ref is not None:
            match = ref.ok("expert", expansion_rate=e, d_model=d, d_expert=point.d_expert)
            old = match[0]["tflops"] if match else None
        show(f"expert E={e} d_model={d} G={g}", rec, old)
    for d in (1024, 4096):
        rec = cal.measure_dense(torch, "ffn", d, grid)
        old = None
        if ref is not None:
            match = ref.ok("dense", part="ffn", d_model=d)
            old = match[0]["tflops"] if match else None
        show(f"dense FFN pair d_model={d}", rec, old)
    return 0


if __name__ == "__main__":
    sys.exit(main())
