"""Pictures of results (matplotlib, imported lazily): one module for every plot.

- :func:`frontier_figure`: a :class:`~moeplan.plan.SweepResult`. For a law whose choice is G,
  the paper's Figure 1: (a) loss vs FLOPs for dense, MoE with G = 1 and MoE with the optimal G
  (points coloured by that G), (b) the compute multipliers. For the joint law: the loss of each
  number of experts (dots: the best under the limits) and the memory-optimal E vs the budget.
- :func:`fit_figure`: predicted vs observed loss of a fit.

Each builds and returns a ``Figure``; the command line checks the path first
(:func:`check_plot_path`) and saves it (:func:`save_figure`). matplotlib is optional
(``pip install 'moeplan[plot]'``) and used through its object-oriented API (no pyplot, no
global backend switch).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import InputError

FORMATS = (".png", ".svg", ".pdf")


def load_matplotlib():
    """``(Figure, FigureCanvasAgg)``; InputError with the install hint when missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError(
            "plotting needs matplotlib, which is not installed; install it with "
            "pip install 'moeplan[plot]'",
            param="plot",
        ) from None
    return Figure, FigureCanvasAgg


def check_plot_path(path) -> Path:
    """The output path, if its extension is supported and its folder exists."""
    p = Path(os.fspath(path))
    if p.suffix.lower() not in FORMATS:
        raise InputError(f"plot {str(p)!r}: use a .png, .svg or .pdf file name", param="plot")
    if p.parent and not p.parent.exists():
        raise InputError(f"plot {str(p)!r}: folder {str(p.parent)!r} does not exist", param="plot")
    if p.is_dir():
        raise InputError(f"plot {str(p)!r} is a directory; give a file name", param="plot")
    return p


def save_figure(fig, path) -> str:
    """Save a figure to ``path`` (checked by :func:`check_plot_path`); the path written."""
    from .fileio import atomic_write

    p = check_plot_path(path)
    try:  # all of the picture or none of it (a temporary file, then os.replace)
        atomic_write(
            p,
            lambda fh: fig.savefig(fh, format=p.suffix.lower().lstrip("."), dpi=130),
            param="plot",
        )
    except OSError as exc:
        raise InputError(
            f"plot {str(p)!r} cannot be written: {exc.strerror or exc}", param="plot"
        ) from None
    return str(p)


def _new_figure(size):
    Figure, FigureCanvasAgg = load_matplotlib()
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _shades(k: int):
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    return [cmap(0.85 * i / max(1, k - 1)) for i in range(k)]


def frontier_figure(sweep, title: str | None = None):
    """The figure of a sweep (see the module docstring)."""
    fig = _new_figure((11, 4.6))
    ax1, ax2 = fig.subplots(1, 2)
    F = np.asarray(sweep.flops)
    if sweep.choice == "n_experts":
        _experts_panels(sweep, F, ax1, ax2)
    else:
        _granularity_panels(sweep, F, ax1, ax2)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("training FLOPs")
        ax.grid(True, which="both", alpha=0.25)
    s = sweep.settings
    fig.suptitle(
        title
        or (
            f"{sweep.law}: {sweep.limits.problem} ({sweep.limits.description})"
            if sweep.choice == "n_experts"
            else f"Compute-optimal frontier: {sweep.law} (E = "
            f"{s['expansion_rate']:g}, c_r = {s['c_r']:g})"
        )
    )
    return fig


def _granularity_panels(sweep, F, ax1, ax2):
    from matplotlib.ticker import FuncFormatter

    if sweep.loss_dense is not None:
        ax1.plot(
            F, sweep.loss_dense, color="0.35", lw=1.8, ls="--", label=f"dense ({sweep.dense_law})"
        )
    ax1.plot(F, sweep.loss_g1, color="tab:red", lw=1.8, label="MoE, G = 1")
    ax1.plot(F, sweep.loss, color="0.6", lw=1.0, zorder=1)
    G = np.asarray(sweep.granularity, float)
    cands = np.array(sorted(set(G.tolist())))  # colour only the G that are optimal somewhere
    size = 28 if len(F) <= 60 else max(4, 1600 / len(F))
    for g, shade in zip(cands, _shades(len(cands))):
        sel = G == g
        ax1.scatter(
            F[sel],
            np.asarray(sweep.loss)[sel],
            s=size,
            color=shade,
            edgecolor="black",
            linewidth=0.3,
            zorder=3,
            label=f"MoE, optimal G = {g:g}",
        )
    ax1.set_yscale("log")
    ax1.set_ylabel("predicted loss")
    ax1.set_title("(a) compute-optimal loss")
    ax1.legend(fontsize=8, loc="upper right")
    if sweep.dense_compute_multiplier is not None:
        ax2.plot(
            F,
            sweep.dense_compute_multiplier,
            color="0.35",
            lw=1.8,
            ls="--",
            label="dense vs optimal-G MoE",
        )
    ax2.plot(
        F, sweep.g1_compute_multiplier, color="tab:red", lw=1.8, label="MoE G = 1 vs optimal-G MoE"
    )
    ax2.set_yscale("log")
    ax2.set_ylabel("compute multiplier (FLOPs to match / budget)")
    ax2.set_title("(b) compute multiplier")
    ax2.legend(fontsize=8, loc="upper left")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for ax in (ax1, ax2):
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize=7)


def _experts_panels(sweep, F, ax_loss, ax_e):
    experts = np.asarray(sweep.choices, float)
    loss = np.asarray(sweep.loss_by_choice, float)
    shades = _shades(len(experts))
    for j, e in enumerate(experts):
        ok = np.isfinite(loss[:, j])
        ax_loss.plot(
            F[ok],
            loss[ok, j],
            color=shades[j],
            lw=1.6 if e == 1 else 1.2,
            ls="--" if e == 1 else "-",
            label="dense (E = 1)" if e == 1 else f"E = {e:g}",
        )
    best = np.asarray(sweep.n_experts, float)
    for i, e in enumerate(best):
        if np.isfinite(e):
            j = int(np.flatnonzero(experts == e)[0])
            ax_loss.plot(F[i], loss[i, j], "o", ms=4, color=shades[j], mec="black", mew=0.4)
    ax_loss.set_ylabel("predicted loss (nats/token)")
    ax_loss.set_title("loss for each number of experts (dots: best)", fontsize=10)
    ax_loss.legend(fontsize=8, frameon=False)
    ok = np.isfinite(best)
    ax_e.step(F[ok], best[ok], where="mid", color="tab:blue", lw=2, label=sweep.limits.description)
    ax_e.step(
        F,
        np.asarray(sweep.unconstrained_choice, float),
        where="mid",
        color="grey",
        lw=1.2,
        ls="--",
        label="no memory limit",
    )
    ax_e.set_yscale("log", base=2)
    ax_e.set_yticks(experts)
    ax_e.set_yticklabels([f"{e:g}" for e in experts])
    ax_e.set_ylim(experts.min() / 1.3, experts.max() * 1.3)
    ax_e.set_ylabel("optimal number of experts E")
    ax_e.set_title("memory-optimal number of experts", fontsize=10)
    ax_e.legend(fontsize=8, frameon=False)


def fit_figure(runs, result, title: str | None = None):
    """Observed vs predicted loss of every run of a :class:`~moeplan.fit.FitResult`."""
    fig = _new_figure((6.4, 5.2))
    ax = fig.add_subplot()
    observed = np.asarray(runs.loss, dtype=float)
    predicted = np.asarray(result.predicted, dtype=float)
    if result.form == "moe":
        colour, label = np.log2(runs.granularity), "log2 granularity G"
    else:
        colour, label = np.log10(runs.params), "log10 parameters N"
    points = ax.scatter(
        observed, predicted, c=colour, s=18, cmap="viridis", alpha=0.85, edgecolors="none"
    )
    fig.colorbar(points, ax=ax, label=label)
    lo = float(min(observed.min(), predicted.min()))
    hi = float(max(observed.max(), predicted.max()))
    pad = 0.03 * (hi - lo or 1.0)
    ax.plot(
        [lo - pad, hi + pad],
        [lo - pad, hi + pad],
        color="0.4",
        lw=1,
        ls="--",
        label="predicted = observed",
    )
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("observed loss (nats per token)")
    ax.set_ylabel("predicted loss (nats per token)")
    coeffs = ", ".join(f"{name}={value:.4g}" for name, value in result.coefficients.items())
    ax.set_title(
        title or f"{len(observed)} runs, RMSE {result.rmse:.4f}, R² {result.r2:.4f}", fontsize=10
    )
    ax.text(
        0.02,
        0.98,
        coeffs,
        transform=ax.transAxes,
        fontsize=7,
        va="top",
        ha="left",
        color="0.25",
        wrap=True,
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, alpha=0.3)
    return fig
