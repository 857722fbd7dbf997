"""The call index's rows (docs/archive-index.md): one row per call, built from row updates.

The chain writes row *updates* (`warehouse/updates/dt=…/<instanceId>/<time>-<kind>-<digest>.json`):

- `archive`: the archive step, from the archived call log (metadata, transcript text);
- `analysis`: the analyse step, from one analysis result (summary, fields, rules, tokens);
- `letter`: a dead letter was written (the step, the profile, why);
- `erased`: the call was erased (its row goes).

The compaction step merges them into one Parquet file per day. Merging is order-independent:
each part of a row is replaced only by a newer update of the same part (each update carries
`at`), so updates may be applied in any order and more than once.

Pure standard library and cheap to import: the archive and analyse steps import it.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.archive import layout

SCHEMA = "aicall.calls"
SCHEMA_VERSION = 2
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
UPDATE_SCHEMA = "aicall.calls-update/1"
MAX_TRANSCRIPT_CHARS = 32_000  # of the searchable transcript text kept in a row
MAX_TEXT = 4_000  # of a summary, title, field value or reason

# Column -> DuckDB type, in file order. The schema is documented in docs/archive-index.md and
# versioned by SCHEMA_VERSION (tests/unit/test_archive_index.py keeps the two equal).
COLUMNS: dict[str, str] = {
    "instance_id": "VARCHAR",
    "ai_agent_id": "VARCHAR",
    "user_id": "VARCHAR",
    "session_id": "VARCHAR",
    "started_at": "TIMESTAMP",
    "ended_at": "TIMESTAMP",
    "duration_s": "DOUBLE",
    "turns": "INTEGER",
    "user_turns": "INTEGER",
    "agent_turns": "INTEGER",
    "status": "VARCHAR",
    "hangup_role": "VARCHAR",
    "title": "VARCHAR",
    "summary": "VARCHAR",
    "keywords": "VARCHAR[]",
    "satisfaction": "VARCHAR",
    "fields": "STRUCT(code VARCHAR, value VARCHAR)[]",
    "rules": "STRUCT(title VARCHAR, result VARCHAR, reason VARCHAR)[]",
    "failed_rules": "VARCHAR[]",
    "profile": "VARCHAR",
    "profile_version": "INTEGER",
    "profile_hash": "VARCHAR",
    "profiles": "VARCHAR[]",
    "input_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "total_tokens": "BIGINT",
    "dead_letters": "STRUCT(step VARCHAR, profile VARCHAR, error_code VARCHAR, reason VARCHAR, at TIMESTAMP)[]",
    "recordings": "INTEGER",
    "redaction_mode": "VARCHAR",
    "transcript_text": "VARCHAR",
    "call_log_key": "VARCHAR",
    "analysis_key": "VARCHAR",
    "archived_at": "TIMESTAMP",
    "analysed_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "schema_version": "INTEGER",
    # schema version 2: the complete record (SPEC 12)
    "completeness": "VARCHAR",
    "audio_linked": "INTEGER",
    "llm_p50_ms": "DOUBLE",
    "llm_p95_ms": "DOUBLE",
    "tts_p50_ms": "DOUBLE",
    "tts_p95_ms": "DOUBLE",
}

ARCHIVE_PART = ("ai_agent_id", "user_id", "session_id", "started_at", "ended_at", "duration_s", "turns",
                "user_turns", "agent_turns", "hangup_role", "recordings", "redaction_mode", "transcript_text",
                "call_log_key", "archived_at", "completeness", "audio_linked", "llm_p50_ms", "llm_p95_ms",
                "tts_p50_ms", "tts_p95_ms")
ANALYSIS_PART = ("title", "summary", "keywords", "satisfaction", "fields", "rules", "failed_rules", "profile",
                 "profile_version", "profile_hash", "input_tokens", "output_tokens", "total_tokens",
                 "analysis_key", "analysed_at")
HANGUP_ROLES = {0: "agent", 1: "user", 2: "transfer", "0": "agent", "1": "user", "2": "transfer"}
PASS_WORDS = {"pass", "passed", "ok", "yes", "true", "compliant", "通过", "合格", "是"}
FAIL_WORDS = {"fail", "failed", "no", "false", "violation", "non-compliant", "不通过", "不合格", "违规", "否"}


# --- small conversions --------------------------------------------------------------------------

def iso(ts: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` of an aware or UTC-naive datetime (the rows' time format)."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return ts.strftime(TIME_FORMAT)


def now_iso() -> str:
    return iso(datetime.now(timezone.utc))


def _time(value: Any) -> str | None:
    """A row time from epoch seconds/milliseconds or an ISO-8601 text; None when it is neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        secs = float(value) / 1000 if value > 1e11 else float(value)
        if not 9.4e8 < secs < 4.2e9:  # 2000 .. 2100
            return None
        return iso(datetime.fromtimestamp(secs, timezone.utc))
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return _time(float(text))
        try:
            return iso(layout.parse_timestamp(text))
        except ValueError:
            return None
    return None


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    a = datetime.strptime(start, TIME_FORMAT)
    b = datetime.strptime(end, TIME_FORMAT)
    d = (b - a).total_seconds()
    return round(d, 3) if d >= 0 else None


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    s = str(value).strip()
    return s[:limit] if s else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if f == f and abs(f) != float("inf") else None


def _int(value: Any) -> int | None:
    f = _num(value)
    return int(f) if f is not None else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _loads(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- fragments ------------------------------------------------------------------------------------

def archive_fragment(doc: dict[str, Any], *, key: str, user_id: str | None) -> dict[str, Any]:
    """The archive part of a row, from an archived call-log document (shared/archive/workflow.py).
    `user_id`: the call's owner (state/owners), else the call log's remote user."""
    log = _dict(doc.get("call_log"))
    full = _dict(doc.get("record"))
    timing = _dict(full.get("timings"))
    reconciled = [t for t in _list(full.get("turns")) if isinstance(t, dict)]
    turns = reconciled or [t for t in (log.get("dialog") or []) if isinstance(t, dict)]
    info = _dict(_loads(doc.get("call_info")))
    started = (_time(log.get("startTime")) or _time(info.get("CallStartTime")) or _time(doc.get("gmt_create")))
    ended = _time(info.get("CallEndTime"))
    duration = _num(info.get("CallDuration"))
    if duration is not None and duration > 1e5:  # milliseconds
        duration = duration / 1000
    if duration is None:
        duration = _seconds(started, ended)
    if duration is None:
        duration = _num(timing.get("duration_s"))  # agent_start -> agent_stop
    if duration is None and started and turns:
        last = max((_num(t.get("begin")) or 0.0) for t in turns)
        duration = round(last, 3)
    if ended is None and started and duration is not None:
        ended = iso(datetime.strptime(started, TIME_FORMAT) + timedelta(seconds=duration))
    lines, size = [], 0
    for t in turns:
        text = t.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        line = f"{t.get('role') or '?'}: {text.strip()}"
        size += len(line) + 1
        if size > MAX_TRANSCRIPT_CHARS:
            break
        lines.append(line)
    redaction = _dict(doc.get("redaction"))
    owner = user_id or _text(log.get("remoteUserId"), 128)
    return {
        "ai_agent_id": _text(doc.get("ai_agent_id"), 128),
        "user_id": owner,
        "session_id": _text(doc.get("session_id"), 128),
        "started_at": started,
        "ended_at": ended,
        "duration_s": duration,
        "turns": len(turns),
        "user_turns": sum(1 for t in turns if t.get("role") == "user"),
        "agent_turns": sum(1 for t in turns if t.get("role") == "agent"),
        "hangup_role": (HANGUP_ROLES.get(info.get("HangupRole")) if not isinstance(info.get("HangupRole"), bool)
                        else None) or _text(timing.get("hangup_role"), 16),
        "recordings": len(doc.get("recordings") or []),
        "redaction_mode": _text(redaction.get("mode"), 16) or "off",
        "transcript_text": "\n".join(lines),
        "call_log_key": key,
        "archived_at": _time(doc.get("archived_at")) or now_iso(),
        "completeness": _text(_dict(full.get("completeness")).get("verdict"), 16),
        "audio_linked": sum(1 for a in _list(full.get("audio")) if isinstance(a, dict) and a.get("present")),
        "llm_p50_ms": _num(_dict(timing.get("llm_ms")).get("p50")),
        "llm_p95_ms": _num(_dict(timing.get("llm_ms")).get("p95")),
        "tts_p50_ms": _num(_dict(timing.get("tts_ms")).get("p50")),
        "tts_p95_ms": _num(_dict(timing.get("tts_ms")).get("p95")),
    }


def _result_part(parsed: Any, name: str, aliases: tuple[str, ...] = ()) -> Any:
    if not isinstance(parsed, dict):
        return None
    for k in (name, *aliases):
        if k in parsed:
            return parsed[k]
    return None


def _rule_result(item: dict[str, Any]) -> str | None:
    for k in ("result", "status", "pass", "passed", "conclusion", "isCompliant"):
        if k in item:
            v = item[k]
            if isinstance(v, bool):
                return "pass" if v else "fail"
            word = str(v).strip().lower()
            if word in PASS_WORDS:
                return "pass"
            if word in FAIL_WORDS:
                return "fail"
            return word[:32] or None
    return None


def analysis_fragment(doc: dict[str, Any], *, key: str) -> dict[str, Any]:
    """The analysis part of a row, from an analysis result (shared/analysis/workflow.py). CCAI's
    result formats are parsed defensively: a result object keyed by result type (several
    types), or the bare value of the profile's only type."""
    result = _dict(doc.get("result"))
    parsed = result.get("parsed")
    types = _list(doc.get("result_types"))
    if not isinstance(parsed, dict) or (len(types) == 1 and types[0] not in parsed):
        parsed = {types[0]: parsed if parsed is not None else result.get("text")} if len(types) == 1 else {}
    summary = _result_part(parsed, "summary")
    title = _result_part(parsed, "title")
    keywords = _result_part(parsed, "keywords")
    if isinstance(keywords, str):
        keywords = [w for w in keywords.replace("，", ",").replace("、", ",").split(",")]
    keywords = [k for k in (_text(w, 64) for w in keywords) if k] if isinstance(keywords, list) else []
    satisfaction = _result_part(parsed, "satisfaction")
    if isinstance(satisfaction, dict):
        satisfaction = satisfaction.get("satisfaction", satisfaction.get("result"))
    fields_raw = _result_part(parsed, "fields")
    fields: list[dict[str, str | None]] = []
    if isinstance(fields_raw, dict):
        fields = [{"code": str(k)[:64], "value": _text(v)} for k, v in fields_raw.items()]
    elif isinstance(fields_raw, list):
        for f in fields_raw:
            if isinstance(f, dict) and f.get("code"):
                fields.append({"code": str(f["code"])[:64], "value": _text(f.get("value"))})
    rules: list[dict[str, str | None]] = []
    for item in _result_part(parsed, "service_inspection") or []:
        if isinstance(item, dict):
            title_ = _text(item.get("title") or item.get("name") or item.get("rule"), 200)
            if title_:
                rules.append({"title": title_, "result": _rule_result(item), "reason": _text(item.get("reason"))})
    usage = _dict(doc.get("usage"))
    prov = _dict(doc.get("profile"))
    return {
        "title": _text(title, 500),
        "summary": _text(summary),
        "keywords": keywords[:20],
        "satisfaction": _text(satisfaction, 64),
        "fields": fields[:50],
        "rules": rules[:50],
        "failed_rules": [r["title"] for r in rules if r["result"] == "fail"],
        "profile": _text(prov.get("name"), 64),
        "profile_version": _int(prov.get("version")),
        "profile_hash": _text(prov.get("hash") or prov.get("digest"), 80),
        "input_tokens": _int(usage.get("input_tokens")),
        "output_tokens": _int(usage.get("output_tokens")),
        "total_tokens": _int(usage.get("total_tokens")),
        "analysis_key": key,
        "analysed_at": _time(doc.get("analysed_at")) or now_iso(),
    }


def letter_fragment(letter: dict[str, Any]) -> dict[str, Any]:
    """A dead letter's entry in a row."""
    unit = _dict(letter.get("unit"))
    return {"step": _text(letter.get("stage"), 32), "profile": _text(unit.get("profile"), 64),
            "error_code": _text(letter.get("error_code"), 120), "reason": _text(letter.get("reason"), 300),
            "at": _time(letter.get("failed_at")) or now_iso()}


# --- updates ---------------------------------------------------------------------------------------

def update_doc(kind: str, instance_id: str, dt: str, fragment: dict[str, Any], at: str | None = None) -> dict:
    return {"schema": UPDATE_SCHEMA, "kind": kind, "instance_id": instance_id, "dt": dt,
            "at": at or now_iso(), "row": fragment}


def write_update(store: Any, kind: str, dt: str, instance_id: str, fragment: dict[str, Any]) -> str:
    """Write one row update (a new object each time); its key."""
    doc = update_doc(kind, instance_id, dt, fragment)
    stamp = doc["at"].replace("-", "").replace(":", "")
    digest = layout.content_digest({"doc": doc, "nonce": os.urandom(4).hex()})
    key = layout.index_update_key(dt, instance_id, kind, stamp, digest)
    store.put(key, json.dumps(doc, ensure_ascii=False).encode())
    return key


def emit(store: Any, kind: str, dt: str, instance_id: str, fragment: dict[str, Any]) -> str | None:
    """`write_update`, logged instead of raised: the index is derived data, rebuilt by
    `aiagent index rebuild` (never a reason to fail or retry the chain's own work)."""
    try:
        return write_update(store, kind, dt, instance_id, fragment)
    except Exception as exc:  # noqa: BLE001
        from shared.log import logger

        logger.warning("index update not written", extra={"instance_id": instance_id, "kind": kind,
                                                          "error": type(exc).__name__})
        return None


# --- merging --------------------------------------------------------------------------------------

def empty_row(instance_id: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(instance_id=instance_id, keywords=[], fields=[], rules=[], failed_rules=[], profiles=[],
               dead_letters=[], schema_version=SCHEMA_VERSION)
    return row


def _newer(a: str | None, b: str | None) -> bool:
    """Whether time `a` is at or after `b` (None is the oldest)."""
    return b is None or (a is not None and a >= b)


def apply(row: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any] | None:
    """`row` (None: no row yet) with `update` applied; None when the call was erased.
    Order-independent and idempotent (see the module's docstring)."""
    kind, frag = update.get("kind"), update.get("row") or {}
    instance_id = update.get("instance_id")
    if kind == "erased":
        return None
    out = dict(row) if row is not None else empty_row(str(instance_id))
    at = update.get("at")
    if kind == "archive" and _newer(frag.get("archived_at"), out.get("archived_at")):
        out.update({k: frag.get(k) for k in ARCHIVE_PART})
        out["dead_letters"] = [d for d in out["dead_letters"] if d.get("step") != "archive" or
                               not _newer(frag.get("archived_at"), d.get("at"))]
    elif kind == "analysis":
        profile = frag.get("profile")
        if profile and profile not in out["profiles"]:
            out["profiles"] = sorted({*out["profiles"], profile})
        if _newer(frag.get("analysed_at"), out.get("analysed_at")):
            out.update({k: frag.get(k) for k in ANALYSIS_PART})
        done_at = frag.get("analysed_at")
        out["dead_letters"] = [d for d in out["dead_letters"] if not (
            d.get("step") == "analyze" and d.get("profile") == profile and _newer(done_at, d.get("at")))]
    elif kind == "letter":
        step, profile = frag.get("step"), frag.get("profile")
        done_at = out.get("archived_at") if step == "archive" else (
            out.get("analysed_at") if profile == out.get("profile") else None)
        if done_at is None or not _newer(done_at, frag.get("at")):
            kept = [d for d in out["dead_letters"] if (d.get("step"), d.get("profile")) != (step, profile)]
            same = [d for d in out["dead_letters"] if (d.get("step"), d.get("profile")) == (step, profile)]
            newest = max([*same, frag], key=lambda d: d.get("at") or "")
            out["dead_letters"] = sorted([*kept, newest], key=lambda d: (d.get("step") or "", d.get("profile") or ""))
    out["status"] = status_of(out)
    out["updated_at"] = max(filter(None, (out.get("updated_at"), at)), default=None)
    out["schema_version"] = SCHEMA_VERSION
    return out


def status_of(row: dict[str, Any]) -> str:
    """archived | analysed | archive_failed | analysis_failed | pending (a letter or an analysis
    arrived before the archive's own update)."""
    steps = {d.get("step") for d in row.get("dead_letters") or []}
    if "archive" in steps and row.get("archived_at") is None:
        return "archive_failed"
    if row.get("archived_at") is None:
        return "pending"
    if "analyze" in steps:
        return "analysis_failed"
    return "analysed" if row.get("analysed_at") else "archived"


def to_json_line(row: dict[str, Any]) -> str:
    """One row as the NDJSON the compaction step hands DuckDB (every column, in order)."""
    return json.dumps({c: row.get(c) for c in COLUMNS}, ensure_ascii=False)


def started_or_day(row: dict[str, Any], dt: str) -> str:
    """The row's start time, or its day's midnight (rows always sort by a time)."""
    return row.get("started_at") or f"{dt}T00:00:00.000000Z"
