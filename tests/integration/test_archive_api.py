"""The call index and the archive API through the real handlers, on moto's OSS over HTTP: row
updates as the chain writes them, the timer-triggered compaction, then every filter, Chinese
search, pagination, the detail view, stats equal to the rows, exports that round-trip, and
admins only."""
import base64
import contextlib
import csv
import dataclasses
import io
import json
import tempfile
from datetime import datetime, timezone

import duckdb
import httpx
import pytest

from devkit.tokens import mint_token
from shared.archive import index_rows, layout
from shared.clients import object_store
from tests.oss_server import _create_bucket
from tests.support import load_function

SECRET = "archive-api-jwt-secret-" + "x" * 32
RULES = ("Polite greeting", "Stays on topic", "No unsafe advice")
TIMER = json.dumps({"triggerTime": "2026-11-30T00:00:00Z", "triggerName": "every-minute", "payload": ""}).encode()

# (instance, day, agent, user, satisfaction, intent, failed rule or None, user's words)
CALLS = [
    ("call-01", "2026-11-20", "agent-a", "alice", "satisfied", "information", None, "我想查询一下我的订单什么时候到"),
    ("call-02", "2026-11-20", "agent-a", "bob", "dissatisfied", "complaint", "Stays on topic", "我要申请退款，商品坏了"),
    ("call-03", "2026-11-21", "agent-b", "alice", "neutral", "task", None, "Please book a table for two tonight"),
    ("call-04", "2026-11-21", "agent-b", "carol", "dissatisfied", "complaint", "Polite greeting", "退款还没到账"),
    ("call-05", "2026-11-22", "agent-a", "dave", "satisfied", "entertainment", None, "讲个有趣的儿童故事"),
    ("call-06", "2026-11-22", "agent-a", "bob", "neutral", "information", "No unsafe advice", "What is my balance?"),
    ("call-07", "2026-11-23", "agent-c", "erin", "satisfied", "task", None, "帮我改一下收货地址"),
    ("call-08", "2026-11-23", "agent-c", "alice", "dissatisfied", "complaint", "Stays on topic", "Refund my order"),
    ("call-09", "2026-11-24", "agent-a", "frank", "satisfied", "information", None, "营业时间是几点"),
    ("call-10", "2026-11-24", "agent-b", "bob", "neutral", "other", None, "hello there"),
    ("call-11", "2026-11-25", "agent-a", "gina", "satisfied", "task", None, "我想预约明天下午的维修"),
    ("call-12", "2026-11-25", "agent-a", "alice", "dissatisfied", "complaint", "Polite greeting", "客服态度很差，我要投诉"),
]


def call_log_doc(c, minute):
    instance, day, agent, user, _s, _i, _r, words = c
    start = f"{day}T08:{minute:02d}:00Z"
    dialog = [{"id": 1, "begin": 1.0, "role": "agent", "type": "greeting", "text": "您好，请问有什么可以帮您？"},
              {"id": 2, "begin": 4.5, "role": "user", "type": "normal", "text": words},
              {"id": 3, "begin": 9.0 + minute, "role": "agent", "type": "normal", "text": "好的，我来帮您处理。"}]
    return {"schema": "aicall.call-log/1", "instance_id": instance, "ai_agent_id": agent, "session_id": f"s-{instance}",
            "call_info": None, "status": "Finished",
            "call_log": {"startTime": _epoch(start), "remoteUserId": user,
                         "dialog": dialog},
            "recordings": [{"event": "audio_record", "timestamp": start, "sentenceId": 2,
                            "locations": {"url": f"recordings/{instance}/2.wav"}}],
            "redaction": {"mode": "off"}, "archived_at": f"{day}T09:00:00Z"}


def _epoch(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def analysis_doc(c):
    instance, day, _a, _u, satisfaction, intent, failed, words = c
    parsed = {"summary": f"用户说：{words}", "title": f"关于{words[:6]}", "keywords": [words[:2], "客服"],
              "fields": {"user_intent": intent, "resolved": "no" if failed else "yes"},
              "satisfaction": {"satisfaction": satisfaction},
              "service_inspection": [{"title": r, "result": "fail" if r == failed else "pass", "reason": "checked"}
                                     for r in RULES]}
    return {"schema": "aicall.analysis/1", "status": "analysed", "instance_id": instance, "dt": day,
            "profile": {"name": "default", "version": 1, "hash": "h1"},
            "result_types": ["summary", "title", "keywords", "fields", "satisfaction", "service_inspection"],
            "usage": {"input_tokens": 100, "output_tokens": 20, "total_tokens": 120},
            "result": {"text": json.dumps(parsed, ensure_ascii=False), "parsed": parsed},
            "analysed_at": f"{day}T09:01:00Z"}


def archive_like_the_chain(store, calls):
    """What archive_call_log and analyze_conversation write: the update, then the object."""
    for minute, c in enumerate(calls):
        instance, day = c[0], c[1]
        doc = call_log_doc(c, minute)
        key = layout.call_log_key(day, instance)
        index_rows.write_update(store, "archive", day, instance, index_rows.archive_fragment(doc, key=key,
                                                                                             user_id=c[3]))
        store.put(key, json.dumps(doc, ensure_ascii=False).encode())
        store.put(f"recordings/{instance}/2.wav", b"RIFF....WAVEfmt ", content_type="audio/wav")
        ana = analysis_doc(c)
        akey = layout.analysis_key(day, instance, "default")
        index_rows.write_update(store, "analysis", day, instance, index_rows.analysis_fragment(ana, key=akey))
        store.put(akey, json.dumps(ana, ensure_ascii=False).encode())


ENV = {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET, "INDEX_REFRESH_SECONDS": "0", "ARCHIVE_EXPORT_MAX_ROWS": "100"}


@contextlib.contextmanager
def bucket_of_its_own(moto_oss, name, tmp, **env):
    """moto with a bucket for this module only (the session's bucket is shared, and the chain's
    tests write index updates there), the archive API and the compaction cold-started on it."""
    own = dataclasses.replace(moto_oss, bucket=name)
    _create_bucket(own)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {**own.env(), **ENV, "INDEX_CACHE_DIR": str(tmp), **env}.items():
            mp.setenv(k, v)
        object_store.reset_store()
        api = load_function("archive_api", mp, {})
        compact = load_function("compact_archive_index", mp, {})
        archive_like_the_chain(object_store.get_store(), CALLS)
        report = compact(TIMER, None)
        assert report["updates"] == 2 * len(CALLS) and report["rows_written"] == len(CALLS), report
        yield api, compact
        object_store.reset_store()


@pytest.fixture(scope="module")
def world(moto_oss, tmp_path_factory):
    """Read-only tests share one seeded bucket."""
    with bucket_of_its_own(moto_oss, "archive-api-read", tmp_path_factory.mktemp("cache")) as fns:
        yield fns


@pytest.fixture
def fns(world):
    from shared.clients import object_store as store_module

    store_module.reset_store()  # the autouse settings reset drops the cached settings: same env, new client
    return world


@pytest.fixture
def changing(moto_oss, tmp_path, request):
    """Tests that change the index get a fresh bucket each."""
    name = "archive-api-" + request.node.name.split("_")[1][:8].lower() + str(abs(hash(request.node.name)) % 1000)
    with bucket_of_its_own(moto_oss, name, tmp_path) as fns:
        yield fns


ADMIN = mint_token("ops", SECRET, role="admin")


def get(api, path, token=ADMIN, **query):
    from tests.support import sample

    event = sample("fc_http_trigger_event.json")
    event.update(rawPath=path, body="", isBase64Encoded=False, queryParameters={k.replace("__", "."): str(v)
                                                                                for k, v in query.items()})
    event["requestContext"]["http"].update(method="GET", path=path)
    event["headers"] = {"Authorization": f"Bearer {token}"} if token else {}
    out = api(json.dumps(event).encode(), None)
    return out


def get_json(api, path, token=ADMIN, **query):
    out = get(api, path, token, **query)
    return out["statusCode"], json.loads(out["body"])


RANGE = {"since": "2026-11-01", "until": "2026-11-30"}


def ids(api, **query):
    status, out = get_json(api, "/api/v2/archive/calls", **{**RANGE, "limit": 200, **query})
    assert status == 200, out
    return [c["instance_id"] for c in out["calls"]]


def test_only_admin_jwts_may_read(fns):
    api, _ = fns
    for token, code in ((None, "MissingToken"), (mint_token("bob", SECRET), "AdminRoleRequired"),
                        (mint_token("ops", "another-secret-" + "y" * 32, role="admin"), "InvalidToken")):
        status, out = get_json(api, "/api/v2/archive/calls", token=token)
        assert (status, out["error_code"]) == (403, code), out
    status, out = get_json(api, "/api/v2/archive/calls/call-01", token=mint_token("bob", SECRET))
    assert status == 403 and "calls" not in out and "transcript" not in out


def test_the_list_newest_first_with_its_summary(fns):
    api, _ = fns
    status, out = get_json(api, "/api/v2/archive/calls", **RANGE)
    assert status == 200 and out["next_cursor"] is None
    assert [c["instance_id"] for c in out["calls"]] == [c[0] for c in reversed(CALLS)]
    first = out["calls"][-1]
    assert first["summary"] == "用户说：我想查询一下我的订单什么时候到" and first["status"] == "analysed"
    assert first["fields"] == {"user_intent": "information", "resolved": "yes"} and first["turns"] == 3
    assert first["user_id"] == "alice" and first["dt"] == "2026-11-20" and "transcript_text" not in first


@pytest.mark.parametrize("query, expected", [
    ({"ai_agent_id": "agent-b"}, {"call-03", "call-04", "call-10"}),
    ({"user_id": "alice"}, {"call-01", "call-03", "call-08", "call-12"}),
    ({"satisfaction": "dissatisfied"}, {"call-02", "call-04", "call-08", "call-12"}),
    ({"failed_rule": "Polite greeting"}, {"call-04", "call-12"}),
    ({"field__user_intent": "complaint"}, {"call-02", "call-04", "call-08", "call-12"}),
    ({"field__user_intent": "complaint", "field__resolved": "no", "user_id": "alice"}, {"call-08", "call-12"}),
    ({"q": "退款"}, {"call-02", "call-04"}),  # Chinese, in the transcript
    ({"q": "refund ORDER"}, {"call-08"}),  # every word, any case
    ({"q": "关于讲个"}, {"call-05"}),  # in the title only
    ({"q": "投诉 客服"}, {"call-12"}),
    ({"since": "2026-11-23", "until": "2026-11-24"}, {"call-07", "call-08", "call-09", "call-10"}),
    ({"status": "analysed", "ai_agent_id": "agent-c"}, {"call-07", "call-08"}),
    ({"q": "不存在的词"}, set()),
])
def test_every_filter(fns, query, expected):
    api, _ = fns
    assert set(ids(api, **query)) == expected


def test_pages_have_no_gaps_or_duplicates_and_cursors_are_bound_to_their_filters(fns):
    api, _ = fns
    seen, cursor, pages = [], None, 0
    while True:
        query = {**RANGE, "limit": 5, **({"cursor": cursor} if cursor else {})}
        status, out = get_json(api, "/api/v2/archive/calls", **query)
        assert status == 200, out
        seen += [c["instance_id"] for c in out["calls"]]
        pages += 1
        cursor = out["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and seen == [c[0] for c in reversed(CALLS)]
    status, out = get_json(api, "/api/v2/archive/calls", **RANGE, limit=5)
    status, other = get_json(api, "/api/v2/archive/calls", **RANGE, user_id="bob", cursor=out["next_cursor"])
    assert (status, other["error_code"]) == (400, "InvalidParameter") and other["message"].startswith("cursor:")


@pytest.mark.parametrize("query, field", [
    ({"since": "2026-13-01"}, "since"), ({"until": "yesterday"}, "until"),
    ({"since": "2026-11-30", "until": "2026-11-01"}, "until"), ({"limit": "0"}, "limit"), ({"limit": "201"}, "limit"),
    ({"limit": "ten"}, "limit"), ({"status": "lost"}, "status"), ({"user_id": "bob smith"}, "user_id"),
    ({"field__bad code": "x"}, "field.bad code"), ({"colour": "red"}, "colour"), ({"q": "x " * 9}, "q"),
    ({"cursor": "!!"}, "cursor"), ({"since": "2024-01-01", "until": "2026-01-01"}, "since"),
])
def test_bad_queries_are_400s_naming_the_parameter(fns, query, field):
    api, _ = fns
    status, out = get_json(api, "/api/v2/archive/calls", **query)
    assert status == 400 and out["message"].startswith(field + ":"), out


def test_the_detail_is_the_whole_call(fns):
    api, _ = fns
    status, out = get_json(api, "/api/v2/archive/calls/call-02")
    assert status == 200, out
    store = object_store.get_store()
    archived = json.loads(store.get(layout.call_log_key("2026-11-20", "call-02"))[0])
    assert out["transcript"] == [{k: t.get(k) for k in ("id", "role", "begin", "text", "type")}
                                 for t in archived["call_log"]["dialog"]]
    assert out["analyses"]["default"]["result"]["parsed"]["summary"] == "用户说：我要申请退款，商品坏了"
    assert [r["result"] for r in out["rules"]] == ["pass", "fail", "pass"]
    assert out["call"]["instance_id"] == "call-02" and out["dead_letters"] == []
    assert out["call_log"]["session_id"] == "s-call-02" and "call_log_key" not in out["call"]
    rec = out["recordings"][0]
    assert rec["turn_id"] == 2 and rec["present"] is True and rec["key"] == "recordings/call-02/2.wav"
    # The presigned URL fetches the audio without credentials.
    assert httpx.get(rec["url"]).content == b"RIFF....WAVEfmt "
    status, missing = get_json(api, "/api/v2/archive/calls/no-such-call")
    assert (status, missing["error_code"]) == (404, "CallNotFound")
    status, bad = get_json(api, "/api/v2/archive/calls/call-02", extra="1")
    assert status == 400 and bad["message"].startswith("extra:")


def test_stats_equal_the_rows(fns):
    api, _ = fns
    status, out = get_json(api, "/api/v2/archive/stats", **RANGE)
    assert status == 200 and out["calls"] == len(CALLS)
    assert sum(d["calls"] for d in out["per_day"]) == len(CALLS) and len(out["per_day"]) == 6
    assert out["satisfaction"] == {"satisfied": 5, "dissatisfied": 4, "neutral": 3}
    failed = {r: sum(1 for c in CALLS if c[6] == r) for r in RULES}
    assert {r["title"]: (r["checked"], r["failed"]) for r in out["rules"]} == {r: (12, failed[r]) for r in RULES}
    assert out["tokens"] == {"input": 1200, "output": 240, "total": 1440}
    durations = [9.0 + m for m in range(len(CALLS))]
    assert out["duration_s"]["max"] == max(durations) and out["duration_s"]["total"] == sum(durations)
    assert out["status"] == {"analysed": 12}
    assert {"word": "客服", "calls": 12} in out["keywords"]
    status, agent = get_json(api, "/api/v2/archive/stats", **RANGE, ai_agent_id="agent-c")
    assert agent["calls"] == 2 and agent["satisfaction"] == {"satisfied": 1, "dissatisfied": 1}


def test_exports_round_trip(fns):
    api, _ = fns
    status, listed = get_json(api, "/api/v2/archive/calls", **RANGE, limit=200, satisfaction="dissatisfied")
    expected = listed["calls"]
    out = get(api, "/api/v2/archive/export", **RANGE, satisfaction="dissatisfied", format="csv")
    assert out["statusCode"] == 200 and out["headers"]["X-Export-Rows"] == "4"
    assert out["headers"]["Content-Disposition"].startswith("attachment; filename=")
    body = out["body"].encode("utf-8")
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: spreadsheet tools then read the Chinese right
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [r["instance_id"] for r in rows] == [c["instance_id"] for c in expected]
    assert [r["summary"] for r in rows] == [c["summary"] for c in expected]
    assert [json.loads(r["fields"]) for r in rows] == [c["fields"] for c in expected]
    jl = get(api, "/api/v2/archive/export", **RANGE, satisfaction="dissatisfied", format="jsonl")
    assert [json.loads(line) for line in jl["body"].splitlines()] == expected
    pq = get(api, "/api/v2/archive/export", **RANGE, satisfaction="dissatisfied", format="parquet")
    assert pq["isBase64Encoded"] is True
    with tempfile.NamedTemporaryFile(suffix=".parquet") as f:
        f.write(base64.b64decode(pq["body"]))
        f.flush()
        got = duckdb.sql(f"SELECT instance_id, summary, satisfaction FROM read_parquet('{f.name}')").fetchall()
    assert got == [(c["instance_id"], c["summary"], c["satisfaction"]) for c in expected]
    status, bad = get_json(api, "/api/v2/archive/export", format="xml")
    assert status == 400 and bad["message"].startswith("format:")


def test_exports_are_cut_at_the_limit_and_say_so(moto_oss, tmp_path):
    with bucket_of_its_own(moto_oss, "archive-api-cut", tmp_path, ARCHIVE_EXPORT_MAX_ROWS="5") as (api, _):
        out = get(api, "/api/v2/archive/export", **RANGE, format="jsonl")
    assert out["headers"]["X-Export-Truncated"] == "true" and out["headers"]["X-Export-Rows"] == "5"
    assert len(out["body"].splitlines()) == 5


def test_later_updates_letters_and_erasure_reach_the_rows(changing):
    api, compact = changing
    store = object_store.get_store()
    day, instance = "2026-11-25", "call-11"
    index_rows.write_update(store, "letter", day, instance, index_rows.letter_fragment(
        {"stage": "analyze", "unit": {"profile": "summary-only"}, "error_code": "Throttled", "reason": "429",
         "failed_at": "2026-11-26T00:00:00Z"}))
    index_rows.write_update(store, "erased", day, "call-12", {})
    report = compact(TIMER, None)
    assert report["updates"] == 2 and report["days"] == [day]
    assert not list(store.list(layout.INDEX_UPDATES))  # applied updates are deleted
    status, out = get_json(api, "/api/v2/archive/calls", since=day, until=day)
    assert [c["instance_id"] for c in out["calls"]] == ["call-11"]
    assert out["calls"][0]["status"] == "analysis_failed"
    assert out["calls"][0]["dead_letters"][0]["error_code"] == "Throttled"
    assert set(ids(api)) == {c[0] for c in CALLS} - {"call-12"}


def test_compaction_takes_turns_and_skips_what_is_not_an_update(changing):
    _, compact = changing
    store = object_store.get_store()
    store.put(layout.INDEX_LEASE, json.dumps({"holder": "other", "expires_at": "2999-01-01T00:00:00+00:00"}).encode())
    index_rows.write_update(store, "archive", "2026-11-26", "late", {"archived_at": "2026-11-26T00:00:00Z"})
    assert compact(TIMER, None)["skipped"] == "another compaction holds the lease"
    store.put(layout.INDEX_LEASE, json.dumps({"holder": "dead", "expires_at": "2000-01-01T00:00:00+00:00"}).encode())
    store.put("warehouse/updates/dt=2026-11-26/late/garbage.json", b"{not json")
    store.put(layout.index_update_key("2026-11-26", "late", "archive", "20261126T000000Z", "deadbeef"), b"[]")
    report = compact(TIMER, None)
    assert report["skipped"] is None and report["updates"] == 2 and report["invalid"] == 2
    assert not list(store.list(layout.INDEX_UPDATES)) and store.head(layout.INDEX_LEASE) is None


PII_CALL = ("call-pii", "2026-11-26", "agent-a", "henry", "neutral", "task", None, "我的手机号是13812345678，请回电")


@pytest.mark.parametrize("mode", ["off", "analysis", "archive"])
def test_raw_text_only_for_admins_whose_token_says_pii(moto_oss, tmp_path, mode):
    with bucket_of_its_own(moto_oss, f"archive-api-pii-{mode}", tmp_path, REDACTION_MODE=mode) as (api, compact):
        archive_like_the_chain(object_store.get_store(), [PII_CALL])
        compact(TIMER, None)
        pii = mint_token("dpo", SECRET, role="admin", pii=True)
        answers = {}
        for who, token in (("admin", ADMIN), ("pii", pii)):
            _, listed = get_json(api, "/api/v2/archive/calls", token=token, since="2026-11-26", until="2026-11-26")
            _, detail = get_json(api, "/api/v2/archive/calls/call-pii", token=token)
            export = get(api, "/api/v2/archive/export", token=token, since="2026-11-26", until="2026-11-26",
                         format="csv")
            status, search = get_json(api, "/api/v2/archive/calls", token=token, q="13812345678", **RANGE)
            answers[who] = (listed, detail, export, status, search)
    # Without "pii": true, every text is redacted on the way out, whatever the archive holds.
    listed, detail, export, status, search = answers["admin"]
    shown = json.dumps([listed, detail], ensure_ascii=False) + export["body"]
    assert "13812345678" not in shown and "[手机号]" in detail["transcript"][1]["text"]
    assert listed["view"] == detail["view"] == export["headers"]["X-Archive-View"] == "redacted"
    assert (status, search["error_code"]) == (403, "PersonalDataSearch")  # no oracle either
    # With it: what the archive holds (the raw copy of REDACTION_MODE=archive is never served).
    listed, detail, export, status, search = answers["pii"]
    raw = mode != "archive"
    assert detail["view"] == ("raw" if raw else "redacted")
    assert ("13812345678" in detail["transcript"][1]["text"]) is raw
    if raw:
        assert status == 200 and [c["instance_id"] for c in search["calls"]] == ["call-pii"]
    else:
        assert (status, search["error_code"]) == (403, "PersonalDataSearch")


def test_a_day_file_of_an_older_schema_reads_with_nulls_and_counts_in_the_stats(changing):
    # A day file written before schema version 2 lacks its columns (completeness, latencies): the
    # mirror reads it next to current ones (those columns NULL), and the stats' keyword and rule
    # tables, built when the stats first need them, count its calls.
    api, _ = changing
    store = object_store.get_store()
    day = "2026-11-20"
    newer = [c for c in list(index_rows.COLUMNS)[-6:]]
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        current, older = f"{tmp}/current.parquet", f"{tmp}/older.parquet"
        with open(current, "wb") as f:
            f.write(store.get(layout.index_day_key(day))[0])
        keep = ", ".join(f'"{c}"' for c in index_rows.COLUMNS if c not in newer)
        con.execute(f"COPY (SELECT {keep} FROM read_parquet('{current}')) TO '{older}' (FORMAT parquet)")
        assert not set(newer) & {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM '{older}'").fetchall()}
        with open(older, "rb") as f:
            store.put(layout.index_day_key(day), f.read())
    status, out = get_json(api, "/api/v2/archive/calls", since=day, until=day)
    assert status == 200 and sorted(c["instance_id"] for c in out["calls"]) == ["call-01", "call-02"]
    assert all(c[col] is None for c in out["calls"] for col in newer if col in c)
    assert set(ids(api)) == {c[0] for c in CALLS}  # the other days, of the current schema, alongside
    status, stats = get_json(api, "/api/v2/archive/stats", since=day, until=day)
    assert status == 200 and stats["calls"] == 2, stats
    assert {r["title"]: r["failed"] for r in stats["rules"]}.get("Stays on topic") == 1, stats["rules"]
