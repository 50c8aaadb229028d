"""The compute-optimal frontier as a picture (``moeplan sweep --plot FILE.png``).

Draws the paper's Figure 1: (a) loss vs training FLOPs for the dense model, MoE with G = 1
and MoE with the optimal G (points coloured by that G); (b) the compute multiplier, how many
times more FLOPs the dense and G = 1 optima need to reach the optimal MoE's loss.

matplotlib is optional (``pip install 'moeplan[plot]'``) and imported only inside these
functions, through its object-oriented API (no pyplot, no global backend switch).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import InputError

FORMATS = (".png", ".svg")


def load_matplotlib():
    """``(Figure, FigureCanvasAgg)``; InputError with the install hint when missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError("--plot needs matplotlib, which is not installed; install it with "
                         "pip install 'moeplan[plot]'") from None
    return Figure, FigureCanvasAgg


def check_plot_path(path) -> Path:
    """The output path, if its extension is supported and its folder exists."""
    p = Path(os.fspath(path))
    if p.suffix.lower() not in FORMATS:
        raise InputError(f"--plot {str(p)!r}: use a .png or .svg file name")
    if p.parent and not p.parent.exists():
        raise InputError(f"--plot {str(p)!r}: folder {str(p.parent)!r} does not exist")
    if p.is_dir():
        raise InputError(f"--plot {str(p)!r} is a directory; give a file name")
    return p


def plot_frontier(sweep, path, title: str | None = None) -> str:
    """Draw a :class:`~moeplan.optimize.SweepResult` and save it to ``path`` (.png or .svg).

    Returns
    -------
    str
        The path written.
    """
    p = check_plot_path(path)
    Figure, FigureCanvasAgg = load_matplotlib()
    from matplotlib import colormaps
    from matplotlib.ticker import FuncFormatter

    F = np.asarray(sweep.flops)
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)

    if sweep.loss_dense is not None:
        ax1.plot(F, sweep.loss_dense, color="0.35", lw=1.8, ls="--",
                 label=f"dense ({sweep.dense_law})")
    ax1.plot(F, sweep.loss_g1, color="tab:red", lw=1.8, label="MoE, G = 1")
    ax1.plot(F, sweep.loss, color="0.6", lw=1.0, zorder=1)
    G = np.asarray(sweep.granularity, float)
    cands = np.unique(G)  # colour only the granularities that are optimal somewhere
    cmap = colormaps["plasma"]
    shades = {g: cmap(0.85 * i / max(1, len(cands) - 1)) for i, g in enumerate(cands)}
    marker_size = 28 if len(F) <= 60 else max(4, 1600 / len(F))
    for g in cands:
        sel = G == g
        if np.any(sel):
            ax1.scatter(F[sel], np.asarray(sweep.loss)[sel], s=marker_size, color=shades[g],
                        edgecolor="black", linewidth=0.3, zorder=3,
                        label=f"MoE, optimal G = {g:g}")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("training FLOPs")
    ax1.set_ylabel("predicted loss")
    ax1.set_title("(a) compute-optimal loss")
    ax1.grid(True, which="both", alpha=0.25)
    ax1.legend(fontsize=8, loc="upper right")

    if sweep.dense_compute_multiplier is not None:
        ax2.plot(F, sweep.dense_compute_multiplier, color="0.35", lw=1.8, ls="--",
                 label="dense vs optimal-G MoE")
    ax2.plot(F, sweep.g1_compute_multiplier, color="tab:red", lw=1.8,
             label="MoE G = 1 vs optimal-G MoE")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("training FLOPs")
    ax2.set_ylabel("compute multiplier (FLOPs to match / budget)")
    ax2.set_title("(b) compute multiplier")
    ax2.grid(True, which="both", alpha=0.25)
    ax2.legend(fontsize=8, loc="upper left")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for ax in (ax1, ax2):
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=7)

    fig.suptitle(title or f"Compute-optimal frontier: {sweep.law} "
                          f"(E = {sweep.settings['expansion_rate']:g}, "
                          f"c_r = {sweep.settings['c_r']:g})")
    from .fileio import atomic_write

    try:  # all of the picture or none of it (a temporary file, then os.replace)
        atomic_write(p, lambda fh: fig.savefig(fh, format=p.suffix.lower().lstrip("."), dpi=130),
                     what="--plot")
    except OSError as exc:
        raise InputError(f"--plot {str(p)!r} cannot be written: {exc.strerror or exc}") from None
    return str(p)
