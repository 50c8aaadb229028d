"""Regenerate moeplan/_record_init.py: the ``__init__`` of moeplan's dataclasses, pre-compiled.

    python -m moeplan.compile_records

Run it after adding or changing a field of a dataclass declared with ``moeplan._record``'s
``dataclass``; until then that class compiles its ``__init__`` at import (correct, only slower)
and tests/test_records.py fails.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

TARGET = Path(__file__).resolve().with_name("_record_init.py")


def built_classes() -> list:
    """Every class built by ``moeplan._record.dataclass``, after importing all of moeplan."""
    import moeplan

    from . import _record

    for info in pkgutil.walk_packages(moeplan.__path__, "moeplan."):
        if info.name.rsplit(".", 1)[-1] in ("__main__", "compile_records", "compile_laws"):
            continue
        importlib.import_module(info.name)
    classes = {
        cls
        for cls, _ in _record.BUILT
        if cls.__module__.startswith("moeplan.") and "<locals>" not in cls.__qualname__
    }
    return sorted(classes, key=lambda c: (c.__module__, c.__qualname__))


def module_text() -> str:
    from ._record import init_key, init_name, init_source

    classes = built_classes()
    parts = [
        '"""The ``__init__`` of moeplan\'s dataclasses, pre-compiled (generated: python -m '
        "moeplan.compile_records).\n\nDo not edit: moeplan._record builds these from the "
        'classes\' fields; an entry is used only while its key matches the fields.\n"""\n'
    ]
    parts += [init_source(cls) for cls in classes]
    parts.append("INITS = {")
    for cls in classes:
        parts.append(
            f"    {cls.__module__ + '.' + cls.__qualname__!r}: "
            f"({init_key(cls)!r}, {init_name(cls)}),"
        )
    parts.append("}\n")
    return "\n".join(parts)


if __name__ == "__main__":
    TARGET.write_text(module_text(), encoding="utf-8")
    print(f"wrote {TARGET}")
