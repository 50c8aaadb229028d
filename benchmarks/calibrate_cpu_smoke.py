#!/usr/bin/env python
"""Run calibrate's measuring code end to end on CPU torch (tiny shapes), where no GPU is at hand.

The test suite does not install torch; this is the CPU-only smoke run of the code that
`moeplan calibrate` runs on a GPU. Usage: python benchmarks/calibrate_cpu_smoke.py
"""

import dataclasses
import sys
import tempfile
from pathlib import Path

import moeplan.calibrate as cal
from moeplan.profiles import load_profile


def main() -> int:
    try:
        import torch
    except ImportError:
        print("calibrate_cpu_smoke: needs torch (pip install 'moeplan[gpu]'); nothing run")
        return 0
    old = (cal.ATTENTION_SEQ_LEN, cal.HEAD_VOCAB)
    cal.ATTENTION_SEQ_LEN, cal.HEAD_VOCAB = 128, 256
    try:
        points = (cal.ExpertPoint(8, 128, 4, 32, 1024),)
        grid = dataclasses.replace(
            cal.make_grid(quick=True, tokens=1024),
            d_models=(128,),
            granularities=(4,),
            device="cpu",
            warmup=1,
            repetitions=1,
            seconds_per_point=0.0,
            expert_points=points,
        )
        doc = cal.run_calibration(grid, "cpu-check")
    finally:
        cal.ATTENTION_SEQ_LEN, cal.HEAD_VOCAB = old
    assert torch.__version__ and doc["expert"][0]["status"] == "ok"
    with tempfile.TemporaryDirectory() as tmp:
        p = load_profile(str(cal.write_profile(doc, Path(tmp) / "cpu-check.yaml")))
        assert len(p.ok("expert")) == 1 and len(p.ok("dense")) == 3 and len(p.ok("router")) == 1
    print("calibrate_cpu_smoke: ok (torch", torch.__version__ + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
