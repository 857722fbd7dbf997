"""One call's whole record, for the archive API's detail view: metadata (its index row), the
transcript in order, every analysis by profile, the callback timeline, recordings with
short-lived presigned URLs, and the call's open dead letters."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.archive import layout
from shared.clients.object_store import ObjectNotFound
from shared.ports import Store

MAX_CALLBACKS = 2000
MAX_ANALYSES = 50


def _json(store: Store, key: str) -> Any:
    try:
        return json.loads(store.get(key)[0])
    except ObjectNotFound:
        return None
    except (ValueError, RecursionError):
        return None


def transcript(call_log_doc: Any) -> list[dict[str, Any]]:
    """The call's transcript in order: [{id, role, begin, text, type, source}] — the reconciled one
    (`record.turns`: the call log and the chat records merged, each turn's source kept) when the
    archive step built it, else the call log's dialog (turns without text kept)."""
    full = call_log_doc.get("record") if isinstance(call_log_doc, dict) else None
    if isinstance(full, dict) and isinstance(full.get("turns"), list) and full["turns"]:
        return [{"id": t.get("id"), "role": t.get("role"), "begin": t.get("begin"), "text": t.get("text"),
                 "type": t.get("type"), "source": t.get("source")} for t in full["turns"] if isinstance(t, dict)]
    log = call_log_doc.get("call_log") if isinstance(call_log_doc, dict) else None
    dialog = log.get("dialog") if isinstance(log, dict) else None
    out = []
    for t in dialog if isinstance(dialog, list) else []:
        if isinstance(t, dict):
            out.append({"id": t.get("id"), "role": t.get("role"), "begin": t.get("begin"), "text": t.get("text"),
                        "type": t.get("type")})
    return out


def _bucket_key(location: str, bucket: str) -> str | None:
    """The object key of `location` when it is in `bucket` (an object key, oss://bucket/key, or an
    https URL of the bucket), else None: only the archive's own objects get a presigned URL."""
    if location.startswith("oss://"):
        rest = location[len("oss://"):]
        b, _, key = rest.partition("/")
        return key if b == bucket and key else None
    if location.startswith(("https://", "http://")):
        parts = urlsplit(location)
        host = parts.hostname or ""
        if host.startswith(bucket + "."):
            return unquote(parts.path.lstrip("/")) or None
        return None
    return location.lstrip("/") if location.startswith(layout.RECORDINGS) else None


def recordings(store: Store, call_log_doc: Any, turn_ids: set[Any], ttl: int, *, dt: str | None = None,
               instance_id: str | None = None) -> list[dict[str, Any]]:
    """The call's recordings, each with a presigned URL when the object is in the archive bucket
    and exists: the audio the archive step linked (`record.audio`: per sentence with its `turn_id`,
    and the whole call), else the call log's raw references; plus the ARTC cloud recording files
    under `recordings/dt=<dt>/<instanceId>/` (listed: they may land after the call was archived)."""
    out: list[dict[str, Any]] = []
    bucket = str(getattr(store, "bucket", "") or "")
    presign = getattr(store, "presign_get", None)
    expires_at = (datetime.now(timezone.utc) + timedelta(seconds=ttl)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def signed(key: str) -> tuple[str | None, str | None]:
        return (presign(key, ttl), expires_at) if presign is not None else (None, None)

    full = call_log_doc.get("record") if isinstance(call_log_doc, dict) else None
    linked = full.get("audio") if isinstance(full, dict) else None
    seen: set[str] = set()
    if dt and instance_id:
        day = date.fromisoformat(dt)
        for d in (day - timedelta(days=1), day):
            for info in store.list(layout.recording_prefix(d.isoformat(), instance_id)):
                if "/audio/" in info.key:
                    continue  # audio the archive step copied in: listed with its turn below
                url, exp = signed(info.key)
                seen.add(info.key)
                out.append({"event": "artc_cloud_recording", "kind": "call", "field": None, "key": info.key,
                            "format": info.key.rsplit(".", 1)[-1].lower(), "timestamp": info.last_modified,
                            "role": None, "turn_id": None, "url": url, "expires_at": exp, "present": True,
                            "size": info.size})
    if isinstance(linked, list):
        for a in linked:
            if not isinstance(a, dict):
                continue
            key = a.get("key") if isinstance(a.get("key"), str) else None
            present = bool(a.get("present")) and key is not None and store.head(key) is not None
            url, exp = signed(key) if present and key else (None, None)
            out.append({"event": a.get("event"), "kind": a.get("kind"), "field": None, "key": key,
                        "format": a.get("format"), "timestamp": a.get("timestamp"), "role": a.get("role"),
                        "turn_id": a.get("turn_id") if a.get("turn_id") in turn_ids else None, "url": url,
                        "expires_at": exp, "present": present, "duration_ms": a.get("duration_ms"),
                        "problem": a.get("problem")})
        return out
    entries = call_log_doc.get("recordings") if isinstance(call_log_doc, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        sentence = entry.get("sentenceId")
        for name, location in (entry.get("locations") or {}).items():
            if not isinstance(location, str):
                continue
            key = _bucket_key(location, bucket)
            item: dict[str, Any] = {"event": entry.get("event"), "field": name, "key": key,
                                    "timestamp": entry.get("timestamp"),
                                    "role": entry.get("role") if isinstance(entry.get("role"), str) else None,
                                    "turn_id": sentence if sentence in turn_ids else None, "url": None,
                                    "expires_at": None, "present": None}
            if key is not None:
                item["present"] = store.head(key) is not None
                if item["present"] and presign is not None:
                    item["url"], item["expires_at"] = presign(key, ttl), expires_at
            out.append(item)
    return out


def callbacks(store: Store, dt: str, instance_id: str) -> list[dict[str, Any]]:
    """The call's callback timeline: [{event, time, key}] (the events' content stays in the bucket)."""
    day = date.fromisoformat(dt)
    out = []
    for d in (day - timedelta(days=1), day):
        for info in store.list(layout.callback_instance_prefix(d.isoformat(), instance_id)):
            try:
                ref = layout.parse_callback_key(info.key)
            except ValueError:
                continue
            stamp = info.key.rsplit("/", 1)[-1].split("-", 1)[0]
            out.append({"event": ref.event, "time": _compact_time(stamp), "key": info.key})
            if len(out) >= MAX_CALLBACKS:
                return out
    out.sort(key=lambda e: (e["time"] or "", e["key"]))
    return out


def _compact_time(stamp: str) -> str | None:
    for fmt in ("%Y%m%dT%H%M%S.%fZ", "%Y%m%dT%H%M%SZ"):
        try:
            return datetime.strptime(stamp, fmt).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        except ValueError:
            continue
    return None


def analyses(store: Store, dt: str, instance_id: str) -> dict[str, Any]:
    """Every analysis of the call, by profile name."""
    out: dict[str, Any] = {}
    prefix = f"{layout.date_prefix(layout.ANALYSES, dt)}{layout.validate_instance_id(instance_id)}/"
    for info in store.list(prefix):
        try:
            ref = layout.parse_analysis_key(info.key)
        except ValueError:
            continue
        doc = _json(store, info.key)
        if isinstance(doc, dict):
            out[ref.profile] = {k: doc.get(k) for k in ("status", "analysed_at", "profile", "model", "usage", "result",
                                                          "reason", "redaction", "dialog")}
        if len(out) >= MAX_ANALYSES:
            break
    return out


def dead_letters(store: Store, dt: str, instance_id: str) -> list[dict[str, Any]]:
    out = []
    for step in ("archive", "analyze"):
        for info in store.list(layout.dead_letter_prefix(step, dt, instance_id)):
            doc = _json(store, info.key)
            if isinstance(doc, dict) and not doc.get("resolved_at"):
                unit: dict[str, Any] = doc["unit"] if isinstance(doc.get("unit"), dict) else {}
                out.append({"step": step, "key": info.key, "error_code": doc.get("error_code"),
                            "reason": doc.get("reason"), "failed_at": doc.get("failed_at"),
                            "attempts": doc.get("attempts"), "profile": unit.get("profile")})
    return out


def record(store: Store, row: dict[str, Any], *, ttl: int) -> dict[str, Any]:
    """The detail answer for the call of index row `row`."""
    dt, instance_id = row["dt"], row["instance_id"]
    doc = _json(store, row["call_log_key"]) if row.get("call_log_key") else None
    turns = transcript(doc)
    found = analyses(store, dt, instance_id)
    call_log = None
    if isinstance(doc, dict):
        call_log = {k: doc.get(k) for k in ("status", "session_id", "call_info", "gmt_create", "gmt_modified",
                                             "archived_at", "redaction", "recordings_rejected")}
    call = {k: v for k, v in row.items() if k not in ("call_log_key", "analysis_key", "rules")}
    call["fields"] = {f["code"]: f["value"] for f in row.get("fields") or []}
    return {
        "call": call,
        "transcript": turns,
        "analyses": found,
        "rules": row.get("rules") or [],
        "callbacks": callbacks(store, dt, instance_id),
        "recordings": recordings(store, doc, {t["id"] for t in turns if t.get("id") is not None}, ttl, dt=dt,
                                 instance_id=instance_id),
        "completeness": (doc.get("record") or {}).get("completeness") if isinstance(doc, dict) else None,
        "timings": (doc.get("record") or {}).get("timings") if isinstance(doc, dict) else None,
        "dead_letters": dead_letters(store, dt, instance_id),
        "call_log": call_log,
    }


def redact_record(rec: dict[str, Any]) -> dict[str, Any]:
    """The detail answer with every text a call may carry personal data in redacted: the
    transcript, the analyses' results, the row's texts, the rules' reasons."""
    from shared.archive.index_query import redact_item
    from shared.privacy.transcripts import redact_strings, redact_turns

    out = dict(rec)
    out["call"] = redact_item(rec["call"])
    out["transcript"] = redact_turns(rec["transcript"])[0]
    out["analyses"] = {name: {**a, "result": redact_strings(a.get("result"))[0]} for name, a in rec["analyses"].items()}
    out["rules"] = [{**r, "reason": redact_strings(r.get("reason"))[0]} for r in rec["rules"]]
    out["dead_letters"] = redact_strings(rec["dead_letters"])[0]
    return out
