"""Queries over the call index (the archive API): filters, search, cursors, stats, exports.

The index's day files are mirrored from the bucket into a local cache directory (only files
whose ETag changed are downloaded; at most every `refresh_seconds`), and DuckDB reads them
there. Nothing assumes a single reader: the files are the only state.
"""
from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from shared.archive import index_files, index_rows, layout
from shared.errors import BadRequest

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
DEFAULT_DAYS = 30
MAX_DAYS = 400
MAX_WORDS = 8
MAX_WORD_CHARS = 100
EXPORT_FORMATS = ("csv", "jsonl", "parquet")
STATUSES = ("analysed", "archived", "analysis_failed", "archive_failed", "pending")

# What a list item carries (every column but the searchable transcript and the object keys).
LIST_COLUMNS = ("instance_id", "dt", "ai_agent_id", "user_id", "session_id", "started_at", "ended_at", "duration_s",
                "turns", "user_turns", "agent_turns", "status", "hangup_role", "title", "summary", "keywords",
                "satisfaction", "fields", "failed_rules", "profile", "profile_version", "profiles", "input_tokens",
                "output_tokens", "total_tokens", "recordings", "redaction_mode", "dead_letters", "archived_at",
                "analysed_at", "completeness", "audio_linked", "llm_p50_ms", "llm_p95_ms", "tts_p50_ms", "tts_p95_ms")
_FIELD_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


# --- the request's filters ------------------------------------------------------------------------

@dataclass
class Filters:
    since: str
    until: str
    ai_agent_id: str | None = None
    user_id: str | None = None
    words: list[str] = field(default_factory=list)
    satisfaction: str | None = None
    failed_rule: str | None = None
    status: str | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    completeness: str | None = None

    def digest(self) -> str:
        """What a cursor is bound to: a cursor of other filters is refused."""
        return layout.content_digest([self.since, self.until, self.ai_agent_id, self.user_id, self.words,
                                      self.satisfaction, self.failed_rule, self.status, self.fields,
                                      self.completeness])[:12]


def _day(query: dict[str, str], name: str) -> date | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(layout.validate_dt(value))
    except ValueError:
        raise BadRequest(f"{name}: must be a date YYYY-MM-DD, got {value[:40]!r}",
                         error_code="InvalidParameter") from None


def _text(query: dict[str, str], name: str, limit: int = 128, pattern: re.Pattern[str] | None = None) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if len(value) > limit:
        raise BadRequest(f"{name}: longer than {limit} characters", error_code="InvalidParameter")
    if pattern is not None and not pattern.fullmatch(value):
        raise BadRequest(f"{name}: has characters other than letters, digits, '_' and '-'",
                         error_code="InvalidParameter")
    return value


KNOWN = {"since", "until", "ai_agent_id", "user_id", "q", "satisfaction", "failed_rule", "status", "limit", "cursor",
         "format", "completeness"}


def parse_filters(query: dict[str, str], *, today: date | None = None, extra: tuple[str, ...] = ()) -> Filters:
    """The filters of a request's query string; BadRequest naming the parameter when one is wrong."""
    for name in query:
        if name not in KNOWN and name not in extra and not name.startswith("field."):
            raise BadRequest(f"{name[:64]}: unknown parameter", error_code="InvalidParameter")
    today = today or datetime.now(timezone.utc).date()
    until = _day(query, "until") or today
    since = _day(query, "since") or until - timedelta(days=DEFAULT_DAYS - 1)
    if until < since:
        raise BadRequest("until: is before since", error_code="InvalidParameter")
    if (until - since).days >= MAX_DAYS:
        raise BadRequest(f"since: the range is longer than {MAX_DAYS} days", error_code="InvalidParameter")
    words: list[str] = []
    q = _text(query, "q", 400)
    if q is not None:
        words = [w.lower() for w in q.split() if w][:MAX_WORDS + 1]
        if len(words) > MAX_WORDS:
            raise BadRequest(f"q: more than {MAX_WORDS} words", error_code="InvalidParameter")
        if any(len(w) > MAX_WORD_CHARS for w in words):
            raise BadRequest(f"q: a word is longer than {MAX_WORD_CHARS} characters", error_code="InvalidParameter")
    status = _text(query, "status", 32)
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status: must be one of {', '.join(STATUSES)}", error_code="InvalidParameter")
    fields = []
    for name, value in sorted(query.items()):
        if name.startswith("field."):
            code = name[len("field."):]
            if not _FIELD_CODE.fullmatch(code):
                raise BadRequest(f"{name[:80]}: the field code must be 1-64 letters, digits, '_', '.' or '-'",
                                 error_code="InvalidParameter")
            if len(value) > 400:
                raise BadRequest(f"{name}: longer than 400 characters", error_code="InvalidParameter")
            fields.append((code, value))
    if len(fields) > 10:
        raise BadRequest("field.*: more than 10 field filters", error_code="InvalidParameter")
    completeness = _text(query, "completeness", 16)
    if completeness is not None and completeness not in ("complete", "incomplete"):
        raise BadRequest("completeness: must be complete or incomplete", error_code="InvalidParameter")
    return Filters(since=since.isoformat(), until=until.isoformat(), completeness=completeness,
                   ai_agent_id=_text(query, "ai_agent_id", 128, _ID), user_id=_text(query, "user_id", 128, _ID),
                   words=words, satisfaction=_text(query, "satisfaction", 64),
                   failed_rule=_text(query, "failed_rule", 200), status=status, fields=fields)


def parse_limit(query: dict[str, str]) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit: must be a whole number from 1 to {MAX_LIMIT}", error_code="InvalidParameter")
    return int(raw)


def encode_cursor(started_at: str, instance_id: str, f: Filters) -> str:
    raw = json.dumps([started_at, instance_id, f.digest()], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str, f: Filters) -> tuple[datetime, str]:
    bad = BadRequest("cursor: not a cursor this API gave for these filters", error_code="InvalidParameter")
    if len(value) > 400:
        raise bad
    try:
        started, instance_id, digest = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        when = datetime.strptime(started, index_rows.TIME_FORMAT)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise bad from None
    if digest != f.digest() or not isinstance(instance_id, str):
        raise bad
    return when, instance_id


def where(f: Filters) -> tuple[str, list[Any]]:
    """The SQL condition and its parameters for `f`."""
    parts, params = ["dt BETWEEN ? AND ?"], [f.since, f.until]
    for name in ("ai_agent_id", "user_id", "satisfaction", "status", "completeness"):
        value = getattr(f, name)
        if value is not None:
            parts.append(f"{name} = ?")
            params.append(value)
    if f.failed_rule is not None:
        parts.append("list_contains(failed_rules, ?)")
        params.append(f.failed_rule)
    for code, value in f.fields:
        parts.append("list_contains(list_transform(fields, x -> x.code || '\x1f' || coalesce(x.value, '')), ?)")
        params.append(f"{code}\x1f{value}")
    for word in f.words:  # the transcript, summary and title, lower-cased once when the day was loaded
        parts.append("contains(search, ?)")
        params.append(word)
    return " AND ".join(parts), params


# --- the local mirror of the index --------------------------------------------------------------

class Index:
    """The index's day files loaded into an in-memory DuckDB table (`calls`, plus `dt` and a
    lower-cased `search` text), reloaded a day at a time when that day's file changes in the bucket.
    Queries then touch memory only; a day file is read once per change."""

    def __init__(self, store: Any, cache_dir: str, refresh_seconds: float = 5.0) -> None:
        self.store = store
        os.makedirs(cache_dir, exist_ok=True)
        # One directory per mirror: instances (and sandboxes) sharing a /tmp never mix their files.
        self.dir = tempfile.mkdtemp(prefix="calls-", dir=cache_dir)
        self.refresh_seconds = refresh_seconds
        self._etags: dict[str, str] = {}
        self._checked = -1e18
        self._lock = threading.Lock()
        self.con = index_files.connect()
        cols = ", ".join(f'"{name}" {kind}' for name, kind in index_rows.COLUMNS.items())
        self.con.execute(f"CREATE TABLE calls ({cols}, dt VARCHAR, search VARCHAR)")
        # The lists the stats count, one row per element (unnesting 100,000 rows per query is slow):
        # built for the days loaded since, when the stats first need them (`side_tables`), so a
        # cold instance answering a list does not build them.
        self.con.execute("CREATE TABLE call_keywords (dt VARCHAR, instance_id VARCHAR, word VARCHAR)")
        self.con.execute("CREATE TABLE call_rules (dt VARCHAR, instance_id VARCHAR, title VARCHAR, result VARCHAR)")
        self._sides_pending: set[str] = set()

    def refresh(self, force: bool = False) -> None:
        """Bring the table up to date with the bucket (one LIST; a GET and a reload per changed day)."""
        with self._lock:
            if not force and time.monotonic() - self._checked < self.refresh_seconds:
                return
            seen: dict[str, str] = {}
            for info in self.store.list(layout.INDEX_CALLS):
                if info.key.endswith("/" + layout.INDEX_FILE):
                    seen[info.key] = info.etag
            stale = [key for key, etag in seen.items() if self._etags.get(key) != etag]
            if stale:  # the changed day files fetched in parallel (one connection pool), loaded at once
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=min(8, len(stale))) as pool:
                    fetched = list(pool.map(self._fetch, stale))
                self._swap([layout.dt_of(k) for k in stale], [path for path, _ in fetched])
                for key, (_, etag) in zip(stale, fetched):
                    self._etags[key] = etag or seen[key]
            for key in set(self._etags) - set(seen):
                self._drop_day(layout.dt_of(key))
                del self._etags[key]
            self._checked = time.monotonic()

    def _drop_day(self, dt: str) -> None:
        for table in ("calls", "call_keywords", "call_rules"):
            self.con.execute(f"DELETE FROM {table} WHERE dt = ?", [dt])
        self._sides_pending.discard(dt)

    def side_tables(self) -> None:
        """Bring `call_keywords` and `call_rules` up to date with the loaded days (the stats)."""
        with self._lock:
            if not self._sides_pending:
                return
            days = sorted(self._sides_pending)
            self.con.execute("BEGIN TRANSACTION")
            try:
                for table in ("call_keywords", "call_rules"):
                    self.con.execute(f"DELETE FROM {table} WHERE list_contains(?, dt)", [days])
                self.con.execute("INSERT INTO call_keywords SELECT dt, instance_id, unnest(list_distinct(keywords)) "
                                 "FROM calls WHERE list_contains(?, dt)", [days])
                self.con.execute("INSERT INTO call_rules SELECT dt, instance_id, r.title, r.result FROM "
                                 "(SELECT dt, instance_id, unnest(rules) AS r FROM calls WHERE list_contains(?, dt))",
                                 [days])
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
            self._sides_pending.clear()

    def _fetch(self, key: str) -> tuple[str, str]:
        """One day file downloaded into this mirror's directory: (path, ETag)."""
        data, meta = self.store.get(key)
        path = os.path.join(self.dir, f"{layout.dt_of(key)}-{threading.get_ident()}.parquet")
        with open(path, "wb") as f:
            f.write(data)
        return path, str(meta.etag or "")

    def _swap(self, days: list[str], paths: list[str]) -> None:
        """Replace those days' rows with their files', in one transaction. Files of the current
        schema are read as they are; when one lacks a column (an older schema version) the files'
        columns are looked up and the missing ones are NULL."""
        import duckdb

        try:
            try:
                self._insert(days, paths, set(index_rows.COLUMNS))
            except duckdb.BinderException:  # a column missing from some file
                have = {r[0] for r in self.con.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?, union_by_name = true)", [paths]).fetchall()}
                self._insert(days, paths, have)
        finally:
            for path in paths:
                os.unlink(path)
        self._sides_pending.update(days)

    def _insert(self, days: list[str], paths: list[str], have: set[str]) -> None:
        # the transcript lives on only in `search` (lower-cased): no answer carries it
        cols = ", ".join(f'"{c}"' if c in have and c != "transcript_text" else f'NULL::{kind} AS "{c}"'
                         for c, kind in index_rows.COLUMNS.items())
        text = "coalesce(transcript_text, ''), " if "transcript_text" in have else ""
        search = f"lower(concat_ws(chr(10), {text}coalesce(summary, ''), coalesce(title, '')))"
        day_of = r"regexp_extract(filename, '([0-9]{4}-[0-9]{2}-[0-9]{2})-[^/]*$', 1)"
        self.con.execute("BEGIN TRANSACTION")
        try:
            if self._etags:  # rows of earlier loads (on the first load there are none to replace)
                self.con.execute("DELETE FROM calls WHERE list_contains(?, dt)", [days])
            self.con.execute(f"INSERT INTO calls SELECT {cols}, {day_of} AS dt, {search} AS search "
                             "FROM read_parquet(?, union_by_name = true, filename = true)", [paths])
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise

    def rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        cur = self.con.cursor()
        try:
            res = cur.execute(sql, params)
            names = [d[0] for d in res.description]
            return [{n: index_files.plain(v) for n, v in zip(names, r)} for r in res.fetchall()]
        finally:
            cur.close()


# --- the answers ----------------------------------------------------------------------------------

def _item(row: dict[str, Any]) -> dict[str, Any]:
    out = {c: row.get(c) for c in LIST_COLUMNS}
    out["fields"] = {f["code"]: f["value"] for f in row.get("fields") or []}
    return out


def list_calls(index: Index, f: Filters, limit: int, cursor: str | None) -> dict[str, Any]:
    cond, params = where(f)
    if cursor:
        when, last_id = decode_cursor(cursor, f)
        cond += " AND (started_at < ? OR (started_at = ? AND instance_id < ?))"
        params += [when, when, last_id]
    cols = ", ".join(f'"{c}"' for c in LIST_COLUMNS)
    rows = index.rows(f"SELECT {cols} FROM calls WHERE {cond} ORDER BY started_at DESC, instance_id DESC "
                      f"LIMIT {limit + 1}", params)
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1]["started_at"], rows[-1]["instance_id"], f) if more and rows else None
    return {"calls": [_item(r) for r in rows], "next_cursor": nxt}


def find(index: Index, instance_id: str) -> dict[str, Any] | None:
    cols = ", ".join(f'"{c}"' for c in (*LIST_COLUMNS, "rules", "call_log_key", "analysis_key"))
    rows = index.rows(f"SELECT {cols} FROM calls WHERE instance_id = ? ORDER BY updated_at DESC LIMIT 1",
                      [instance_id])
    return rows[0] if rows else None


def stats(index: Index, f: Filters) -> dict[str, Any]:
    cond, params = where(f)
    base = f"FROM calls WHERE {cond}"
    one = index.rows(
        "SELECT count(*) AS calls, avg(duration_s) AS avg, quantile_cont(duration_s, 0.5) AS p50, "
        "quantile_cont(duration_s, 0.95) AS p95, max(duration_s) AS max, sum(duration_s) AS total, "
        "sum(input_tokens) AS input, sum(output_tokens) AS output, sum(total_tokens) AS tokens " + base, params)[0]
    per_day = index.rows(
        "SELECT dt AS day, count(*) AS calls, count(*) FILTER (WHERE status = 'analysed') AS analysed, "
        "count(*) FILTER (WHERE status LIKE '%_failed') AS failed, avg(duration_s) AS avg_duration_s "
        f"{base} GROUP BY dt ORDER BY dt", params)
    status = index.rows(f"SELECT status AS k, count(*) AS n {base} GROUP BY status ORDER BY n DESC, k", params)
    sat = index.rows(f"SELECT coalesce(satisfaction, 'unknown') AS k, count(*) AS n {base} GROUP BY k "
                     "ORDER BY n DESC, k", params)
    chosen = f"dt BETWEEN ? AND ? AND instance_id IN (SELECT instance_id {base})"
    index.side_tables()
    rules = index.rows(
        "SELECT title, count(*) AS checked, count(*) FILTER (WHERE result = 'fail') AS failed "
        f"FROM call_rules WHERE {chosen} GROUP BY title ORDER BY failed DESC, title", [f.since, f.until, *params])
    words = index.rows(
        f"SELECT word, count(*) AS calls FROM call_keywords WHERE {chosen} GROUP BY word "
        "ORDER BY calls DESC, word LIMIT 20", [f.since, f.until, *params])

    def rnd(v: Any) -> Any:
        return round(v, 3) if isinstance(v, float) else v

    return {
        "since": f.since, "until": f.until, "calls": one["calls"],
        "per_day": [{**d, "avg_duration_s": rnd(d["avg_duration_s"])} for d in per_day],
        "duration_s": {k: rnd(one[k]) for k in ("avg", "p50", "p95", "max", "total")},
        "status": {r["k"]: r["n"] for r in status},
        "satisfaction": {r["k"]: r["n"] for r in sat},
        "rules": [{**r, "failure_rate": round(r["failed"] / r["checked"], 4) if r["checked"] else None}
                  for r in rules],
        "keywords": words,
        "tokens": {"input": one["input"], "output": one["output"], "total": one["tokens"]},
    }


# --- exports --------------------------------------------------------------------------------------

EXPORT_COLUMNS = tuple(c for c in LIST_COLUMNS)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def export(index: Index, f: Filters, fmt: str, max_rows: int, *, redact: bool = False) -> tuple[bytes, str, int, bool]:
    """(body, content type, rows, truncated) of the filtered calls as CSV (UTF-8 with a BOM:
    spreadsheet tools then read Chinese right), JSONL or Parquet, newest first; `redact`: the
    free text of every row redacted (`redact_item`; Parquet: its text columns)."""
    if fmt not in EXPORT_FORMATS:
        raise BadRequest(f"format: must be one of {', '.join(EXPORT_FORMATS)}", error_code="InvalidParameter")
    cond, params = where(f)
    cols = ", ".join(f'"{c}"' for c in EXPORT_COLUMNS)
    sql = f"SELECT {cols} FROM calls WHERE {cond} ORDER BY started_at DESC, instance_id DESC LIMIT {max_rows + 1}"
    if fmt == "parquet":
        if redact:  # the text columns through the redactor, then the file from those rows
            items = [redact_item(r) for r in index.rows(sql, params)]
            truncated = len(items) > max_rows
            return _parquet_of(index, items[:max_rows]), "application/vnd.apache.parquet", min(len(items),
                                                                                                max_rows), truncated
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "calls.parquet")
            cur = index.con.cursor()
            try:
                n = cur.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
                cur.execute(f"COPY ({sql.replace(f'LIMIT {max_rows + 1}', f'LIMIT {max_rows}')}) TO "
                            f"'{path}' (FORMAT PARQUET, COMPRESSION zstd)", params)
            finally:
                cur.close()
            with open(path, "rb") as fh:
                return fh.read(), "application/vnd.apache.parquet", min(n, max_rows), n > max_rows
    rows = [_item(r) for r in index.rows(sql, params)]
    if redact:
        rows = [redact_item(r) for r in rows]
    truncated = len(rows) > max_rows
    rows = rows[:max_rows]
    if fmt == "jsonl":
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        return body, "application/x-ndjson; charset=utf-8", len(rows), truncated
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(EXPORT_COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in EXPORT_COLUMNS])
    return ("\ufeff" + buf.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", len(rows), truncated


def _parquet_of(index: Index, rows: list[dict[str, Any]]) -> bytes:
    """Rows (as `index.rows` gives them) written back as Parquet with the index's types."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "rows.jsonl"), os.path.join(tmp, "calls.parquet")
        with open(src, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        cols = {c: ("VARCHAR" if c == "dt" else index_rows.COLUMNS[c]) for c in EXPORT_COLUMNS}
        spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in cols.items()) + "}"
        cur = index.con.cursor()
        try:
            cur.execute(f"COPY (SELECT * FROM read_json(?, format='newline_delimited', columns={spec})) TO "
                        f"'{out}' (FORMAT PARQUET, COMPRESSION zstd)", [src])
        finally:
            cur.close()
        with open(out, "rb") as fh:
            return fh.read()


# --- what a reader may see ----------------------------------------------------------------------

def redact_item(item: dict[str, Any]) -> dict[str, Any]:
    """A list item with its free text redacted (summary, title, keywords, field values, letters'
    reasons); ids, times and rule titles (the profile's own words) as they are."""
    from shared.privacy.transcripts import redact_strings

    out = dict(item)
    for name in ("summary", "title", "keywords", "fields", "dead_letters"):
        if out.get(name) is not None:
            out[name] = redact_strings(out[name])[0]
    return out


def refuse_personal_search(f: Filters) -> None:
    """Without the raw view a search for personal data would tell which calls hold it."""
    from shared.privacy.redact import redact_text_with_findings

    for word in [*f.words, *(v for _, v in f.fields)]:
        if redact_text_with_findings(word)[1]:
            raise BadRequest("q: searching for personal data (an ID, phone or card number, an e-mail) needs an "
                             "admin token with \"pii\": true", error_code="PersonalDataSearch", status=403)
