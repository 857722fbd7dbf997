"""`aiagent erase`: delete everything the archive holds for calls or for a person, on request.

    aiagent erase --instance ID [ID ...] | --user USER_ID [--since DATE] [--until DATE] [--dry-run]
                  [--url http://127.0.0.1:9000] [--by NAME]

The days searched are `--since`..`--until` (default: the last 400 days, longer than any default
retention). `--dry-run` lists what would go, by kind, and changes nothing. Otherwise each call is
marked erased first (the chain then writes nothing more for it), every object is deleted, and a
receipt is written under `erasures/receipts/` (counts, call ids, a SHA-256 of the user id: no
personal data). Running it again finds nothing more: idempotent and resumable.
Configuration comes from the environment like the functions' (ARCHIVE_BUCKET, OSS_*,
CLIENT_UPLOAD_PREFIX); `--url` points it at a running `aiagent dev` (SANDBOX_TOKEN).
"""
from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import MutableMapping
from datetime import date, timedelta
from typing import Any, TextIO

DEFAULT_DAYS = 400


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"error: {name}: must be a date YYYY-MM-DD, got {value[:40]!r}") from None


def main(args: Any, env: MutableMapping[str, str] | None = None, out: TextIO = sys.stdout,
         err: TextIO = sys.stderr) -> int:
    from devkit.ops.reanalyze import sandbox_env
    from shared.archive import erasure
    from shared.clients import object_store
    from shared.errors import ConfigurationError
    from shared.settings import OssSettings, load

    if bool(args.instance) == bool(args.user):
        err.write("error: give --instance ID [ID ...] or --user USER_ID (one of them)\n")
        return 2
    until = _day(args.until, "--until") if args.until else erasure.utc_today()
    since = _day(args.since, "--since") if args.since else until - timedelta(days=DEFAULT_DAYS - 1)
    if until < since:
        err.write("error: --until: is before --since\n")
        return 2
    environ: MutableMapping[str, str] = os.environ if env is None else env
    if args.url:
        try:
            sandbox_env(args.url, environ)
        except Exception as exc:  # noqa: BLE001
            err.write(f"error: --url: {exc}\n")
            return 2
    try:
        oss = load(OssSettings, environ)
    except ConfigurationError as exc:
        err.write(f"error: {exc.message}\n")
        return 2
    store = object_store.ObjectStore(oss, max_elapsed=oss.OSS_MAX_ELAPSED_SECONDS)
    try:
        found = erasure.plan(store, instance_ids=args.instance or (), user_id=args.user,
                             days=erasure.day_range(since, until),
                             upload_prefix=environ.get("CLIENT_UPLOAD_PREFIX") or "client-uploads/")
    except ValueError as exc:
        err.write(f"error: --instance: {exc}\n")
        return 2
    summary = {"calls": found.instances, "objects": found.counts, "total": found.total,
               "days": f"{since}..{until}", "dry_run": bool(args.dry_run)}
    if args.dry_run:
        out.write(json.dumps(summary, ensure_ascii=False) + "\n")
        for kind, keys in sorted(found.keys.items()):
            for key in keys:
                out.write(f"  would delete {kind}: {key}\n")
        return 0
    receipt = erasure.erase(store, found, by=args.by or getpass.getuser())
    out.write(json.dumps({**summary, "receipt": receipt}, ensure_ascii=False) + "\n")
    return 0
