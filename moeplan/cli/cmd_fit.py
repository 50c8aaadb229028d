"""``moeplan fit``: fit a loss law to your own runs (SPEC.md §5, CLI.md "Runs for fit").

Exit codes: 0 the fit converged; 2 bad usage or bad input (one line on stderr); 3 the optimiser
did not converge (the result is still printed, with ``"success": false``, and no ``--out`` file
is written).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import domain
from ..errors import InputError
from ..units import format_count, format_sci, parse_number, parse_number_list
from .common import (
    NON_NEGATIVE,
    POSITIVE,
    CfOption,
    CrOption,
    JsonFlag,
    NumberType,
    finish,
    output_format,
)
from .render import Report, Table

#: Exit status of a fit that did not converge (CLI.md reserves 1 for check, 2 for bad input).
EXIT_NOT_CONVERGED = 3
#: Whole-number options, with the allowed range stated in their messages.
DROP_HIGHEST = NumberType(integer=True, allow_zero=True, maximum=100_000)
STARTS = NumberType(positive=False, integer=True, minimum=1, maximum=1000)
BOOTSTRAP = NumberType(integer=True, allow_zero=True, maximum=10_000)
SEED = NumberType(integer=True, allow_zero=True, maximum=2**32 - 1)
WORST = NumberType(integer=True, allow_zero=True, maximum=1000)
EXPANSION = NumberType(minimum=domain.MIN_EXPERTS, maximum=domain.MAX_EXPERTS)
#: Skipped runs named in the warning of --skip-invalid (all of them are in the JSON).
SHOW_SKIPPED = 10
#: Compute-optimal N or D further than this factor outside the runs' range gets a warning.
EXTRAPOLATION_FACTOR = 2.0


def _parse_columns(items) -> dict:
    """``--column params="Model Size"`` (repeatable) as ``{"params": "Model Size", ...}``."""
    from ..runs import COLUMNS

    mapping: dict[str, str] = {}
    for item in items or ():
        if "=" not in item:
            raise InputError(
                f'--column {item!r}: expected NAME=HEADER, e.g. --column params="Model Size"'
            )
        name, header = (part.strip() for part in item.split("=", 1))
        if name not in COLUMNS:
            raise InputError(
                f"--column {item!r}: unknown name {name!r}; use one of {', '.join(COLUMNS)}"
            )
        if not header:
            raise InputError(f"--column {item!r}: the header after '=' is empty")
        if name in mapping:
            raise InputError(f"--column {name}= is given twice")
        mapping[name] = header
    return mapping


def _parse_fixed(items) -> dict:
    fixed = {}
    for item in items or ():
        if "=" not in item:
            raise InputError(f"--fix {item!r}: expected NAME=VALUE, e.g. --fix gamma=0.58")
        name, value = (part.strip() for part in item.split("=", 1))
        if name in fixed:
            raise InputError(f"--fix {name}= is given twice; give each coefficient once")
        fixed[name] = parse_number(value, f"--fix {name}")
    return fixed


def _pct(entry: dict, fmt) -> str:
    if "p10" not in entry or entry["p10"] is None:
        return fmt(entry["value"])
    return f"{fmt(entry['value'])} ({fmt(entry['p10'])} to {fmt(entry['p90'])})"


def _g(v) -> str:
    return f"{v:.5g}"


def _sha256(path: str) -> str | None:
    # the bytes already read: a FIFO or /dev/stdin cannot be opened a second time
    from ..yamlio import sha256_of_read

    return sha256_of_read(path)


@contextlib.contextmanager
def _progress(label: str, total: int):
    """A progress bar with the expected time left, on stderr when it is a terminal; nothing
    (a None callback) in pipes, CI logs and under NO_COLOR."""
    stream = sys.stderr
    try:
        on_terminal = stream.isatty() and os.environ.get("NO_COLOR") is None
    except (AttributeError, ValueError):
        on_terminal = False
    if not on_terminal or total < 2:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("expected time left"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done, _total: bar.update(task, completed=done)


def _write_law(path: str, mapping: dict) -> None:
    import yaml

    from ..coefficients import law_from_mapping, law_to_mapping
    from ..errors import FileFormatError

    try:
        law = law_from_mapping(mapping, source=repr(path))
    except FileFormatError as exc:
        raise InputError(
            f"--out {path!r}: the fitted coefficients do not make a valid law "
            f"file ({exc}); check the fit, or fix that coefficient with "
            f"--fix"
        ) from None
    text = yaml.safe_dump(
        law_to_mapping(law), sort_keys=False, default_flow_style=None, width=100, allow_unicode=True
    )
    header = "# Coefficient set written by `moeplan fit`; use it with --law " + path + "\n"
    from ..fileio import atomic_write

    atomic_write(path, header + text, param="out")


def fit_command(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE",
            help="Runs: CSV with a header, or a YAML list of mappings. Columns "
            "params, tokens (or flops, dense form), loss, granularity (MoE form).",
        ),
    ],
    law_form: Annotated[
        str,
        typer.Option(
            "--law-form",
            metavar="moe|dense",
            show_default=False,
            help="moe: L = c + (g/G^gamma + a)/N^alpha + b/D^beta; dense: L = c + a/N^alpha + "
            "b/D^beta (default: moe).",
        ),
    ] = "moe",
    column: Annotated[
        Optional[list[str]],
        typer.Option(
            "--column",
            metavar="NAME=HEADER",
            help="Map a header to a column name (params, tokens, loss, granularity, flops, name); "
            'repeatable, e.g. --column params="Model Size".',
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Drop runs with a missing, empty or NaN value in a column the fit uses (and CSV "
            "rows that are short), and list them; without it such a run is an error naming "
            "the file, row and column.",
        ),
    ] = False,
    drop_highest: Annotated[
        int,
        typer.Option(
            "--drop-highest",
            metavar="K",
            click_type=DROP_HIGHEST,
            show_default=False,
            help="Drop the K runs of highest loss before fitting (Besiroglu et al. dropped 5 of "
            "the Chinchilla runs) (default: 0).",
        ),
    ] = 0,
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            metavar="chinchilla|paper",
            show_default=False,
            help="chinchilla: Huber delta 1e-3 on log-loss residuals (Hoffmann/Besiroglu); paper: "
            "delta 0.1 with weight decay 5e-4 (Krajewski et al.) (default: chinchilla).",
        ),
    ] = "chinchilla",
    huber_delta: Annotated[
        Optional[float],
        typer.Option(
            "--huber-delta",
            metavar="DELTA",
            click_type=POSITIVE,
            help="Huber threshold on log-loss residuals (default: 1e-3, or 0.1 with --objective "
            "paper).",
        ),
    ] = None,
    weight_decay: Annotated[
        Optional[float],
        typer.Option(
            "--weight-decay",
            metavar="W",
            click_type=NON_NEGATIVE,
            help="L2 penalty on the fitted parameter vector (default: 0, or 5e-4 with --objective "
            "paper).",
        ),
    ] = None,
    fix: Annotated[
        Optional[list[str]],
        typer.Option(
            "--fix",
            metavar="NAME=VALUE",
            help="Hold a coefficient fixed, e.g. --fix gamma=0.58 (needed when the runs cannot "
            "identify it); repeatable.",
        ),
    ] = None,
    starts: Annotated[
        int,
        typer.Option(
            "--starts",
            metavar="S",
            click_type=STARTS,
            show_default=False,
            help="Distinct starting points refined with L-BFGS-B (default: 10).",
        ),
    ] = 10,
    bootstrap: Annotated[
        int,
        typer.Option(
            "--bootstrap",
            metavar="K",
            click_type=BOOTSTRAP,
            show_default=False,
            help="Refit on K resamples of the runs and report 10/50/90th percentiles "
            "(default: 0, off).",
        ),
    ] = 0,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            metavar="SEED",
            click_type=SEED,
            show_default=False,
            help="Seed of the bootstrap resamples (default: 0).",
        ),
    ] = 0,
    at_flops: Annotated[
        Optional[str],
        typer.Option(
            "--at-flops",
            metavar="LIST",
            help="Budgets (FLOPs) at which to report the compute-optimal N, D (and G), e.g. "
            "1e21,1e23.",
        ),
    ] = None,
    holdout: Annotated[
        Optional[float],
        typer.Option(
            "--holdout",
            metavar="F",
            click_type=POSITIVE,
            help="Also refit without the fraction F of lowest-loss runs and report the validation "
            "RMSE on them (the paper used 0.2).",
        ),
    ] = None,
    expansion_rate: Annotated[
        float,
        typer.Option(
            "--expansion",
            "--expansion-rate",
            metavar="E",
            click_type=EXPANSION,
            show_default=False,
            help="Expansion rate of the runs (MoE form; stored in --out) (default: 64).",
        ),
    ] = 64.0,
    c_f: CfOption = None,
    c_r: CrOption = None,
    out: Annotated[
        Optional[str],
        typer.Option(
            "--out",
            metavar="FILE.yaml",
            help="Write the fitted coefficient set; use it as --law FILE.yaml in every command.",
        ),
    ] = None,
    name: Annotated[
        Optional[str],
        typer.Option(
            "--name", help="Name of the coefficient set in --out (default: the file's stem)."
        ),
    ] = None,
    plot: Annotated[
        Optional[str],
        typer.Option(
            "--plot",
            metavar="FILE.png",
            help="Draw predicted vs observed loss (needs matplotlib: the plot extra of moeplan).",
        ),
    ] = None,
    worst: Annotated[
        int,
        typer.Option(
            "--worst",
            metavar="K",
            click_type=WORST,
            show_default=False,
            help="How many worst-fitted runs to list (default: 5).",
        ),
    ] = 5,
    json_flag: JsonFlag = False,
) -> None:
    """Fit a scaling law to your own training runs.

    Huber loss on log-loss residuals with the law in log-sum-exp form, multi-start L-BFGS-B with analytic gradients (the Chinchilla method: Hoffmann et al. 2022; Besiroglu et al. 2024). Exit status 3 when the fit does not converge.

    Example: moeplan fit runs.csv --bootstrap 200 --at-flops 1e21,1e22 --out mylaw.yaml

    Example: moeplan fit examples/chinchilla-runs.csv --law-form dense --column params="Model Size" --column flops="Training FLOP" --drop-highest 5
    """  # noqa: E501 (one line per paragraph: the help renderer keeps line breaks)
    from ..fit import (
        bootstrap_fit,
        fit_law,
        fitted_law_mapping,
        holdout_fit,
        optimum_table,
        params_meaning_for,
        quality_warnings,
    )
    from ..runs import read_runs

    fmt = output_format(json_flag)
    if law_form not in ("moe", "dense"):
        raise InputError(f"--law-form {law_form!r}: use moe or dense")
    if objective not in ("chinchilla", "paper"):
        raise InputError(f"--objective {objective!r}: use chinchilla or paper")
    if huber_delta is not None and not (math.isfinite(huber_delta) and huber_delta > 0):
        raise InputError(f"--huber-delta {huber_delta!r}: must be a positive number")
    domain.experts(expansion_rate, "--expansion")
    if holdout is not None and not 0.0 < holdout < 1.0:  # before the fit, not after it
        raise InputError(f"--holdout {holdout:g}: give a fraction between 0 and 1, e.g. 0.2")
    if weight_decay is not None and not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise InputError(f"--weight-decay {weight_decay!r}: must be zero or positive")
    budgets = []
    if at_flops is not None:
        try:
            budgets = parse_number_list(at_flops, "--at-flops")
        except InputError:
            raise InputError(
                f"--at-flops {at_flops!r}: expected positive budgets such as 1e21,1e23"
            ) from None
        if any(b <= 0 for b in budgets):
            raise InputError(f"--at-flops {at_flops!r}: budgets must be positive")
    if out is not None and not out.endswith((".yaml", ".yml")):
        raise InputError(f"--out {out!r}: give a .yaml file name, e.g. --out mylaw.yaml")
    fixed = _parse_fixed(fix)
    columns = _parse_columns(column)
    from ..fileio import check_output_path

    # every output checked before the work: a bad path costs no fit, an input is never lost
    if out is not None:
        check_output_path(out, inputs=[file], param="out")
    if plot is not None:
        from ..plot import check_plot_path, load_matplotlib

        check_plot_path(plot)  # before fitting: no extra, bad name or missing folder
        load_matplotlib()
        check_output_path(plot, inputs=[file] + ([out] if out else []), param="plot")

    runs = read_runs(file, law_form, columns, skip_invalid=skip_invalid)
    if drop_highest:
        runs = runs.drop_highest_loss(drop_highest)
    options = dict(
        objective=objective,
        huber_delta=huber_delta,
        weight_decay=weight_decay,
        fixed=fixed,
        n_starts=starts,
    )
    result = fit_law(runs, law_form, n_worst=worst, **options)
    warnings = []
    if runs.skipped:
        shown = "; ".join(s.describe() for s in runs.skipped[:SHOW_SKIPPED])
        more = len(runs.skipped) - SHOW_SKIPPED
        warnings.append(
            f"--skip-invalid: left out {len(runs.skipped)} run"
            f"{'s' if len(runs.skipped) != 1 else ''} with a missing or NaN value: "
            f"{shown}" + (f"; and {more} more (all in --json)" if more > 0 else "")
        )
    for coef in result.at_bound:
        warnings.append(
            f"{coef} ended on its bound ({result.coefficients[coef]:.4g}): the runs "
            f"do not support that term; treat the fit with care or fix it with --fix"
        )
    warnings += quality_warnings(result, runs)
    boot = None
    if bootstrap:
        import numpy as np

        with _progress("bootstrap refits", bootstrap) as step:
            boot = bootstrap_fit(
                runs, result, bootstrap, np.random.default_rng(seed), seed=seed, progress=step
            )
        if boot.n_failed:
            warnings.append(
                f"{boot.n_failed} of {boot.n_samples} bootstrap refits did not "
                f"converge and are left out of the percentiles"
            )
    hold = None
    if holdout is not None:
        hold = holdout_fit(runs, holdout, law_form, **options)
        if not hold.fit.success:
            warnings.append(f"the hold-out refit did not converge: {hold.fit.message}")
    setting = dict(
        expansion_rate=expansion_rate,
        c_f=6.0 if c_f is None else c_f,
        c_r=14.0 if c_r is None else c_r,
    )
    optimum = (
        optimum_table(law_form, result.coefficients, budgets, boot, **setting) if budgets else []
    )
    # The law is trusted inside the runs' range; beyond EXTRAPOLATION_FACTOR x it is a guess.
    ranges = {
        "N": (float(runs.params.min()), float(runs.params.max()), "params"),
        "D": (float(runs.tokens.min()), float(runs.tokens.max()), "tokens"),
    }
    for row in optimum:
        for label, (lo, hi, key) in ranges.items():
            v = row[key]["value"]
            if v > EXTRAPOLATION_FACTOR * hi or v < lo / EXTRAPOLATION_FACTOR:
                warnings.append(
                    f"at {format_sci(row['flops'])} FLOPs the compute-optimal {label} "
                    f"{format_count(v)} is more than {EXTRAPOLATION_FACTOR:g}x outside the runs' "
                    f"range ({format_count(lo)} to {format_count(hi)}): an extrapolation"
                )
    form_label = "fine-grained MoE" if law_form == "moe" else "dense (Chinchilla form)"

    data = {"runs_file": file}
    data.update(result.to_dict())
    data["dropped_highest_loss"] = drop_highest
    if skip_invalid:
        data["skipped_runs"] = [s.to_dict() for s in runs.skipped]
    data["tokens_from_flops"] = runs.tokens_from_flops
    if boot is not None:
        data["percentiles"] = {k: dict(v) for k, v in boot.percentiles.items()}
        data["bootstrap"] = {"n_samples": boot.n_samples, "n_failed": boot.n_failed, "seed": seed}
    if optimum:
        data["compute_optimal"] = optimum
    if hold is not None:
        data["holdout"] = hold.to_dict()

    # -- human view -------------------------------------------------------------------------
    tables = []
    rows = []
    for coef, value in result.coefficients.items():
        row = [coef, _g(value)]
        if boot is not None:
            p = boot.percentiles[coef]
            row += [
                _g(p["p10"]) if p["p10"] is not None else "-",
                _g(p["p50"]) if p["p50"] is not None else "-",
                _g(p["p90"]) if p["p90"] is not None else "-",
            ]
        row.append(
            "fixed" if coef in result.fixed else "at bound" if coef in result.at_bound else ""
        )
        rows.append(row)
    columns_out = ["coefficient", "value"] + (["p10", "p50", "p90"] if boot is not None else [])
    columns_out.append("note")
    if not any(row[-1] for row in rows):
        columns_out.pop()
        rows = [row[:-1] for row in rows]
    caption = None
    if boot is not None:
        caption = f"percentiles of {boot.n_converged} bootstrap refits (seed {seed})"
    tables.append(
        Table(
            f"Fitted {form_label} law ({len(runs)} runs from {file})",
            columns_out,
            rows,
            caption=caption,
        )
    )
    quality = [
        [
            "converged",
            ("yes" if result.success else "NO")
            + f" (projected gradient {result.projected_gradient:.2g})",
        ],
        ["optimiser stopped", result.stop_reason],
        [
            "objective",
            f"{result.objective:.6g} (Huber delta {result.huber_delta:g}"
            + (f", weight decay {result.weight_decay:g}" if result.weight_decay else "")
            + ", log-loss residuals)",
        ],
        ["RMSE (loss, nats)", f"{result.rmse:.4g}"],
        ["R^2", f"{result.r2:.4f}"],
        [
            "runs",
            str(len(runs))
            + (f" ({drop_highest} highest-loss dropped)" if drop_highest else "")
            + (
                f" ({len(runs.skipped)} with missing or NaN values skipped)" if runs.skipped else ""
            ),
        ],
        ["starts / evaluations", f"{result.n_starts} / {result.n_evaluations}"],
    ]
    if runs.tokens_from_flops:
        quality.append(["tokens", "derived as flops / (6 params)"])
    tables.append(Table("Fit quality", ["", "value"], quality))
    if hold is not None:
        tables.append(
            Table(
                f"Hold-out: refit without the {hold.n_validation} lowest-loss runs "
                f"({hold.fraction:.0%})",
                ["", "value"],
                [
                    ["validation RMSE (nats)", f"{hold.validation_rmse:.4g}"],
                    ["train RMSE (nats)", f"{hold.train_rmse:.4g}"],
                    ["largest validation error", f"{hold.validation_max_error:.4g}"],
                    ["converged", "yes" if hold.fit.success else "NO"],
                ],
            )
        )
    if result.worst_runs:
        moe = law_form == "moe"
        wrows = []
        for w in result.worst_runs:
            row = [w.label, format_count(w.params), format_count(w.tokens)]
            if moe:
                row.append(f"{w.granularity:g}")
            row += [f"{w.loss:.4f}", f"{w.predicted:.4f}", f"{w.residual:+.4f}"]
            wrows.append(row)
        wcols = ["run", "N", "D"] + (["G"] if moe else []) + ["loss", "predicted", "residual"]
        tables.append(Table("Worst-fitted runs", wcols, wrows))
    if optimum:
        orows = []
        for row in optimum:
            r = [
                format_sci(row["flops"]),
                _pct(row["params"], format_count),
                _pct(row["tokens"], format_count),
            ]
            if law_form == "moe":
                r.append(_pct(row["granularity"], lambda v: f"{v:g}"))
                r.append(_pct(row["granularity_real"], lambda v: f"{v:.3g}"))
            orows.append(r)
        ocols = ["FLOPs", "N", "D"] + (["G", "G (real)"] if law_form == "moe" else [])
        tables.append(
            Table(
                "Compute-optimal allocation"
                + (" (value, 10th to 90th percentile)" if boot is not None else ""),
                ocols,
                orows,
            )
        )
    lines = []
    if out is not None:
        if not result.success:
            warnings.append(f"--out {out!r} not written: the fit did not converge")
        else:
            import datetime

            from .. import __version__

            provenance = {
                "tool": f"moeplan fit {__version__}",
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "runs_file": os.path.abspath(file),
                "runs_sha256": _sha256(file),
                "n_runs": len(runs),
                "dropped_highest_loss": drop_highest,
                "skipped_runs": [s.run for s in runs.skipped],
                "columns": dict(columns),
                "objective": objective,
                "huber_delta": result.huber_delta,
                "weight_decay": result.weight_decay,
                "fixed": dict(result.fixed),
                "objective_value": result.objective,
                "rmse": result.rmse,
                "r2": result.r2,
            }
            if boot is not None:
                provenance["bootstrap"] = {
                    "n_samples": boot.n_samples,
                    "n_failed": boot.n_failed,
                    "seed": seed,
                }
            mapping = fitted_law_mapping(
                result,
                runs,
                name or Path(out).stem,
                bootstrap=boot,
                provenance=provenance,
                aspect_ratio=64.0,
                params_meaning=params_meaning_for(law_form, columns),
                **setting,
            )
            _write_law(out, mapping)
            data["out"] = out
            lines.append(f"wrote {out}: use it with --law {out}")
    if plot is not None:
        from ..plot import fit_figure, save_figure

        save_figure(fit_figure(runs, result), plot)
        data["plot"] = plot
        lines.append(f"wrote {plot}")
    code = 0 if result.success else EXIT_NOT_CONVERGED
    if not result.success:
        warnings.append(
            f"the fit did not converge ({result.message}); exit status {EXIT_NOT_CONVERGED}"
        )
    finish(Report(data=data, tables=tables, lines=lines, warnings=warnings, exit_code=code), fmt)


COMMANDS = {"fit": (fit_command, {})}
