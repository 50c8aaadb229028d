#!/usr/bin/env python
"""Check `moeplan.export` configs against transformers: exact parameter counts on the meta device.

For each exported ``config.json`` (default: tests/fixtures/export/*.config.json) this builds the
model with transformers on the meta device (no memory, no weights, no network)::

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)

counts its parameters (routed experts: names containing ``.experts.``; router: ``.mlp.gate.``;
input embedding and output head separately) and records, beside them, what moeplan says:
``moeplan.hf.count_config`` (what ``moeplan inspect`` reads back) and the plan's counts from the
paper's formulas (``N_act = 12·d²·n``, ``N = d²·(8E + 4)·n``, E = experts / top-k). Non-embedding,
router-excluded counts are compared: ``n_total = all - embedding - head - router`` and
``n_active = n_total - routed·(1 - top_k/experts)``.

Usage, on a machine with torch and transformers (>= 4.51, which has qwen3_moe):

    PYTHONPATH=$PWD python tools/check_export.py --out DIR [CONFIG.json ...]

It writes DIR/export_meta_counts.json (transformers/torch versions, date, method, one entry per
config) and prints one line per config. Copy the JSON to tests/data/ to record the result; the
tests compare moeplan with it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import re
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "tests" / "fixtures" / "export"
ROUTED = re.compile(r"(^|\.)experts\.")
ROUTER = re.compile(r"\.mlp\.gate\.")


def count(path: Path) -> dict:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    data = json.loads(path.read_text())
    entry = {"model_type": data.get("model_type")}
    t0 = time.time()
    config = CONFIG_MAPPING[data["model_type"]].from_dict(
        {k: v for k, v in data.items() if k != "model_type"}
    )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    params = dict(model.named_parameters())
    n_all = sum(p.numel() for p in params.values())
    routed = sum(p.numel() for n, p in params.items() if ROUTED.search(n))
    router = sum(p.numel() for n, p in params.items() if ROUTER.search(n))
    emb = sum(p.numel() for p in model.get_input_embeddings().parameters())
    head_mod = model.get_output_embeddings()
    tied = head_mod is not None and head_mod.weight is model.get_input_embeddings().weight
    head = 0 if head_mod is None or tied else sum(p.numel() for p in head_mod.parameters())
    e, k = data["num_experts"], data["num_experts_per_tok"]
    n_total = n_all - emb - head - router
    n_active = n_total - routed + routed * k // e
    entry.update(
        model_class=type(model).__name__,
        n_parameters=n_all,
        routed_expert_params=routed,
        router_params=router,
        input_embedding_params=emb,
        output_head_params=head,
        n_total=n_total,
        n_active=n_active,
        seconds=round(time.time() - t0, 2),
    )
    try:  # what moeplan reads back, and the plan's counts
        from moeplan.hf import count_config

        m = count_config(data)
        d, n = data["hidden_size"], data["num_hidden_layers"]
        plan_total = d * d * (8 * e / k + 4) * n
        plan_active = 12 * d * d * n
        entry.update(
            moeplan_inspect_n_total=m.n_total,
            moeplan_inspect_n_active=m.n_active,
            moeplan_inspect_router=m.router_params,
            plan_n_total=plan_total,
            plan_n_active=plan_active,
            inspect_equals_transformers=(m.n_total == n_total and m.n_active == n_active),
            transformers_vs_plan_total=n_total / plan_total - 1,
            transformers_vs_plan_active=n_active / plan_active - 1,
        )
    except Exception as exc:  # noqa: BLE001 - the transformers count is the point; keep it
        entry["moeplan_error"] = f"{type(exc).__name__}: {exc}"
    entry["status"] = "ok"
    return entry


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "configs",
        nargs="*",
        help="exported config.json files (default tests/fixtures/export/*.config.json)",
    )
    ap.add_argument("--out", required=True, help="folder for export_meta_counts.json")
    args = ap.parse_args(argv)
    import torch
    import transformers

    files = [Path(p) for p in args.configs] or sorted(DEFAULT_DIR.glob("*.config.json"))
    results = {}
    for path in files:
        key = (
            str(path.resolve().relative_to(ROOT))
            if path.resolve().is_relative_to(ROOT)
            else str(path)
        )
        try:
            results[key] = count(path)
        except Exception as exc:  # noqa: BLE001 - one failure recorded, the others still run
            results[key] = {
                "status": "error",
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=4),
            }
        r = results[key]
        print(
            f"{key}: {r['status']} n_total={r.get('n_total')} n_active={r.get('n_active')} "
            f"inspect_equal={r.get('inspect_equals_transformers')} "
            f"vs_plan={r.get('transformers_vs_plan_total')}",
            flush=True,
        )
    doc = {
        "script": "tools/check_export.py",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "method": "AutoModelForCausalLM.from_config(CONFIG_MAPPING[model_type]"
        ".from_dict(config)) "
        "on the meta device; non-embedding router-excluded n_total and n_active",
        "models": results,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "export_meta_counts.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    ok = sum(r["status"] == "ok" for r in results.values())
    print(f"wrote {out / 'export_meta_counts.json'}: {ok} of {len(results)} counted")
    return 0 if ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
