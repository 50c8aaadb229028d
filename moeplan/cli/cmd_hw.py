"""``moeplan calibrate`` and ``moeplan profiles``: measured hardware (SPEC.md §10)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from .common import POSITIVE_INT, JsonFlag, finish, output_format
from .render import Report, Table


def calibrate_command(
    out: Annotated[
        str,
        typer.Option(
            "--out", metavar="PROFILE.yaml", help="Where to write the measured profile (YAML)."
        ),
    ],
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="A small grid (d_model 1024 and 4096, G 1/4/16/64, E = 8): under a minute.",
        ),
    ] = False,
    name: Annotated[
        Optional[str],
        typer.Option(
            "--name", metavar="NAME", help="Profile name (default: the file name without .yaml)."
        ),
    ] = None,
    tokens: Annotated[
        int,
        typer.Option(
            "--tokens",
            click_type=POSITIVE_INT,
            metavar="T",
            show_default=False,
            help="Tokens per step on the GPU, a multiple of 1024 (default: 16384).",
        ),
    ] = 16_384,
) -> None:
    """Measure this GPU's throughput per part of a training step and write a profile.

    Forward + backward in bf16 (CUDA events, medians after warm-up) of the routed-expert FFN
    through grouped GEMM over d_model x granularity x expansion rate (at most 1,024 experts
    per GPU), the dense projections, causal attention at sequence 4096 and the router with
    token dispatch. About 3 minutes on an H200 (--quick: under one). Needs PyTorch and a
    CUDA GPU (the gpu extra of the package: torch>=2.5). Communication between GPUs is not
    measured.

    Example: moeplan calibrate --out h200.yaml --name h200
    """
    from ..calibrate import (
        check_name,
        check_output_path,
        make_grid,
        require_torch,
        run_calibration,
        write_profile,
    )

    path = check_output_path(out)
    profile_name = check_name(name if name is not None else path.stem)
    grid = make_grid(quick=quick, tokens=tokens)
    require_torch()

    def progress(message: str) -> None:
        print(f"calibrate: {message}", file=sys.stderr, flush=True)

    argv = ["moeplan calibrate", "--out", path.name, "--name", profile_name]
    if quick:
        argv.append("--quick")
    if tokens != 16_384:
        argv += ["--tokens", str(tokens)]
    doc = run_calibration(grid, profile_name, progress, command=" ".join(argv))
    write_profile(doc, path)
    ok = sum(r["status"] == "ok" for r in doc["expert"])
    print(
        f"calibrate: wrote {path} ({ok}/{len(doc['expert'])} expert points measured, "
        f"{doc['provenance'].get('seconds', 0):.0f} s)",
        file=sys.stderr,
    )


def _summary(profile) -> dict:
    p = profile.provenance
    return {
        "name": profile.name,
        "gpu": profile.gpu,
        "source": profile.source,
        "date": p.get("date"),
        "torch": p.get("torch"),
        "cuda": p.get("cuda"),
        "expert_points": len(profile.expert),
        "expert_points_measured": len(profile.ok("expert")),
    }


def _rate(value) -> str:
    return "-" if value is None else f"{value:.0f}"


def profiles_command(
    name: Annotated[
        Optional[str],
        typer.Argument(
            metavar="[NAME|PATH]", help="Show one profile's measurements instead of listing."
        ),
    ] = None,
    json_flag: JsonFlag = False,
) -> None:
    """List the hardware profiles (or show one's measured throughputs).

    A profile is written by `moeplan calibrate`; shipped ones are listed by name, and a path
    to a profile YAML works wherever a name does. TFLOP/s count the FLOPs the laws count for
    each part (the profile's flop_counts say which).

    Example: moeplan profiles; moeplan profiles h200 --json
    """
    from ..profiles import load_profile, shipped_profile_names

    fmt = output_format(json_flag)
    profiles = [load_profile(name)] if name else [load_profile(n) for n in shipped_profile_names()]
    summaries = [_summary(p) for p in profiles]
    rows = [
        [
            s["name"],
            s["gpu"],
            s["date"] or "-",
            s["torch"] or "-",
            f"{s['expert_points_measured']}/{s['expert_points']}",
        ]
        for s in summaries
    ]
    tables = [
        Table("Hardware profiles", ["name", "gpu", "measured", "torch", "expert points"], rows)
    ]
    lines = (
        []
        if profiles
        else [
            (
                "No profile is shipped yet; measure one with `moeplan calibrate --out PROFILE.yaml` "
                "on a GPU and pass its path."
            )
        ]
    )
    data: dict = {"schema_version": 2, "command": "profiles", "profiles": summaries}
    if name:
        prof = profiles[0]
        data["profile"] = dict(
            summaries[0],
            provenance=prof.provenance,
            grid=prof.grid,
            flop_counts=prof.flop_counts,
            not_measured=prof.not_measured,
        )
        data["expert_tflops"] = prof.expert_tflops()
        data["dense_tflops"] = [dict(r) for r in prof.dense]
        data["attention_tflops"] = [dict(r) for r in prof.attention]
        data["router_tflops"] = [dict(r) for r in prof.router]
        tables.append(
            Table(
                f"Routed-expert FFN, forward + backward ({prof.gpu})",
                ["E", "d_model", "d_expert", "top_k", "experts/GPU", "tokens/expert", "TFLOP/s"],
                [
                    [
                        r["expansion_rate"],
                        r["d_model"],
                        r["d_expert"],
                        r["top_k"],
                        r["experts_per_gpu"],
                        r["tokens_per_expert"],
                        _rate(r["tflops"]) if r["status"] == "ok" else r["status"],
                    ]
                    for r in prof.expert
                ],
            )
        )
        by_d: dict = {}
        for r in prof.dense:
            by_d.setdefault(r["d_model"], {})[r["part"]] = r["tflops"]
        for r in prof.attention:
            by_d.setdefault(r["d_model"], {})["attention"] = r["tflops"]
        tables.append(
            Table(
                "Dense parts, TFLOP/s",
                ["d_model", "QKV+O", "FFN 4d", "head", "attention"],
                [
                    [d, *[_rate(v.get(k)) for k in ("attention_proj", "ffn", "head", "attention")]]
                    for d, v in sorted(by_d.items())
                ],
            )
        )
        tables.append(
            Table(
                "Router with dispatch and combine",
                ["E", "d_model", "n_experts", "top_k", "TFLOP/s"],
                [
                    [
                        r["expansion_rate"],
                        r["d_model"],
                        r["n_experts"],
                        r["top_k"],
                        _rate(r["tflops"]),
                    ]
                    for r in prof.router
                ],
            )
        )
        lines.append(f"Not measured: {prof.not_measured or 'communication between GPUs'}.")
    finish(Report(data=data, tables=tables, lines=lines), fmt)


COMMANDS: dict[str, tuple] = {
    "calibrate": (calibrate_command, {}),
    "profiles": (profiles_command, {}),
}
