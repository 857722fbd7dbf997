"""The call index's rows (shared/archive/index_rows.py): what the archive and analyse steps put in a
row, merging updates in any order, the schema as documented, and the update keys."""
import itertools
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.archive import index_rows, layout
from tests.support import sample

DOCS = Path(__file__).resolve().parents[2] / "docs" / "archive-index.md"
DT = "2025-08-14"
ID = "inst-1"


def call_log_doc(**over):
    doc = {"schema": "aicall.call-log/1", "instance_id": ID, "ai_agent_id": "agent-a", "session_id": "s-1",
           "call_info": None, "call_log": sample("call_log.json"), "recordings": [{"event": "audio_record"}],
           "redaction": {"mode": "off"}, "archived_at": "2025-08-14T02:30:00Z"}
    doc.update(over)
    return doc


def analysis_doc(parsed, types=("summary", "title", "keywords", "fields", "satisfaction", "service_inspection"),
                 at="2025-08-14T02:31:00Z", profile="default"):
    return {"status": "analysed", "profile": {"name": profile, "version": 3, "hash": "abc"},
            "result_types": list(types), "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
            "result": {"text": json.dumps(parsed, ensure_ascii=False) if not isinstance(parsed, str) else parsed,
                       "parsed": parsed if not isinstance(parsed, str) else None},
            "analysed_at": at}


PARSED = {"summary": "用户想换个故事。", "title": "儿童故事", "keywords": ["故事", "森林"],
          "fields": {"user_intent": "entertainment", "resolved": "yes"}, "satisfaction": {"satisfaction": "satisfied"},
          "service_inspection": [{"title": "Polite greeting", "result": "pass", "reason": "greeted"},
                                 {"title": "Stays on topic", "result": "不通过", "reason": "跑题"},
                                 {"title": "No unsafe advice", "passed": True}]}


def update(kind, fragment, at):
    return index_rows.update_doc(kind, ID, DT, fragment, at=at)


def test_the_archive_part_of_a_row_comes_from_the_archived_call_log():
    frag = index_rows.archive_fragment(call_log_doc(), key=layout.call_log_key(DT, ID), user_id="alice")
    turns = sample("call_log.json")["dialog"]
    assert frag["user_id"] == "alice" and frag["ai_agent_id"] == "agent-a" and frag["session_id"] == "s-1"
    assert frag["turns"] == len(turns) and frag["user_turns"] + frag["agent_turns"] == len(turns)
    assert frag["started_at"] == "2025-08-14T02:21:12.245619Z"  # the call log's startTime (epoch seconds)
    assert frag["duration_s"] == max(t["begin"] for t in turns)  # no CallInfo: the last turn's start
    assert frag["transcript_text"].splitlines()[1] == "user: 講個有趣的兒童故事。"
    assert frag["recordings"] == 1 and frag["redaction_mode"] == "off" and frag["hangup_role"] is None
    # Without an owner record the call log's remote user is the row's user.
    assert index_rows.archive_fragment(call_log_doc(), key="k", user_id=None)["user_id"] == "210413545"


def test_call_info_wins_for_times_duration_and_hang_up_role():
    info = {"CallStartTime": 1755138000000, "CallEndTime": 1755138090000, "CallDuration": 90, "HangupRole": 1}
    frag = index_rows.archive_fragment(call_log_doc(call_info=json.dumps(info), call_log={"dialog": []}), key="k",
                                       user_id=None)
    assert (frag["started_at"], frag["ended_at"]) == ("2025-08-14T02:20:00.000000Z", "2025-08-14T02:21:30.000000Z")
    assert (frag["duration_s"], frag["hangup_role"], frag["turns"]) == (90.0, "user", 0)


def test_the_analysis_part_reads_every_result_type_defensively():
    frag = index_rows.analysis_fragment(analysis_doc(PARSED), key="a")
    assert frag["summary"] == "用户想换个故事。" and frag["title"] == "儿童故事" and frag["keywords"] == ["故事", "森林"]
    assert frag["satisfaction"] == "satisfied"
    assert frag["fields"] == [{"code": "user_intent", "value": "entertainment"}, {"code": "resolved", "value": "yes"}]
    assert [r["result"] for r in frag["rules"]] == ["pass", "fail", "pass"]
    assert frag["failed_rules"] == ["Stays on topic"]
    assert (frag["profile"], frag["profile_version"], frag["total_tokens"]) == ("default", 3, 15)
    # One result type: the bare value (here CCAI's plain-text summary, as in its documented answer).
    text = sample("ccai_analyze_conversation_response.json")["text"]
    one = index_rows.analysis_fragment(analysis_doc(text, types=("summary",)), key="a")
    assert one["summary"] == text and one["rules"] == [] and one["title"] is None
    # Nothing parseable: an empty analysis part, never an error.
    bad = index_rows.analysis_fragment({"result": {"parsed": [1, 2]}, "result_types": ["a", "b"]}, key="a")
    assert bad["summary"] is None and bad["fields"] == [] and bad["analysis_key"] == "a"


def test_a_row_from_its_updates_and_its_status():
    arch = update("archive", index_rows.archive_fragment(call_log_doc(), key="c", user_id="u"), "2025-08-14T02:30:00Z")
    ana = update("analysis", index_rows.analysis_fragment(analysis_doc(PARSED), key="a"), "2025-08-14T02:31:00Z")
    row = index_rows.apply(index_rows.apply(None, arch), ana)
    assert row["status"] == "analysed" and row["profiles"] == ["default"] and row["summary"] == PARSED["summary"]
    assert set(row) == set(index_rows.COLUMNS)
    letter = update("letter", index_rows.letter_fragment({"stage": "analyze", "unit": {"profile": "other"},
                                                          "error_code": "Throttled", "reason": "too many",
                                                          "failed_at": "2025-08-14T03:00:00Z"}), "2025-08-14T03:00:00Z")
    failed = index_rows.apply(row, letter)
    assert failed["status"] == "analysis_failed" and failed["dead_letters"][0]["profile"] == "other"
    # The other profile's analysis succeeds later: its letter is resolved.
    later = update("analysis", index_rows.analysis_fragment(analysis_doc(PARSED, at="2025-08-14T04:00:00Z",
                                                                         profile="other"), key="b"),
                   "2025-08-14T04:00:00Z")
    done = index_rows.apply(failed, later)
    assert done["status"] == "analysed" and done["dead_letters"] == [] and done["profiles"] == ["default", "other"]
    assert done["analysis_key"] == "b"  # the newest analysis is the row's
    assert index_rows.apply(done, update("erased", {}, "2025-08-14T05:00:00Z")) is None
    # An archive that failed: a row with only its letter.
    only = index_rows.apply(None, update("letter", index_rows.letter_fragment(
        {"stage": "archive", "error_code": "CallLogNotReady", "failed_at": "2025-08-14T03:00:00Z"}), "x"))
    assert only["status"] == "archive_failed" and only["archived_at"] is None


UPDATES = [
    ("archive", lambda: index_rows.archive_fragment(call_log_doc(), key="c", user_id="u"), "2025-08-14T02:30:00Z"),
    ("letter", lambda: index_rows.letter_fragment({"stage": "analyze", "unit": {"profile": "default"},
                                                   "error_code": "E1", "failed_at": "2025-08-14T02:30:30Z"}),
     "2025-08-14T02:30:30Z"),
    ("analysis", lambda: index_rows.analysis_fragment(analysis_doc(PARSED), key="a"), "2025-08-14T02:31:00Z"),
    ("analysis", lambda: index_rows.analysis_fragment(analysis_doc({"summary": "newer"}, types=("summary", "title"),
                                                                   at="2025-08-14T02:40:00Z"), key="a2"),
     "2025-08-14T02:40:00Z"),
    ("letter", lambda: index_rows.letter_fragment({"stage": "analyze", "unit": {"profile": "x"}, "error_code": "E2",
                                                   "failed_at": "2025-08-14T02:50:00Z"}), "2025-08-14T02:50:00Z"),
]


def fold(order):
    row = None
    for i in order:
        kind, frag, at = UPDATES[i]
        row = index_rows.apply(row, update(kind, frag(), at))
    return {k: v for k, v in row.items() if k != "updated_at"}


def test_updates_merge_to_the_same_row_in_any_order_and_repeated():
    expected = fold(range(len(UPDATES)))
    assert expected["summary"] == "newer" and expected["analysis_key"] == "a2"
    assert [d["error_code"] for d in expected["dead_letters"]] == ["E2"]  # E1 was resolved by the analysis
    assert expected["status"] == "analysis_failed"
    for order in itertools.permutations(range(len(UPDATES))):
        assert fold(order) == expected, order


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(UPDATES) - 1), min_size=1, max_size=12))
def test_applying_an_update_again_changes_nothing(seq):
    once = fold(sorted(set(seq)))
    assert fold(seq + sorted(set(seq))) == once


def test_the_documented_schema_is_the_code_s():
    text = DOCS.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| `([^`]+)` \|", text, re.M)
    assert rows == list(index_rows.COLUMNS.items())
    assert f"schema version {index_rows.SCHEMA_VERSION}" in text


def test_update_keys_round_trip_and_refuse_what_is_not_one():
    key = layout.index_update_key(DT, ID, "analysis", "20250814T023100.123456Z", "0123abcd")
    assert key == f"warehouse/updates/dt={DT}/{ID}/20250814T023100.123456Z-analysis-0123abcd.json"
    assert layout.parse_index_update_key(key) == (DT, ID, "analysis")
    for bad in (key.replace("analysis", "Bad"), key.replace(".json", ".txt"), "warehouse/updates/x.json"):
        with pytest.raises(ValueError):
            layout.parse_index_update_key(bad)
    with pytest.raises(ValueError):
        layout.index_update_key(DT, "../x", "archive", "20250814T023100Z", "0123abcd")
    assert layout.index_day_key(DT) == f"warehouse/calls/dt={DT}/calls.parquet"


def test_write_update_writes_a_new_object_each_time():
    from tests.fakes import MemoryStore

    store = MemoryStore()
    a = index_rows.write_update(store, "archive", DT, ID, {"x": 1})
    b = index_rows.write_update(store, "archive", DT, ID, {"x": 1})
    assert a != b and layout.parse_index_update_key(a) == (DT, ID, "archive")
    assert json.loads(store.get(a)[0])["row"] == {"x": 1}
