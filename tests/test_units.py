"""Number and memory-size parsing (CLI.md: plain, scientific and K/M/B/G/T/P/E suffixes)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moeplan.errors import InputError
from moeplan.units import (
    format_count,
    parse_memory,
    parse_number,
    parse_number_list,
    parse_positive_int,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1e22", 1e22),
        ("70B", 70e9),
        ("1.4T", 1.4e12),
        ("16k", 16e3),
        ("16K", 16e3),
        ("2.5M", 2.5e6),
        ("3G", 3e9),
        ("1P", 1e15),
        ("2E", 2e18),
        ("1E5", 1e5),
        ("  42 ", 42.0),
        ("-3", -3.0),
        (".5", 0.5),
        ("6.0e+23", 6e23),
        ("1.5 B", 1.5e9),
    ],
)
def test_parse_number(text, expected):
    assert parse_number(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "1x",
        "B",
        "1e",
        "nan",
        "inf",
        "-inf",
        "1e400",
        "1..2",
        "1,5",
        "0x10",
        "1BB",
        "NaNB",
        "x" * 500,
        "1e22e3",
    ],
)
def test_parse_number_rejects(text):
    with pytest.raises(InputError) as err:
        parse_number(text, what="--flops")
    msg = str(err.value)
    assert "--flops" in msg and "\n" not in msg and len(msg) < 200


def test_parse_number_rejects_bool_and_nonfinite_numbers():
    for bad in (True, float("nan"), float("inf")):
        with pytest.raises(InputError):
            parse_number(bad)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("80GB", 80e9),
        ("640GiB", 640 * 2**30),
        ("1.5TB", 1.5e12),
        ("512MiB", 512 * 2**20),
        ("80G", 80e9),
        ("1024", 1024.0),
        ("2 TiB", 2 * 2**40),
        ("80gb", 80e9),
    ],
)
def test_parse_memory(text, expected):
    assert parse_memory(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("text", ["", "80XB", "GB", "-80GB", "0GB", "nanGB", "1e400GB"])
def test_parse_memory_rejects(text):
    with pytest.raises(InputError):
        parse_memory(text)


def test_parse_list_and_int():
    assert parse_number_list("1,2, 4,8") == [1, 2, 4, 8]
    assert parse_positive_int("16k") == 16000
    for bad in ("1.5", "0", "-2"):
        with pytest.raises(InputError):
            parse_positive_int(bad)
    with pytest.raises(InputError):
        parse_number_list(",")


@given(st.floats(min_value=1e-3, max_value=1e30, allow_nan=False, allow_infinity=False))
def test_plain_repr_round_trips(x):
    assert parse_number(repr(x)) == x


@given(
    st.floats(min_value=0.001, max_value=999.0, allow_nan=False),
    st.sampled_from(["K", "M", "B", "G", "T", "P", "E"]),
)
def test_suffix_round_trips(mantissa, suffix):
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}[suffix]
    text = f"{mantissa!r}{suffix}"
    assert parse_number(text) == pytest.approx(mantissa * scale, rel=1e-15)


@given(st.floats(min_value=1.0, max_value=1e21, allow_nan=False))
def test_format_count_parses_back_within_its_precision(x):
    # format_count keeps 3 significant digits; parsing its text gives x to 0.5e-2 relative.
    assert math.isclose(parse_number(format_count(x)), x, rel_tol=5e-3)


def test_format_count_large_values_use_scientific_notation():
    assert format_count(2.5e18) == "2.5E"
    assert format_count(4.89e115) == "4.89e115"
    assert format_count(201326592) == "201M"
