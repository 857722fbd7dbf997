"""`aiagent replay`: re-drive dead-lettered work once its cause is fixed (a CCAI permission
restored, a profile corrected, ICE back).

    aiagent replay --stage archive|analyze [--since 2025-08-01] [--until 2025-08-31] [--dry-run]
                   [--concurrency 4] [--url http://127.0.0.1:9000] [--report report.json]

Every open dead letter under `failed/<stage>/dt=<day>/` (default: the last 30 days) is one
unit of work to run again, through the same code the OSS triggers run
(`shared.archive.workflow.archive_call`, `shared.analysis.workflow.analyze_call`; the
analysis with the current version of the letter's profile). Where that code asks for a
retry (`RetryLater`), the replay waits and runs it again, as FC would, until the step's
own attempt limit ends it in a dead letter. A unit that succeeds resolves its dead
letters (moved to `failed/resolved/`, `resolved_by` naming what succeeded and
`replay`); one that fails again keeps an open letter with the new reason. So the run is
resumable: running the same command again picks up exactly what is still open.
`--dry-run` lists what would run and changes nothing.

Configuration comes from the environment like the deployed functions' (ARCHIVE_BUCKET,
OSS_*, ICE_*, CCAI_*, ALIBABA_CLOUD_*, CALL_LOG_*). `--url` points it at a running
`aiagent dev` instead (its endpoints from /_sandbox/status, SANDBOX_TOKEN).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TextIO

from devkit.ops.reanalyze import Progress, Report

DEFAULT_DAYS = 30
DEADLINE_SECONDS = 600.0  # per attempt, like the functions' timeout
DONE = {"archive": ("archived", "already_archived"), "analyze": ("analysed", "empty", "already_analysed")}


@dataclass(frozen=True)
class Job:
    """One unit of work to run again: its source and the open letters about it."""

    stage: str
    source_key: str
    instance_id: str
    profile: str | None
    letters: tuple[tuple[str, dict[str, Any]], ...] = field(default=())

    @property
    def error_codes(self) -> list[str]:
        return sorted({str(letter.get("error_code")) for _, letter in self.letters})


def jobs(store: Any, stage: str, since: date, until: date) -> list[Job]:
    """The open dead letters of `stage` from `since` to `until`, one Job per unit of work
    (archive: per call; analyze: per call log and profile)."""
    from shared.archive import dead_letters

    days = []
    day = since
    while day <= until:
        days.append(day.isoformat())
        day += timedelta(days=1)
    grouped: dict[tuple[str, str | None], list[tuple[str, dict[str, Any]]]] = {}
    meta: dict[tuple[str, str | None], tuple[str, str]] = {}
    for key, letter in dead_letters.open_dead_letters(store, stage, days):
        source, instance = letter.get("source_key"), letter.get("instance_id")
        if not isinstance(source, str) or not isinstance(instance, str):
            continue
        unit = letter.get("unit")
        unit = unit if isinstance(unit, dict) else {}
        profile = unit.get("profile") if stage == "analyze" else None
        group = (instance if stage == "archive" else source, profile if isinstance(profile, str) else None)
        grouped.setdefault(group, []).append((key, letter))
        meta.setdefault(group, (source, instance))
    return [Job(stage, meta[g][0], meta[g][1], g[1], tuple(letters)) for g, letters in sorted(grouped.items())]


class Runner:
    """Runs one Job through the step's own code, retrying where the step asks to."""

    def __init__(self, stage: str, store: Any, environ: MutableMapping[str, str], *, retry_delay: float = 1.0) -> None:
        from shared.settings import (
            ArchiveSettings,
            CcaiSettings,
            CloudCredentials,
            IceSettings,
            RedactionSettings,
            load,
        )

        self.stage, self.store, self.retry_delay = stage, store, retry_delay
        self.privacy = load(RedactionSettings, environ)  # the same REDACTION_MODE as the functions
        credentials = load(CloudCredentials, environ)
        if stage == "archive":
            from shared.clients import ice

            self.settings: Any = load(ArchiveSettings, environ)
            self.client: Any = ice.IceClient(load(IceSettings, environ), credentials)
            self.max_attempts = self.settings.ARCHIVE_MAX_ATTEMPTS
        else:
            from shared.clients import ccai

            self.settings = load(CcaiSettings, environ)
            self.client = ccai.CcaiClient(self.settings, credentials)
            self.max_attempts = self.settings.ANALYSIS_MAX_ATTEMPTS

    def once(self, job: Job) -> Any:
        deadline = time.monotonic() + DEADLINE_SECONDS
        if self.stage == "archive":
            from shared.archive import workflow as archive_workflow
            from shared.archive.call_log import validate_call_log

            return archive_workflow.archive_call(self.store, self.client, self.settings, job.source_key,
                                                 validate=validate_call_log, deadline=deadline,
                                                 redaction=self.privacy.REDACTION_MODE,
                                                 keep_raw=self.privacy.REDACTION_KEEP_RAW)
        from shared.analysis import profile as profiles
        from shared.analysis import workflow as analyze_workflow

        profile = profiles.load_profile(job.profile or self.settings.ANALYSIS_PROFILE)
        return analyze_workflow.analyze_call(self.store, self.client, self.settings, job.source_key,
                                             profile=profile, deadline=deadline,
                                             redaction=self.privacy.REDACTION_MODE)

    def run(self, job: Job) -> tuple[str, str | None, str | None]:
        """(status, result key, reason): status is done, failed or skipped."""
        from shared.archive import dead_letters

        outcome = None
        for attempt in range(self.max_attempts):
            try:
                outcome = self.once(job)
                break
            except dead_letters.RetryLater as exc:
                if attempt + 1 >= self.max_attempts:
                    return "failed", None, f"{exc.code}: still asking for a retry"
                time.sleep(self.retry_delay * (attempt + 1))
        assert outcome is not None
        if outcome.status in DONE[self.stage]:
            self._resolve_replayed(job, outcome.key)
            return "done", outcome.key, None
        if outcome.status == "skipped":
            return "skipped", None, outcome.reason
        return "failed", outcome.key, outcome.reason

    def _resolve_replayed(self, job: Job, result_key: str | None) -> None:
        """The step resolves the letters in its unit's scope; a letter of an older profile
        version (the profile was corrected) is resolved here, by the replay that fixed it."""
        from shared.archive import dead_letters
        from shared.clients.object_store import ObjectNotFound

        for key, _ in job.letters:
            try:
                current = json.loads(self.store.get(key)[0])
            except (ObjectNotFound, ValueError):
                continue  # already moved by the step
            if isinstance(current, dict) and not current.get("resolved_at"):
                dead_letters.resolve_letter(self.store, key, current, f"replay: {result_key}")


@dataclass
class ReplayReport(Report):
    still_failing: list[dict[str, Any]] = field(default_factory=list)


def replay(runner: Any, job_list: list[Job], concurrency: int,
           progress: Callable[[Report], None] | None = None) -> ReplayReport:
    """Run every job with bounded concurrency; Ctrl+C lets the running ones finish."""
    from devkit.ops.operator import run_all

    report = ReplayReport(total=len(job_list))
    lock = threading.Lock()
    started = time.perf_counter()

    def one(job: Job) -> None:
        try:
            status, key, reason = runner.run(job)
        except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
            status, key, reason = "failed", None, f"{type(exc).__name__}: {str(exc)[:200]}"
        with lock:
            if status == "done":
                report.done += 1
            elif status == "skipped":
                report.skipped += 1
            else:
                report.failed += 1
                report.still_failing.append({"instance_id": job.instance_id, "source_key": job.source_key,
                                             "profile": job.profile, "was": job.error_codes,
                                             "dead_letter": key, "reason": reason or ""})
            if progress:
                progress(report)

    report.interrupted = run_all(job_list, one, concurrency)
    report.seconds = time.perf_counter() - started
    return report


def main(args: Any, env: MutableMapping[str, str] | None = None, err: TextIO = sys.stderr,
         out: TextIO = sys.stdout) -> int:
    from devkit.ops.operator import UsageError, bucket, connect, window
    from shared.errors import ConfigurationError

    environ: MutableMapping[str, str] = os.environ if env is None else env
    try:
        since, until = window(args.since, args.until, default_days=DEFAULT_DAYS)
        if not 1 <= args.concurrency <= 64:
            raise UsageError("--concurrency: must be between 1 and 64")
        connect(args.url, environ)
        store = bucket(environ)
        job_list = jobs(store, args.stage, since, until)
        runner = None if args.dry_run else Runner(args.stage, store, environ, retry_delay=args.retry_delay)
    except ConfigurationError as exc:
        err.write(f"error: {exc.message}\n")
        return 2
    except UsageError as exc:
        err.write(f"error: {exc}\n")
        return 2
    letters = sum(len(j.letters) for j in job_list)
    err.write(f"replay {args.stage}: {len(job_list)} unit(s) of work with {letters} open dead letter(s) "
              f"from {since} to {until}" + (" (dry run: nothing is changed)" if args.dry_run else
                                           f", concurrency {args.concurrency}") + "\n")
    if runner is None:
        for job in job_list:
            out.write(f"  would replay {job.instance_id} {job.source_key}"
                      + (f" profile {job.profile}" if job.profile else "") + f": {', '.join(job.error_codes)}\n")
        if args.report:
            with open(args.report, "w", encoding="utf-8") as fh:
                json.dump({"stage": args.stage, "since": str(since), "until": str(until), "dry_run": True,
                           "units": [{"instance_id": j.instance_id, "source_key": j.source_key,
                                      "profile": j.profile, "error_codes": j.error_codes,
                                      "dead_letters": [k for k, _ in j.letters]} for j in job_list]}, fh, indent=2)
        return 0
    bar = Progress(len(job_list), err)
    report = replay(runner, job_list, args.concurrency, bar.show)
    bar.show(report, final=True)
    out.write(f"done {report.done}, skipped {report.skipped}, still failing {report.failed} of {report.total} "
              f"in {round(report.seconds, 2)} s\n")
    for f in report.still_failing[:20]:
        out.write(f"  still failing {f['instance_id']} ({f['source_key']}): {f['reason']}\n")
    if len(report.still_failing) > 20:
        out.write(f"  ... and {len(report.still_failing) - 20} more (--report F lists them all)\n")
    if report.interrupted:
        out.write("interrupted: run the same command again to resume (only open dead letters are replayed)\n")
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump({"stage": args.stage, "since": str(since), "until": str(until), **report.as_dict(),
                       "still_failing": report.still_failing}, fh, indent=2)
    return 130 if report.interrupted else (1 if report.failed else 0)
