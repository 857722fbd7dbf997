"""Packages whose members are made when first named (PEP 562): `shared.settings` (one module per
settings group) and `shared.api.models` (one module per request model). Their `__getattr__`
resolves a name here: its module imported, the value kept in the package's namespace so later
lookups never come back (issue 17: a function defines only what it names)."""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def resolve(package: str, members: Mapping[str, str], namespace: dict[str, Any], name: str) -> Any:
    """`package`'s member `name`, defined in `package.<members[name]>`; AttributeError otherwise."""
    module = members.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{package}.{module}"), name)
    namespace[name] = value
    return value
