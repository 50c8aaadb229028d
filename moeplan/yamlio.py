"""Reading user files safely: size limits, ``yaml.safe_load`` only, no alias bombs.

Every loader in moeplan (law files, proposals, runs, config.json) goes through here, so the
limits are the same everywhere and a bad file always becomes a :class:`FileFormatError`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .errors import FileFormatError

#: Largest file moeplan reads (bytes). Configs and coefficient files are a few kB.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Largest number of nodes a YAML document may expand to (aliases counted at every use).
MAX_YAML_NODES = 200_000
#: Deepest nesting accepted in YAML or JSON.
MAX_DEPTH = 64


def read_text(path: str | os.PathLike, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file with a size limit; every failure is a one-line FileFormatError."""
    p = Path(path)
    try:
        if p.is_dir():
            raise FileFormatError(f"{what} {str(p)!r} is a directory; give a file")
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileFormatError:
        raise
    except FileNotFoundError:
        raise FileFormatError(f"{what} {str(p)!r} does not exist") from None
    except PermissionError:
        raise FileFormatError(f"{what} {str(p)!r} cannot be read (permission denied)") from None
    except OSError as exc:
        raise FileFormatError(f"{what} {str(p)!r} cannot be read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise FileFormatError(
            f"{what} {str(p)!r} is larger than {max_bytes // 1024} KiB; is it the right file?")
    if b"\x00" in data:
        raise FileFormatError(f"{what} {str(p)!r} is binary, expected text (YAML, JSON or CSV)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{what} {str(p)!r} is not UTF-8 text (bad byte at offset {exc.start})") from None


def _expanded_size(root) -> int:
    """Nodes the document expands to, counting an aliased node at every place it is used."""
    import yaml

    memo: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node, depth):
        key = id(node)
        if key in memo:
            return memo[key]
        if key in in_progress:
            raise FileFormatError("recursive YAML alias (an anchor used inside itself)")
        if depth > MAX_DEPTH:
            raise FileFormatError(f"nested deeper than {MAX_DEPTH} levels")
        in_progress.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        else:
            total = 1
        in_progress.discard(key)
        total = min(total, MAX_YAML_NODES + 1)
        memo[key] = total
        return total

    return size(root, 0)


def _location(exc) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f" at line {mark.line + 1}, column {mark.column + 1}"
    return ""


def parse_yaml(text: str, source: str = "YAML"):
    """Parse YAML text with ``yaml.safe_load`` after checking depth and alias expansion."""
    import yaml  # here, not at start-up: the shipped laws are read pre-parsed (~8 ms saved)

    try:
        # The limits are checked on the node graph, composed by libyaml when it is there
        # (composing builds no Python objects, so nothing can be run or expanded); the data
        # itself is then built by yaml.safe_load.
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        if node is not None and _expanded_size(node) > MAX_YAML_NODES:
            raise FileFormatError(
                f"{source}: expands to more than {MAX_YAML_NODES} nodes (alias bomb?)")
        return yaml.safe_load(text)
    except FileFormatError as exc:
        msg = str(exc)
        raise FileFormatError(msg if msg.startswith(source) else f"{source}: {msg}") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if "nesting depth" in problem:  # libyaml's own depth limit
            raise FileFormatError(f"{source}: nested too deeply") from None
        raise FileFormatError(f"{source}: invalid YAML{_location(exc)}: {problem}") from None
    except RecursionError:
        raise FileFormatError(f"{source}: nested too deeply") from None


def _json_depth_ok(obj, limit=MAX_DEPTH) -> bool:
    stack = [(obj, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def parse_json(text: str, source: str = "JSON"):
    """Parse JSON text; NaN/Infinity and over-deep nesting are rejected."""

    def bad_constant(name):
        raise FileFormatError(f"{source}: {name} is not a valid JSON number")

    def finite_float(literal):
        value = float(literal)
        if not math.isfinite(value):  # 1e400 parses as inf
            raise FileFormatError(f"{source}: {literal[:40]} is too large for a number "
                                  f"(beyond 1.8e308)")
        return value

    try:
        obj = json.loads(text, parse_constant=bad_constant, parse_float=finite_float)
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise FileFormatError(f"{source}: nested too deeply") from None
    if not _json_depth_ok(obj):
        raise FileFormatError(f"{source}: nested deeper than {MAX_DEPTH} levels")
    return obj


def load_yaml_file(path: str | os.PathLike, what: str = "YAML file"):
    """Read and parse a YAML file with all limits applied."""
    return parse_yaml(read_text(path, what), source=f"{what} {str(path)!r}")


def load_json_file(path: str | os.PathLike, what: str = "JSON file"):
    """Read and parse a JSON file with all limits applied."""
    return parse_json(read_text(path, what), source=f"{what} {str(path)!r}")
