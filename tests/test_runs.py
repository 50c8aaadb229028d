"""The runs reader for `moeplan fit`: CSV/YAML, --column mapping, validation (file, row, column)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.cli import flag_message
from moeplan.cli.cmd_fit import _parse_columns as parse_column_mapping
from moeplan.errors import FileFormatError, InputError
from moeplan.runs import read_runs

from conftest import data_path

CHINCHILLA = ("chinchilla", "svg_extracted_data.csv")
CHINCHILLA_COLUMNS = {"params": "Model Size", "flops": "Training FLOP"}


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_suffixes_extra_columns_and_names(tmp_path):
    path = write(
        tmp_path,
        "runs.csv",
        "name,params,tokens,granularity,loss,lr\n"
        "small,129M,16B,1,3.5,1e-3\n"
        ",1.5e9,1.3e11,16,2.75,2e-4\n",
    )
    runs = read_runs(path, "moe")
    assert len(runs) == 2
    np.testing.assert_array_equal(runs.params, [129e6, 1.5e9])
    np.testing.assert_array_equal(runs.tokens, [16e9, 1.3e11])
    np.testing.assert_array_equal(runs.granularity, [1.0, 16.0])
    np.testing.assert_array_equal(runs.loss, [3.5, 2.75])
    assert runs.labels == ("small", "row 2")  # the name column, else the row number
    assert not runs.tokens_from_flops


def test_chinchilla_file_read_directly_with_column_mapping():
    path = data_path(*CHINCHILLA)
    runs = read_runs(path, "dense", CHINCHILLA_COLUMNS)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(runs) == len(rows) == 245
    n = np.array([float(r["Model Size"]) for r in rows])
    f = np.array([float(r["Training FLOP"]) for r in rows])
    np.testing.assert_allclose(runs.params, n, rtol=0)
    np.testing.assert_allclose(runs.tokens, f / (6.0 * n), rtol=1e-15)  # D = F / (6 N)
    np.testing.assert_allclose(runs.loss, [float(r["loss"]) for r in rows], rtol=0)
    assert runs.tokens_from_flops and runs.granularity is None


def test_drop_highest_loss_removes_exactly_the_five_highest():
    runs = read_runs(data_path(*CHINCHILLA), "dense", CHINCHILLA_COLUMNS)
    kept = runs.drop_highest_loss(5)
    assert len(kept) == 240
    threshold = np.sort(runs.loss)[-5]
    assert kept.loss.max() < threshold
    assert set(kept.labels) == {
        lab for lab, loss in zip(runs.labels, runs.loss) if loss < threshold
    }
    with pytest.raises(InputError):
        runs.drop_highest_loss(245)


def test_tokens_column_wins_over_flops_and_moe_needs_tokens(tmp_path):
    path = write(tmp_path, "r.csv", "params,tokens,flops,loss\n1e8,2e9,5e18,3\n")
    assert read_runs(path, "dense").tokens[0] == 2e9
    path = write(tmp_path, "f.csv", "params,flops,granularity,loss\n1e8,6e18,2,3\n")
    assert read_runs(path, "dense").tokens[0] == pytest.approx(6e18 / (6 * 1e8), rel=1e-15)
    with pytest.raises(FileFormatError, match="needs a 'tokens' column"):
        read_runs(path, "moe")


@pytest.mark.parametrize(
    "name, text",
    [
        (
            "runs.yaml",
            "- {params: 1e8, tokens: 2B, granularity: 4, loss: 3.1}\n"
            "- {params: 2e8, tokens: 4B, granularity: 8, loss: 3.0, note: x}\n",
        ),
        (
            "runs.yml",
            "runs:\n  - {params: 1e8, tokens: 2B, granularity: 4, loss: 3.1}\n"
            "  - {params: 2e8, tokens: 4B, granularity: 8, loss: 3.0}\n",
        ),
        (
            "runs.json",
            json.dumps(
                [
                    {"params": 1e8, "tokens": 2e9, "granularity": 4, "loss": 3.1},
                    {"params": 2e8, "tokens": 4e9, "granularity": 8, "loss": 3.0},
                ]
            ),
        ),
        (
            "runs.txt",
            "- {params: 1e8, tokens: 2B, granularity: 4, loss: 3.1}\n"
            "- {params: 2e8, tokens: 4B, granularity: 8, loss: 3.0}\n",
        ),
        (
            "runs",
            "- {params: 1e8, tokens: 2B, granularity: 4, loss: 3.1}\n"
            "- {params: 2e8, tokens: 4B, granularity: 8, loss: 3.0}\n",
        ),
    ],
)
def test_yaml_and_json_lists(tmp_path, name, text):
    if name == "runs.txt":  # .txt is read as CSV: YAML in it is a CSV without the columns
        with pytest.raises(FileFormatError):
            read_runs(write(tmp_path, name, text), "moe")
        return
    runs = read_runs(write(tmp_path, name, text), "moe")
    np.testing.assert_array_equal(runs.params, [1e8, 2e8])
    np.testing.assert_array_equal(runs.tokens, [2e9, 4e9])
    np.testing.assert_array_equal(runs.granularity, [4, 8])
    assert runs.labels == ("run 1", "run 2")


def test_header_matching_is_case_insensitive_and_tabs_work(tmp_path):
    runs = read_runs(write(tmp_path, "r.tsv", "Params\tTokens\tLoss\n1e8\t2e9\t3.2\n"), "dense")
    assert runs.params[0] == 1e8 and runs.loss[0] == 3.2


def test_column_mapping_parsing():
    assert parse_column_mapping(["params=Model Size", "flops = Training FLOP"]) == {
        "params": "Model Size",
        "flops": "Training FLOP",
    }
    assert parse_column_mapping(None) == {}
    for bad, needle in (
        (["params"], "NAME=HEADER"),
        (["size=N"], "unknown name"),
        (["params="], "empty"),
        (["params=a", "params=b"], "twice"),
    ):
        with pytest.raises(InputError, match=needle):
            parse_column_mapping(bad)


HEADER = "params,tokens,granularity,loss\n"


@pytest.mark.parametrize(
    "name, text, needles",
    [
        ("empty.csv", "", ["empty"]),
        ("blank.csv", "\n\n  \n", ["empty"]),
        ("header.csv", HEADER, ["no runs", "line 1"]),
        ("empty.yaml", "", ["empty"]),
        ("emptylist.yaml", "[]\n", ["no runs"]),
        ("nan.csv", HEADER + "1e8,1e9,1,3\n1e8,1e9,1,nan\n", ["row 2", "line 3", "'loss'", "nan"]),
        ("inf.csv", HEADER + "1e8,inf,1,3\n", ["row 1", "'tokens'", "inf"]),
        ("zero.csv", HEADER + "1e8,0,1,3\n", ["row 1", "'tokens'", "positive"]),
        ("neg.csv", HEADER + "1e8,1e9,1,3\n-5e8,1e9,1,3\n", ["row 2", "'params'", "positive"]),
        ("negg.csv", HEADER + "1e8,1e9,-2,3\n", ["row 1", "'granularity'", "positive"]),
        ("text.csv", HEADER + "1e8,lots,1,3\n", ["row 1", "'tokens'", "'lots'"]),
        ("blankcell.csv", HEADER + "1e8,,1,3\n", ["row 1", "'tokens'", "empty"]),
        ("dup.csv", "params,tokens,loss,loss\n1e8,1e9,3,3\n", ["'loss'", "twice", "line 1"]),
        ("nohead.csv", "params,,granularity,loss\n1e8,1e9,1,3\n", ["column 2", "empty name"]),
        ("missing.csv", "params,tokens,loss\n1e8,1e9,3\n", ["'granularity'", "columns gr"]),
        ("noloss.csv", "params,tokens,granularity\n1e8,1e9,1\n", ["'loss'", "headers are"]),
        ("short.csv", HEADER + "1e8,1e9,1\n", ["row 1", "3 values for 4 columns"]),
        ("long.csv", HEADER + "1e8,1e9,1,3,4\n", ["row 1", "5 values for 4 columns"]),
        (
            "dup.yaml",
            "- {params: 1e8, tokens: 1e9, granularity: 1, loss: 3, loss: 4}\n",
            ["'loss'", "twice", "line 1"],
        ),
        ("scalar.yaml", "- 3\n", ["run 1", "mapping"]),
        ("dict.yaml", "params: 1\n", ["list"]),
        (
            "hole.yaml",
            "- {params: 1e8, tokens: 1e9, granularity: 1, loss: 3}\n"
            "- {params: 1e8, tokens: 1e9, granularity: 1}\n",
            ["run 2", "'loss'", "missing"],
        ),
        (
            "bool.yaml",
            "- {params: 1e8, tokens: 1e9, granularity: 1, loss: true}\n",
            ["run 1", "'loss'", "number"],
        ),
        ("bad.yaml", "- {params: 1e8\n", ["invalid YAML"]),
    ],
)
def test_bad_files_name_file_row_and_column(tmp_path, name, text, needles):
    path = write(tmp_path, name, text)
    with pytest.raises(FileFormatError) as info:
        read_runs(path, "moe")
    message = str(info.value)
    assert "\n" not in message and name in message
    for needle in needles:
        assert needle in message, (needle, message)
    assert "--" not in message  # the library names its arguments (the CLI shows flags)


def test_mapped_header_missing_and_named_in_message(tmp_path):
    path = write(tmp_path, "r.csv", HEADER + "1e8,1e9,1,3\n")
    with pytest.raises(FileFormatError, match="'Model Size'.*columns params=Model Size") as info:
        read_runs(path, "moe", {"params": "Model Size"})
    assert "(given by --column params=Model Size)" in flag_message(info.value)
    assert read_runs(path, "moe", {"loss": "LOSS"}).loss[0] == 3.0  # case-insensitive match


def test_mapped_value_errors_name_both_column_and_header(tmp_path):
    path = write(tmp_path, "r.csv", "N,tokens,granularity,loss\nx,1e9,1,3\n")
    with pytest.raises(FileFormatError, match=r"column 'params' \('N'\)"):
        read_runs(path, "moe", {"params": "N"})


def test_missing_file_and_unknown_form(tmp_path):
    with pytest.raises(FileFormatError, match="does not exist"):
        read_runs(tmp_path / "nope.csv", "moe")
    with pytest.raises(InputError, match="moe or dense"):
        read_runs(tmp_path / "nope.csv", "sparse")


def test_subset_keeps_labels_and_arrays(tmp_path):
    path = write(tmp_path, "r.csv", HEADER + "1e8,1e9,1,3\n2e8,2e9,2,2.9\n3e8,3e9,4,2.8\n")
    runs = read_runs(path, "moe")
    sub = runs.subset(np.array([2, 0]))
    assert sub.labels == ("row 3", "row 1")
    np.testing.assert_array_equal(sub.granularity, [4, 1])
    assert sub.to_dict()["loss"] == [2.8, 3.0]


finite = st.floats(min_value=1e-6, max_value=1e15, allow_nan=False, allow_infinity=False)


@given(
    st.lists(
        st.tuples(finite, finite, st.sampled_from([1.0, 2.0, 8.0, 64.0]), finite),
        min_size=1,
        max_size=20,
    )
)
def test_csv_round_trip_of_positive_numbers(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("runs") / "r.csv"
    path.write_text(HEADER + "".join(f"{n!r},{d!r},{g!r},{loss!r}\n" for n, d, g, loss in rows))
    runs = read_runs(path, "moe")
    expected = np.array(rows, dtype=float)
    np.testing.assert_array_equal(runs.params, expected[:, 0])
    np.testing.assert_array_equal(runs.tokens, expected[:, 1])
    np.testing.assert_array_equal(runs.granularity, expected[:, 2])
    np.testing.assert_array_equal(runs.loss, expected[:, 3])


# -- --skip-invalid: messy runs ----------------------------------------------------------------

MESSY = (
    "params,tokens,granularity,loss,note\n"
    "1e8,1e9,1,3.0,ok\n"  # row 1 kept
    "2e8,,2,2.9,x\n"  # row 2: empty tokens
    "3e8,3e9,4,nan,x\n"  # row 3: NaN loss
    "4e8,4e9,8,2.7,nan\n"  # row 4 kept: the NaN is in a column the fit does not use
    "5e8,5e9\n"  # row 5: short row
    "6e8,6e9,16,NaN,\n"  # row 6: NaN, another spelling
    "7e8,7e9,2,2.5,\n"
)  # row 7 kept


def test_skip_invalid_drops_missing_and_nan_and_lists_them(tmp_path):
    path = write(tmp_path, "messy.csv", MESSY)
    runs = read_runs(path, "moe", skip_invalid=True)
    np.testing.assert_array_equal(runs.params, [1e8, 4e8, 7e8])
    np.testing.assert_array_equal(runs.tokens, [1e9, 4e9, 7e9])
    np.testing.assert_array_equal(runs.granularity, [1, 8, 2])
    np.testing.assert_array_equal(runs.loss, [3.0, 2.7, 2.5])
    assert runs.labels == ("row 1", "row 4", "row 7")
    assert [(s.run, s.column, s.reason) for s in runs.skipped] == [
        ("row 2 (line 3)", "tokens", "empty"),
        ("row 3 (line 4)", "loss", "'nan'"),
        ("row 5 (line 6)", "granularity", "missing (short row)"),
        ("row 6 (line 7)", "loss", "'NaN'"),
    ]
    # a subset keeps the record of what was skipped
    assert runs.subset(np.array([0])).skipped == runs.skipped
    # the same file without the flag is an error naming the file, the row and the column
    with pytest.raises(FileFormatError, match=r"messy\.csv'?, row 5 \(line 6\): 2 values"):
        read_runs(path, "moe")
    clean = write(tmp_path, "clean.csv", MESSY.replace("5e8,5e9\n", ""))
    with pytest.raises(
        FileFormatError,
        match=r"clean\.csv'?, row 2 \(line 3\), column 'tokens': empty.*with skip_invalid$",
    ) as info:
        read_runs(clean, "moe")
    assert flag_message(info.value).endswith("leave such runs out with --skip-invalid")


def test_skip_invalid_in_yaml_and_what_it_does_not_skip(tmp_path):
    path = write(
        tmp_path,
        "runs.yaml",
        "- {params: 1e8, tokens: 2B, granularity: 4, loss: 3.1}\n"
        "- {params: 2e8, tokens: 4B, granularity: 8, loss: .nan}\n"
        "- {params: 3e8, granularity: 8, loss: 2.9}\n"
        "- {params: 4e8, tokens: 8B, granularity: 2, loss: null}\n"
        "- {params: 5e8, tokens: 9B, granularity: 2, loss: 2.8}\n",
    )
    runs = read_runs(path, "moe", skip_invalid=True)
    np.testing.assert_array_equal(runs.params, [1e8, 5e8])
    assert [(s.run, s.column) for s in runs.skipped] == [
        ("run 2", "loss"),
        ("run 3", "tokens"),
        ("run 4", "loss"),
    ]
    # a word or a negative count is not a missing measurement: still an error
    word = write(
        tmp_path, "word.csv", "params,tokens,granularity,loss\n1e8,many,1,3\n2e8,2e9,1,2.9\n"
    )
    with pytest.raises(FileFormatError, match="row 1.*'tokens'.*'many'"):
        read_runs(word, "moe", skip_invalid=True)
    neg = write(tmp_path, "neg.csv", "params,tokens,granularity,loss\n-1e8,1e9,1,3\n")
    with pytest.raises(FileFormatError, match="row 1.*'params'.*positive"):
        read_runs(neg, "moe", skip_invalid=True)
    # nothing left: said so, with the first reason
    empty = write(
        tmp_path, "allbad.csv", "params,tokens,granularity,loss\n1e8,1e9,1,nan\n2e8,,1,3\n"
    )
    with pytest.raises(FileFormatError, match="all 2 runs.*row 1 \\(line 2\\): 'loss' 'nan'"):
        read_runs(empty, "moe", skip_invalid=True)


def test_skip_invalid_keeps_valid_files_unchanged(tmp_path):
    path = data_path(*CHINCHILLA)
    a = read_runs(path, "dense", CHINCHILLA_COLUMNS)
    b = read_runs(path, "dense", CHINCHILLA_COLUMNS, skip_invalid=True)
    assert b.skipped == () and len(b) == len(a) == 245
    for name in ("params", "tokens", "loss"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
