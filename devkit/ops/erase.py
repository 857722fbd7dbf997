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
from typing import Any, TextIO

DEFAULT_DAYS = 400


def main(args: Any, env: MutableMapping[str, str] | None = None, out: TextIO = sys.stdout,
         err: TextIO = sys.stderr) -> int:
    from devkit.ops.operator import UsageError, bucket, connect, window
    from shared.archive import erasure

    environ: MutableMapping[str, str] = os.environ if env is None else env
    try:
        if bool(args.instance) == bool(args.user):
            raise UsageError("give --instance ID [ID ...] or --user USER_ID (one of them)")
        since, until = window(args.since, args.until, default_days=DEFAULT_DAYS)
        connect(args.url, environ)
        store = bucket(environ)
        try:
            found = erasure.plan(store, instance_ids=args.instance or (), user_id=args.user,
                                 days=erasure.day_range(since, until),
                                 upload_prefix=environ.get("CLIENT_UPLOAD_PREFIX") or "client-uploads/")
        except ValueError as exc:
            raise UsageError(f"--instance: {exc}") from None
    except UsageError as exc:
        err.write(f"error: {exc}\n")
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
