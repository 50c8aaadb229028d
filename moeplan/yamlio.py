"""Reading user files safely: size limits, ``yaml.safe_load`` only, no alias bombs.

Every loader in moeplan (law files, proposals, runs, config.json) goes through here, so the
limits are the same everywhere and a bad file always becomes a :class:`FileFormatError`.
"""

from __future__ import annotations

import math
import os

from .errors import FileFormatError

#: Largest file moeplan reads (bytes). Configs and coefficient files are a few kB.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Largest number of nodes a YAML document may expand to (aliases counted at every use).
MAX_YAML_NODES = 200_000
#: Deepest nesting accepted in YAML or JSON.
MAX_DEPTH = 64


#: The bytes of the last file read (path, bytes): ``fit`` hashes what it read instead of
#: opening the file again (a FIFO or /dev/stdin cannot be read twice).
_LAST_READ: tuple[str, bytes] | None = None


def sha256_of_read(path: str | os.PathLike) -> str | None:
    """SHA-256 of the bytes :func:`read_text` last read from ``path`` (None if another file)."""
    import hashlib  # here, not at start-up (OpenSSL loads in a few ms)

    if _LAST_READ is None or _LAST_READ[0] != os.fspath(path):
        return None
    return hashlib.sha256(_LAST_READ[1]).hexdigest()


def read_text(path: str | os.PathLike, what: str = "file", max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a UTF-8 text file with a size limit; every failure is a one-line FileFormatError."""
    from pathlib import Path  # here: pathlib is not needed to plan with a shipped law

    global _LAST_READ
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
            f"{what} {str(p)!r} is larger than {max_bytes // 1024} KiB; is it the right file?"
        )
    _LAST_READ = (os.fspath(path), data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (b"\x00" in data and _looks_utf16(data)):
        raise FileFormatError(
            f"{what} {str(p)!r} is UTF-16 text; moeplan reads UTF-8: save it as UTF-8 (e.g. "
            f"iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8)"
        )
    if b"\x00" in data:
        raise FileFormatError(f"{what} {str(p)!r} is binary, expected text (YAML, JSON or CSV)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileFormatError(
            f"{what} {str(p)!r} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a byte-order mark: every other byte of ASCII text is zero."""
    head = data[:4096]
    if len(head) < 4 or len(head) % 2:
        return False
    odd, even = head[1::2], head[0::2]
    return odd.count(0) > 0.9 * len(odd) or even.count(0) > 0.9 * len(even)


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


#: Tag of plain scalars that YAML 1.1 reads as numbers in a way YAML 1.2 (and a reader) does
#: not: ``024`` (octal 20), ``1:00:00`` (sexagesimal 3600), ``0x1F``, ``0o17``, ``1_000``.
_AMBIGUOUS = "tag:moeplan,2026:ambiguous-number"
_AMBIGUOUS_RE = (
    r"^[-+]?(?:0[0-9]+|0[xXoObB][0-9a-fA-F_]*"
    r"|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|[0-9_]*_[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]+)?"
    r"|[0-9]*\.[0-9_]*_[0-9_]*(?:[eE][-+]?[0-9]+)?)$"
)
#: YAML 1.2 core schema numbers: decimal only (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
_INT_RE = r"^[-+]?[0-9]+$"
_FLOAT_RE = (
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_LOADER = None


def _loader():
    """A safe loader with YAML 1.2 decimal numbers, YAML 1.1-only number forms refused and
    duplicate keys refused (PyYAML keeps the last silently)."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import re

    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    number_tags = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")

    class Loader(base):  # type: ignore[misc, valid-type]
        def construct_ambiguous(self, node):
            raise FileFormatError(
                f"line {node.start_mark.line + 1}: {node.value!r} is not a plain decimal number "
                f"(YAML 1.1 reads it as octal, base 60, hex or with '_'); write it in decimal "
                f"such as 24, 3600 or 1e22, or quote it if it is text"
            )

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in number_tags]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    digits = list("-+0123456789.")
    # the order matters: the first resolver that matches names the tag
    Loader.add_implicit_resolver(_AMBIGUOUS, re.compile(_AMBIGUOUS_RE), digits)
    Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(_INT_RE), digits)
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(_FLOAT_RE), digits)
    Loader.add_constructor(_AMBIGUOUS, Loader.construct_ambiguous)
    _LOADER = Loader
    return Loader


def _duplicate_key(root):
    """The first mapping key given twice, as a message, or None."""
    import yaml

    stack = [(root, "")]
    seen_nodes: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:  # an alias: checked once
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            lines: dict = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in lines:
                        where = (
                            f"{path}{key.value}"
                            if not path or path.endswith(".")
                            else f"{path} key {key.value!r}"
                        )
                        first = lines[key.value]
                        at = f"on line {line}" if first == line else f"(lines {first} and {line})"
                        return f"{where} is given twice {at}; keep one"
                    lines[key.value] = line
                    stack.append((value, f"{path}{key.value}."))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value, start=1):
                stack.append((item, f"{path.rstrip('.')}{'' if not path else ' '}item {i}:"))
    return None


def parse_yaml(text: str, source: str = "YAML", inspect_node=None):
    """Parse YAML text safely: depth and alias-expansion limits, YAML 1.2 numbers, no
    duplicate keys. ``inspect_node``, when given, is called with the checked node graph
    before the data is built from it (line numbers without parsing the text again)."""
    import yaml  # here, not at start-up: the shipped laws are read pre-parsed (~8 ms saved)

    loader = _loader()(text)
    try:
        # The limits are checked on the node graph, composed by libyaml when it is there
        # (composing builds no Python objects, so nothing can be run or expanded); the data
        # is then built from that same graph.
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_YAML_NODES:
            raise FileFormatError(
                f"{source}: expands to more than {MAX_YAML_NODES} nodes (alias bomb?)"
            )
        duplicate = _duplicate_key(node)
        if duplicate is not None:
            raise FileFormatError(f"{source}: {duplicate}")
        if inspect_node is not None:
            inspect_node(node)
        return loader.construct_document(node)
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
    except ValueError as exc:  # an integer past Python's digit limit (int_max_str_digits)
        raise FileFormatError(f"{source}: {_digits_message(exc)}") from None
    finally:
        loader.dispose()


def _digits_message(exc: Exception) -> str:
    import sys

    if "integer string conversion" in str(exc):
        return (
            f"a number has more than {sys.get_int_max_str_digits():,} digits; write it in "
            f"e notation such as 1e22"
        )
    return f"a value cannot be read ({str(exc)[:80]})"


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
            raise FileFormatError(
                f"{source}: {literal[:40]} is too large for a number (beyond 1.8e308)"
            )
        return value

    import json  # here: planning with a shipped law reads no JSON

    try:
        obj = json.loads(text, parse_constant=bad_constant, parse_float=finite_float)
    except json.JSONDecodeError as exc:
        raise FileFormatError(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:  # an integer past Python's digit limit (int_max_str_digits)
        raise FileFormatError(f"{source}: {_digits_message(exc)}") from None
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
