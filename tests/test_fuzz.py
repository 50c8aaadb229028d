"""Hypothesis fuzzing (issue 7, item 2): parsers, file loaders and the command line.

A small, derandomised set runs in the suite; ``python benchmarks/fuzz_cli.py`` runs 10,000+.
The property for a command line is in :func:`fuzz_support.violation`. For the loaders: any text
either loads or raises :class:`~moeplan.errors.MoeplanError` with a one-line message, never
anything else.
"""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_support as fz
from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.units import parse_memory, parse_number, parse_number_list

FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
CLI = settings(max_examples=30, deadline=None, derandomize=True, database=None,
               suppress_health_check=list(HealthCheck))

# Text that looks like numbers and sizes as often as like garbage.
number_text = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789.eE+-_kKMBGTPEiI ", max_size=16),
    st.builds(lambda m, s: f"{m}{s}", st.floats(allow_nan=True, allow_infinity=True).map(repr),
              st.sampled_from(["", "K", "M", "B", "G", "T", "P", "E", "e", "k", "GB", "GiB",
                               "TB", "kB", "PiB", "X", " GB", "b"])),
    st.sampled_from(fz.NUMBERS + fz.MEMORY + fz.LISTS),
)


def _one_line(exc: Exception) -> None:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text, repr(text)


@FAST
@given(number_text)
def test_parse_number_never_crashes(text):
    try:
        v = parse_number(text)
    except MoeplanError as exc:
        _one_line(exc)
    else:
        assert math.isfinite(v)


@FAST
@given(number_text)
def test_parse_memory_never_crashes(text):
    try:
        v = parse_memory(text)
    except MoeplanError as exc:
        _one_line(exc)
    else:
        assert math.isfinite(v) and v > 0


@FAST
@given(number_text)
def test_parse_number_list_never_crashes(text):
    try:
        values = parse_number_list(text)
    except MoeplanError as exc:
        _one_line(exc)
    else:
        assert values and all(math.isfinite(v) for v in values)


@FAST
@given(st.floats(1e-300, 1e290), st.sampled_from(["", "K", "M", "B", "T"]))
def test_parse_number_round_trips(value, suffix):
    scale = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[suffix]
    parsed = parse_number(f"{value!r}{suffix}")
    assert parsed == pytest.approx(value * scale, rel=1e-15)


# --------------------------------------------------------------------------- file loaders

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
                    st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=8), st.sampled_from(["1e400", "70B", "-1", "nan", "1T"]))


def _mutated(base: dict):
    """A valid mapping with keys dropped, values replaced by random ones, or keys added."""
    keys = sorted(base)

    def mutate(draw_ops):
        data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
        for op, key, value in draw_ops:
            key = keys[key % len(keys)]
            if op == 0:
                data.pop(key, None)
            elif op == 1:
                data[key] = value
            elif op == 2 and isinstance(data.get(key), dict) and data[key]:
                sub = sorted(data[key])
                data[key][sub[len(repr(value)) % len(sub)]] = value  # no hash(): salted
            else:
                data[f"x{key}"] = value
        return data

    ops = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20), scalars), max_size=4)
    return ops.map(mutate)


PROPOSAL = yaml.safe_load(fz.PROPOSAL)
LAW = yaml.safe_load(fz.LAW)


def _write(tmp_path_factory, name, text):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@FAST
@given(data=st.one_of(_mutated(PROPOSAL), st.text(max_size=60)))
def test_proposal_loader_never_crashes(tmp_path_factory, data):
    from moeplan.check import check_proposal
    from moeplan.proposal import load_proposal

    text = data if isinstance(data, str) else yaml.safe_dump(data)
    path = _write(tmp_path_factory, "p.yaml", text)
    try:
        check_proposal(load_proposal(path))
    except MoeplanError as exc:
        _one_line(exc)


@FAST
@given(data=st.one_of(_mutated(LAW), st.text(max_size=60)))
def test_law_loader_never_crashes(tmp_path_factory, data):
    from moeplan.coefficients import load_law
    from moeplan import optimize

    text = data if isinstance(data, str) else yaml.safe_dump(data)
    path = _write(tmp_path_factory, "law.yaml", text)
    try:
        law = load_law(str(path))
        if law.form != "joint_moe":
            optimize(law, 1e21)
    except MoeplanError as exc:
        _one_line(exc)


@FAST
@given(rows=st.lists(st.lists(st.one_of(scalars.map(str), st.sampled_from(
    ["1e8", "2e10", "3.1", "8", ""])), min_size=0, max_size=5), max_size=6),
    header=st.sampled_from(["params,tokens,granularity,loss", "params,flops,loss", "a,b",
                            "params,tokens,loss", ""]))
def test_runs_loader_never_crashes(tmp_path_factory, rows, header):
    from moeplan.runs import read_runs

    text = header + "\n" + "\n".join(",".join(r) for r in rows)
    path = _write(tmp_path_factory, "runs.csv", text)
    for form in ("moe", "dense"):
        try:
            runs = read_runs(path, form)
        except MoeplanError as exc:
            _one_line(exc)
        else:
            assert all(math.isfinite(v) and v > 0 for v in runs.params)


@FAST
@given(data=st.one_of(_mutated(fz.CONFIG), st.text(max_size=60)))
def test_config_loader_never_crashes(tmp_path_factory, data):
    import json

    from moeplan.hf import load_config

    try:
        text = data if isinstance(data, str) else json.dumps(data)
    except ValueError:  # NaN/inf are not JSON
        text = "{}"
    path = _write(tmp_path_factory, "config.json", text)
    try:
        load_config(path)
    except MoeplanError as exc:
        _one_line(exc)


# --------------------------------------------------------------------------- the command line

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return fz.make_files(tmp_path_factory.mktemp("fuzz-files"))


@pytest.mark.parametrize("command", fz.COMMANDS)
def test_cli_fuzz(files, command):
    """Random argument vectors per command: exit 0/1/2/3, no exception, one-line errors."""
    failures = []

    @CLI
    @given(args=fz.argv(app, command, files))
    def one(args):
        result = fz.run(app, args)
        problem = fz.violation(args, result)
        if problem is not None:
            failures.append((problem, args))

    one()
    assert not failures, "\n".join(f"{p}: moeplan {' '.join(a[1:])}" for p, a in failures[:5])


def test_violation_detects_what_it_should():
    # the fuzz property itself: a crash, a two-line error and bad JSON are caught
    class Result:
        def __init__(self, code, out="", err="", exc=None):
            self.exit_code, self.stdout, self.stderr, self.exception = code, out, err, exc
            self.output = out + err

    assert fz.violation(["loss"], Result(1, exc=ZeroDivisionError("x")))
    assert fz.violation(["loss"], Result(2, err="moeplan: error: a\nmore\n"))
    assert fz.violation(["loss", "--json"], Result(0, out="{oops"))
    assert fz.violation(["loss"], Result(0, out="loss  nan\n"))
    assert fz.violation(["loss"], Result(5))
    assert fz.violation(["loss"], Result(2, err="moeplan: error: bad\n")) is None
