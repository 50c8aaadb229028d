"""Reading a team's own training runs for ``moeplan fit`` (CLI.md, "Runs for fit").

A runs file is a CSV with a header row, or a YAML (or JSON) list of mappings, one run each::

    params,tokens,granularity,loss          # or a YAML list: - {params: 1.3e8, tokens: 16B, ...}
    129e6,16e9,1,3.21
    ...

Columns (logical names):

``params``       N, parameters (total non-embedding for the MoE form, non-embedding for dense)
``tokens``       D, training tokens
``loss``         final loss, nats per token
``granularity``  G, needed by the MoE form only
``flops``        may stand instead of ``tokens`` for the dense form: D = flops / (6·params)
``name``         optional label for the run, shown in the list of worst-fitted runs

Other columns are ignored. ``columns={"params": "Model Size"}`` maps differently named headers.
Numbers may carry suffixes (``16B``, ``1.4T``). Every problem is a one-line
:class:`~moeplan.errors.FileFormatError` naming the file, the row and the column.
With ``skip_invalid=True`` (``fit --skip-invalid``) runs with a missing, empty or NaN (or
infinite) cell in a column the fit uses are dropped instead and listed in ``Runs.skipped``;
other problems (a word where a number belongs, a negative count) stay errors, as they usually
mean a wrong column or a broken file rather than a run that did not finish.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass

import numpy as np

from .errors import FileFormatError, InputError
from .units import parse_number
from .yamlio import parse_yaml, read_text

#: Logical column names a runs file may hold.
COLUMNS = ("params", "tokens", "loss", "granularity", "flops", "name")
#: FLOPs per parameter per token used to derive tokens from FLOPs (dense form, F = 6·N·D).
DENSE_FLOPS_PER_PARAM_TOKEN = 6.0
#: Most runs a file may hold (the file-size limit of yamlio applies as well).
MAX_RUNS = 100_000


@dataclass(frozen=True, eq=False)
class Runs:
    """Training runs as arrays, one entry per run.

    Attributes
    ----------
    params : ndarray
        N, parameters (what N means depends on the law form being fitted).
    tokens : ndarray
        D, training tokens (derived from FLOPs when ``tokens_from_flops``).
    loss : ndarray
        Final loss, nats per token.
    granularity : ndarray or None
        G; ``None`` when the file has no granularity column (dense form).
    labels : tuple of str
        How each run is named in messages: the ``name`` column, or ``row 7``.
    source : str
        The file the runs came from.
    tokens_from_flops : bool
        True when D was computed as flops / (6·params).
    skipped : tuple of SkippedRun
        Runs left out by ``read_runs(..., skip_invalid=True)``, in file order.
    """

    params: np.ndarray
    tokens: np.ndarray
    loss: np.ndarray
    granularity: np.ndarray | None
    labels: tuple
    source: str = "<runs>"
    tokens_from_flops: bool = False
    skipped: tuple = ()

    def __len__(self) -> int:
        return int(self.loss.shape[0])

    @property
    def n_runs(self) -> int:
        return len(self)

    def subset(self, index) -> Runs:
        """The runs at ``index`` (an integer array or boolean mask), in that order."""
        idx = np.arange(len(self))[index]
        return Runs(
            params=self.params[idx],
            tokens=self.tokens[idx],
            loss=self.loss[idx],
            granularity=None if self.granularity is None else self.granularity[idx],
            labels=tuple(self.labels[i] for i in idx),
            source=self.source,
            tokens_from_flops=self.tokens_from_flops,
            skipped=self.skipped,
        )

    def drop_highest_loss(self, count: int) -> Runs:
        """These runs without the ``count`` runs of highest loss.

        Besiroglu et al. (2024) dropped the five highest-loss Chinchilla runs before fitting.
        """
        count = int(count)
        if count < 0:
            raise InputError(f"cannot drop {count} runs; give zero or more")
        if count >= len(self):
            raise InputError(
                f"cannot drop the {count} highest-loss runs of {self.source}: it has "
                f"only {len(self)} runs; drop at most {len(self) - 1}"
            )
        if count == 0:
            return self
        order = np.argsort(self.loss, kind="stable")
        keep = np.sort(order[: len(self) - count])
        return self.subset(keep)

    def to_dict(self) -> dict:
        out = {
            "params": self.params.tolist(),
            "tokens": self.tokens.tolist(),
            "loss": self.loss.tolist(),
            "labels": list(self.labels),
        }
        if self.granularity is not None:
            out["granularity"] = self.granularity.tolist()
        return out


@dataclass(frozen=True)
class SkippedRun:
    """A run that ``read_runs(..., skip_invalid=True)`` left out, and why.

    Attributes
    ----------
    run : str
        Where it is in the file: ``row 4 (line 5)`` for CSV, ``run 4`` for YAML.
    column : str
        The first column the fit needs whose cell is missing or not a number.
    reason : str
        ``missing``, ``empty``, ``missing (short row)`` or the cell's text, e.g. ``'nan'``.
    """

    run: str
    column: str
    reason: str

    def to_dict(self) -> dict:
        return {"run": self.run, "column": self.column, "reason": self.reason}

    def describe(self) -> str:
        return f"{self.run}: {self.column!r} {self.reason}"


def _missing_reason(raw) -> str | None:
    """Why ``raw`` counts as a missing measurement (None, empty, NaN, infinite), else None."""
    if raw is None:
        return "missing"
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float):
        return None if math.isfinite(raw) else repr(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return "empty"
        if text.lower().lstrip("+-") in ("nan", "inf", "infinity", "na", "n/a", "null", "none"):
            return repr(text)
    return None


def _resolve_headers(headers: list[str], mapping: dict, where: str) -> dict:
    """Logical name -> index of its column, for the columns present (``where`` names the header)."""
    exact = {h: i for i, h in enumerate(headers)}
    folded: dict[str, list[int]] = {}
    for i, h in enumerate(headers):
        folded.setdefault(h.strip().lower(), []).append(i)
    found = {}
    for name in COLUMNS:
        header = mapping.get(name, name)
        if header in exact:
            found[name] = exact[header]
            continue
        matches = folded.get(header.strip().lower(), [])
        if len(matches) == 1:
            found[name] = matches[0]
        elif len(matches) > 1:
            raise FileFormatError(
                f"{where}: column {header!r} matches several headers "
                f"({', '.join(repr(headers[i]) for i in matches)}); rename "
                f"them or map one exactly with columns {name}=HEADER",
                mentions=("columns",),
            )
        elif name in mapping:
            raise FileFormatError(
                f"{where}: no column {header!r} (given by columns "
                f"{name}={header}); headers are {_list_headers(headers)}",
                mentions=("columns",),
            )
    return found


def _list_headers(headers) -> str:
    shown = [repr(h) for h in headers[:12]]
    if len(headers) > 12:
        shown.append(f"... ({len(headers)} in all)")
    return ", ".join(shown) or "(none)"


def _required(found: dict, headers: list[str], form: str, where: str) -> None:
    def missing(name, extra="", mentions=("columns",)):
        raise FileFormatError(
            f"{where}: no column {name!r}{extra}; headers are "
            f"{_list_headers(headers)}; map one with columns {name}=HEADER",
            mentions=mentions,
        )

    for name in ("params", "loss"):
        if name not in found:
            missing(name)
    if "tokens" not in found:
        if form == "dense":
            if "flops" not in found:
                missing("tokens", " (nor 'flops', from which the dense form derives tokens)")
        elif "flops" in found:
            raise FileFormatError(
                f"{where}: the MoE law needs a 'tokens' column (tokens cannot be "
                f"derived from FLOPs without the architecture); add it or map it with "
                f"columns tokens=HEADER, or fit with form dense",
                mentions=("columns", "form"),
            )
        else:
            missing("tokens")
    if form == "moe" and "granularity" not in found:
        missing(
            "granularity",
            " (the MoE law needs it; fit with form dense for dense runs)",
            ("columns", "form"),
        )


def _value(raw, where: str, column: str, header: str, positive: bool = True) -> float:
    label = f"column {column!r}" if column == header else f"column {column!r} ({header!r})"
    skip = "; or leave such runs out with skip_invalid"
    mentions = ("skip_invalid",)
    if raw is None:
        raise FileFormatError(
            f"{where}, {label}: missing; every run needs a number here{skip}", mentions=mentions
        )
    if isinstance(raw, str) and not raw.strip():
        raise FileFormatError(
            f"{where}, {label}: empty value; every run needs a number here{skip}",
            mentions=mentions,
        )
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise FileFormatError(f"{where}, {label}: expected a number, got {type(raw).__name__}")
    try:
        value = parse_number(raw, "value")
    except InputError:
        shown = str(raw).strip()
        shown = shown if len(shown) <= 40 else shown[:40] + "..."
        hint = skip if _missing_reason(raw) is not None else ""
        raise FileFormatError(
            f"{where}, {label}: {shown!r} is not a finite number; use e.g. 1.3e8, 16B or 3.21{hint}",
            mentions=mentions,
        ) from None
    if positive and value <= 0:
        raise FileFormatError(f"{where}, {label}: {raw!r} must be positive")
    return value


def _build(
    rows, headers, mapping, form, source, row_where, header_where, skip_invalid: bool = False
) -> Runs:
    """rows: list of (row_number, cells by column index); cells may be short (a ragged row)."""
    where_file = f"runs file {source!r}"
    found = _resolve_headers(headers, mapping, f"{where_file}, {header_where}")
    _required(found, headers, form, f"{where_file}, {header_where}")
    use_tokens = "tokens" in found
    want = ["params", "loss", "tokens" if use_tokens else "flops"]
    if form == "moe":
        want.append("granularity")
    values: dict[str, list[float]] = {name: [] for name in want}
    labels = []
    skipped = []
    kept_rows = []
    for number, cells in rows:
        where = f"{where_file}, {row_where(number)}"
        if skip_invalid:
            bad = None
            for name in sorted(want, key=found.__getitem__):  # the first in file order
                i = found[name]
                why = "missing (short row)" if i >= len(cells) else _missing_reason(cells[i])
                if why is not None:
                    bad = SkippedRun(row_where(number), name, why)
                    break
            if bad is not None:
                skipped.append(bad)
                continue
        for name in want:
            header = headers[found[name]]
            values[name].append(_value(cells[found[name]], where, name, header))
        kept_rows.append(number)
        if (
            "name" in found
            and found["name"] < len(cells)
            and cells[found["name"]] not in (None, "")
        ):
            labels.append(str(cells[found["name"]]).strip()[:60])
        else:
            labels.append(row_where(number).split(" (")[0])
    if not kept_rows:
        raise FileFormatError(
            f"{where_file}: all {len(rows)} runs have a missing or NaN value "
            f"in a column the fit needs (first: {skipped[0].describe()}); "
            f"nothing is left to fit"
        )
    arrays = {name: np.asarray(v, dtype=float) for name, v in values.items()}
    if use_tokens:
        tokens = arrays["tokens"]
    else:
        tokens = arrays["flops"] / (DENSE_FLOPS_PER_PARAM_TOKEN * arrays["params"])
        bad_tokens = np.flatnonzero(~np.isfinite(tokens) | (tokens <= 0))
        if bad_tokens.size:
            k = int(bad_tokens[0])
            raise FileFormatError(
                f"{where_file}, {row_where(kept_rows[k])}, column 'flops': "
                f"tokens = flops / (6 params) is not a positive finite number"
            )
    return Runs(
        params=arrays["params"],
        tokens=tokens,
        loss=arrays["loss"],
        granularity=arrays.get("granularity"),
        labels=tuple(labels),
        source=source,
        tokens_from_flops=not use_tokens,
        skipped=tuple(skipped),
    )


def _read_csv(text: str, source: str, mapping: dict, form: str, skip_invalid: bool = False) -> Runs:
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = (
        "\t"
        if "\t" in first and "," not in first
        else ";"
        if (";" in first and "," not in first)
        else ","
    )
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    headers = None
    header_line = 0
    rows: list[tuple[int, int, list[str]]] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if headers is None:
                headers, header_line = [c.strip() for c in cells], line
                seen: dict[str, int] = {}
                for i, h in enumerate(headers):
                    if not h:
                        raise FileFormatError(
                            f"runs file {source!r}, header (line {line}): "
                            f"column {i + 1} has an empty name"
                        )
                    if h in seen:
                        raise FileFormatError(
                            f"runs file {source!r}, header (line {line}): "
                            f"column {h!r} appears twice (columns "
                            f"{seen[h] + 1} and {i + 1}); rename one"
                        )
                    seen[h] = i
                continue
            if len(rows) >= MAX_RUNS:
                raise FileFormatError(f"runs file {source!r}: more than {MAX_RUNS} runs")
            rows.append((len(rows) + 1, line, cells))
    except csv.Error as exc:
        raise FileFormatError(
            f"runs file {source!r}, line {reader.line_num}: invalid CSV: {exc}"
        ) from None
    if headers is None:
        raise FileFormatError(
            f"runs file {source!r} is empty; expected a CSV header row "
            f"(params,tokens,loss[,granularity]) and one row per run"
        )
    if not rows:
        raise FileFormatError(
            f"runs file {source!r} has a header (line {header_line}) but no "
            f"runs; add one row per run"
        )
    for number, line, cells in rows:
        if skip_invalid and len(cells) < len(headers):
            continue  # a short row: its missing cells are skipped (or not needed) in _build
        if len(cells) != len(headers):
            raise FileFormatError(
                f"runs file {source!r}, row {number} (line {line}): "
                f"{len(cells)} values for {len(headers)} columns; give one "
                f"value per column"
            )
    line_of = {number: line for number, line, _ in rows}
    return _build(
        [(n, c) for n, _, c in rows],
        headers,
        mapping,
        form,
        source,
        lambda n: f"row {n} (line {line_of[n]})",
        f"header (line {header_line})",
        skip_invalid,
    )


def _yaml_duplicate_key(text: str):
    """(key, line) of the first mapping key given twice, or None (PyYAML keeps the last)."""
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, yaml.MappingNode):
            seen = set()
            for key, value in item.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        return key.value, key.start_mark.line + 1
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)
    return None


def _read_yaml(
    text: str, source: str, mapping: dict, form: str, skip_invalid: bool = False
) -> Runs:
    where_file = f"runs file {source!r}"
    data = parse_yaml(text, source=where_file)
    if isinstance(data, dict) and set(data) == {"runs"}:
        data = data["runs"]
    if data is None or data == []:
        raise FileFormatError(
            f"{where_file} holds no runs; expected a list of mappings such as "
            f"- {{params: 1.3e8, tokens: 16B, granularity: 8, loss: 3.2}}"
        )
    if not isinstance(data, list):
        raise FileFormatError(
            f"{where_file}: expected a list of runs (one mapping each), got {type(data).__name__}"
        )
    if len(data) > MAX_RUNS:
        raise FileFormatError(f"{where_file}: more than {MAX_RUNS} runs")
    dup = _yaml_duplicate_key(text)
    if dup is not None:
        raise FileFormatError(
            f"{where_file}, line {dup[1]}: key {dup[0]!r} appears twice in one "
            f"run; give each column once"
        )
    headers: list[str] = []
    for k, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise FileFormatError(
                f"{where_file}, run {k}: expected a mapping of column names to "
                f"values, got {type(item).__name__}"
            )
        for key in item:
            key = str(key)
            if key not in headers:
                headers.append(key)
    index = {h: i for i, h in enumerate(headers)}
    rows = []
    for k, item in enumerate(data, start=1):
        cells = [None] * len(headers)
        for key, value in item.items():
            cells[index[str(key)]] = value
        rows.append((k, cells))
    return _build(
        rows, headers, mapping, form, source, lambda n: f"run {n}", "keys of the runs", skip_invalid
    )


def read_runs(
    path: str | os.PathLike,
    form: str = "moe",
    columns: dict | None = None,
    skip_invalid: bool = False,
) -> Runs:
    """Read a runs file (CSV with a header, or a YAML/JSON list of mappings).

    Parameters
    ----------
    path : str or path
        The file. ``.csv``/``.tsv``/``.txt`` are read as CSV, ``.yaml``/``.yml``/``.json`` as
        YAML; other names are sniffed (a first character of ``-``, ``[`` or ``{`` means YAML).
    form : {"moe", "dense"}
        The law form the runs are for: ``moe`` needs ``granularity`` and ``tokens``; ``dense``
        accepts ``flops`` instead of ``tokens`` (D = flops / (6·params)).
    columns : dict, optional
        Logical name -> header in the file, e.g. ``{"params": "Model Size"}``.
    skip_invalid : bool
        Drop runs with a missing, empty, NaN or infinite cell in a column the fit uses (and CSV
        rows with fewer values than the header) instead of refusing the file; they are listed
        in ``Runs.skipped``. Other bad values stay errors.

    Returns
    -------
    Runs

    Raises
    ------
    FileFormatError
        Naming the file, row and column of the first problem.
    """
    if form not in ("moe", "dense"):
        raise InputError(f"law form {form!r} is unknown; use moe or dense")
    mapping = dict(columns or {})
    source = os.fspath(path)
    text = read_text(path, what="runs file")
    suffix = os.path.splitext(source)[1].lower()
    if suffix in (".yaml", ".yml", ".json"):
        is_yaml = True
    elif suffix in (".csv", ".tsv", ".txt"):
        is_yaml = False
    else:
        stripped = text.lstrip()
        is_yaml = stripped[:1] in ("-", "[", "{")
    if not text.strip():
        raise FileFormatError(
            f"runs file {source!r} is empty; expected a CSV header row "
            f"(params,tokens,loss[,granularity]) and one row per run"
        )
    if is_yaml:
        return _read_yaml(text, source, mapping, form, skip_invalid)
    return _read_csv(text, source, mapping, form, skip_invalid)
