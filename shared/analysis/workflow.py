"""Analysing one archived call (docs/protocols.md#ccai-analysis): call-logs/ object -> CCAI AnalyzeConversation
(one request, or several under the long-dialog policy) -> analyses/ with provenance.

Idempotent: the result key is deterministic (`analyses/dt=/<instance>/<profile>.json`)
and carries the source ETag and the profile hash as object metadata, so a duplicate
trigger, or a re-run over the archive, finds it with one HEAD and calls CCAI no more.
A new profile version or a changed call log is analysed again (and replaces it).
Transient CCAI failures raise `RetryLater` (FC retries) until ANALYSIS_MAX_ATTEMPTS;
a refusal that retrying cannot fix is a dead letter under failed/analyze/ at once.
Any other exception is counted the same way (`dead_letters.unexpected`); only
StorageError propagates. The unit of work (attempt counter, dead letter) is the call
log's key and ETag with the profile's name and hash: a re-analysis with another profile
or of a changed call log starts its own count, and the counter goes once it is done.
A success resolves the open dead letters of the call with the same profile version
(`dead_letters.finish`): one terminal state per call and profile version.
The same function serves the OSS trigger and `aiagent reanalyze`.
"""
from __future__ import annotations

import json
import time
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shared.analysis import dialog, results
from shared.analysis import profile as profiles
from shared.archive import erasure, index_rows, layout
from shared.archive.dead_letters import Failure, GiveUp, Unit, finish, safe_message, settle, unexpected, utcnow
from shared.clients.ccai import CcaiFailure
from shared.clients.object_store import ObjectNotFound
from shared.errors import StorageError
from shared.ports import CcaiApi, Store
from shared.settings import CcaiSettings

STEP = "analyze"
SCHEMA = "aicall.analysis/1"


class Outcome(NamedTuple):
    status: str  # analysed | already_analysed | empty | dead_letter | skipped (stored values, old spelling kept)
    key: str | None = None
    reason: str | None = None
    requests: int | None = None


def _norm_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"').lower()


def is_current(info: Any, source_etag: str | None, profile: profiles.Profile) -> bool:
    """Whether the stored analysis (ObjectInfo with metadata) is of this source and profile."""
    meta = getattr(info, "metadata", None) or {}
    return (meta.get("profile-hash") == profile.digest
            and (source_etag is None or _norm_etag(meta.get("source-etag")) == _norm_etag(source_etag)))


def _dialog(doc: Any) -> Any:
    """The dialog of an archived call: its reconciled transcript (`record.turns`: the call log's
    turns and those only the chat records had, SPEC 12) when the archive step built one, else
    `call_log.dialog`; or the dialog of a bare call log."""
    if isinstance(doc, dict):
        full = doc.get("record")
        if isinstance(full, dict) and isinstance(full.get("turns"), list) and full["turns"]:
            return full["turns"]
        log = doc.get("call_log")
        inner: dict[str, Any] = log if isinstance(log, dict) else doc
        if isinstance(inner.get("dialog"), list):
            return inner["dialog"]
    return None


def analyze_call(store: Store, client: CcaiApi, settings: CcaiSettings, source_key: str, *, profile: profiles.Profile,
                 source_etag: str | None = None, deadline: float | None = None, redaction: str = "off") -> Outcome:
    """Analyse the archived call at `source_key` with `profile` (see the module doc). With
    `redaction` "analysis" or "archive", CCAI receives redacted text; with "archive" the stored
    result is redacted too (CCAI may quote what it read)."""
    started, t0 = utcnow(), time.perf_counter()
    try:
        ref = layout.parse_call_log_key(source_key)
    except ValueError:
        return Outcome("skipped", reason="not a call-logs/ key")
    target = layout.analysis_key(ref.dt, ref.instance_id, profile.name)
    if erasure.is_erased(store, ref.instance_id):
        return Outcome("skipped", reason="the call was erased")

    def unit_of(etag: str | None) -> Unit:
        return Unit(STEP, ref.dt, ref.instance_id, source_key,
                    {"profile": profile.name, "profile_hash": profile.digest, "source_etag": _norm_etag(etag)},
                    scope=("profile", "profile_hash"))

    existing = store.head(target)
    if existing is not None and source_etag is not None and is_current(existing, source_etag, profile):
        finish(store, unit_of(source_etag), target)  # a duplicate or late trigger
        return Outcome("already_analysed", target)
    try:
        raw, info = store.get(source_key)
    except ObjectNotFound:
        return Outcome("skipped", reason="the call log no longer exists")
    unit = unit_of(info.etag)
    if existing is not None and is_current(existing, info.etag, profile):
        finish(store, unit, target)
        return Outcome("already_analysed", target)
    read_ms = (time.perf_counter() - t0) * 1000

    extra: dict[str, Any] = {"profile": profile.provenance(), "ccai_request_id": None, "http_status": None}
    try:
        return _analyze(store, client, settings, ref, source_key, raw, info, target, unit, profile=profile,
                        deadline=deadline, started=started, t0=t0, read_ms=read_ms, redaction=redaction)
    except StorageError:
        raise  # the store is down: nothing can be recorded; FC retries
    except GiveUp as exc:
        failure = Failure(exc.code, safe_message(exc.message), retryable=False, extra=extra)
    except CcaiFailure as exc:
        failure = Failure(exc.code, safe_message(exc.message), retryable=exc.retryable, attempts=exc.attempts,
                          extra={**extra, "ccai_request_id": exc.request_id, "http_status": exc.status})
    except Exception as exc:  # noqa: BLE001 - anything else: counted, then a dead letter
        failure = unexpected(exc)._replace(extra=extra)
    key = settle(store, unit, failure, settings.ANALYSIS_MAX_ATTEMPTS, done=lambda: _done(store, target, profile))
    if key is None:  # analysed with this profile version meanwhile (a duplicate trigger)
        return Outcome("already_analysed", target)
    return Outcome("dead_letter", key, failure.reason)


def _done(store: Store, target: str, profile: profiles.Profile) -> str | None:
    """`target` if an analysis with this profile version is stored there (of any call-log version)."""
    info = store.head(target)
    return target if info is not None and is_current(info, None, profile) else None


def _analyze(store: Store, client: CcaiApi, settings: CcaiSettings, ref: layout.CallLogKey, source_key: str,
             raw: bytes, info: Any, target: str, unit: Unit, *, profile: profiles.Profile, deadline: float | None,
             started: str, t0: float, read_ms: float, redaction: str = "off") -> Outcome:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        doc = None
    turns = _dialog(doc)
    if turns is None:
        raise GiveUp("CallLogInvalid", "the archived call log is not JSON with a dialog list")
    items = dialog.sentences(d for d in turns if isinstance(d, dict))
    findings: dict[str, int] = {}
    if redaction in ("analysis", "archive"):  # what CCAI reads carries no personal data
        from shared.privacy.transcripts import redact_turns

        items, findings = redact_turns(items)
    session_id = (doc.get("session_id") if isinstance(doc.get("session_id"), str) else None) or ref.instance_id
    plan = dialog.plan(items, settings.ANALYSIS_MAX_REQUEST_CHARS, settings.ANALYSIS_LONG_DIALOG_POLICY)

    answers, request_ids, attempts, events, ccai_ms = [], [], 0, 0, 0.0
    if items:
        for i, part in enumerate(plan.parts):
            sid = session_id if len(plan.parts) == 1 else f"{session_id}-part{i + 1}of{len(plan.parts)}"
            body = dialog.request_body(profile, part, sid, settings.CCAI_STREAM)
            answer = client.analyze(body, deadline=deadline)
            answers.append(answer.body)
            if answer.request_id:
                request_ids.append(answer.request_id)
            attempts += answer.attempts
            events += answer.events
            ccai_ms += answer.upstream_ms

    result = results.merge(answers, plan) if answers else None
    if result is not None and redaction == "archive":  # CCAI may quote the dialog back
        from shared.privacy.transcripts import redact_strings

        result, quoted = redact_strings(result)
        findings = {k: findings.get(k, 0) + quoted.get(k, 0) for k in {*findings, *quoted}}
    status = "analysed" if answers else "empty"
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "status": status,
        "instance_id": ref.instance_id,
        "dt": ref.dt,
        "source": {"key": source_key, "etag": info.etag, "bucket": getattr(store, "bucket", None)},
        "profile": profile.provenance(),
        "model": profile.model,
        "result_types": profile.request.get("resultTypes"),
        "ccai": {"host": urlsplit(settings.CCAI_ENDPOINT).hostname, "workspace_id": settings.CCAI_WORKSPACE_ID,
                 "app_id": settings.CCAI_APP_ID, "stream": settings.CCAI_STREAM, "request_ids": request_ids,
                 "requests": len(answers), "attempts": attempts, "stream_events": events},
        "dialog": {"turns": len(turns), "sentences": len(items), "chars": plan.total_chars},
        "long_dialog": plan.record(),
        "redaction": {"mode": redaction, "findings": findings},
        "usage": result["usage"] if result else None,
        "result": ({k: v for k, v in result.items() if k != "usage"} if result else None),
        "reason": None if answers else "the dialog has no sentence with text: nothing to analyse",
        "timings": {"started_at": started, "read_ms": round(read_ms, 1), "ccai_ms": round(ccai_ms, 1),
                    "total_ms": round((time.perf_counter() - t0) * 1000, 1)},
        "analysed_at": utcnow(),
    }
    index_rows.emit(store, "analysis", ref.dt, ref.instance_id, index_rows.analysis_fragment(out, key=target))
    store.put(target, json.dumps(out, ensure_ascii=False).encode(),
              metadata={"source-etag": _norm_etag(info.etag), "profile-hash": profile.digest,
                        "profile": profile.name})
    finish(store, unit, target)
    return Outcome(status, target, requests=len(answers))
