"""Hostile files: alias bombs, deep nesting, binary, huge, unreadable, NaN in JSON."""

from __future__ import annotations

import os
import time

import pytest

from moeplan.errors import FileFormatError
from moeplan.yamlio import MAX_FILE_BYTES, load_json_file, load_yaml_file, parse_json, parse_yaml

BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_alias_bomb_rejected_quickly():
    start = time.perf_counter()
    with pytest.raises(FileFormatError, match="alias"):
        parse_yaml(BILLION_LAUGHS, "bomb.yaml")
    assert time.perf_counter() - start < 5  # generous: bounded, not a timing benchmark


def test_small_aliases_are_fine():
    assert parse_yaml("a: &x {k: 1}\nb: *x\n") == {"a": {"k": 1}, "b": {"k": 1}}


@pytest.mark.parametrize(
    "text",
    ["[" * 5000 + "]" * 5000, "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 200))],
)
def test_deep_nesting_rejected(text):
    with pytest.raises(FileFormatError):
        parse_yaml(text, "deep.yaml")


def test_recursive_alias_rejected():
    with pytest.raises(FileFormatError):
        parse_yaml("&a [*a]", "rec.yaml")


def test_unsafe_tags_rejected():
    with pytest.raises(FileFormatError, match="invalid YAML"):
        parse_yaml("!!python/object/apply:os.system ['echo hi']", "evil.yaml")


def test_yaml_error_has_location():
    with pytest.raises(FileFormatError, match="line 2, column 5"):
        parse_yaml("a: 1\nb: c: d\n", "x.yaml")


def test_binary_huge_missing_directory(tmp_path):
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(FileFormatError, match="binary"):
        load_yaml_file(binary)
    huge = tmp_path / "h.yaml"
    huge.write_bytes(b"#" * (MAX_FILE_BYTES + 10))
    with pytest.raises(FileFormatError, match="larger"):
        load_yaml_file(huge)
    with pytest.raises(FileFormatError, match="does not exist"):
        load_yaml_file(tmp_path / "nope.yaml")
    with pytest.raises(FileFormatError, match="directory"):
        load_yaml_file(tmp_path)
    latin = tmp_path / "l.yaml"
    latin.write_bytes("a: caf\xe9".encode("latin-1"))
    with pytest.raises(FileFormatError, match="UTF-8"):
        load_yaml_file(latin)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable(tmp_path):
    p = tmp_path / "u.yaml"
    p.write_text("a: 1")
    p.chmod(0)
    with pytest.raises(FileFormatError, match="permission"):
        load_yaml_file(p)


def test_json_rejects_nan_and_deep_nesting(tmp_path):
    with pytest.raises(FileFormatError, match="NaN"):
        parse_json('{"a": NaN}')
    with pytest.raises(FileFormatError):
        parse_json("[" * 100 + "]" * 100)
    with pytest.raises(FileFormatError, match="line 1"):
        parse_json("{oops}")
    p = tmp_path / "c.json"
    p.write_text('{"hidden_size": 8}')
    assert load_json_file(p) == {"hidden_size": 8}
