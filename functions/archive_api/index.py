"""The archive API (admins only; GET; docs/archive-index.md, README "Archive API"):

    GET /api/v2/archive/calls                 the call list: filters, search, cursor
    GET /api/v2/archive/calls/{instance_id}   the whole call
    GET /api/v2/archive/stats                 figures over a date range
    GET /api/v2/archive/export                the filtered list as CSV, JSONL or Parquet

It reads the call index (Parquet day files, mirrored locally for DuckDB) and the archive's
objects; its role may read, never write, the bucket.
"""
import re
from typing import Any

from shared.archive import call_record, index_query
from shared.auth import authorize_admin
from shared.clients import object_store
from shared.errors import AppError, NotFound
from shared.http import RawResponse, endpoint
from shared.settings import ArchiveApiSettings, CoreSettings, OssSettings, RedactionSettings, load

SETTINGS = (CoreSettings, OssSettings, ArchiveApiSettings, RedactionSettings)
PREFIX = "/api/v2/archive/"
_DETAIL = re.compile(r"calls/([A-Za-z0-9_-]{1,128})")
_index: Any = None


def get_index() -> index_query.Index:
    """The warm instance's mirror of the index (one per store)."""
    global _index
    store = object_store.get_store()
    if _index is None or _index.store is not store:
        s = load(ArchiveApiSettings)
        _index = index_query.Index(store, s.INDEX_CACHE_DIR, s.INDEX_REFRESH_SECONDS)
    _index.refresh()
    return _index


def reset_index() -> None:
    global _index
    _index = None


@endpoint(authorize=authorize_admin, methods=("GET",), settings=SETTINGS, headers={"Cache-Control": "no-store"})
def handler(request, principal, _req) -> Any:
    path = request.path[len(PREFIX):] if request.path.startswith(PREFIX) else ""
    query = request.query
    view = view_of(principal)
    raw = view == "raw"
    if path in ("calls", "stats", "export"):
        f = index_query.parse_filters(query)
        if not raw:
            index_query.refuse_personal_search(f)
    if path == "calls":
        limit, cursor = index_query.parse_limit(query), query.get("cursor") or None
        out = index_query.list_calls(get_index(), f, limit, cursor)
        if not raw:
            out["calls"] = [index_query.redact_item(c) for c in out["calls"]]
        return {"view": view, **out}
    if path == "stats":
        out = index_query.stats(get_index(), f)
        if not raw:
            out["keywords"] = [{**k, "word": redact_word(k["word"])} for k in out["keywords"]]
        return {"view": view, **out}
    if path == "export":
        fmt = query.get("format") or "csv"
        body, ctype, rows, truncated = index_query.export(get_index(), f, fmt, load(ArchiveApiSettings)
                                                          .ARCHIVE_EXPORT_MAX_ROWS, redact=not raw)
        name = f"calls-{f.since}-{f.until}.{fmt}"
        return RawResponse(body, ctype, {"Content-Disposition": f'attachment; filename="{name}"',
                                         "X-Export-Rows": str(rows), "X-Export-Truncated": str(truncated).lower(),
                                         "X-Archive-View": view,
                                         "Access-Control-Expose-Headers": "X-Export-Rows, X-Export-Truncated, "
                                                                          "X-Archive-View, Content-Disposition"})
    m = _DETAIL.fullmatch(path)
    if m:
        for name in query:
            raise AppError(f"{name[:64]}: unknown parameter", status=400, error_code="InvalidParameter")
        row = index_query.find(get_index(), m.group(1))
        if row is None:
            raise NotFound("instance_id: no call with this id in the archive index", error_code="CallNotFound")
        rec = call_record.record(object_store.get_store(), row, ttl=load(ArchiveApiSettings).RECORDING_URL_TTL_SECONDS)
        return {"view": view, **(rec if raw else call_record.redact_record(rec))}
    raise NotFound(f"no archive API at {request.path[:120]}", error_code="NotFound")


def view_of(principal: Any) -> str:
    """`raw` for an admin whose JWT says `"pii": true` (what the archive holds: with
    REDACTION_MODE=archive that is redacted text, the raw copy is never served); else
    `redacted`: every text personal data may be in is redacted on the way out."""
    return "raw" if principal.pii and load(RedactionSettings).REDACTION_MODE != "archive" else "redacted"


def redact_word(word: str) -> str:
    from shared.privacy.redact import redact_text

    return redact_text(word)
