"""Picture of a Joint MoE sweep: where MoE wins under a memory cap (matplotlib, imported lazily).

matplotlib is an optional extra (``pip install 'moeplan[plot]'``); it is imported only inside
:func:`plot_joint_sweep`, through the object-oriented ``Figure`` API so that no global backend
state (``pyplot``) is touched.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import MoeplanError
from .plot import check_plot_path, load_matplotlib


def plot_joint_sweep(sweep, path) -> Path:
    """Draw a :class:`~moeplan.joint.JointSweep` to ``path`` (.png or .svg, as ``sweep --plot``).

    Left: predicted loss against the budget for each number of experts under the limit, with
    the best E at each budget marked. Right: the memory-optimal E against the budget, and the
    compute-optimal E without the limit for reference.

    Raises
    ------
    InputError
        If the file suffix is not .png or .svg, its folder is missing, or matplotlib is
        missing (the same checks as :func:`moeplan.plot.plot_frontier`).
    MoeplanError
        If the file cannot be written.
    """
    path = check_plot_path(path)
    Figure, _ = load_matplotlib()
    fr = sweep.frontier
    F = fr.flops
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax_loss, ax_e = fig.subplots(1, 2)
    colours = _colours(len(fr.experts))
    for j, e in enumerate(fr.experts):
        ok = np.isfinite(fr.loss[:, j])
        label = "dense (E = 1)" if e == 1 else f"E = {int(e)}"
        ax_loss.plot(F[ok], fr.loss[ok, j], color=colours[j], lw=1.6 if e == 1 else 1.2,
                     ls="--" if e == 1 else "-", label=label)
    best = fr.best_index
    for i, j in enumerate(best):
        if j >= 0:
            ax_loss.plot(F[i], fr.loss[i, j], "o", ms=4, color=colours[j], mec="black", mew=0.4)
    ax_loss.set_xscale("log")
    ax_loss.set_xlabel("training budget (FLOPs)")
    ax_loss.set_ylabel("predicted loss (nats/token)")
    ax_loss.set_title("loss for each number of experts (dots: best)", fontsize=10)
    ax_loss.grid(True, which="major", alpha=0.3)
    ax_loss.legend(fontsize=8, frameon=False)

    best_e = sweep.best_experts()
    best_un = sweep.best_experts(unconstrained=True)
    ok = np.isfinite(best_e)
    ax_e.step(F[ok], best_e[ok], where="mid", color="tab:blue", lw=2, label=sweep.constraints.description)
    ax_e.step(F, best_un, where="mid", color="grey", lw=1.2, ls="--", label="no memory limit")
    ax_e.set_xscale("log")
    ax_e.set_yscale("log", base=2)
    ticks = [int(e) for e in fr.experts]
    ax_e.set_yticks(ticks)
    ax_e.set_yticklabels([str(t) for t in ticks])
    ax_e.set_ylim(min(ticks) / 1.3, max(ticks) * 1.3)
    ax_e.set_xlabel("training budget (FLOPs)")
    ax_e.set_ylabel("optimal number of experts E")
    ax_e.set_title("memory-optimal number of experts", fontsize=10)
    ax_e.grid(True, which="major", alpha=0.3)
    ax_e.legend(fontsize=8, frameon=False)
    fig.suptitle(f"{sweep.law}: {sweep.constraints.problem}", fontsize=11)
    from .fileio import atomic_write

    fmt = str(path).rsplit(".", 1)[-1].lower()
    try:  # all of the picture or none of it (a temporary file, then os.replace)
        atomic_write(path, lambda fh: fig.savefig(fh, format=fmt, dpi=130), what="--plot")
    except OSError as exc:
        raise MoeplanError(f"cannot write the plot to {str(path)!r}: {exc.strerror or exc}") \
            from None
    return path



def _colours(k: int) -> list:
    # viridis-like ramp without importing matplotlib.cm (dense first, many experts last)
    stops = np.array([[0.27, 0.00, 0.33], [0.23, 0.32, 0.55], [0.13, 0.57, 0.55],
                      [0.37, 0.79, 0.38], [0.99, 0.91, 0.14]])
    out = []
    for i in range(k):
        t = 0.0 if k == 1 else i / (k - 1) * (len(stops) - 1)
        lo = min(int(math.floor(t)), len(stops) - 2)
        w = t - lo
        out.append(tuple(stops[lo] * (1 - w) + stops[lo + 1] * w))
    return out
