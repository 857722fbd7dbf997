"""The layers of docs/architecture.md, enforced: which package may import which.

- `shared/clients/` (the only network I/O) imports nothing above it: no workflow, no API
  rule, no HTTP or trigger plumbing.
- The cross-cutting root of `shared/` imports no capability package (api, archive, analysis).
- `shared/archive/` does not import `shared/analysis/` or `shared/api/`; `shared/api/` imports
  neither workflow package, only the bucket's key layout (`shared.archive.layout`, which owns
  every key, the client API's ownership and quota records included).
- Nothing shipped (`functions/`, `shared/`) imports `devkit` or `tests`; no function imports
  another function.
- Subpackage `__init__.py` files are empty (no re-exports: importing a package costs nothing),
  except the lazily named packages: `shared.settings` (a root module split into one module per
  settings group) and `shared.api.models` (one module per request model), whose `__init__`
  names each member lazily (its class is made when first named; issue 17).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / "shared"
ROOT_MODULES = {p.stem for p in SHARED.glob("*.py")} - {"__init__"} | {"settings"}
# Root modules that are packages (their modules belong to the root layer).
ROOT_PACKAGES = ("settings",)
# Packages whose __init__ names their members lazily (PEP 562), relative to shared/.
LAZY_PACKAGES = ("settings", "api/models")
CAPABILITIES = ("api", "archive", "analysis", "privacy")

# package -> modules it may import although a prefix below forbids them
ALLOWED = {"shared.api": ("shared.archive.layout",)}
# package -> prefixes it must not import (dotted, matched on the module or its parent)
FORBIDDEN = {
    "shared.clients": ("shared.api", "shared.archive", "shared.analysis", "shared.http", "shared.oss_trigger",
                       "shared.destination", "shared.auth", "devkit", "tests", "functions"),
    "shared.archive": ("shared.analysis", "shared.api", "shared.oss_trigger", "shared.destination", "devkit", "tests"),
    "shared.api": ("shared.archive", "shared.analysis", "shared.oss_trigger", "shared.destination", "devkit", "tests"),
    "shared.analysis": ("shared.api", "shared.http", "shared.oss_trigger", "shared.destination", "devkit", "tests"),
    # privacy: pure rules (redaction), usable by any capability; it imports none of them.
    "shared.privacy": ("shared.api", "shared.archive", "shared.analysis", "shared.clients", "shared.http",
                       "shared.oss_trigger", "shared.destination", "devkit", "tests"),
    "shared": tuple(f"shared.{c}" for c in CAPABILITIES) + ("devkit", "tests"),  # the root modules
    "functions": ("devkit", "tests", "functions"),
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, lazy imports included, `if TYPE_CHECKING:` blocks excluded."""
    out: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        todo.extend(ast.iter_child_nodes(node))
    return out


def package_of(path: Path) -> str:
    """The rule set a file falls under (see FORBIDDEN)."""
    rel = path.relative_to(REPO).with_suffix("")
    parts = rel.parts
    if parts[0] == "functions":
        return "functions"
    if len(parts) == 2 or parts[1] in ROOT_PACKAGES:  # shared/<module>.py, shared/settings/*.py
        return "shared"
    return f"shared.{parts[1]}"


def violations(package: str, imports: set[str]) -> list[str]:
    """The imports of a module of `package` that break the layering."""
    allowed = ALLOWED.get(package, ())
    return [name for name in sorted(imports)
            if any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN[package])
            and not any(name == ok or name.startswith(ok + ".") for ok in allowed)]


def shipped_files() -> list[Path]:
    return sorted([*SHARED.rglob("*.py"), *(REPO / "functions").rglob("*.py")])


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_imports_follow_the_layers(path):
    assert violations(package_of(path), imported_modules(path)) == []


def test_the_rule_catches_a_client_importing_a_workflow():
    # The rule itself must be able to fail: a client that reaches up into a workflow.
    assert violations("shared.clients", {"shared.archive.workflow", "shared.errors"}) == ["shared.archive.workflow"]
    assert violations("shared.clients", {"shared.clients.retry", "shared.log", "shared.settings"}) == []
    assert violations("shared", {"shared.analysis.profile"}) == ["shared.analysis.profile"]
    assert violations("functions", {"devkit.tokens", "shared.http"}) == ["devkit.tokens"]
    assert violations("shared.archive", {"shared.analysis.workflow"}) == ["shared.analysis.workflow"]
    # The API may use the key layout, not the archive's workflow or dead letters.
    assert violations("shared.api", {"shared.archive.layout", "shared.archive.workflow",
                                     "shared.archive.dead_letters"}) == ["shared.archive.dead_letters",
                                                                         "shared.archive.workflow"]


def test_type_checking_imports_are_not_runtime_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import shared.archive.workflow\n"
                 "def g():\n    import shared.errors\n")
    assert imported_modules(f) == {"typing", "typing.TYPE_CHECKING", "shared.errors"}


def test_every_shared_module_is_in_a_known_layer():
    for path in SHARED.rglob("*.py"):
        rel = path.relative_to(SHARED)
        assert len(rel.parts) <= 2 or str(rel.parent) in LAZY_PACKAGES, f"{rel}: shared/ is at most one package deep"
        if len(rel.parts) == 2:
            assert rel.parts[0] in (*CAPABILITIES, "clients", *ROOT_PACKAGES), f"{rel}: unknown layer"


def test_subpackage_inits_are_empty():
    for init in [*SHARED.rglob("__init__.py")]:
        if init.parent == SHARED or str(init.parent.relative_to(SHARED)) in LAZY_PACKAGES:
            continue
        assert init.read_text().strip() == "", f"{init.relative_to(REPO)}: keep it empty (no re-exports)"


def test_no_pair_of_modules_differs_only_by_a_suffix():
    stems = sorted(p.stem for p in SHARED.rglob("*.py") if p.stem != "__init__")
    for a in stems:
        for b in stems:
            if a < b and (b.startswith(a) and len(b) - len(a) <= 3):
                pytest.fail(f"confusing pair: {a} / {b}")
