"""A catalogue of bad inputs for every command and option (issue 7, item 1).

Every row is one mistake a user can make. Each must end with exit code 2, exactly one line on
stderr that says ``error:``, names the problem (the option, file or quantity) and the expected
form, nothing on stdout, no traceback, and within seconds. Many rows are regression tests of
crashes or unhelpful messages that this catalogue found (see the commit log).

Numbers: every numeric option of every command, read from the command itself (a new option is
covered, or fails :func:`test_every_numeric_option_is_catalogued` until it is), gets
unparsable, negative, zero and absurd (1e300) values; each flag also gets a suffix typo, NaN,
infinite and overflowing (1e400) values once (the one number parser refuses those).
Files, hostile YAML/JSON and contradictions are rows written out below.
"""

from __future__ import annotations

import os
import re

import pytest

from moeplan.cli import app

import fuzz_support as fz

#: A valid command line per command; each row changes one thing.
BASE = {
    "optimize": ["optimize", "--flops", "1e22"],
    "compare": ["compare", "--flops", "1e22"],
    "sweep": ["sweep", "--from", "1e20", "--to", "1e22", "--points", "3"],
    "loss": ["loss", "--params", "1B", "--tokens", "20B"],
    "flops": ["flops", "--d-model", "1024", "--n-blocks", "16", "--tokens", "1e10"],
    "check": ["check", "{proposal}"],
    "inspect": ["inspect", "{config}"],
    "fit": ["fit", "{runs}", "--starts", "1"],
    "lr": ["lr", "--params", "1.2B"],
}
#: Options that need another option to apply: the catalogue adds it.
NEEDS = {
    ("optimize", "--experts"): ["--law", "ludziejewski2025-joint"],
    ("compare", "--experts"): ["--law", "ludziejewski2025-joint"],
    ("sweep", "--experts"): ["--law", "ludziejewski2025-joint"],
    ("compare", "--memory"): ["--law", "ludziejewski2025-joint"],
    ("sweep", "--memory"): ["--law", "ludziejewski2025-joint"],
    ("loss", "--n-experts"): ["--law", "ludziejewski2025-joint"],
    ("optimize", "--mfu"): ["--gpu", "h100"],
    ("optimize", "--gpus"): ["--gpu", "h100"],
    ("optimize", "--days"): ["--gpu", "h100", "--gpus", "8"],
    ("optimize", "--gpu-hours"): ["--gpu", "h100"],
    ("optimize", "--seq-len"): ["--gpu", "h100"],
    ("optimize", "--micro-batch"): ["--gpu", "h100", "--gpus", "8"],
    ("flops", "--n-experts"): ["--top-k", "1"],
    ("flops", "--top-k"): ["--n-experts", "64"],
}
#: Options that stand instead of part of the base command line (so the row tests the value,
#: not a contradiction with the base).
INSTEAD = {
    ("optimize", "--target-loss"): ["optimize"],
    ("optimize", "--days"): ["optimize"],
    ("optimize", "--gpu-hours"): ["optimize"],
    ("check", "--tokens"): ["check", "{config}"],
    ("check", "--flops"): ["check", "{config}"],
}
#: Numeric options for which zero is a valid value (everything else must refuse 0).
ZERO_OK = {
    "--c-r",
    "--kv-tokens",
    "--inference-tokens",
    "--drop-highest",
    "--weight-decay",
    "--bootstrap",
    "--seed",
    "--worst",
}
#: Numeric options for which 1e300 is a valid value: a cap far above anything is no cap.
HUGE_OK = {"--max-granularity"}
#: Words that name each option's quantity in messages from the core (besides the flag itself).
NAMES = {
    "--expansion-rate": "expansion",
    "--n-experts": "experts",
    "--c-f": "c_f",
    "--c-r": "c_r",
    "--params": "param",
    "--tokens": "token",
    "--flops": "budget",
    "--from": "budget",
    "--to": "budget",
    "--max-total-params": "param",
    "--max-tokens": "token",
    "--vocab-size": "vocab",
    "--multiple-of": "multiple",
    "--shape-tolerance": "tolerance",
    "--top-k": "top",
    "--granularity": "granularity",
    "--experts": "experts",
    "--memory": "memory",
    "--aspect-ratio": "aspect",
    "--bytes-per-param": "bytes",
    "--inference-tokens": "inference",
    "--kv-tokens": "kv",
    "--target-loss": "loss",
    "--holdout": "holdout",
    "--at-flops": "budget",
    "--huber-delta": "huber",
    "--weight-decay": "decay",
    "--seq-len": "seq",
    "--points": "points",
    "--mfu": "mfu",
    "--gpus": "gpu",
    "--days": "days",
    "--gpu-hours": "gpu_hours",
    "--micro-batch": "micro",
    "--alternatives": "alternatives",
    "--max-granularity": "granularity",
}
#: Where the message names the quantity an option turns into instead of the option.
NAMES_IN = {("check", "--flops"): "training tokens"}  # tokens = flops / flops per token
#: A bad number's message states the allowed range or form: a bound, a span, a sign, or an
#: example of a valid value. (Not just any English: "too", "only" or "below" alone do not do.)
ALLOWED_RANGE = re.compile(
    r"\bat least \S+|\bat most \S+|\bup to \S+|\bfrom \S+ to \S+|\bbetween \S+ and \S+|"
    r"\babove \S+ and at most|\b(must be|give) (a |an )?(zero or )?positive|"
    r"\bmust be (a )?whole number|\bwhole number up to|\b(e\.g\.|such as) [\w.+-]+|"
    r"\bfinite\b|\bone of\b|\b(choose|give|use) a (lower|higher|smaller|larger)\b",
    re.IGNORECASE,
)
#: Every other row says what would be right, or names the exact fact that is wrong.
EXPECTED_FORM = re.compile(
    ALLOWED_RANGE.pattern + r"|\buse\b|\bgive\b|\bexpected\b|\bmust\b|\bchoose\b|"
    r"\bnot both\b|\bexclude\b|\bgo (together|with)\b|\brequires?\b|\bneeds?\b|"
    r"\bmap (one|it)\b|\brename\b|\bremove\b|\badd (it|one|a)\b|\brelax\b|"
    r"\bappl(y|ies) to\b|\bdoes not apply\b|\bis not supported; supported\b|"
    r"\bdoes not exist\b|\bis a directory\b|\blarger than \d|\bnot UTF-8\b|\bbinary\b|"
    r"\binvalid (JSON|YAML) at line\b|\bnested deeper than \d|\balias\b|"
    r"\btoo large for a number\b|\bnot a valid JSON number\b|\bis more than\b|"
    r"\bcannot be written\b|\bunknown (key|law|GPU|name)\b|\bkeep one\b|\braise it\b|"
    r"\bis not a whole number\b|\bheaders are\b|\bmissing (argument|option)\b|"
    r"\bunexpected extra argument\b|\bdid you mean\b",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-inputs")
    paths = fz.make_files(folder)
    named = {os.path.basename(p): p for kind in paths.values() for p in kind}
    named["folder"] = str(folder)
    named["missing"] = str(folder / "missing.yaml")
    named["no-dir"] = str(folder / "no" / "dir" / "x.yaml")
    for kind in ("proposal", "config", "runs", "law"):
        named[kind] = paths[kind][0]
    return named


def _fill(args, files):
    return [re.sub(r"\{([^}]+)\}", lambda m: files[m.group(1)], a) for a in args]


def assert_one_line_error(args, files, needles=()):
    args = _fill(args, files)
    result = fz.run(app, args)
    shown = f"moeplan {' '.join(args)}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{shown}\nraised {result.exception!r}"
    )
    assert result.exit_code == 2, shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1, shown
    line = lines[0]
    assert "error:" in line and "Traceback" not in result.output, shown
    assert result.stdout == "", shown
    assert EXPECTED_FORM.search(line), f"no expected form in: {line}"
    low = line.lower()
    assert all(n.lower() in low for n in needles), f"{needles} not in: {line}"
    return line


# --------------------------------------------------------------------------- numbers


def _numeric_options():
    out = []
    for command in BASE:
        opts, _ = fz.option_table(app, command)
        for flag, type_name, is_flag in opts:
            if is_flag or type_name in ("StringParamType", "TyperChoice"):
                continue
            out.append((command, flag))
    # options read as text and parsed as numbers by the command itself
    out += [("fit", "--at-flops")]
    return out


NUMERIC = _numeric_options()
BAD_NUMBERS = [
    ("unparsable", "abc"),
    ("suffix-typo", "12Q"),
    ("negative", "-1"),
    ("zero", "0"),
    ("nan", "nan"),
    ("infinite", "inf"),
    ("overflow", "1e400"),
    ("absurd", "1e300"),
]


#: Refused by the one number parser (units.parse_number) whatever the option: once per flag.
PARSER_ONLY = {"suffix-typo", "nan", "infinite", "overflow"}


def _number_rows():
    """Every bad value for a flag's first command; where the same flag recurs in another
    command, the rows that reach that command's own wiring and range check (unparsable: it is
    read by the parser and named; negative, zero, absurd: its bounds). The parser-only forms
    are the parser's, the same for every command."""
    rows, seen = [], set()
    for command, flag in NUMERIC:
        for label, value in BAD_NUMBERS:
            if label == "zero" and flag in ZERO_OK:
                continue
            if label == "absurd" and flag in HUGE_OK:
                continue
            if label in PARSER_ONLY and flag in seen:
                continue
            rows.append(pytest.param(command, flag, value, id=f"{command} {flag} {label}"))
        seen.add(flag)
    return rows


@pytest.mark.parametrize("command, flag, value", _number_rows())
def test_bad_number(files, command, flag, value):
    args = list(INSTEAD.get((command, flag), BASE[command]))
    if flag in args:  # replace the base value
        i = args.index(flag)
        del args[i : i + 2]
    args.append(f"{flag}={value}")  # '=' so that -1 is a value, not an option
    args += NEEDS.get((command, flag), [])
    line = assert_one_line_error(args, files)
    # it names the option (or its quantity) and states the allowed range or form
    names = [
        flag,
        NAMES.get(flag, flag.lstrip("-").replace("-", " ")),
        flag.lstrip("-").replace("-", "_"),
        NAMES_IN.get((command, flag), flag),
    ]
    assert any(n.lower() in line.lower() for n in names), f"{names} not in: {line}"
    assert ALLOWED_RANGE.search(line), f"no allowed range or form in: {line}"


def test_every_numeric_option_is_catalogued():
    # a new numeric option lands in the rows above automatically; this pins that it happened
    flags = {flag for _, flag in NUMERIC}
    assert {
        "--flops",
        "--expansion-rate",
        "--memory",
        "--c-f",
        "--seq-len",
        "--huber-delta",
        "--points",
        "--d-model",
        "--n-experts",
        "--mfu",
    } <= flags
    assert len(NUMERIC) >= 80


# --------------------------------------------------------------------------- files and contradictions

ROWS = [
    # --- missing, empty, binary, huge, directory, not UTF-8: every place that reads a file
    (["check", "{missing}"], ["does not exist"]),
    (["check", "{empty.yaml}"], ["empty"]),
    (["check", "{binary.yaml}"], ["binary"]),
    (["check", "{huge.yaml}"], ["larger than"]),
    (["check", "{folder}"], ["directory"]),
    (["check", "{latin1.yaml}"], ["UTF-8"]),
    (["check", "{config}", "--tokens", "1T", "--law", "{missing}"], ["does not exist"]),
    (["inspect", "{missing}"], ["does not exist"]),
    (["inspect", "{empty.json}"], ["invalid JSON"]),
    (["inspect", "{binary.json}"], ["binary"]),
    (["inspect", "{huge.yaml}"], ["larger than"]),
    (["inspect", "{folder}"], ["directory"]),
    (["fit", "{missing}"], ["does not exist"]),
    (["fit", "{runs-empty.csv}"], ["empty"]),
    (["fit", "{binary.yaml}"], ["binary"]),
    (["fit", "{huge.yaml}"], ["larger than"]),
    (["fit", "{folder}"], ["directory"]),
    (["laws", "{missing}"], ["does not exist"]),
    (["laws", "{empty.yaml}"], ["expected a mapping"]),
    (["laws", "{huge.yaml}"], ["larger than"]),
    (["laws", "nope"], ["unknown law", "krajewski2024-moe"]),
    (["optimize", "--flops", "1e22", "--law", "{binary.yaml}"], ["binary"]),
    (["optimize", "--flops", "1e22", "--law", "{folder}"], ["directory"]),
    (["compare", "--flops", "1e22", "--dense-law", "{missing}"], ["does not exist"]),
    (["sweep", "--from", "1e20", "--to", "1e22", "--dense-law", "nope"], ["unknown law"]),
    (["loss", "--params", "1B", "--tokens", "1B", "--law", "{latin1.yaml}"], ["UTF-8"]),
    (
        ["flops", "--d-model", "64", "--n-blocks", "1", "--tokens", "1", "--law", "{missing}"],
        ["does not exist"],
    ),
    (["inspect", "{config}", "--law", "{empty.yaml}"], ["expected a mapping"]),
    # --- hostile YAML: alias bomb, deep nesting, recursion, python tags, 1e400
    (["check", "{bomb.yaml}"], ["alias bomb"]),
    (["laws", "{bomb.yaml}"], ["alias bomb"]),
    (["fit", "{bomb.yaml}"], ["alias bomb"]),
    (["check", "{deep.yaml}"], ["nested"]),
    (["optimize", "--flops", "1e22", "--law", "{deep.yaml}"], ["nested"]),
    (["check", "{recursive.yaml}"], ["recursive"]),
    (["check", "{python.yaml}"], ["invalid YAML"]),
    (["check", "{bad.yaml}"], ["invalid YAML", "line"]),
    (["check", "{big-number.yaml}"], ["training.tokens", "finite"]),
    (["check", "{huge-number.yaml}"], ["training tokens", "1e+30"]),
    (["check", "{tiny-number.yaml}"], ["training tokens"]),
    (["check", "{huge-e.yaml}"], ["expansion rate"]),
    (["check", "{tiny-e.yaml}"], ["n_experts"]),
    (["check", "{huge-g.yaml}"], ["d_expert"]),
    # --- wrong types, unknown keys, duplicates, NaN
    (["check", "{wrong-type.yaml}"], ["model.d_model", "got list"]),
    (["check", "{bool.yaml}"], ["model.granularity", "got bool"]),
    (["check", "{neg.yaml}"], ["model.granularity", "positive"]),
    (["check", "{nan.yaml}"], ["model.granularity", "finite"]),
    (["check", "{inf.yaml}"], ["model.expansion_rate", "finite"]),
    (["check", "{unknown-key.yaml}"], ["unknown key 'surprise'"]),
    (["check", "{dup.yaml}"], ["given twice"]),
    (["check", "{null.yaml}"], ["model.d_model", "missing"]),  # was a TypeError
    (["check", "{scalar.yaml}"], ["expected a mapping"]),
    (["check", "{list.yaml}"], ["expected a mapping"]),
    (["check", "{dangling-config.yaml}"], ["nowhere.json", "does not exist"]),
    (["laws", "{law-unknown.yaml}"], ["unknown key 'extra'"]),
    (["laws", "{law-form.yaml}"], ["form 'quantum'"]),
    (["laws", "{law-nan.yaml}"], ["coefficients.c"]),
    (["laws", "{law-neg.yaml}"], ["coefficients.alpha", "positive"]),
    (["laws", "{law-zero-beta.yaml}"], ["coefficients.beta"]),
    (["laws", "{law-huge.yaml}"], ["coefficients.a", "1e+30"]),
    (["laws", "{law-tiny-alpha.yaml}"], ["coefficients.alpha", "0.001"]),
    (["laws", "{law-big-alpha.yaml}"], ["coefficients.alpha", "10"]),
    (["laws", "{law-cf.yaml}"], ["flops.c_f"]),
    (["laws", "{law-e.yaml}"], ["flops.expansion_rate"]),
    (["optimize", "--flops", "1e22", "--law", "{law-huge.yaml}"], ["coefficients.a"]),
    (["inspect", "{nan.json}"], ["NaN"]),
    (["inspect", "{big.json}"], ["1e400", "too large"]),  # was an OverflowError
    (["inspect", "{deep.json}"], ["nested"]),
    (["inspect", "{bad.json}"], ["invalid JSON", "line 1"]),
    (["inspect", "{list.json}"], ["expected a JSON object"]),
    (["inspect", "{float-dim.json}"], ["hidden_size", "whole number"]),
    (["inspect", "{string-dim.json}"], ["hidden_size", "whole number"]),
    (["inspect", "{huge-dim.json}"], ["hidden_size", "between"]),
    (["inspect", "{huge-layers.json}"], ["num_hidden_layers"]),
    (["inspect", "{zero.json}"], ["num_local_experts"]),
    (["inspect", "{topk.json}"], ["num_experts_per_tok", "more than"]),
    (["inspect", "{unknown-type.json}"], ["gpt9", "supported"]),
    (["check", "{big.json}", "--tokens", "1T"], ["1e400"]),
    (["fit", "{runs-header.csv}"], ["no runs"]),
    (["fit", "{runs-nan.csv}"], ["row 1", "loss"]),
    (["fit", "{runs-ragged.csv}"], ["2 values for 4 columns"]),
    (["fit", "{runs-dup.csv}"], ["appears twice"]),
    (["fit", "{runs-one.csv}"], ["at least"]),
    (["fit", "{runs.yaml}"], ["run 2", "params", "got list"]),
    (["fit", "{runs-huge.csv}", "--law-form", "dense"], ["at least"]),
    (["fit", "{law}"], ["expected a list of runs"]),
    # --- outputs that cannot be written
    (["fit", "{runs}", "--starts", "1", "--out", "{no-dir}"], ["--out", "does not exist"]),
    (["fit", "{runs}", "--out", "x.txt"], ["--out", ".yaml"]),
    (["sweep", "--from", "1e20", "--to", "1e22", "--plot", "{folder}/p.txt"], [".png"]),
    (
        ["sweep", "--from", "1e20", "--to", "1e22", "--plot", "{folder}/no/p.png"],
        ["does not exist"],
    ),
    # --- contradictory or incomplete constraints
    (["optimize"], ["--flops"]),
    (["optimize", "--flops", "1e22", "--target-loss", "2"], ["not both"]),
    (["optimize", "--params", "1B"], ["--flops"]),
    (["optimize", "--flops", "1e22", "--mfu", "0.4"], ["--gpu"]),
    (["optimize", "--flops", "1e22", "--gpu", "h100", "--mfu", "2"], ["--mfu"]),
    (["optimize", "--flops", "1e22", "--gpu", "tpu9"], ["unknown GPU", "h100"]),
    (["optimize", "--flops", "1e22", "--memory", "1MB"], ["memory", "smallest model"]),
    (["optimize", "--flops", "1e22", "--max-granularity", "0.5"], ["max granularity"]),
    (["optimize", "--flops", "1e22", "--experts", "8"], ["--experts", "joint"]),
    (
        ["optimize", "--flops", "1e22", "--law", "krajewski2024-dense", "--granularity", "8"],
        ["granularity", "dense"],
    ),
    (
        ["optimize", "--flops", "1e22", "--law", "ludziejewski2025-joint", "--granularity", "8"],
        ["--granularity", "ludziejewski2025-joint"],
    ),
    (["optimize", "--flops", "1e22", "--inference-tokens", "1e20"], ["inference"]),
    (["optimize", "--flops", "1e22", "--params", "1"], ["1"]),
    (["optimize", "--flops", "1"], ["smallest model", "at least"]),
    (["optimize", "--target-loss", "0.3"], ["floor"]),
    (["optimize", "--target-loss", "1e9"], ["smallest model"]),  # was a math domain error
    (["optimize", "--flops", "1e22", "--expansion", "1e300"], ["expansion rate"]),  # ZeroDivision
    (["optimize", "--flops", "1e22", "--inference-tokens", "1e300"], ["inference"]),  # ZeroDiv.
    (["optimize", "--flops", "1e22", "--shape-tolerance", "1e300"], ["tolerance"]),  # overflow
    (["optimize", "--flops", "1e22", "--max-tokens", "1e-300"], ["token"]),  # overflow
    (
        ["optimize", "--flops", "1e22", "--law", "ludziejewski2025-joint", "--memory", "1e300"],
        ["memory"],
    ),  # hung the search
    (["compare", "--flops", "1e22", "--json", "--csv"], ["exclude"]),
    (["compare", "--flops", "1e22", "--memory", "1MB"], ["--memory", "smallest model"]),
    (["compare", "--flops", "1e22", "--dense-law", "krajewski2024-moe"], ["dense"]),
    (["compare", "--flops", "1e22", "--law", "krajewski2024-dense"], ["dense"]),
    (["compare", "--flops", "1"], ["smallest model"]),
    (
        ["compare", "--flops", "1e22", "--law", "ludziejewski2025-joint", "--experts", "1"],
        ["MoE candidate"],
    ),
    (["sweep", "--from", "1e22", "--to", "1e20"], ["--from"]),
    (["sweep", "--from", "1e20", "--to", "1e22", "--points", "1"], ["--points"]),
    (["sweep", "--from", "1e300", "--to", "1e301"], ["budget"]),  # was a bogus target-loss error
    (["sweep", "--from", "1e20", "--to", "1e22", "--json", "--csv"], ["exclude"]),
    (
        [
            "loss",
            "--params",
            "1B",
            "--tokens",
            "1B",
            "--law",
            "krajewski2024-dense",
            "--granularity",
            "8",
        ],
        ["--granularity"],
    ),
    (["loss", "--params", "1B", "--tokens", "1B", "--n-experts", "8"], ["--n-experts"]),
    (["loss", "--params", "1B", "--tokens", "1B", "--granularity", "1e300"], ["granularity"]),
    (
        ["flops", "--d-model", "64", "--n-blocks", "1", "--tokens", "1", "--n-experts", "8"],
        ["--top-k"],
    ),
    (
        [
            "flops",
            "--d-model",
            "64",
            "--n-blocks",
            "1",
            "--tokens",
            "1",
            "--n-experts",
            "8",
            "--top-k",
            "16",
        ],
        ["more than"],
    ),
    (
        [
            "flops",
            "--d-model",
            "64",
            "--n-blocks",
            "1",
            "--tokens",
            "1",
            "--n-experts",
            "8",
            "--top-k",
            "2",
            "--granularity",
            "2",
        ],
        ["not both"],
    ),
    (["flops", "--d-model", "64", "--n-blocks", "1", "--tokens", "1e31"], ["--tokens", "1e+30"]),
    (["flops", "--d-model", "1e300", "--n-blocks", "1", "--tokens", "1"], ["--d-model"]),
    (["check", "{proposal}", "--tokens", "1T"], ["--tokens", "config.json"]),
    (["check", "{config}"], ["--tokens"]),
    (["check", "{config}", "--tokens", "1T", "--flops", "1e22"], ["exclude"]),
    (["check", "{config}", "--flops", "1"], ["training tokens"]),
    (["check", "{config}", "--tokens", "1e300"], ["--tokens"]),
    (["check", "{proposal}", "--json", "--format", "junit"], ["exclude"]),
    (["check", "{proposal}", "--format", "xml"], ["--format"]),
    (["check", "{proposal}", "--limit", "foo"], ["NAME=VALUE"]),
    (["check", "{proposal}", "--limit", "max_flops=abc"], ["max_flops"]),
    (["check", "{proposal}", "--limit", "max_flops=1e400"], ["max_flops"]),
    (["check", "{proposal}", "--limit", "nonsense=1"], ["nonsense"]),
    (["check", "{proposal}", "--limit", "min_compute_efficiency=90"], ["ratio"]),
    (["check", "{proposal}", "--limit", "max_memory=lots"], ["max_memory"]),
    (["check", "{proposal}", "--law", "{law-neg.yaml}"], ["alpha"]),
    (["check", "{both.yaml}"], ["both given"]),
    (["fit", "{runs}", "--law-form", "quadratic"], ["--law-form"]),
    (["fit", "{runs}", "--objective", "mse"], ["--objective"]),
    (["fit", "{runs}", "--fix", "nope=1"], ["nope"]),
    (["fit", "{runs}", "--fix", "gamma"], ["NAME=VALUE"]),
    (["fit", "{runs}", "--fix", "gamma=1", "--fix", "gamma=2"], ["twice"]),
    (["fit", "{runs}", "--column", "params"], ["NAME=HEADER"]),
    (["fit", "{runs}", "--column", "size=N"], ["size"]),
    (["fit", "{runs}", "--column", "params=nothere"], ["nothere"]),
    (["fit", "{runs}", "--drop-highest", "100"], ["100"]),
    (["fit", "{runs}", "--huber-delta", "1e300"], ["--huber-delta"]),  # overflowed the fit
    (["fit", "{runs}", "--holdout", "1"], ["--holdout"]),
    (["fit", "{runs}", "--at-flops", "1e21,,x"], ["--at-flops"]),
    (["lr", "--params", "1B", "--experts", "0.5"], ["--experts"]),
    # --- usage: unknown command, option, missing values
    (["optimise"], ["optimize"]),
    (["optimize", "--flop", "1e22"], ["--flop"]),
    (["optimize", "--flops"], ["--flops"]),
    (["loss", "--params", "1B"], ["--tokens"]),
    (["check"], ["FILE"]),
    (["inspect"], ["FILE"]),
    (["fit"], ["FILE"]),
    (["laws", "a", "b"], ["unexpected"]),
]


@pytest.mark.parametrize(
    "args, needles", [pytest.param(args, needles, id=" ".join(args)[:80]) for args, needles in ROWS]
)
def test_bad_input(files, args, needles):
    assert_one_line_error(args, files, needles)


def test_catalogue_size():
    # the report quotes this count; keep it honest
    assert len(ROWS) >= 160 and len(_number_rows()) >= 500
    # every numeric option of every command still gets a row of each kind that is its own
    kinds = {(p.values[0], p.values[1], p.id.rsplit(" ", 1)[1]) for p in _number_rows()}
    for command, flag in NUMERIC:
        assert (command, flag, "unparsable") in kinds and (command, flag, "negative") in kinds


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(files, tmp_path):
    p = tmp_path / "secret.yaml"
    p.write_text(fz.PROPOSAL)
    p.chmod(0)
    for args in (["check", str(p)], ["laws", str(p)], ["fit", str(p)], ["inspect", str(p)]):
        assert_one_line_error(args, files, ["permission denied"])


@pytest.mark.parametrize(
    "args",
    [
        ["check", "{bomb.yaml}"],
        ["check", "{huge.yaml}"],
        ["check", "{deep.yaml}"],
        ["inspect", "{deep.json}"],
        ["fit", "{bomb.yaml}"],
        ["laws", "{huge.yaml}"],
        ["sweep", "--from", "1e20", "--to", "1e22", "--points", "1e18"],
    ],
    ids=lambda a: " ".join(a),
)
def test_hostile_inputs_use_bounded_memory(files, args):
    # the limits act before anything is expanded: a few MiB at most (the huge file is read
    # up to its 4 MiB limit plus one byte), never the gigabytes an alias bomb would build
    import tracemalloc

    tracemalloc.start()
    try:
        assert_one_line_error(args, files)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_the_form_checks_are_not_any_sentence():
    # the catalogue's checks must fail messages that say nothing about what would be right
    for vague in (
        "moeplan: error: --flops: bad value",
        "error: the value is too big",
        "error: only numbers below the line are accepted, add more",
    ):
        assert not ALLOWED_RANGE.search(vague) and not EXPECTED_FORM.search(vague), vague
    for good in (
        "--c-r: '1e9' is above 1000; give a value up to 1000",
        "granularity G must be from 1 to 1e+06, got 0.5",
        "--mfu: '2' must be positive",
        "'abc' is not a number; use e.g. 1e22",
    ):
        assert ALLOWED_RANGE.search(good), good
