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
from shared.settings import ArchiveApiSettings, CoreSettings, OssSettings, load

SETTINGS = (CoreSettings, OssSettings, ArchiveApiSettings)
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
    if path == "calls":
        f = index_query.parse_filters(query)
        limit, cursor = index_query.parse_limit(query), query.get("cursor") or None
        return index_query.list_calls(get_index(), f, limit, cursor)
    if path == "stats":
        f = index_query.parse_filters(query)
        return index_query.stats(get_index(), f)
    if path == "export":
        f = index_query.parse_filters(query)
        fmt = query.get("format") or "csv"
        body, ctype, rows, truncated = index_query.export(get_index(), f, fmt, load(ArchiveApiSettings)
                                                          .ARCHIVE_EXPORT_MAX_ROWS)
        name = f"calls-{f.since}-{f.until}.{fmt}"
        return RawResponse(body, ctype, {"Content-Disposition": f'attachment; filename="{name}"',
                                         "X-Export-Rows": str(rows), "X-Export-Truncated": str(truncated).lower(),
                                         "Access-Control-Expose-Headers": "X-Export-Rows, X-Export-Truncated, "
                                                                          "Content-Disposition"})
    m = _DETAIL.fullmatch(path)
    if m:
        for name in query:
            raise AppError(f"{name[:64]}: unknown parameter", status=400, error_code="InvalidParameter")
        row = index_query.find(get_index(), m.group(1))
        if row is None:
            raise NotFound("instance_id: no call with this id in the archive index", error_code="CallNotFound")
        return call_record.record(object_store.get_store(), row, ttl=load(ArchiveApiSettings).RECORDING_URL_TTL_SECONDS)
    raise NotFound(f"no archive API at {request.path[:120]}", error_code="NotFound")
