"""Archive index benchmark (the call index and the archive API, docs/archive-index.md), against the
embedded object store (devkit.sandbox.local_oss: S3 over real HTTP on loopback, signatures checked, in
a process of its own) and the REAL handler of functions/archive_api with admin JWTs:

  seed   `--calls` calls over `--days` days written as the index only (`aiagent seed-archive
         --index-only`: one Parquet file per day), plus 200 full calls (call logs, analyses) merged in
  (c)    the first request of a new instance: mirroring every day file, then the query
  (a)    GET /api/v2/archive/calls with filters, warm: ai_agent_id, satisfaction, failed_rule,
         field.user_intent=complaint, q=退款, user_id, and a next page by cursor; p50/p95/max over
         `--queries` requests (goal: p95 <= 300 ms)
  (b)    GET /api/v2/archive/stats over the whole range (goal: p95 <= 1 s)
  (f)    GET /api/v2/archive/export of 20,000 rows as CSV and as Parquet: time and bytes
  (e)    the index's size per 1,000 calls, and without the transcript text (its share of the columns)
  (d)    compaction: 2,500 new calls' archive and analysis row updates (5,000 objects written with
         index_rows.write_update), then one compaction.compact run: updates/s and rows/s

    python -m devkit.bench.archive [--calls 100000] [--days 30] [--queries 200] [--json FILE]
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[2]
SAMPLE_HTTP = REPO / "tests" / "samples" / "fc_http_trigger_event.json"
BUCKET = "bench-archive-index"
AK, SK = "bench-ak", "bench-sk-0123456789abcdef"
SECRET = "bench-archive-jwt-secret-0123456789abcdef"
GOAL_CALLS_P95_MS = 300.0
GOAL_STATS_P95_MS = 1000.0
EXPORT_ROWS = 20_000
KINDS = ("ai_agent_id", "satisfaction", "failed_rule", "field.user_intent", "q", "user_id", "cursor")


# The embedded store in a process of its own: its request handling (signatures, files) must not
# compete with the code measured here for one interpreter lock.
_SERVE = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from devkit.sandbox.local_oss import LocalOssServer
oss = LocalOssServer(Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]).start()
print(oss.endpoint, flush=True)
sys.stdin.read()  # until the parent closes it (or exits)
oss.stop()
"""


class StoreProcess:
    """devkit.sandbox.local_oss over real HTTP on loopback, in a child process."""

    def __init__(self, root: Path) -> None:
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(REPO), str(root), BUCKET, AK, SK],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.endpoint = self.proc.stdout.readline().strip()
        if not self.endpoint.startswith("http://"):
            self.stop()
            raise SystemExit("bench: the embedded object store did not start")

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except Exception:  # noqa: BLE001 - it did not stop: end it
            self.proc.kill()
            self.proc.wait(10)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))]


def _figures(ms: list[float]) -> dict[str, Any]:
    return {"n": len(ms), "p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2),
            "max_ms": round(max(ms), 2)}


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """`os.environ` with `values` (settings and the cached store reset), restored afterwards."""
    from shared.clients import object_store
    from shared.settings import reset_cache

    saved = dict(os.environ)
    os.environ.update(values)
    reset_cache()
    object_store.reset_store()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_cache()
        object_store.reset_store()


class Api:
    """The archive API's real handler, invoked in-process with FC HTTP events and an admin JWT."""

    def __init__(self) -> None:
        from devkit import syaml
        from devkit.sandbox.fc_context import FCContext, load_handler
        from devkit.tokens import mint_token

        spec = syaml.functions()["archive_api"]
        self.handler = load_handler(spec, fresh=True)
        self.ctx = FCContext.for_function(spec)
        self.token = mint_token("bench-admin", SECRET, ttl_seconds=3600, role="admin")
        self.sample = json.loads(SAMPLE_HTTP.read_text(encoding="utf-8"))

    def event(self, path: str, query: dict[str, str]) -> bytes:
        event = copy.deepcopy(self.sample)
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["requestContext"]["http"]["method"] = "GET"
        event["queryParameters"] = dict(query)
        event["headers"] = {"Authorization": f"Bearer {self.token}"}
        event["body"], event["isBase64Encoded"] = "", False
        return json.dumps(event, ensure_ascii=False).encode()

    def get(self, path: str, query: dict[str, str]) -> tuple[float, dict[str, Any], bytes]:
        """(milliseconds, headers, body bytes) of one request (the event built beforehand)."""
        event = self.event(path, query)
        t0 = time.perf_counter()
        out = self.handler(event, self.ctx)
        ms = (time.perf_counter() - t0) * 1000
        body = out.get("body") or ""
        data = base64.b64decode(body) if out.get("isBase64Encoded") else body.encode("utf-8")
        if out.get("statusCode") != 200:
            raise SystemExit(f"bench: GET {path}?{urlencode(query)} answered {out.get('statusCode')}: "
                             f"{data[:300]!r}")
        return ms, out.get("headers") or {}, data

    def json(self, path: str, query: dict[str, str]) -> tuple[float, dict[str, Any]]:
        ms, _, data = self.get(path, query)
        return ms, json.loads(data)


def _queries(n: int, rng: random.Random, users: int) -> list[tuple[str, dict[str, str]]]:
    """(kind, filters) of `n` list requests, the kinds in turn (a cursor request continues the one
    before it)."""
    from devkit.ops import seed_archive as seeder

    out = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        if kind == "ai_agent_id":
            q = {"ai_agent_id": rng.choice(seeder.AGENT_IDS)}
        elif kind == "satisfaction":
            q = {"satisfaction": rng.choice(("dissatisfied", "neutral", "satisfied"))}
        elif kind == "failed_rule":
            q = {"failed_rule": rng.choice(seeder.RULES)}
        elif kind == "field.user_intent":
            q = {"field.user_intent": "complaint"}
        elif kind == "q":
            q = {"q": "退款"}
        elif kind == "user_id":
            q = {"user_id": f"user_{rng.randrange(min(users, 300)):05d}"}
        else:
            q = {}  # the cursor request: filters and cursor of the request before it
        out.append((kind, q))
    return out


def measure(*, calls: int = 100_000, days: int = 30, queries: int = 200, stats_runs: int = 10, export_runs: int = 1,
            full_calls: int = 200, compaction_calls: int = 2_500, seed: int = 1, export_rows: int = EXPORT_ROWS,
            progress: TextIO | None = sys.stderr) -> dict[str, Any]:
    """Run every measurement (see the module's docstring); the figures."""
    from devkit.ops import seed_archive as seeder
    from shared.archive import compaction, index_files, index_rows, layout
    from shared.clients import object_store

    def say(text: str) -> None:
        if progress is not None:
            progress.write(f"bench archive: {text}\n")
            progress.flush()

    t_all = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-archive-"))
    oss = StoreProcess(tmp / "oss")
    env = {"STAGE": "dev", "ARCHIVE_BUCKET": BUCKET, "OSS_ENDPOINT": oss.endpoint, "OSS_ACCESS_KEY_ID": AK,
           "OSS_ACCESS_KEY_SECRET": SK, "OSS_READ_TIMEOUT_SECONDS": "60", "OSS_MAX_ELAPSED_SECONDS": "120",
           "AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET, "INDEX_CACHE_DIR": str(tmp / "index-cache"),
           "ARCHIVE_EXPORT_MAX_ROWS": str(export_rows)}
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                           "calls": calls, "full_calls": full_calls, "days": days}
    until = datetime.now(timezone.utc).date()
    since = until - timedelta(days=days - 1)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    try:
        with _environ(env):
            store = object_store.get_store()
            # --- seed ---------------------------------------------------------------------------
            say(f"seeding {calls} calls (index only) and {full_calls} full calls over {days} days")
            s1 = seeder.seed_archive(store, calls=calls, days=days, seed=seed, until=until, index_only=True,
                                     progress=None)
            s2 = seeder.seed_archive(store, calls=full_calls, days=days, seed=seed + 1, until=until,
                                     progress=None) if full_calls else None
            total = calls + full_calls
            out["seed"] = {"index_only_s": round(s1.seconds, 2), "index_only_calls_per_s": round(calls / s1.seconds),
                           "full_s": round(s2.seconds, 2) if s2 else None, "full_objects": s2.objects if s2 else 0,
                           "files": s1.index_files}
            api = Api()
            # --- (c) the first request: mirror + query ---------------------------------------------
            cold_ms, first = api.json("/api/v2/archive/calls", {**window, "limit": "50"})
            out["cold_ms"] = round(cold_ms, 1)
            say(f"first request (cold mirror) {cold_ms:.0f} ms")
            # --- (a) list queries ---------------------------------------------------------------------
            rng = random.Random(seed)
            plan = _queries(queries, rng, max(1, calls // 20))
            for kind, q in plan[:len(KINDS)]:  # warm-up: every kind once
                if kind != "cursor":
                    api.json("/api/v2/archive/calls", {**window, **q})
            times: dict[str, list[float]] = {k: [] for k in KINDS}
            found = {k: 0 for k in KINDS}
            last: dict[str, str] = {}
            last_cursor: str | None = first.get("next_cursor")
            for kind, q in plan:
                query = {**window, **q, "limit": "50"}
                if kind == "cursor":
                    query = {**window, **last, "limit": "50"}
                    if last_cursor:
                        query["cursor"] = last_cursor
                ms, page = api.json("/api/v2/archive/calls", query)
                times[kind].append(ms)
                found[kind] += len(page["calls"])
                last, last_cursor = q, page.get("next_cursor")
            all_ms = [t for ts in times.values() for t in ts]
            out["calls_query"] = {**_figures(all_ms), "by_kind": {
                k: {**_figures(v), "rows_per_page": round(found[k] / len(v), 1)} for k, v in times.items() if v}}
            say(f"calls: p50 {pct(all_ms, 50):.1f} ms, p95 {pct(all_ms, 95):.1f} ms over {len(all_ms)} requests")
            # --- (b) stats --------------------------------------------------------------------------------
            stats_ms = []
            for _ in range(stats_runs):
                ms, st = api.json("/api/v2/archive/stats", window)
                stats_ms.append(ms)
            out["stats"] = {**_figures(stats_ms), "calls": st["calls"]}
            say(f"stats: p50 {pct(stats_ms, 50):.0f} ms, p95 {pct(stats_ms, 95):.0f} ms")
            # --- (f) exports ------------------------------------------------------------------------------
            out["export"] = {}
            for fmt in ("csv", "parquet"):
                runs, size, rows = [], 0, 0
                for _ in range(export_runs):
                    ms, headers, data = api.get("/api/v2/archive/export", {**window, "format": fmt})
                    runs.append(ms)
                    size, rows = len(data), int(headers.get("X-Export-Rows", 0))
                out["export"][fmt] = {"rows": rows, "bytes": size, "ms": round(statistics.median(runs), 1)}
                say(f"export {fmt}: {rows} rows, {size} bytes, {statistics.median(runs):.0f} ms")
            # --- (e) size ---------------------------------------------------------------------------------
            out["size"] = _size(store, tmp / "size", total)
            # --- (d) compaction ---------------------------------------------------------------------------
            say(f"compaction: writing {2 * compaction_calls} row updates")
            updates: list[tuple[str, str, str, dict[str, Any]]] = []
            for call in seeder.generate(seed + 2, compaction_calls, days, until):
                frag = index_rows.archive_fragment(call.call_log, key=call.call_log_key, user_id=call.user_id)
                updates.append(("archive", call.dt, call.instance_id, frag))
                if call.analysis is not None and call.analysis_key is not None:
                    updates.append(("analysis", call.dt, call.instance_id,
                                    index_rows.analysis_fragment(call.analysis, key=call.analysis_key)))
                else:
                    assert call.letter is not None
                    updates.append(("letter", call.dt, call.instance_id, index_rows.letter_fragment(call.letter)))
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(lambda u: index_rows.write_update(store, *u), updates))
            write_s = time.perf_counter() - t0
            report = compaction.compact(store, max_updates=max(20_000, len(updates)), lease_seconds=600)
            files = [i for i in store.list(layout.INDEX_CALLS) if i.key.endswith(layout.INDEX_FILE)]
            con = index_files.connect()
            try:
                # the rows after the run: every call once
                rows_after = _count_rows(store, con, files, tmp / "after")
            finally:
                con.close()
            out["compaction"] = {
                "updates": report.updates, "write_s": round(write_s, 2),
                "written_per_s": round(len(updates) / write_s), "seconds": round(report.seconds, 2),
                "updates_per_s": round(report.updates / report.seconds) if report.seconds else None,
                "rows_changed": report.rows_changed,
                "rows_per_s": round(report.rows_changed / report.seconds) if report.seconds else None,
                "rows_written": report.rows_written,
                "rows_written_per_s": round(report.rows_written / report.seconds) if report.seconds else None,
                "bytes_written": report.bytes_written, "days": len(report.days), "invalid": report.invalid,
                "rows_after": rows_after, "expected_rows_after": total + compaction_calls}
            say(f"compaction: {report.updates} updates in {report.seconds:.1f} s")
    finally:
        oss.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    out["goals"] = {
        "calls_p95_ms": {"goal": GOAL_CALLS_P95_MS, "value": out["calls_query"]["p95_ms"],
                         "met": out["calls_query"]["p95_ms"] <= GOAL_CALLS_P95_MS},
        "stats_p95_ms": {"goal": GOAL_STATS_P95_MS, "value": out["stats"]["p95_ms"],
                         "met": out["stats"]["p95_ms"] <= GOAL_STATS_P95_MS},
    }
    out["total_s"] = round(time.perf_counter() - t_all, 1)
    return out


def _download(store: Any, keys: list[str], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, key in enumerate(keys):
        path = folder / f"{i:04d}.parquet"
        path.write_bytes(store.get(key)[0])
        paths.append(str(path))
    return paths


def _count_rows(store: Any, con: Any, files: list[Any], folder: Path) -> int:
    paths = _download(store, [f.key for f in files], folder)
    if not paths:
        return 0
    return int(con.execute("SELECT count(*) FROM read_parquet(?)", [paths]).fetchone()[0])


def _size(store: Any, folder: Path, calls: int) -> dict[str, Any]:
    """The index's bytes per 1,000 calls, and the transcript text's share of the columns' bytes."""
    from shared.archive import index_files, layout

    files = [i for i in store.list(layout.INDEX_CALLS) if i.key.endswith(layout.INDEX_FILE)]
    total = sum(f.size for f in files)
    paths = _download(store, [f.key for f in files], folder)
    con = index_files.connect()
    try:
        cols = con.execute("SELECT path_in_schema, sum(total_compressed_size) FROM parquet_metadata(?) GROUP BY 1",
                           [paths]).fetchall()
    finally:
        con.close()
    by_col = {str(name): int(size) for name, size in cols}
    col_total = sum(by_col.values()) or 1
    transcript = sum(v for k, v in by_col.items() if k.split(".")[0] == "transcript_text")
    share = transcript / col_total
    per_1000 = total / calls * 1000
    top = sorted(by_col.items(), key=lambda kv: -kv[1])[:5]
    return {"files": len(files), "bytes": total, "per_1000_calls_bytes": round(per_1000),
            "transcript_share": round(share, 3), "per_1000_without_transcript_bytes": round(per_1000 * (1 - share)),
            "largest_columns": {k: round(v / col_total, 3) for k, v in top}}


def report(fig: dict[str, Any], stream: TextIO = sys.stdout) -> None:
    """The figures as a compact table, then the goal lines."""
    def w(text: str) -> None:
        stream.write(text + "\n")

    s, c, st, sz, cp = fig["seed"], fig["calls_query"], fig["stats"], fig["size"], fig["compaction"]
    w(f"archive index bench: {fig['calls']:,} calls (+{fig['full_calls']} full) over {fig['days']} days; "
      f"python {fig['machine']['python']}, {fig['machine']['cpus']} CPUs; {fig['total_s']} s in all")
    w(f"{'measure':34} {'figures'}")
    w(f"{'seed, index only':34} {s['index_only_s']:8.2f} s   {s['index_only_calls_per_s']:,} calls/s, "
      f"{s['files']} day files")
    if s["full_s"] is not None:
        w(f"{'seed, full calls':34} {s['full_s']:8.2f} s   {s['full_objects']} objects")
    w(f"{'(c) first request (cold mirror)':34} {fig['cold_ms']:8.1f} ms")
    w(f"{'(a) calls, filtered, warm':34} p50 {c['p50_ms']:7.1f} ms  p95 {c['p95_ms']:7.1f} ms  "
      f"max {c['max_ms']:7.1f} ms  (n={c['n']})")
    for kind, k in c["by_kind"].items():
        w(f"{'      ' + kind:34} p50 {k['p50_ms']:7.1f} ms  p95 {k['p95_ms']:7.1f} ms  "
          f"max {k['max_ms']:7.1f} ms  ({k['rows_per_page']} rows/page)")
    w(f"{'(b) stats, ' + str(fig['days']) + ' days':34} p50 {st['p50_ms']:7.1f} ms  p95 {st['p95_ms']:7.1f} ms  "
      f"max {st['max_ms']:7.1f} ms  (n={st['n']}, {st['calls']:,} calls)")
    for fmt, e in fig["export"].items():
        w(f"{'(f) export ' + fmt:34} {e['ms']:8.1f} ms  {e['rows']:,} rows  {e['bytes'] / 1e6:.2f} MB")
    w(f"{'(e) index size per 1,000 calls':34} {sz['per_1000_calls_bytes'] / 1024:8.1f} KiB  (transcript text "
      f"{sz['transcript_share']:.0%} of it; {sz['per_1000_without_transcript_bytes'] / 1024:.1f} KiB without; "
      f"{sz['bytes'] / 1e6:.1f} MB in {sz['files']} files)")
    w(f"{'(d) compaction':34} {cp['seconds']:8.2f} s   {cp['updates']:,} updates ({cp['updates_per_s']:,}/s), "
      f"{cp['rows_changed']:,} rows merged ({cp['rows_per_s']:,}/s), {cp['rows_written']:,} rows rewritten "
      f"({cp['rows_written_per_s']:,}/s) in {cp['days']} days")
    w(f"{'    writing the updates':34} {cp['write_s']:8.2f} s   {cp['written_per_s']:,} PUTs/s")
    for name, g in fig["goals"].items():
        w(f"goal {name} <= {g['goal']:.0f}: {'met' if g['met'] else 'MISSED'} ({g['value']:.1f})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_archive")
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--stats-runs", type=int, default=10)
    p.add_argument("--compaction-calls", type=int, default=2_500, help="calls whose two updates are compacted")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="also write the figures as JSON to this file")
    args = p.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # before shared.log is imported: a line per request costs
    fig = measure(calls=args.calls, days=args.days, queries=args.queries, stats_runs=args.stats_runs,
                  compaction_calls=args.compaction_calls, seed=args.seed)
    report(fig)
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
