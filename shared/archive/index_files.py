"""The call index's Parquet files: write a day's rows, read them back (DuckDB).

Only the compaction step, the archive API and the tools import this (DuckDB is heavy:
the chain's own steps never load it; they write JSON row updates, shared/archive/index_rows.py).
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import date, datetime
from typing import Any

from shared.archive import index_rows, layout

COMPRESSION = "zstd"


def connect() -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    threads = os.environ.get("INDEX_DUCKDB_THREADS")
    if threads and threads.isdigit():
        con.execute(f"SET threads = {int(threads)}")
    return con


def columns_sql() -> str:
    """The `columns={...}` struct literal of read_json for the index's columns."""
    return "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in index_rows.COLUMNS.items()) + "}"


def write_parquet(con: Any, rows: list[dict[str, Any]], path: str, *, keep_from: str | None = None,
                  drop: set[str] | None = None) -> int:
    """Write `rows` (plus, with `keep_from`, the rows of that Parquet file whose instance id is not
    in `drop`) to the Parquet file `path`, sorted by start time; the number of rows written."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as tmp:
        for row in rows:
            tmp.write(index_rows.to_json_line(row) + "\n")
        name = tmp.name
    try:
        cols = ", ".join(f'"{c}"' for c in index_rows.COLUMNS)
        fresh = (f"SELECT {cols} FROM read_json(?, format='newline_delimited', columns={columns_sql()}, "
                 "maximum_object_size=67108864)")
        params: list[Any] = [name]
        query = fresh
        if keep_from is not None:
            con.execute("CREATE OR REPLACE TEMP TABLE drop_ids (instance_id VARCHAR)")
            if drop:
                con.executemany("INSERT INTO drop_ids VALUES (?)", [[i] for i in sorted(drop)])
            query = (f"SELECT {cols} FROM read_parquet(?) WHERE instance_id NOT IN (SELECT instance_id FROM drop_ids)"
                     f" UNION ALL {fresh}")
            params = [keep_from, name]
        con.execute(f"COPY ({query} ORDER BY started_at, instance_id) TO '{_quote(path)}' "
                    f"(FORMAT PARQUET, COMPRESSION {COMPRESSION}, ROW_GROUP_SIZE 100000)", params)
        return int(con.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchone()[0])
    finally:
        os.unlink(name)


def _quote(path: str) -> str:
    return path.replace("'", "''")


def plain(value: Any) -> Any:
    """A DuckDB value as JSON data (times as the rows' ISO text)."""
    if isinstance(value, datetime):
        return index_rows.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def read_rows(con: Any, path: str, ids: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """{instance id: row} of a day's Parquet file (only `ids` when given)."""
    cols = ", ".join(f'"{c}"' for c in index_rows.COLUMNS)
    sql = f"SELECT {cols} FROM read_parquet(?)"
    params: list[Any] = [path]
    if ids is not None:
        if not ids:
            return {}
        con.execute("CREATE OR REPLACE TEMP TABLE want_ids (instance_id VARCHAR)")
        con.executemany("INSERT INTO want_ids VALUES (?)", [[i] for i in sorted(ids)])
        sql += " WHERE instance_id IN (SELECT instance_id FROM want_ids)"
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return {r[0]: {n: plain(v) for n, v in zip(names, r)} for r in cur.fetchall()}


def put_day(store: Any, con: Any, dt: str, rows: list[dict[str, Any]], *, keep_from: str | None = None,
            drop: set[str] | None = None) -> tuple[str, int, int]:
    """Write a day's index file to the store: (key, rows, bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, layout.INDEX_FILE)
        count = write_parquet(con, rows, path, keep_from=keep_from, drop=drop)
        with open(path, "rb") as f:
            data = f.read()
    key = layout.index_day_key(dt)
    if count == 0:
        try:
            store.delete(key)
        except Exception:  # noqa: BLE001 - nothing to delete
            pass
        return key, 0, 0
    store.put(key, data, content_type="application/vnd.apache.parquet")
    return key, count, len(data)


def load_update(raw: bytes) -> dict[str, Any] | None:
    """A row update's JSON, or None when it is not one (skipped and deleted by the compaction)."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != index_rows.UPDATE_SCHEMA:
        return None
    if doc.get("kind") not in ("archive", "analysis", "letter", "erased") or not isinstance(doc.get("row", {}), dict):
        return None
    return doc
