"""Plans a team can train (issue 13; issue 10 item 1): GPU-friendly shapes by default, training
memory and a parallel layout, a budget from GPUs x days, time on executed FLOPs, the Hugging
Face export round trip. Through the library and the CLI; every expected number is written out
here from SPEC.md §3, §9, §10 and the accelerator table, not taken from the code under test."""

from __future__ import annotations

import json
import math

import pytest

from moeplan import load_law, optimize
from moeplan.cli import app
from moeplan.errors import InputError
from moeplan.plan.hardware import plan_on_hardware

H100_PEAK, A100_PEAK = 989e12, 312e12
GB80 = 80e9
V, S = 50_257, 4096


def run(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def moe():
    return load_law("krajewski2024-moe")


def gpu_friendly(cfg, tp=1, multiple=128, E=64):
    """The shape rules written out: d_model a multiple of 128, heads of 128 (64 below 2048)
    divisible by tp, d_expert = 4·d_model/G a multiple of 64, n_experts = G·E."""
    d = cfg["d_model"] if isinstance(cfg, dict) else cfg.d_model
    get = (lambda k: cfg[k]) if isinstance(cfg, dict) else (lambda k: getattr(cfg, k))
    assert d % multiple == 0
    assert get("head_dim") == (64 if d < 2048 else 128)
    assert get("n_heads") * get("head_dim") == d and get("n_heads") % tp == 0
    assert get("d_expert") == 4 * d / get("top_k") and get("d_expert") % 64 == 0
    assert get("n_experts") == get("top_k") * E
    assert get("n_blocks") == int(get("n_blocks")) >= 1


# --------------------------------------------------------------------------- 1. shapes


@pytest.mark.parametrize("budget", [1e19, 1e21, 1e23])
def test_gpu_shapes_cost_little_loss_with_tp8(moe, budget):
    res = optimize(moe, budget, tp=8)
    rec = res.recommended
    gpu_friendly(rec, tp=8)
    # the penalty against the continuous optimum (SPEC loss at the real-valued optimum)
    assert 0 <= rec.loss_penalty <= 0.005
    assert rec.loss_penalty == pytest.approx(rec.loss - res.continuous.loss, abs=1e-12)


def test_default_shapes_are_gpu_friendly_through_the_cli(runner):
    r = run(runner, "optimize", "--flops", "1e22", "--tp", "8", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    gpu_friendly(data["recommended"], tp=8)
    for c in data["realizable"]:
        gpu_friendly(c, tp=8)
    assert data["settings"]["multiple_of"] == 128 and data["settings"]["tp"] == 8
    # --multiple-of 64 still allows the 64-steps of old (d_expert still a multiple of 64)
    r = run(runner, "optimize", "--flops", "1e19", "--multiple-of", "64", "--json")
    assert r.exit_code == 0, r.stderr
    rec = json.loads(r.stdout)["recommended"]
    assert rec["d_model"] % 64 == 0 and rec["d_expert"] % 64 == 0


def test_all_to_all_bytes_per_candidate_and_top_k_warning(runner):
    r = run(runner, "optimize", "--flops", "1e22", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    for c in data["candidates"]:
        # 4 transfers (dispatch, combine, both backward) of top_k·d_model bf16 values per layer
        expected = 4 * c["top_k"] * c["d_model"] * 2 * c["n_blocks"]
        assert c["all_to_all_bytes_per_token"] == pytest.approx(expected, rel=1e-12)
    r = run(runner, "optimize", "--flops", "1e22", "--granularity", "32")
    assert r.exit_code == 0 and "top-k 32" in r.stderr
    r = run(runner, "optimize", "--flops", "1e22", "--granularity", "8")
    assert r.exit_code == 0 and "top-k" not in r.stderr
    r = run(runner, "optimize", "--flops", "1e22", "--law", "krajewski2024-dense", "--json")
    assert json.loads(r.stdout)["candidates"][0]["all_to_all_bytes_per_token"] is None


# --------------------------------------------------------------------------- 2. memory, layout


def _stage_bytes(rec, lay, stage, seq=S, mb=1, vocab=V):
    """SPEC §9 written out: a stage's weights/grads/optimizer under ZeRO-1, and selective-
    recomputation activations (Korthikanti: 34·s·b·h/tp per layer, plus 2·top_k·s·b·h/tp routed
    copies), 1F1B: the first stage holds pp micro-batches in flight."""
    d, n, ne, de, k = (rec[x] for x in ("d_model", "n_blocks", "n_experts", "d_expert", "top_k"))
    tp, pp, ep, dp = lay["tp"], lay["pp"], lay["ep"], lay["dp"]
    blocks = math.ceil(n / pp) if stage in ("first", "only") else n // pp
    dense = blocks * (4 * d * d + d * ne + 2 * d)
    dense += {"only": 2 * vocab * d + d, "first": vocab * d, "last": vocab * d + d}[stage]
    expert = blocks * ne * 2 * d * de
    weights = 2 * dense / tp + 2 * expert / ep
    optimizer = 12 * dense / (tp * dp) + 12 * expert / dp
    in_flight = pp if stage == "first" else 1
    act = seq * mb * d * (34 + 2 * k) / tp * blocks * in_flight
    return weights, optimizer, act


@pytest.fixture(scope="module")
def h100_month(tmp_path_factory):
    """`optimize --gpu h100 --gpus 1024 --days 30 --hf-config PATH --json`, run once for the
    three tests reading its JSON (and the HF config it wrote: ``data["_hf_config_path"]``)."""
    from click.testing import CliRunner

    import fuzz_support

    path = tmp_path_factory.mktemp("h100-month") / "config.json"
    args = ["optimize", "--gpu", "h100", "--gpus", "1024", "--days", "30"]
    args += ["--hf-config", str(path), "--json"]
    r = CliRunner().invoke(fuzz_support.click_command(app), args, env={"NO_COLOR": "1"})
    assert r.exit_code == 0, r.stderr
    return dict(json.loads(r.stdout), _hf_config_path=path)


def test_training_memory_and_layout_through_the_cli(h100_month):
    data = h100_month
    rec, tm = data["recommended"], data["training_memory"]
    lay, pb = tm["layout"], tm["per_gpu_bytes"]
    assert lay["tp"] * lay["pp"] * lay["dp"] == 1024 and lay["dp"] % lay["ep"] == 0
    assert rec["n_experts"] % lay["ep"] == 0 and rec["n_heads"] % lay["tp"] == 0
    assert lay["zero"] == 1 and tm["gpu_memory_bytes"] == GB80
    w, o, a = _stage_bytes(rec, lay, tm["stage"])
    assert pb["weights"] == pytest.approx(w, rel=1e-12)
    assert pb["gradients"] == pytest.approx(w, rel=1e-12)
    assert pb["optimizer"] == pytest.approx(o, rel=1e-12)
    assert pb["activations"] == pytest.approx(a, rel=1e-12)
    assert pb["total"] == pytest.approx(2 * w + o + a, rel=1e-12)
    assert tm["fits"] is True and pb["total"] <= GB80
    gpu_friendly(rec, tp=8)  # 1024 GPUs: heads divisible by 8, every TP degree stays open


def test_memory_bound_plan_is_the_best_that_fits(runner, moe):
    # 1e23 FLOPs on 8 A100s: the loss-optimal model (trillions of parameters) cannot train there
    free = optimize(moe, 1e23).recommended
    plan = plan_on_hardware(moe, gpu="a100", gpus=8, flops=1e23)
    rec = plan.result.recommended
    assert plan.memory_bound and rec.binding == "training_memory"
    assert plan.training_memory.fits and plan.training_memory.per_gpu_bytes.total <= GB80
    assert rec.n_total < free.n_total and rec.loss > free.loss
    assert rec.flops == pytest.approx(1e23, rel=1e-9)  # the whole budget is spent
    assert any("training memory binds" in w for w in plan.result.warnings)
    r = run(runner, "optimize", "--flops", "1e23", "--gpu", "a100", "--gpus", "8")
    assert r.exit_code == 0, r.stderr
    assert "training memory" in r.stdout and "fits" in r.stdout


# --------------------------------------------------------------------------- 3. budget, 4. time


def test_budget_from_gpus_and_days_is_executed_flops(runner, h100_month):
    data = h100_month
    budget = 1024 * H100_PEAK * 0.4 * 30 * 86_400
    assert data["hardware_budget"]["flops"] == pytest.approx(budget, rel=1e-12)
    t, rec = data["training_time"], data["recommended"]
    # the plan spends the days: executed FLOPs equal the hardware budget
    assert t["flops"] == pytest.approx(budget, rel=2e-3)
    assert t["days"] == pytest.approx(30, rel=2e-3)
    d, n, D = rec["d_model"], rec["n_blocks"], rec["tokens"]
    assert t["attention_flops"] == pytest.approx(12 * n * S * d * D, rel=1e-12)
    assert t["head_flops"] == pytest.approx(6 * d * V * D, rel=1e-12)
    assert t["law_flops"] == pytest.approx(rec["flops"], rel=1e-12)
    assert data["budget_flops"] == pytest.approx(rec["flops"], rel=1e-9)
    r = run(runner, "optimize", "--gpu", "h100", "--gpus", "1024", "--days", "30")
    assert "budget: 1024 x h100 x 30 days x MFU 0.4 = " in r.stdout


def test_budget_from_gpu_hours(runner):
    r = run(runner, "optimize", "--gpu", "a100", "--gpu-hours", "100000", "--mfu", "0.5", "--json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    budget = 100_000 * 3600 * A100_PEAK * 0.5
    assert data["hardware_budget"]["flops"] == pytest.approx(budget, rel=1e-12)
    assert data["training_time"]["gpu_hours"] == pytest.approx(100_000, rel=2e-3)


def test_time_never_counts_the_inference_share(runner):
    # issue 10 item 1: the time was computed on 1e22 although training is a part of it
    r = run(
        runner,
        "optimize",
        "--flops",
        "1e22",
        "--inference-tokens",
        "1T",
        "--gpu",
        "h100",
        "--gpus",
        "1024",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    t, rec = data["training_time"], data["recommended"]
    assert rec["inference_flops"] > 0
    assert rec["flops"] + rec["inference_flops"] == pytest.approx(1e22, rel=1e-9)
    assert t["law_flops"] == pytest.approx(rec["flops"], rel=1e-12)
    d, n, D = rec["d_model"], rec["n_blocks"], rec["tokens"]
    executed = rec["flops"] + (12 * n * S * d + 6 * d * V) * D
    assert t["flops"] == pytest.approx(executed, rel=1e-12)
    assert t["gpu_hours"] == pytest.approx(executed / (H100_PEAK * 0.4) / 3600, rel=1e-12)


@pytest.mark.parametrize(
    "args, text",
    [
        (["--days", "30", "--gpu", "h100"], "--days needs --gpus"),
        (["--days", "30", "--gpus", "8"], "go with --gpu"),
        (["--days", "30", "--gpus", "8", "--gpu", "h100", "--flops", "1e22"], "leave out --flops"),
        (["--days", "3", "--gpu-hours", "9", "--gpus", "8", "--gpu", "h100"], "not both"),
        (["--days", "3", "--gpus", "8", "--gpu", "h100", "--inference-tokens", "1T"], "inference"),
        (["--flops", "1e22", "--hf-config", "/nonexistent-folder/config.json"], "hf-config"),
    ],
)
def test_hardware_mistakes_exit_2(runner, args, text):
    r = run(runner, "optimize", *args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert text in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- 5. export


def test_hf_config_round_trips_through_inspect(runner, h100_month, tmp_path):
    path = h100_month["_hf_config_path"]
    rec = h100_month["recommended"]
    cfg = json.loads(path.read_text())
    assert cfg["model_type"] == "qwen3_moe"
    assert cfg["num_experts"] == rec["n_experts"] and cfg["num_experts_per_tok"] == rec["top_k"]
    assert cfg["hidden_size"] == rec["d_model"] and cfg["num_hidden_layers"] == rec["n_blocks"]
    r = run(runner, "inspect", str(path), "--json")
    assert r.exit_code == 0, r.stderr
    back = json.loads(r.stdout)
    assert back["n_total"] == pytest.approx(rec["n_total"], rel=0.02)
    assert back["n_active"] == pytest.approx(rec["n_active"], rel=0.02)
    path = tmp_path / "config.json"  # a fresh file (the fixture's is shared)
    r = run(runner, "optimize", "--flops", "1e21", "--hf-config", str(path))
    assert r.exit_code == 0 and "SwiGLU" in r.stdout and "2/3" in r.stdout


# --------------------------------------------------------------------------- check hardware:

PROPOSAL = """name: hw
law: krajewski2024-moe
model:
  d_model: 2048
  n_blocks: 32
  expansion_rate: 64
  granularity: 8
training:
  tokens: 200B
"""


def _check(runner, tmp_path, text, *extra):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return run(runner, "check", str(path), "--json", *extra)


def test_check_hardware_section_runs_max_memory_per_gpu(runner, tmp_path):
    text = PROPOSAL + "hardware:\n  gpu: h100\n  gpus: 64\n  seq_len: 4096\n  micro_batch: 2\n"
    r = _check(runner, tmp_path, text)
    assert r.exit_code in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    doc = doc["results"][0] if "results" in doc else doc
    c = next(c for c in doc["checks"] if c["name"] == "max_memory_per_gpu")
    tm = doc["proposal"]["training_memory"]
    lay = tm["layout"]
    assert lay["tp"] * lay["pp"] * lay["dp"] == 64 and c["limit"] == GB80
    rec = {"d_model": 2048, "n_blocks": 32, "n_experts": 512, "d_expert": 1024, "top_k": 8}
    w, o, a = _stage_bytes(rec, lay, tm["stage"], mb=2)
    assert c["value"] == pytest.approx(2 * w + o + a, rel=1e-12)
    assert c["passed"] == (c["value"] <= GB80)
    # a limit below what it takes fails the check: exit 1
    text2 = text + "limits:\n  max_memory_per_gpu: 1GB\n"
    r = _check(runner, tmp_path, text2)
    assert r.exit_code == 1, r.stderr
    doc = json.loads(r.stdout)
    doc = doc["results"][0] if "results" in doc else doc
    c = next(c for c in doc["checks"] if c["name"] == "max_memory_per_gpu")
    assert not c["passed"] and c["limit"] == 1e9


@pytest.mark.parametrize(
    "tail, text",
    [
        ("hardware:\n  gpu: h100\n  gpus: 8\n  nodes: 2\n", "unknown key 'nodes'"),
        ("hardware:\n  gpu: h100\n", "hardware.gpus is missing"),
        ("hardware:\n  gpu: tpu9\n  gpus: 8\n", "hardware.gpu"),
        ("hardware:\n  gpu: h100\n  gpus: 8.5\n", "hardware.gpus"),
        ("limits:\n  max_memory_per_gpu: 80GB\n", "needs a hardware: section"),
    ],
)
def test_check_hardware_mistakes_name_the_key(runner, tmp_path, tail, text):
    r = _check(runner, tmp_path, PROPOSAL + tail)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert text in r.stderr and "Traceback" not in r.stderr


def test_joint_law_training_memory_counts_its_swiglu_experts(runner):
    # the joint law's experts are SwiGLU of 3·d_model: 9·d_model² parameters each (SPEC §7)
    r = run(
        runner,
        "optimize",
        "--law",
        "ludziejewski2025-joint",
        "--flops",
        "1e21",
        "--gpu",
        "h100",
        "--gpus",
        "8",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    rec, tm = data["recommended"], data["training_memory"]
    d, n, E = rec["d_model"], rec["n_blocks"], rec["n_experts"]
    lay = tm["layout"]
    assert tm["stage"] == "only" and lay["pp"] == 1
    dense = n * (4 * d * d + d * E + 2 * d) + 2 * V * d + d
    expert = n * E * 9 * d * d
    assert tm["per_gpu_bytes"]["weights"] == pytest.approx(
        2 * dense / lay["tp"] + 2 * expert / lay["ep"], rel=1e-12
    )
    assert not tm["fits"] and "does not fit" in " ".join(data["warnings"])


def test_library_budget_from_hardware_and_executed_time(moe):
    plan = plan_on_hardware(moe, gpu="h200", gpus=64, days=10, mfu=0.35)
    budget = 64 * 989e12 * 0.35 * 10 * 86_400  # H200: the H100's dense BF16 peak
    assert plan.hardware_budget.flops == pytest.approx(budget, rel=1e-12)
    tt, rec = plan.training_time, plan.result.recommended
    assert tt["flops"] == pytest.approx(budget, rel=2e-3) and tt["days"] == pytest.approx(
        10, rel=2e-3
    )
    assert tt["law_flops"] == rec.flops == pytest.approx(plan.result.budget_flops, rel=1e-9)
    assert plan.training_memory.fits and plan.training_memory.n_gpus == 64
    with pytest.raises(InputError, match="inference"):
        plan_on_hardware(moe, gpu="h200", gpus=64, days=10, inference_tokens=1e12)
