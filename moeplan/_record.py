"""``repr``, ``==`` and ``hash`` shared by the planner's frozen dataclasses.

``@dataclass`` writes and compiles these three methods anew for every class, which is ~40% of
the cost of creating a dataclass, and creating the planner's result classes was the largest
part of moeplan's own start-up (issue 12). Classes declared
``@dataclass(frozen=True, eq=False, repr=False)`` that derive from :class:`Record` behave as
the generated methods would: the same text, equality of the same class over the fields with
``compare=True``, and the hash of those values.
"""

from __future__ import annotations

from dataclasses import fields


class Record:
    __slots__ = ()

    def _compared(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self) if f.compare)

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())
