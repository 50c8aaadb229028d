"""Loss against granularity G at equal FLOPs and at equal GPU time on the measured H200 profile.

    python examples/plot_time_vs_flops.py --out docs/time-vs-flops-h200.png

Per panel (one GPU-time budget): the paper's compute-optimal loss per G at the FLOPs budget
that the FLOP-optimal plan executes in that time at its measured speed (equal FLOPs), the loss
of each G's FLOP-optimal width trained for the same GPU time at its measured speed, and the
time-optimal loss per G (width chosen for time). Needs matplotlib (moeplan's plot extra).
"""

from __future__ import annotations

import argparse

import numpy as np

from moeplan import plan
from moeplan.coefficients import load_law
from moeplan.plan.timeopt import optimize_time
from moeplan.plot import load_matplotlib, save_figure

#: GPU-hours (8 x 30 days, 64 x 10 days, 1,024 x 30 days): a budget without a GPU count, so the
#: curves show the kernels' speed alone; with --gpus N --days T the planner also caps each
#: width where training no longer fits the N GPUs' memory.
BUDGETS = [
    dict(gpu_hours=8 * 30 * 24),
    dict(gpu_hours=64 * 10 * 24),
    dict(gpu_hours=1024 * 30 * 24),
]
GS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/time-vs-flops-h200.png")
    ap.add_argument("--profile", default="h200")
    args = ap.parse_args()
    Figure, FigureCanvasAgg = load_matplotlib()
    law = load_law("krajewski2024-moe")
    fig = Figure(figsize=(13, 4.2))
    FigureCanvasAgg(fig)
    for k, budget in enumerate(BUDGETS):
        ax = fig.add_subplot(1, len(BUDGETS), k + 1)
        res = optimize_time(law, args.profile, choices=GS, **budget)
        by_g = {c.choice: c for c in res.candidates}
        gs = [g for g in GS if g in by_g]
        F = res.flops_optimal.budget_flops
        fr = plan.frontier(law, F, gs)
        eq_flops = np.ravel(fr.loss_per_granularity)
        t_opt = [by_g[g].time_optimal.config.loss for g in gs]
        f_time = [by_g[g].flops_optimal.config.loss for g in gs]
        ax.plot(
            gs, eq_flops, "o-", color="tab:blue", label=f"equal FLOPs ({F:.2g}): paper's optimum"
        )
        ax.plot(gs, f_time, "s--", color="tab:orange", label="equal GPU time: FLOP-optimal width")
        ax.plot(gs, t_opt, "^-", color="tab:green", label="equal GPU time: time-optimal width")
        gf, gt = gs[int(np.argmin(eq_flops))], res.recommended.choice
        ax.axvline(gf, color="tab:blue", alpha=0.3)
        ax.axvline(gt, color="tab:green", alpha=0.3)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("granularity G")
        ax.set_title(
            f"{budget['gpu_hours']:,} H200 GPU-hours\nbest G: {gf:g} by FLOPs, {gt:g} by time",
            fontsize=10,
        )
        if k == 0:
            ax.set_ylabel("predicted loss (krajewski2024-moe)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7.5)
    fig.suptitle(
        "Fine-grained MoE on the measured H200 profile: the FLOP-optimal G is not the "
        "time-optimal G (communication between GPUs not measured)",
        fontsize=10.5,
    )
    fig.tight_layout()
    print(save_figure(fig, args.out))


if __name__ == "__main__":
    main()
