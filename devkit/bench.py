"""`make bench`: cold start and warm latency of every function, medians printed.

Cold start: a new interpreter imports the handler and runs one invocation with a
real event, against a bare `python -c pass` (median of N runs each).
Warm: the same handler invoked in-process many times (median and p99).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from devkit import defaults, syaml

REPO = Path(__file__).resolve().parent.parent
SAMPLE_HTTP = REPO / "tests" / "samples" / "fc_http_trigger_event.json"


def http_event(path: str, body: dict, token: str) -> bytes:
    event = json.loads(SAMPLE_HTTP.read_text())
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["headers"]["Authorization"] = f"Bearer {token}"
    event["body"] = json.dumps(body)
    return json.dumps(event).encode()


def events() -> dict[str, Callable[[syaml.FunctionSpec], bytes]]:
    """A real event per function key (HTTP functions get a valid, authorised request)."""
    return {
        "get_rtc_auth_token": lambda s: http_event(s.routes[0].path, {"user_id": "bench_user"}, defaults.DEV_TOKEN),
    }



# Cold start measured the way FC pays it: the handler module import and one call.
# The loader (devkit, yaml) is imported before the clock in a real FC runtime too,
# so it is measured separately and subtracted.
_COLD_HANDLER_ONLY = """
import sys, time
sys.path.insert(0, {repo!r})
import importlib.util
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location('bench_fn', {file!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
out = getattr(mod, {attr!r})(open({event!r}, 'rb').read(), None)
assert out['statusCode'] < 500, out
"""


def _median_run(argv: list[str], n: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_start(spec: syaml.FunctionSpec, event_file: Path, n: int, env: dict[str, str]) -> tuple[float, float]:
    """(bare interpreter median, handler process median) in seconds."""
    bare = _median_run([sys.executable, "-c", "pass"], n, env)
    code = _COLD_HANDLER_ONLY.format(repo=str(REPO), file=str(spec.handler_file), attr=spec.handler_attr,
                                     event=str(event_file))
    full = _median_run([sys.executable, "-c", code], n, env)
    return bare, full


def warm(spec: syaml.FunctionSpec, event: bytes, n: int) -> tuple[float, float]:
    """(median, p99) in seconds of in-process invocations after one warm-up."""
    from devkit.fc_context import FCContext, load_handler
    from shared.log import logger

    handler = load_handler(spec, fresh=True)
    ctx = FCContext.for_function(spec)
    with open(os.devnull, "w") as sink:
        old = logger.registered_handler.setStream(sink)
        try:
            handler(event, ctx)
            times = []
            for _ in range(n):
                start = time.perf_counter()
                handler(event, ctx)
                times.append(time.perf_counter() - start)
        finally:
            logger.registered_handler.setStream(old)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench")
    p.add_argument("--cold-runs", type=int, default=21)
    p.add_argument("--warm-runs", type=int, default=3000)
    p.add_argument("--only", nargs="*", help="function keys to measure")
    args = p.parse_args(argv)

    defaults.apply()
    env = dict(os.environ)
    specs = syaml.functions()
    builders = events()
    tmp = REPO / ".sandbox" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]} on {os.uname().machine}; cold runs={args.cold_runs}, "
          f"warm runs={args.warm_runs}")
    print(f"{'function':32} {'bare ms':>8} {'cold ms':>8} {'+cold ms':>9} {'warm med µs':>12} {'warm p99 µs':>12}")
    for key, spec in specs.items():
        if args.only and key not in args.only:
            continue
        if key not in builders:
            print(f"{key:32} (no benchmark event yet)")
            continue
        event = builders[key](spec)
        event_file = tmp / f"{key}.json"
        event_file.write_bytes(event)
        bare, full = cold_start(spec, event_file, args.cold_runs, env)
        med, p99 = warm(spec, event, args.warm_runs)
        print(f"{key:32} {bare*1e3:8.1f} {full*1e3:8.1f} {(full-bare)*1e3:9.1f} {med*1e6:12.1f} {p99*1e6:12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
