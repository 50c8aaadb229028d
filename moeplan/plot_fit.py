"""Predicted vs observed loss of a fit, as a picture (``moeplan fit --plot FILE.png``).

matplotlib is optional (``pip install 'moeplan[plot]'``) and imported only here, inside the
function, with the object-oriented API (no pyplot, no global backend switch).
"""

from __future__ import annotations

import os

import numpy as np

from .errors import InputError
from .plot import load_matplotlib


def check_fit_plot_path(path: str | os.PathLike) -> str:
    """``path`` if matplotlib is installed, writes its extension and its folder exists.

    ``fit --plot`` calls it before fitting, so a bad path costs no fit and leaves no ``--out``
    file behind a failed command.
    """
    _, FigureCanvasAgg = load_matplotlib()
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in FigureCanvasAgg.get_supported_filetypes():
        raise InputError(f"--plot {path!r}: use a .png, .svg or .pdf file name")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise InputError(f"--plot {path!r}: folder {folder!r} does not exist")
    if os.path.isdir(path):
        raise InputError(f"--plot {path!r} is a directory; give a file name")
    return path


def plot_fit(runs, result, path: str | os.PathLike, title: str | None = None) -> str:
    """Draw observed vs predicted loss for every run and save it to ``path``.

    Parameters
    ----------
    runs : moeplan.runs.Runs
        The runs the law was fitted on.
    result : moeplan.fit.FitResult
        The fit (its ``predicted`` losses, RMSE and coefficients are shown).
    path : str or path
        Output file; the format follows the extension (``.png``, ``.svg``, ``.pdf``).
    title : str, optional

    Returns
    -------
    str
        The path written.
    """
    Figure, FigureCanvasAgg = load_matplotlib()
    path = os.fspath(path)
    fig = Figure(figsize=(6.4, 5.2), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    observed = np.asarray(runs.loss, dtype=float)
    predicted = np.asarray(result.predicted, dtype=float)
    if result.form == "moe":
        colour = np.log2(runs.granularity)
        label = "log2 granularity G"
    else:
        colour = np.log10(runs.params)
        label = "log10 parameters N"
    points = ax.scatter(observed, predicted, c=colour, s=18, cmap="viridis", alpha=0.85,
                        edgecolors="none")
    fig.colorbar(points, ax=ax, label=label)
    lo = float(min(observed.min(), predicted.min()))
    hi = float(max(observed.max(), predicted.max()))
    pad = 0.03 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.4", lw=1, ls="--",
            label="predicted = observed")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("observed loss (nats per token)")
    ax.set_ylabel("predicted loss (nats per token)")
    k = result.coefficients
    coeffs = ", ".join(f"{name}={value:.4g}" for name, value in k.items())
    ax.set_title(title or f"{len(observed)} runs, RMSE {result.rmse:.4f}, R² {result.r2:.4f}",
                 fontsize=10)
    ax.text(0.02, 0.98, coeffs, transform=ax.transAxes, fontsize=7, va="top", ha="left",
            color="0.25", wrap=True)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, alpha=0.3)
    from .fileio import atomic_write

    fmt = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    try:  # all of the picture or none of it (a temporary file, then os.replace)
        atomic_write(path, lambda fh: fig.savefig(fh, format=fmt), what="--plot")
    except ValueError as exc:  # unknown extension
        raise InputError(f"--plot {path!r}: {exc}; use a .png, .svg or .pdf file") from None
    except OSError as exc:
        raise InputError(f"--plot {path!r} cannot be written: {exc.strerror or exc}") from None
    return path
