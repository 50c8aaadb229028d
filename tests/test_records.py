"""moeplan._record.dataclass (issue 12 start-up): dataclasses whose methods are not compiled at
import behave as ``dataclasses.dataclass`` would make them."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

import moeplan
from moeplan import _record, _record_init, compile_records
from moeplan._record import dataclass


def _twin(cls, options):
    """The same fields through dataclasses.dataclass (the reference)."""
    specs = []
    for f in dataclasses.fields(cls):
        kw = {"init": f.init, "repr": f.repr, "compare": f.compare, "hash": f.hash}
        if f.default is not dataclasses.MISSING:
            kw["default"] = f.default
        if f.default_factory is not dataclasses.MISSING:
            kw["default_factory"] = f.default_factory
        specs.append((f.name, f.type, dataclasses.field(**kw)))
    namespace = {}
    if hasattr(cls, "__post_init__"):
        namespace["__post_init__"] = cls.__post_init__
    return dataclasses.make_dataclass(cls.__name__, specs, namespace=namespace, **options)


def test_generated_inits_are_fresh():
    # regenerate with `python -m moeplan.compile_records` after changing a dataclass's fields
    stored = Path(_record_init.__file__).read_text(encoding="utf-8")
    assert compile_records.module_text() == stored


def test_every_moeplan_record_uses_its_precompiled_init_and_the_reference_signature():
    compile_records.built_classes()  # imports every module
    seen = set()
    for cls, options in _record.BUILT:
        if not cls.__module__.startswith("moeplan.") or "<locals>" in cls.__qualname__:
            continue
        seen.add(cls.__qualname__)
        key, _ = _record_init.INITS[f"{cls.__module__}.{cls.__qualname__}"]
        assert key == _record.init_key(cls)
        assert cls.__init__.__code__.co_filename == _record_init.__file__  # not compiled here
        assert str(inspect.signature(cls)) == str(inspect.signature(_twin(cls, options)))
        twin = _twin(cls, options)
        assert cls.__dataclass_fields__.keys() == twin.__dataclass_fields__.keys()
        assert repr(cls.__dataclass_params__) == repr(twin.__dataclass_params__)
    assert {"Configuration", "OptimizeResult", "Limits", "Law", "FlopsBreakdown"} <= seen


def _pair(frozen, eq=True, repr=True):
    def body(decorate):
        @decorate
        class Point:
            """A test class."""

            x: float
            y: float = 2.0
            tags: list = dataclasses.field(default_factory=list, compare=False)
            note: str = dataclasses.field(default="n", repr=False, hash=False)
            derived: float = dataclasses.field(init=False, default=0.0)
            made: tuple = dataclasses.field(init=False, default_factory=lambda: (1,))

            def __post_init__(self):
                object.__setattr__(self, "derived", self.x + self.y)

        return Point

    options = {"frozen": frozen, "eq": eq, "repr": repr}
    return body(dataclass(**options)), body(dataclasses.dataclass(**options))


@pytest.mark.parametrize("frozen", [True, False])
@pytest.mark.parametrize("eq", [True, False])
def test_behaves_like_dataclasses(frozen, eq):
    ours, ref = _pair(frozen, eq)
    assert str(inspect.signature(ours)) == str(inspect.signature(ref))
    for args, kwargs in [((1.0,), {}), ((1.0, 3.0), {"tags": ["a"]}), ((0.5,), {"note": "z"})]:
        a, b = ours(*args, **kwargs), ref(*args, **kwargs)
        assert repr(a).replace("test_records", "") == repr(b).replace("test_records", "")
        assert dataclasses.asdict(a) == dataclasses.asdict(b)
        assert a.derived == b.derived and a.made == b.made == (1,)
        assert (a == ours(*args, **kwargs)) == (b == ref(*args, **kwargs))
        assert (a == dataclasses.replace(a, tags=["x"])) == (
            b == dataclasses.replace(b, tags=["x"])
        )
        assert (a == dataclasses.replace(a, x=9.0)) == (b == dataclasses.replace(b, x=9.0))
        assert a.__eq__(b) is NotImplemented or not eq
        if ref.__hash__ is None:  # eq without frozen: unhashable
            assert ours.__hash__ is None
        elif ref.__hash__ is object.__hash__:  # eq=False: identity
            assert ours.__hash__ is object.__hash__
        else:
            assert hash(a) == hash(b)
        if frozen:
            for obj in (a, b):
                with pytest.raises(dataclasses.FrozenInstanceError):
                    obj.x = 5.0
                with pytest.raises(dataclasses.FrozenInstanceError):
                    del obj.y
        else:
            a.x = b.x = 5.0
            assert a.x == 5.0
    assert ours(1.0).tags is not ours(1.0).tags  # a fresh default per instance


def test_a_missing_docstring_is_written_like_dataclasses():
    def make(decorate):
        @decorate
        class NoDoc:
            a: int
            b: str = "x"

        return NoDoc

    assert make(dataclass(frozen=True)).__doc__ == make(dataclasses.dataclass(frozen=True)).__doc__


def test_field_order_mistake_raises_like_dataclasses():
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @dataclass(frozen=True)
        class Bad:
            a: int = 1
            b: int  # type: ignore[misc]


def test_other_options_and_inheritance_go_to_dataclasses():
    @dataclass(frozen=True, order=True)
    class Ordered:
        a: int

    assert Ordered(1) < Ordered(2)

    @dataclass(frozen=True)
    class Base:
        a: int

    @dataclass(frozen=True)
    class Child(Base):
        b: int = 0

    assert Child(1, 2) == Child(1, 2) and Child(1).a == 1
    assert Base.__dataclass_params__.frozen and Base.__dataclass_params__.eq

    @dataclass
    class Loose:
        a: int

    with pytest.raises(TypeError, match="cannot inherit frozen dataclass"):

        @dataclass(frozen=True)
        class Frozen(Loose):
            pass


def test_planner_results_still_compare_and_hash():
    r1 = moeplan.optimize("krajewski2024-moe", 1e20)
    r2 = moeplan.optimize("krajewski2024-moe", 1e20)
    assert r1.recommended == r2.recommended and hash(r1.limits) == hash(moeplan.Limits())
    law = moeplan.load_law()
    assert law == moeplan.load_law() and hash(law) == hash(moeplan.load_law())
    with pytest.raises(dataclasses.FrozenInstanceError):
        law.name = "x"  # type: ignore[misc]
