"""config/maxcompute/calls.sql: the MaxCompute external table over the call index (docs/maxcompute.md)
has exactly the index's columns (shared.archive.index_rows.COLUMNS), in order, with mapped types."""
import re
from pathlib import Path

import pytest

from shared.archive import index_rows, layout

DDL = Path(__file__).resolve().parents[2] / "config" / "maxcompute" / "calls.sql"

# DuckDB scalar type -> MaxCompute (V2.0 data types) type of a Parquet external table.
# TIMESTAMP stays TIMESTAMP: Parquet external tables do not support TIMESTAMP_NTZ.
SCALARS = {
    "VARCHAR": "STRING",
    "TIMESTAMP": "TIMESTAMP",
    "DOUBLE": "DOUBLE",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
}


def split_top(text: str) -> list[str]:
    """`text` split at the commas outside (), <> and quotes."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'`":
            quote = ch
        elif ch in "(<":
            depth += 1
        elif ch in ")>":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def mc_type(duck: str) -> str:
    """The MaxCompute type of a DuckDB type: X[] -> ARRAY<X'>, STRUCT(a X, b Y) -> STRUCT<a:X',b:Y'>."""
    duck = duck.strip()
    if duck.endswith("[]"):
        return f"ARRAY<{mc_type(duck[:-2])}>"
    m = re.fullmatch(r"STRUCT\((.*)\)", duck, re.S)
    if m:
        members = []
        for member in split_top(m.group(1)):
            name, kind = member.split(None, 1)
            members.append(f"{name}:{mc_type(kind)}")
        return f"STRUCT<{','.join(members)}>"
    return SCALARS[duck.upper()]


def norm(kind: str) -> str:
    return re.sub(r"\s+", "", kind).upper()


def strip_comments(sql: str) -> str:
    """The SQL without `--` comments (none of this file's string literals holds `--`)."""
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def parenthesised(text: str, open_at: int) -> tuple[str, int]:
    """The text inside the parenthesis opening at `open_at`, and the index after its close."""
    assert text[open_at] == "("
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_at + 1:i], i + 1
    raise AssertionError("unbalanced parentheses")


def create_statement() -> str:
    sql = strip_comments(DDL.read_text(encoding="utf-8"))
    m = re.search(r"CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\w+\s*", sql, re.I)
    assert m, "no CREATE EXTERNAL TABLE in calls.sql"
    end = sql.index(";", m.end())
    return sql[m.start():end]


def column_list(stmt: str) -> list[tuple[str, str]]:
    body, _ = parenthesised(stmt, stmt.index("("))
    cols = []
    for entry in split_top(body):
        m = re.fullmatch(r"`?(\w+)`?\s+(.+)", entry, re.S)
        assert m, f"cannot read column definition {entry!r}"
        cols.append((m.group(1), m.group(2)))
    return cols


@pytest.fixture(scope="module")
def stmt() -> str:
    return create_statement()


def test_mapping_examples():
    assert mc_type("VARCHAR") == "STRING"
    assert mc_type("VARCHAR[]") == "ARRAY<STRING>"
    assert mc_type("STRUCT(a VARCHAR, b TIMESTAMP)[]") == "ARRAY<STRUCT<a:STRING,b:TIMESTAMP>>"
    with pytest.raises(KeyError):
        mc_type("HUGEINT")


def test_columns_are_the_index_columns_in_order_with_mapped_types(stmt):
    cols = column_list(stmt)
    assert [name for name, _ in cols] == list(index_rows.COLUMNS)
    for name, kind in cols:
        assert norm(kind) == norm(mc_type(index_rows.COLUMNS[name])), name
    assert index_rows.SCHEMA_VERSION == 2  # a new schema version needs a new look at the DDL


def test_partition_column_is_dt_string(stmt):
    _, after = parenthesised(stmt, stmt.index("("))
    m = re.search(r"PARTITIONED\s+BY\s*", stmt[after:], re.I)
    assert m, "no PARTITIONED BY"
    inner, _ = parenthesised(stmt, after + m.end())
    assert norm(inner) == "DTSTRING"
    assert "dt" not in index_rows.COLUMNS


def test_parquet_on_oss_with_role_and_location(stmt):
    assert re.search(r"STORED\s+AS\s+PARQUET", stmt, re.I)
    assert re.search(r"'odps\.properties\.rolearn'\s*=\s*'acs:ram::[^:']+:role/[^']+'", stmt)
    m = re.search(r"LOCATION\s+'([^']+)'", stmt, re.I)
    assert m, "no LOCATION"
    location = m.group(1)
    assert location.endswith("/" + layout.INDEX_CALLS)
    assert layout.INDEX_CALLS == "warehouse/calls/"
    # the classic-network (internal) endpoint, then the bucket
    assert re.fullmatch(r"oss://oss-[a-z0-9-]+-internal\.aliyuncs\.com/[^/]+/warehouse/calls/", location)


def test_file_says_how_to_add_partitions():
    sql = DDL.read_text(encoding="utf-8")
    assert re.search(r"MSCK\s+REPAIR\s+TABLE\s+aicall_calls\s+ADD\s+PARTITIONS", sql, re.I)
    assert re.search(r"ALTER\s+TABLE\s+aicall_calls\s+ADD\s+IF\s+NOT\s+EXISTS\s+PARTITION\s*\(dt=", sql, re.I)
