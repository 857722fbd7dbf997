"""`aiagent reanalyze`: run the analysis again over the archive, e.g. after a new
version of a profile, or with another profile.

    aiagent reanalyze --since 2025-08-01 [--until 2025-08-31] --profile default [--concurrency 4]
                      [--url http://127.0.0.1:9000] [--report report.json]

Every call log under call-logs/dt=<day>/ for each day in the range goes through the
same code as the OSS trigger (`shared.analysis.workflow.analyze_call`): an analysis already
made from the same call log with the same profile version is skipped, so an
interrupted run resumes where it stopped. Bounded concurrency, a progress bar, and a
final report of done / skipped / failed (with reasons).

Configuration comes from the environment like the deployed function's (ARCHIVE_BUCKET,
OSS_*, CCAI_*, ALIBABA_CLOUD_*). `--url` points it at a running `aiagent dev` instead:
its object store and CCAI endpoints are read from /_sandbox/status (SANDBOX_TOKEN).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TextIO

DEADLINE_SECONDS = 600.0  # per call, like the function's timeout


@dataclass
class Report:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    empty: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        rate = self.total / self.seconds if self.seconds else None
        return {"total": self.total, "done": self.done, "skipped": self.skipped, "failed": self.failed,
                "empty": self.empty, "interrupted": self.interrupted, "seconds": round(self.seconds, 2),
                "calls_per_second": round(rate, 1) if rate else None, "failures": self.failures}


class Progress:
    """A one-line progress bar on a terminal; a line every 10% otherwise."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream = total, stream
        self.tty = stream.isatty()
        self._last_decile = -1
        self._last_text = ""

    def show(self, r: Report, final: bool = False) -> None:
        seen = r.done + r.skipped + r.failed
        frac = seen / self.total if self.total else 1.0
        text = (f"[{'#' * int(frac * 30):<30}] {seen}/{self.total} done {r.done} skipped {r.skipped} "
                f"failed {r.failed}")
        if self.tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
            self.stream.flush()
        elif (int(frac * 10) > self._last_decile or final) and text != self._last_text:
            self._last_decile = int(frac * 10)
            self._last_text = text
            self.stream.write(text + "\n")


def sandbox_env(url: str, env: MutableMapping[str, str]) -> None:
    """Fill `env` with a running sandbox's upstream endpoints (and its development keys)."""
    import httpx

    from devkit.defaults import DEV_SANDBOX_TOKEN
    from devkit.sandbox.upstreams import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET

    token = env.get("SANDBOX_TOKEN") or DEV_SANDBOX_TOKEN
    resp = httpx.get(url.rstrip("/") + "/_sandbox/status", headers={"Authorization": f"Bearer {token}"},
                     timeout=10, trust_env=False)
    if resp.status_code != 200:
        raise RuntimeError(f"{url}/_sandbox/status answered {resp.status_code} (SANDBOX_TOKEN must be the sandbox's)")
    for name, value in resp.json()["endpoints"].items():
        if value:
            env[name] = value
    env.setdefault("ALIBABA_CLOUD_ACCESS_KEY_ID", DEV_ACCESS_KEY_ID)
    env.setdefault("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEV_ACCESS_KEY_SECRET)


def call_log_keys(store: Any, since: date, until: date) -> list[str]:
    from shared.archive import layout

    keys = []
    for prefix in layout.date_prefixes(layout.CALL_LOGS, since, until):
        for info in store.list(prefix):
            try:
                layout.parse_call_log_key(info.key)
            except ValueError:
                continue
            keys.append(info.key)
    return keys


def reanalyze(store: Any, client: Any, settings: Any, keys: list[str], profile: Any, concurrency: int,
              progress: Callable[[Report], None] | None = None, redaction: str = "off") -> Report:
    """Analyse every key with `profile` (skipping what is current); the report."""
    from devkit.ops.operator import run_all
    from shared.analysis import workflow as analyze_workflow

    report = Report(total=len(keys))
    lock = threading.Lock()
    started = time.perf_counter()

    def one(key: str) -> None:
        try:
            outcome = analyze_workflow.analyze_call(store, client, settings, key, profile=profile,
                                                    deadline=time.monotonic() + DEADLINE_SECONDS,
                                                    redaction=redaction)
            status, reason = outcome.status, outcome.reason
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            status, reason = "failed", f"{type(exc).__name__}: {str(exc)[:200]}"
        with lock:
            if status in ("analysed", "empty"):
                report.done += 1
                report.empty += status == "empty"
            elif status == "already_analysed":
                report.skipped += 1
            elif status == "skipped":  # not a call log, or it vanished: nothing to do
                report.skipped += 1
            else:
                report.failed += 1
                report.failures.append({"key": key, "status": status, "reason": reason or ""})
            if progress:
                progress(report)

    # Ctrl+C: the calls in flight finish (their results are written), no more start.
    report.interrupted = run_all(keys, one, concurrency)
    report.seconds = time.perf_counter() - started
    return report


def main(args: Any, env: dict[str, str] | None = None, err: TextIO = sys.stderr, out: TextIO = sys.stdout) -> int:
    from devkit.ops.operator import UsageError, bucket, connect, day, window
    from shared.analysis import profile as profiles
    from shared.clients import ccai
    from shared.errors import ConfigurationError
    from shared.settings import CcaiSettings, CloudCredentials, RedactionSettings, load

    environ: MutableMapping[str, str] = os.environ if env is None else env
    try:
        day(args.since, "--since")  # required here: no default window
        since, until = window(args.since, args.until, default_days=1)
        if not 1 <= args.concurrency <= 64:
            raise UsageError("--concurrency: must be between 1 and 64")
        connect(args.url, environ)
        try:
            profile = profiles.load_profile(args.profile)
        except profiles.ProfileError as exc:
            raise UsageError(f"--profile: {exc}") from None
        store = bucket(environ)
        settings = load(CcaiSettings, environ)
        credentials = load(CloudCredentials, environ)
        redaction = load(RedactionSettings, environ).REDACTION_MODE
    except ConfigurationError as exc:
        err.write(f"error: {exc.message}\n")
        return 2
    except UsageError as exc:
        err.write(f"error: {exc}\n")
        return 2
    client = ccai.CcaiClient(settings, credentials)
    keys = call_log_keys(store, since, until)
    err.write(f"reanalyze {len(keys)} call(s) from {since} to {until} with profile {profile.name} "
              f"v{profile.version} ({profile.digest[:12]}), concurrency {args.concurrency}\n")
    bar = Progress(len(keys), err)
    report = reanalyze(store, client, settings, keys, profile, args.concurrency, bar.show, redaction=redaction)
    bar.show(report, final=True)
    summary = report.as_dict()
    out.write(f"done {report.done} (empty {report.empty}), skipped {report.skipped}, failed {report.failed} "
              f"of {report.total} in {summary['seconds']} s"
              + (f" ({summary['calls_per_second']} calls/s)" if summary["calls_per_second"] else "") + "\n")
    for f in report.failures[:20]:
        out.write(f"  failed {f['key']}: {f['status']}: {f['reason']}\n")
    if len(report.failures) > 20:
        out.write(f"  ... and {len(report.failures) - 20} more (--report F lists them all)\n")
    if report.interrupted:
        left = report.total - report.done - report.skipped - report.failed
        out.write(f"interrupted: {left} not started; run the same command again to resume\n")
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump({"since": str(since), "until": str(until), "profile": profile.provenance(), **summary}, fh,
                      indent=2)
    return 130 if report.interrupted else (1 if report.failed else 0)
