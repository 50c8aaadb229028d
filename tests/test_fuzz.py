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
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from reference import assert_refusal_is_true, spec_loss

from moeplan.cli import app
from moeplan.errors import MoeplanError
from moeplan.units import parse_memory, parse_number, parse_number_list

import fuzz_support as fz

FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
VALID = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
CLI = settings(
    max_examples=12,  # per command, seeded; benchmarks/fuzz_cli.py runs 10,000+
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# Text that looks like numbers and sizes as often as like garbage.
number_text = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789.eE+-_kKMBGTPEiI ", max_size=16),
    st.builds(
        lambda m, s: f"{m}{s}",
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(
            [
                "",
                "K",
                "M",
                "B",
                "G",
                "T",
                "P",
                "E",
                "e",
                "k",
                "GB",
                "GiB",
                "TB",
                "kB",
                "PiB",
                "X",
                " GB",
                "b",
            ]
        ),
    ),
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

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["1e400", "70B", "-1", "nan", "1T"]),
)


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
        assert data != PROPOSAL, f"the valid base proposal was refused: {exc}"
        _one_line(exc)


@FAST
@given(data=st.one_of(_mutated(LAW), st.text(max_size=60)))
def test_law_loader_never_crashes(tmp_path_factory, data):
    from moeplan import optimize
    from moeplan.coefficients import load_law

    text = data if isinstance(data, str) else yaml.safe_dump(data)
    path = _write(tmp_path_factory, "law.yaml", text)
    try:
        law = load_law(str(path))
        if law.form != "joint_moe":
            optimize(law, 1e21)
    except MoeplanError as exc:
        assert data != LAW, f"the valid base law was refused: {exc}"
        _one_line(exc)


@FAST
@given(
    rows=st.lists(
        st.lists(
            st.one_of(scalars.map(str), st.sampled_from(["1e8", "2e10", "3.1", "8", ""])),
            min_size=0,
            max_size=5,
        ),
        max_size=6,
    ),
    header=st.sampled_from(
        ["params,tokens,granularity,loss", "params,flops,loss", "a,b", "params,tokens,loss", ""]
    ),
)
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
        assert data != fz.CONFIG, f"the valid base config was refused: {exc}"
        _one_line(exc)


# --------------------------------------------------------------------------- valid inputs succeed
# The tests above would pass if every loader refused everything. These build valid inputs and
# require them to load, with the numbers SPEC.md's formulas (written out here) give.

PAPER = dict(a=18.1, alpha=0.115, b=30.8, beta=0.147, g=2.1, gamma=0.58, c=0.47)
SUFFIXES = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


def spec_moe_loss(N, D, G, k):
    return spec_loss(N, D, G, k)


@FAST
@given(
    values=st.lists(st.floats(1e-6, 1e20), min_size=1, max_size=6),
    suffix=st.sampled_from(sorted(SUFFIXES)),
    size=st.floats(1e-3, 1e5),
    unit=st.sampled_from(["GB", "GiB", "TB", "MB"]),
)
def test_valid_numbers_lists_and_sizes_parse(values, suffix, size, unit):
    text = ",".join(f"{v!r}{suffix}" for v in values)
    assert parse_number_list(text) == pytest.approx(
        [v * SUFFIXES[suffix] for v in values], rel=1e-15
    )
    scale = {"GB": 1e9, "GiB": 2.0**30, "TB": 1e12, "MB": 1e6}[unit]
    assert parse_memory(f"{size!r}{unit}") == pytest.approx(size * scale, rel=1e-15)


@VALID
@given(
    k=st.integers(1, 48),
    n_blocks=st.integers(1, 64),
    G=st.sampled_from([1, 2, 4, 8, 16]),
    E=st.sampled_from([8, 16, 64]),
    tokens=st.floats(1e9, 1e13),
    suffix=st.sampled_from(["", "B"]),
)
def test_valid_proposals_load_and_check(tmp_path_factory, k, n_blocks, G, E, tokens, suffix):
    from moeplan.check import check_proposal
    from moeplan.proposal import load_proposal

    d = 64 * k * G  # d_expert = 4 d / G is whole
    shown = f"{tokens / 1e9!r}B" if suffix else repr(tokens)
    text = (
        f"name: valid\nlaw: krajewski2024-moe\nmodel:\n  d_model: {d}\n"
        f"  n_blocks: {n_blocks}\n  expansion_rate: {E}\n  granularity: {G}\n"
        f"training:\n  tokens: {shown}\n"
    )
    res = check_proposal(load_proposal(_write(tmp_path_factory, "p.yaml", text)))
    p = res.proposal
    assert p["tokens"] == pytest.approx(tokens, rel=1e-15)
    N = d * d * (8 * E + 4) * n_blocks  # SPEC.md §1
    flops = (12 * d * d * 6 + d * E * G * 14) * tokens * n_blocks  # SPEC.md §3
    assert p["n_total"] == pytest.approx(N, rel=1e-12)
    assert p["flops"] == pytest.approx(flops, rel=1e-12)
    assert p["loss"] == pytest.approx(spec_moe_loss(N, tokens, G, PAPER), rel=1e-12)
    assert p["optimal_loss"] <= p["loss"] * (1 + 1e-12)
    assert 0 < p["compute_efficiency"] <= 1 + 1e-9
    assert [c.name for c in res.checks] == ["max_loss_gap", "min_compute_efficiency"]


@VALID
@given(
    a=st.floats(5.0, 500.0),
    alpha=st.floats(0.08, 0.4),
    b=st.floats(5.0, 500.0),
    beta=st.floats(0.08, 0.4),
    g=st.floats(0.1, 10.0),
    gamma=st.floats(0.1, 1.0),
    c=st.floats(0.0, 3.0),
)
def test_valid_law_files_load_and_plan(tmp_path_factory, a, alpha, b, beta, g, gamma, c):
    from moeplan import optimize
    from moeplan.coefficients import load_law

    k = dict(a=a, alpha=alpha, b=b, beta=beta, g=g, gamma=gamma, c=c)
    text = (
        "name: valid-law\nform: fine_grained_moe\ncoefficients: {"
        + ", ".join(f"{key}: {v!r}" for key, v in k.items())
        + "}\n"
    )
    law = load_law(str(_write(tmp_path_factory, "law.yaml", text)))
    assert law.coefficients == k
    try:
        rec = optimize(law, 1e21).recommended
    except MoeplanError as exc:  # only a true refusal (checked by brute force) is allowed
        event(f"refused: {assert_refusal_is_true(exc, k)}")
        return
    event("planned")
    assert rec.loss == pytest.approx(
        spec_moe_loss(rec.n_total, rec.tokens, rec.granularity, k), rel=1e-12
    )
    assert rec.tokens >= 1 and rec.flops == pytest.approx(1e21, rel=1e-9)


@VALID
@given(
    rows=st.lists(
        st.tuples(
            st.floats(1e6, 1e12),
            st.floats(1e8, 1e13),
            st.sampled_from([1, 2, 4, 8]),
            st.floats(1.5, 5.0),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_valid_runs_files_read_exactly(tmp_path_factory, rows):
    from moeplan.runs import read_runs

    text = "params,tokens,granularity,loss\n" + "".join(
        f"{n!r},{d!r},{g},{loss!r}\n" for n, d, g, loss in rows
    )
    runs = read_runs(_write(tmp_path_factory, "runs.csv", text), "moe")
    for i, name in enumerate(("params", "tokens", "granularity", "loss")):
        assert getattr(runs, name).tolist() == [float(r[i]) for r in rows]
    assert runs.labels == tuple(f"row {i + 1}" for i in range(len(rows)))


@VALID
@given(
    h=st.sampled_from([256, 512, 1024]),
    L=st.integers(1, 8),
    E=st.sampled_from([4, 8, 16]),
    k=st.integers(1, 4),
    ff=st.sampled_from([512, 1024, 2048]),
    kv=st.sampled_from([1, 2, 8]),
)
def test_valid_configs_count_exactly(tmp_path_factory, h, L, E, k, ff, kv):
    import json

    from moeplan.hf import load_config

    heads = 8
    config = dict(
        fz.CONFIG,
        hidden_size=h,
        num_hidden_layers=L,
        num_local_experts=E,
        num_experts_per_tok=k,
        intermediate_size=ff,
        num_key_value_heads=kv,
        num_attention_heads=heads,
    )
    m = load_config(_write(tmp_path_factory, "config.json", json.dumps(config)))
    hd = h // heads
    attn = 2 * h * heads * hd + 2 * h * kv * hd  # Mixtral: q, o and grouped k, v; no biases
    per_block = attn + E * 3 * h * ff + 2 * h  # SwiGLU experts, two RMSNorms
    assert m.n_total == L * per_block + h  # plus the final norm
    assert m.n_active == L * (attn + k * 3 * h * ff + 2 * h) + h
    assert (m.granularity, m.expansion_rate) == (k, E / k)


# --------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return fz.make_files(tmp_path_factory.mktemp("fuzz-files"))


@pytest.mark.parametrize("command", fz.COMMANDS)
def test_cli_fuzz(files, command, tmp_path, monkeypatch):
    """Random argument vectors per command: exit 0/1/2/3, no exception, one-line errors.

    Run from an empty folder, which must stay empty: a relative path drawn for an output
    option must not leave files in the checkout."""
    monkeypatch.chdir(tmp_path)
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
    assert not list(tmp_path.iterdir()), "the fuzzed commands wrote files in the working folder"


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
