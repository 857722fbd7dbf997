"""What the operator commands (`aiagent reanalyze`, `replay`, `erase`) share: dates, the day
window, a sandbox's endpoints (`--url`), the bucket configured like the functions'. A problem with
the command line or the configuration is a `UsageError` (exit status 2, one line on stderr)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


class UsageError(Exception):
    """A bad argument or setting: `str(exc)` is the line to print after "error: "."""


def day(value: str, name: str) -> date:
    """A `YYYY-MM-DD` argument (SystemExit naming the option otherwise, as argparse would)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"error: {name}: must be a date YYYY-MM-DD, got {value[:40]!r}") from None


def window(since: str | None, until: str | None, *, default_days: int) -> tuple[date, date]:
    """`--since`..`--until`: until defaults to today (UTC), since to `default_days` before it."""
    from datetime import datetime, timezone

    last = day(until, "--until") if until else datetime.now(timezone.utc).date()
    first = day(since, "--since") if since else last - timedelta(days=default_days - 1)
    if last < first:
        raise UsageError("--until: is before --since")
    return first, last


def connect(url: str | None, environ: MutableMapping[str, str]) -> None:
    """With `--url`, point `environ` at a running sandbox's upstreams (SANDBOX_TOKEN)."""
    if not url:
        return
    from devkit.ops.reanalyze import sandbox_env

    try:
        sandbox_env(url, environ)
    except Exception as exc:  # noqa: BLE001 - a command line: say what failed
        raise UsageError(f"--url: {exc}") from None


def bucket(environ: MutableMapping[str, str]) -> Any:
    """The archive bucket, configured from `environ` like the functions (OssSettings)."""
    from shared.clients import object_store
    from shared.errors import ConfigurationError
    from shared.settings import OssSettings, load

    try:
        oss = load(OssSettings, environ)
    except ConfigurationError as exc:
        raise UsageError(exc.message) from None
    return object_store.ObjectStore(oss, max_elapsed=oss.OSS_MAX_ELAPSED_SECONDS)


def run_all(items: Iterable[T], one: Callable[[T], None], concurrency: int) -> bool:
    """`one(item)` for every item, `concurrency` at a time; whether Ctrl+C interrupted the run.
    On Ctrl+C the items in flight finish (their results are written) and no more start."""
    stop = threading.Event()

    def guarded(item: T) -> None:
        if not stop.is_set():
            one(item)

    interrupted = False
    pool = ThreadPoolExecutor(max_workers=concurrency)
    try:
        for future in [pool.submit(guarded, item) for item in items]:
            future.result()
    except KeyboardInterrupt:
        stop.set()
        interrupted = True
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return interrupted
