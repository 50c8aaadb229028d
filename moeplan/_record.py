"""Dataclasses without compiling at import (issue 12: start-up time).

``@dataclasses.dataclass`` writes each class's ``__init__``, ``__repr__``, ``__eq__``,
``__hash__`` and (frozen) ``__setattr__``/``__delattr__`` as source text and compiles it, every
time the program starts: ~0.4 ms per class, and ``moeplan optimize`` creates two dozen
dataclasses, more than it spends planning. Here:

- :class:`Record`: ``repr``, ``==`` and ``hash`` written once and shared. Classes declared
  ``@dataclass(frozen=True, eq=False, repr=False)`` that derive from it behave as the generated
  methods would: the same text, equality of the same class over the fields with
  ``compare=True``, and the hash of those values.
- :func:`dataclass`: a drop-in for ``dataclasses.dataclass`` (for mypy it *is* that one). For
  the options moeplan uses (``frozen``, ``eq``, ``repr``; no base dataclass) it lets
  ``dataclasses`` record the fields without writing methods, takes ``__init__`` from the
  pre-compiled :mod:`moeplan._record_init` (generated from the same fields by
  ``python -m moeplan.compile_records``; a class whose fields changed since gets its
  ``__init__`` compiled here, as before, until the file is regenerated) and the shared
  ``repr``/``==``/``hash``/frozen methods (the class's ``__dataclass_params__`` say what it
  is). Anything else (other options, a base dataclass) goes to ``dataclasses.dataclass``.
  ``dataclasses.fields``, ``asdict`` and ``replace`` work as before; tests/test_records.py
  holds the behaviour to the generated one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, FrozenInstanceError, fields
from typing import TYPE_CHECKING


class Record:
    __slots__ = ()

    def _compared(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self) if f.compare)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return _repr(self)

    def __eq__(self, other):
        return _eq(self, other)

    def __hash__(self) -> int:
        return hash(self._compared())


def _repr(self) -> str:
    inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
    return f"{type(self).__qualname__}({inner})"


def _eq(self, other):
    if other.__class__ is not self.__class__:
        return NotImplemented
    return tuple(getattr(self, f.name) for f in fields(self) if f.compare) == tuple(
        getattr(other, f.name) for f in fields(other) if f.compare
    )


def _hash(self) -> int:
    return hash(
        tuple(
            getattr(self, f.name) for f in fields(self) if (f.compare if f.hash is None else f.hash)
        )
    )


def _frozen_setattr(self, name, value):
    cls = type(self)
    if "__dataclass_fields__" in cls.__dict__ or name in cls.__dataclass_fields__:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _frozen_delattr(self, name):
    cls = type(self)
    if "__dataclass_fields__" in cls.__dict__ or name in cls.__dataclass_fields__:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


#: (class, options) built by :func:`dataclass` (python -m moeplan.compile_records writes their
#: ``__init__``).
BUILT: list = []
#: The options :func:`dataclass` builds without compiling; others go to dataclasses.
_OPTIONS = {"frozen", "eq", "repr", "init"}


def _plain(cls, options: dict) -> bool:
    """Whether ``cls`` with these options can be built without compiling."""
    if set(options) - _OPTIONS or not options.get("init", True):
        return False
    if any(hasattr(base, "__dataclass_fields__") for base in cls.__mro__[1:]):
        return False  # inherited fields: leave them to dataclasses
    own = cls.__dict__
    if options.get("frozen") and ("__setattr__" in own or "__delattr__" in own):
        return False  # dataclasses raises TypeError for these
    return True


def init_key(cls) -> tuple:
    """What the generated ``__init__`` of a dataclass depends on (its fields' names, which take
    an argument, which have a default or a factory, and whether it calls ``__post_init__``)."""
    return (
        tuple(
            (f.name, f.init, f.default is not MISSING, f.default_factory is not MISSING)
            for f in fields(cls)
        ),
        hasattr(cls, "__post_init__"),
    )


def init_name(cls) -> str:
    """The generated factory's name for ``cls``."""
    return "_init_" + "".join(
        c if c.isalnum() else "_" for c in f"{cls.__module__}.{cls.__qualname__}"
    )


def init_source(cls) -> str:
    """Source of a function that, called with the field defaults and factories, returns the
    ``__init__`` ``dataclasses`` would write for ``cls`` (frozen or not: the values are set
    with ``object.__setattr__``, which the generated frozen ``__init__`` does too)."""
    closure, params, body = ["_set", "_HAS_FACTORY"], [], []
    seen_default = False
    for f in fields(cls):
        has_default, has_factory = f.default is not MISSING, f.default_factory is not MISSING
        if has_default:
            closure.append(f"_d_{f.name}")
        if has_factory:
            closure.append(f"_f_{f.name}")
        if f.init:
            if has_default:
                params.append(f"{f.name}=_d_{f.name}")
            elif has_factory:
                params.append(f"{f.name}=_HAS_FACTORY")
            elif seen_default:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            else:
                params.append(f.name)
            seen_default = seen_default or has_default or has_factory
            value = (
                f"_f_{f.name}() if {f.name} is _HAS_FACTORY else {f.name}"
                if has_factory
                else f.name
            )
        elif has_factory:
            value = f"_f_{f.name}()"
        elif has_default:
            value = f"_d_{f.name}"
        else:
            continue
        body.append(f"        _set(self, {f.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("        self.__post_init__()")
    if not body:
        body.append("        pass")
    return (
        f"def {init_name(cls)}({', '.join(closure)}):\n"
        f"    def __init__({', '.join(['self', *params])}):\n" + "\n".join(body) + "\n"
        "    return __init__\n"
    )


class _HasFactory:
    def __repr__(self) -> str:
        return "<factory>"


_HAS_FACTORY = _HasFactory()


def _make_init(cls, factory):
    arguments = {"_set": object.__setattr__, "_HAS_FACTORY": _HAS_FACTORY}
    for f in fields(cls):
        if f.default is not MISSING:
            arguments[f"_d_{f.name}"] = f.default
        if f.default_factory is not MISSING:
            arguments[f"_f_{f.name}"] = f.default_factory
    init = factory(**arguments)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {f.name: f.type for f in fields(cls) if f.init} | {"return": None}
    return init


def _build(cls, frozen: bool = False, eq: bool = True, repr: bool = True, init: bool = True):
    from . import _record_init

    # dataclasses writes a missing docstring from inspect.signature(cls), which would see no
    # __init__ yet (and tokenize object's signature, ~7 ms): written below instead
    no_doc = not cls.__doc__
    if no_doc:
        cls.__doc__ = "-"
    cls = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    # the class's parameters say what it is (a frozen subclass checks its bases' `frozen`)
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    params.init, params.repr, params.eq, params.frozen = True, repr, eq, frozen
    BUILT.append((cls, {"frozen": frozen, "eq": eq, "repr": repr}))
    entry = _record_init.INITS.get(f"{cls.__module__}.{cls.__qualname__}")
    if entry is None or entry[0] != init_key(cls):  # not generated, or stale: compile it here
        namespace: dict = {}
        exec(init_source(cls), namespace)  # source built from the field names
        factory = namespace[init_name(cls)]
    else:
        factory = entry[1]
    own = cls.__dict__
    cls.__init__ = _make_init(cls, factory)
    if repr and "__repr__" not in own:
        cls.__repr__ = _repr
    if eq and "__eq__" not in own:
        cls.__eq__ = _eq
    # dataclasses' rule for __hash__ (unsafe_hash=False): eq and frozen give a field hash, eq
    # alone makes instances unhashable; a __hash__ written in the class stays
    explicit_hash = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if eq and not explicit_hash:
        cls.__hash__ = _hash if frozen else None
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    if no_doc:
        import inspect

        cls.__doc__ = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
    return cls


def _dataclass(cls=None, /, **options):
    def wrap(cls):
        if _plain(cls, options):
            return _build(cls, **options)
        return dataclasses.dataclass(cls, **options)

    return wrap if cls is None else wrap(cls)


if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    dataclass = _dataclass
