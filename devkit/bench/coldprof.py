"""Where a function's cold start goes above its floor (issue 17): `-X importtime` of the
built artifact, grouped into the floor's stack, the standard library and our own modules,
then a profile of the first invocation (the work the first request does once).

    python -m devkit.bench.coldprof FUNCTION [FUNCTION ...] [--runs 7] [--top 25] [--no-build]

Uses the same stand-ins, artifacts and events as `make bench` (devkit/bench/run.py). Import
times are medians of `--runs` fresh `python -I -S -X importtime` processes; self times, so a
module's own work is not counted again in whoever imported it.
"""
from __future__ import annotations

import argparse
import collections
import compileall
import functools
import statistics
import subprocess
import sys

from devkit import syaml
from devkit.bench import run as bench

# The floor's stack (pydantic, Powertools' logger, httpx, DuckDB) and what those import.
STACK = frozenset({
    "pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions",
    "aws_lambda_powertools", "jmespath", "httpx", "httpcore", "h11", "anyio", "sniffio", "idna",
    "certifi", "duckdb",
})
OURS = frozenset({"shared", "index"})

PROFILE = """
import cProfile, pstats, sys
sys.path.insert(0, sys.argv[1])
import index
event = open(sys.argv[2], 'rb').read()
prof = cProfile.Profile()
prof.enable()
index.handler(event, None)
prof.disable()
pstats.Stats(prof, stream=sys.stderr).sort_stats(sys.argv[3]).print_stats(int(sys.argv[4]))
"""


def _importtime(argv: list[str], env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", *argv],
                          capture_output=True, text=True, check=True, env=env).stderr


def floor_modules(folder: str, env: dict[str, str]) -> frozenset[str]:
    """The modules the function's floor imports (devkit/bench/run.py FLOOR)."""
    calls_out = "1" if (bench.Path(folder) / "httpx").is_dir() else "0"
    duck = "1" if (bench.Path(folder) / "duckdb").is_dir() else "0"
    out = _importtime(["-c", bench.FLOOR, folder, calls_out, duck], env)
    return frozenset(line.rsplit("|", 1)[1].strip() for line in out.splitlines()
                     if line.startswith("import time:") and "self [us]" not in line)


def import_times(folder: str, event: str, runs: int, env: dict[str, str],
                 floor: frozenset[str]) -> tuple[dict[str, float], dict[str, float]]:
    """(median self ms per module, median self ms per group) of every import a cold start does
    beyond its floor's: `import index` and whatever the first invocation imports."""
    per_module: dict[str, list[float]] = collections.defaultdict(list)
    per_group: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(runs):
        out = _importtime(["-c", bench.RUN, folder, event], env)
        groups: collections.Counter[str] = collections.Counter()
        for line in out.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
            if name in floor:
                continue
            top = name.split(".")[0]
            group = "ours" if top in OURS else "stack" if top in STACK else "stdlib"
            groups[group] += int(self_us)
            per_module[name].append(int(self_us) / 1e3)
        for group, us in groups.items():
            per_group[group].append(us / 1e3)
    return ({m: statistics.median(v) for m, v in per_module.items()},
            {g: statistics.median(v) for g, v in per_group.items()})


def main(argv: list[str] | None = None) -> int:
    from devkit.ops import build

    p = argparse.ArgumentParser(prog="coldprof")
    p.add_argument("functions", nargs="+")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sort", default="tottime", help="pstats sort key of the first invocation's profile")
    p.add_argument("--no-build", action="store_true", help="reuse the artifacts of the last bench run")
    args = p.parse_args(argv)
    bench.WORK.mkdir(parents=True, exist_ok=True)
    arts = bench.WORK / "build"
    if not args.no_build:
        build.build(arts, f"{sys.version_info.major}.{sys.version_info.minor}", args.functions)
        compileall.compile_dir(str(arts), quiet=1)
    stand = bench.Stand()
    try:
        builders = bench.events(stand)
        specs = syaml.functions()
        for key in args.functions:
            folder = str(arts / key)
            event = bench.WORK / "coldprof-event.json"
            event.write_bytes(functools.partial(builders[key], specs[key])())
            modules, groups = import_times(folder, str(event), args.runs, stand.env, floor_modules(folder, stand.env))
            print(f"=== {key}: imports beyond the floor's (self ms, median of {args.runs}): "
                  + ", ".join(f"{g} {groups.get(g, 0.0):.1f}" for g in ("ours", "stdlib", "stack")))
            def label(m: str) -> str:
                return "ours" if m.split(".")[0] in OURS else "stack" if m.split(".")[0] in STACK else "stdlib"
            mine = sorted(modules.items(), key=lambda mt: -mt[1])
            for module, ms in mine[:args.top]:
                print(f"  {label(module):6} {module:45} {ms:6.2f}")
            event.write_bytes(functools.partial(builders[key], specs[key])())
            out = subprocess.run([sys.executable, "-I", "-S", "-c", PROFILE, folder, str(event), args.sort,
                                  str(args.top)], capture_output=True, text=True, env=stand.env)
            print(f"--- {key}: first invocation, by {args.sort}")
            print(out.stderr[out.stderr.find("ncalls"):] if "ncalls" in out.stderr else out.stderr[-3000:])
    finally:
        stand.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
