"""`make build`: one deployable folder per function, `build/<function>/`.

Each holds the function's entry point, the `shared/` package, and only the
third-party distributions that function's imports need (found by reading every
import statement reachable from its index.py through shared/, lazy ones included),
installed from the lock file `fc.lock.json` as wheels for FC's platform
(manylinux x86_64, the runtime's CPython). Prints each artifact's size.

    python -m devkit.ops.build                 # build every function for the runtime in s.yaml
    python -m devkit.ops.build --python 3.11   # ...for another interpreter (the tests run artifacts here)
    python -m devkit.ops.build --lock          # re-resolve fc.lock.json from pyproject's runtime deps
"""
from __future__ import annotations

import argparse
import ast
import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from devkit import syaml
from shared.analysis.profile import VALIDATED_DIGESTS

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "fc.lock.json"
PLATFORM = "manylinux2014_x86_64"
# Import name -> distribution name, where they differ.
DIST_OF_MODULE = {"aws_lambda_powertools": "aws-lambda-powertools", "pydantic_core": "pydantic-core",
                  "typing_extensions": "typing-extensions", "annotated_types": "annotated-types"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_python() -> str:
    """The CPython version of the FC runtime declared in s.yaml (python3.12 -> 3.12)."""
    runtimes = {spec.props.get("runtime") for spec in syaml.functions().values()}
    if len(runtimes) != 1:
        raise SystemExit(f"s.yaml: functions use different runtimes {sorted(map(str, runtimes))}")
    return str(runtimes.pop()).removeprefix("python")


@functools.cache  # every function's closure reads the same shared/ files
def imports_of(path: Path) -> frozenset[str]:
    """Top-level module names imported anywhere in a file (lazy imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return frozenset(out)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of `tree` except what sits under `if TYPE_CHECKING:` (never imported at run time)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def closure(entry: Path) -> tuple[set[str], set[str]]:
    """(shared modules reached, third-party top-level modules reached) from an entry file."""
    stdlib = set(sys.stdlib_module_names)
    seen_shared: set[str] = set()
    third: set[str] = set()
    todo = [entry]
    while todo:
        for name in imports_of(todo.pop()):
            top = name.split(".")[0]
            if top == "shared":
                parts = name.split(".")
                for i in range(2, len(parts) + 1):
                    mod = ".".join(parts[:i])
                    path = REPO / mod.replace(".", "/")
                    if mod in seen_shared:
                        continue
                    if path.with_suffix(".py").is_file():
                        seen_shared.add(mod)
                        todo.append(path.with_suffix(".py"))
                    elif (path / "__init__.py").is_file():
                        seen_shared.add(mod)
                        todo.append(path / "__init__.py")
                        if "def __getattr__(" not in (path / "__init__.py").read_text(encoding="utf-8"):
                            continue
                        # A package naming its members lazily (shared.settings, shared.api.models:
                        # through importlib, invisible here): every module of it counts as reached.
                        for sub in sorted(path.glob("*.py")):
                            if sub.stem != "__init__" and f"{mod}.{sub.stem}" not in seen_shared:
                                seen_shared.add(f"{mod}.{sub.stem}")
                                todo.append(sub)
            elif top == "devkit":
                raise SystemExit(f"{entry}: imports development tooling ({name}); functions must not")
            elif top not in stdlib and top != "__future__":
                third.add(top)
    return seen_shared, third


def load_lock() -> dict:
    return json.loads(LOCK.read_text())


def dists_for(modules: set[str], lock: dict) -> list[str]:
    """The locked distributions (with their dependencies) that provide `modules`."""
    pkgs = lock["packages"]
    todo = [_norm(DIST_OF_MODULE.get(m, m)) for m in modules]
    out: set[str] = set()
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name not in pkgs:
            raise SystemExit(f"fc.lock.json has no {name}; add it to pyproject's dependencies and run --lock")
        out.add(name)
        todo.extend(pkgs[name]["requires"])
    return sorted(out)


def write_lock(python: str) -> None:
    """Resolve pyproject's runtime dependencies for FC's platform into fc.lock.json."""
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                        "--report", str(report), "--python-version", python, "--platform", PLATFORM,
                        "--only-binary=:all:", "--target", str(Path(tmp) / "t"), *deps], check=True)
        items = json.loads(report.read_text())["install"]
    names = {_norm(i["metadata"]["name"]) for i in items}
    packages = {}
    for item in items:
        meta = item["metadata"]
        requires = []
        for req in meta.get("requires_dist") or []:
            if "extra ==" in req:
                continue
            dep = _norm(re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0])
            if dep in names:  # markers that do not apply to the runtime were resolved away
                requires.append(dep)
        packages[_norm(meta["name"])] = {"version": meta["version"], "requires": sorted(set(requires))}
    LOCK.write_text(json.dumps({"python": python, "platform": PLATFORM, "requirements": deps,
                                "packages": dict(sorted(packages.items()))}, indent=2) + "\n")
    print(f"wrote {LOCK.relative_to(REPO)}: {len(packages)} packages for python {python} on {PLATFORM}")


def write_validated_digests(directory: Path) -> list[str]:
    """Validate every analysis profile in `directory` against the full schema (refusing to
    build an invalid one) and record their digests, so cold starts can skip the schema."""
    from shared.analysis.profile import ProfileError, available_profiles, parse_profile

    digests = []
    for name in available_profiles(str(directory)):
        path = directory / f"{name}.json"
        try:
            profile = parse_profile(json.loads(path.read_text(encoding="utf-8")), path.name)
        except (ProfileError, ValueError) as exc:
            raise SystemExit(f"analysis profile {path.name} is invalid: {exc}") from None
        digests.append(profile.digest)
    (directory / VALIDATED_DIGESTS).write_text("".join(f"{d}\n" for d in digests), encoding="ascii")
    return digests


def build(out: Path, python: str, only: list[str] | None = None) -> dict[str, tuple[int, int]]:
    """Build every (or `only`) function into out/<key>/ and out/<key>.zip; {key: (bytes, zip bytes)}."""
    lock = load_lock()
    wheels = out / ".wheels" / f"cp{python.replace('.', '')}"
    wheels.mkdir(parents=True, exist_ok=True)
    pins = [f"{n}=={p['version']}" for n, p in lock["packages"].items()]
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--python-version", python, "--platform", PLATFORM, "--implementation", "cp",
                    "--dest", str(wheels), *pins], check=True)
    sizes = {}
    deps_cache: dict[tuple[str, ...], Path] = {}
    for key, spec in syaml.functions().items():
        if only and key not in only:
            continue
        target = out / key
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        reached, third = closure(spec.handler_file)
        dists = dists_for(third, lock)
        if dists:
            # Most functions need the same distributions: pip installs each set once per build.
            installed = deps_cache.get(tuple(dists))
            if installed is None:
                installed = deps_cache[tuple(dists)] = out / ".deps" / str(len(deps_cache))
                shutil.rmtree(installed, ignore_errors=True)
                subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                                "--find-links", str(wheels), "--only-binary=:all:", "--python-version", python,
                                "--platform", PLATFORM, "--implementation", "cp", "--no-compile",
                                "--target", str(installed),
                                *[f"{d}=={lock['packages'][d]['version']}" for d in dists]], check=True)
            shutil.copytree(installed, target, dirs_exist_ok=True)
        shutil.copy2(spec.handler_file, target / spec.handler_file.name)
        if (spec.source_dir / "static").is_dir():  # files a function serves (the QA console)
            shutil.copytree(spec.source_dir / "static", target / "static")
        shutil.copytree(REPO / "shared", target / "shared",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", VALIDATED_DIGESTS))
        write_validated_digests(target / "shared" / "analysis" / "profiles")
        for junk in target.glob("bin"):
            shutil.rmtree(junk)
        if python == f"{sys.version_info.major}.{sys.version_info.minor}":
            # FC's code directory is read-only: without shipped bytecode every cold start
            # recompiles. Compile exactly what the function imports (its module, the shared/
            # modules it reaches and the third-party packages it names, lazy ones included) by
            # importing them once in an isolated interpreter; unused parts of big packages stay
            # source-only.
            warm = ("import sys, importlib; sys.path.insert(0, sys.argv[1]); sys.dont_write_bytecode = False\n"
                    "import index\n"
                    "for name in sys.argv[2:]: importlib.import_module(name)\n")
            subprocess.run([sys.executable, "-I", "-S", "-c", warm, str(target), *sorted(reached), *sorted(third)],
                           check=True, capture_output=True)
        zpath = out / f"{key}.zip"
        with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(target.rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(target))
        raw = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        sizes[key] = (raw, zpath.stat().st_size)
        (target / ".build.json").write_text(json.dumps({"python": python, "platform": PLATFORM,
                                                        "distributions": dists}) + "\n")
    shutil.rmtree(out / ".deps", ignore_errors=True)
    return sizes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="build")
    p.add_argument("--python", help="CPython version to build for (default: the s.yaml runtime's)")
    p.add_argument("--out", default=str(REPO / "build"))
    p.add_argument("--only", nargs="*")
    p.add_argument("--lock", action="store_true", help="re-resolve fc.lock.json and exit")
    args = p.parse_args(argv)
    python = args.python or runtime_python()
    if args.lock:
        write_lock(python)
        return 0
    sizes = build(Path(args.out), python, args.only)
    print(f"{'function':32} {'size KiB':>9} {'zip KiB':>9}  (python {python}, {PLATFORM})")
    for key, (raw, zipped) in sizes.items():
        print(f"{key:32} {raw / 1024:9.0f} {zipped / 1024:9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
