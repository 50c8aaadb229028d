"""`moeplan calibrate`'s CPU-only paths: the grid, the YAML it writes, its errors (issue 16 item 1).

The measuring code needs torch and a CUDA GPU; it is run on the GPU machine, and here only
when torch is importable (a tiny CPU run that checks the code paths, not the numbers).
"""

from __future__ import annotations

import sys
import types

import pytest

from moeplan import calibrate as cal
from moeplan.cli import app
from moeplan.errors import InputError
from moeplan.profiles import load_profile


def test_default_grid_is_the_briefed_one():
    grid = cal.make_grid()
    assert grid.d_models == (1024, 2048, 4096, 8192)
    assert grid.granularities == (1, 2, 4, 8, 16, 32, 64)
    assert grid.expansion_rates == (8, 64)
    assert grid.tokens == 16_384
    assert len(grid.expert_points) == 2 * 4 * 7


def test_every_point_has_equal_active_flops_and_fewer_than_1024_groups():
    for p in cal.make_grid().expert_points:
        assert p.top_k == p.granularity
        assert p.top_k * p.d_expert == 4 * p.d_model  # equal active FLOPs per token across G
        assert 1 <= p.experts_per_gpu < 1024
        assert p.experts_per_gpu <= p.n_experts
        assert p.tokens_per_expert * p.experts_per_gpu == p.tokens * p.top_k  # even routing
        assert p.d_expert % 16 == 0 and p.tokens_per_expert % 16 == 0  # grouped GEMM alignment
        # bf16 W1 and W2 of the local experts within the budget
        assert p.experts_per_gpu * 4 * p.d_model * p.d_expert <= cal.EXPERT_WEIGHT_BUDGET


def test_expert_parallel_split_by_hand():
    # E = 8: every expert fits (8 * G <= 512 experts, 64 * d_model^2 bytes <= 4 GiB at 8192)
    assert cal.experts_per_gpu(8, 8192, 64) == 512
    # E = 64, G = 16: 1024 experts, which torch._grouped_mm refused on the H200 ("Can't process
    # more than 1024 groups"): half of them per GPU (expert parallelism over 2); G = 32 over 4
    assert cal.experts_per_gpu(64, 1024, 16) == 512
    assert cal.experts_per_gpu(64, 1024, 32) == 512
    # E = 64, d_model 8192, G = 1: each expert is 2*2*8192*32768 bytes = 1 GiB -> 16 per GPU
    assert cal.experts_per_gpu(64, 8192, 1) == 16


def test_point_flops_by_hand():
    p = cal.ExpertPoint(8, 1024, 1, 8, 16_384)
    assert p.d_expert == 4096 and p.tokens_per_expert == 2048
    assert p.flops == 6 * 16_384 * 2 * 1024 * 4096 == 824_633_720_832
    q = cal.ExpertPoint(8, 1024, 64, 512, 16_384)
    assert q.flops == p.flops  # same active FLOPs at G = 64


def test_quick_grid_is_smaller():
    quick = cal.make_grid(quick=True)
    assert len(quick.expert_points) <= 8 and quick.repetitions < cal.make_grid().repetitions


@pytest.mark.parametrize("tokens", [0, 1000, 1536])
def test_tokens_must_be_a_multiple_of_1024(tokens):
    with pytest.raises(InputError, match="1024"):
        cal.make_grid(tokens=tokens)


def _document():
    grid = cal.make_grid(quick=True)
    expert = []
    for i, p in enumerate(grid.expert_points):
        rec = {
            "expansion_rate": p.expansion_rate,
            "d_model": p.d_model,
            "d_expert": p.d_expert,
            "top_k": p.top_k,
            "experts_per_gpu": p.experts_per_gpu,
            "tokens_per_expert": p.tokens_per_expert,
            "backend": "torch._grouped_mm",
        }
        rec.update(
            {"status": "ok", "ms": 1.5, "repetitions": 10, "tflops": 100.0 + i}
            if i
            else {"status": "oom", "ms": None, "repetitions": 0, "tflops": None}
        )
        expert.append(rec)
    dense = [
        {
            "part": "head",
            "d_model": 1024,
            "vocab": cal.HEAD_VOCAB,
            "status": "ok",
            "ms": 2.0,
            "repetitions": 10,
            "tflops": 600.0,
        }
    ]
    attention = [
        {
            "d_model": 1024,
            "seq_len": 4096,
            "head_dim": 128,
            "n_heads": 8,
            "batch": 4,
            "status": "ok",
            "ms": 3.0,
            "repetitions": 10,
            "tflops": 400.0,
        }
    ]
    router = [
        {
            "expansion_rate": 8,
            "d_model": 1024,
            "n_experts": 8,
            "top_k": 1,
            "status": "error",
            "ms": None,
            "repetitions": 0,
            "tflops": None,
            "error": "x",
        }
    ]
    prov = {
        "gpu": "Some GPU",
        "torch": type("V", (str,), {})("2.9.0"),
        "cuda": "12.8",
        "date": "2026-11-30T00:00:00Z",
        "moeplan": "0.1.0",
        "command": "moeplan calibrate",
    }
    return cal.build_document("mygpu", prov, grid, expert, dense, attention, router)


def test_written_profile_reads_back_with_every_point(tmp_path):
    doc = _document()
    path = cal.write_profile(doc, tmp_path / "mygpu.yaml")
    text = path.read_text()
    assert text.startswith("# moeplan hardware profile") and "!!" not in text
    p = load_profile(str(path))
    assert p.name == "mygpu" and p.gpu == "Some GPU" and p.provenance["torch"] == "2.9.0"
    assert [r["tflops"] for r in p.expert] == [r["tflops"] for r in doc["expert"]]
    assert p.expert[0]["status"] == "oom" and p.router[0]["error"] == "x"
    assert p.grid["d_model"] == [1024, 4096] and "communication" in p.not_measured
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "args, words",
    [
        (["--out", "{tmp}/nofolder/p.yaml"], "does not exist"),
        (["--out", "{tmp}/p.json"], ".yaml"),
        (["--out", "{tmp}"], "directory"),
        (["--out", "{tmp}/p.yaml", "--name", "a b"], "name"),
        (["--out", "{tmp}/p.yaml", "--tokens", "1000"], "1024"),
    ],
)
def test_bad_arguments_fail_before_measuring(runner, tmp_path, monkeypatch, args, words):
    def no_torch():
        raise AssertionError("torch must not be needed to reject these arguments")

    monkeypatch.setattr(cal, "require_torch", no_torch)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = runner.invoke(app, ["calibrate", *args])
    assert r.exit_code == 2
    assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_without_torch_one_line_and_exit_2(runner, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    r = runner.invoke(app, ["calibrate", "--out", str(tmp_path / "p.yaml")])
    assert r.exit_code == 2
    assert "PyTorch" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.yaml").exists()


def test_without_a_gpu_one_line_and_exit_2(runner, tmp_path, monkeypatch):
    fake = types.ModuleType("torch")
    fake.__version__ = "2.9.0+cpu"
    fake.version = types.SimpleNamespace(cuda=None)
    fake.cuda = types.SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "torch", fake)
    r = runner.invoke(app, ["calibrate", "--out", str(tmp_path / "p.yaml"), "--quick"])
    assert r.exit_code == 2
    assert "CUDA GPU" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# The measuring code itself needs torch, which the suite does not install: it ran on an H200
# (moeplan/hardware_profiles/h200.yaml) and runs on CPU torch in benchmarks/calibrate_cpu_smoke.py.
