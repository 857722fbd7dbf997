"""`Frozen`: the base of value types that must not be tuples (a tuple hands its values to anything
that iterates it, such as `json.dumps` or the log redaction, which turns tuples into lists):
immutable, compared, hashed, copied and pickled by the values of their `__slots__`, in order.
Cheap to define, unlike a dataclass (issue 17). A subclass lists its fields in `__slots__` in the
order of its `__init__` parameters, sets them with `object.__setattr__`, and writes its own
`__repr__` (which is where it keeps secrets out)."""
from __future__ import annotations

from typing import Any


class Frozen:
    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        return self.__class__, self._values()  # copy and pickle: through __init__
