"""archive_call_log through its real handler with real OSS-trigger events; OSS on moto,
ICE through the simulator (signature-checked)."""
import json

import pytest

from devkit.sandbox.observed_store import observe_process_store
from shared.archive import layout
from shared.archive.dead_letters import RetryLater
from shared.clients import object_store
from tests.chain import call_events, raw, trigger
from tests.support import Ctx, call, http_event, load_function, sample

CALL_LOG = sample("call_log.json")


@pytest.fixture
def functions(monkeypatch, chain_env):
    ingest = load_function("ingest_callback", monkeypatch, {})
    archive = load_function("archive_call_log", monkeypatch, {})
    return ingest, archive


def deliver(ingest, events):
    """Store a call's callbacks; return the key of its agent_stop event."""
    stop_key = None
    for ev in events:
        status, _, out = call(ingest, http_event(raw_body=raw(ev), path="/api/v2/aiagent/callback",
                                                 headers={"Authorization": "Bearer " + __import__("tests.chain").chain.CALLBACK_TOKEN}))
        assert status == 200, out
        if ev["event"] == "agent_stop":
            stop_key = out["key"]
    return stop_key


def test_finished_call_is_archived_with_metadata_and_recordings(functions, ice_sim):
    ingest, archive = functions
    stop_key = deliver(ingest, call_events("inst-a1"))
    ice_sim.add_instance("inst-a1", call_log={**CALL_LOG, "instanceid": "inst-a1"}, user_data='{"u":1}',
                         call_info={"CallType": "voice"})
    out = trigger(archive, stop_key)
    assert out["results"][0]["status"] == "archived"
    key = layout.call_log_key("2025-08-14", "inst-a1")
    doc = json.loads(object_store.get_store().get(key)[0])
    assert doc["call_log"] == {**CALL_LOG, "instanceid": "inst-a1"}
    assert doc["instance_id"] == "inst-a1" and doc["status"] == "Finished" and doc["user_data"] == '{"u":1}'
    assert doc["ai_agent_id"] and doc["call_info"] == {"CallType": "voice"} and "session_id" in doc
    assert [r["event"] for r in doc["recordings"]] == ["audio_record"]
    assert doc["recordings"][0]["locations"]["url"].endswith("/1.wav")
    assert doc["source"]["stop_event_key"] == stop_key


def test_duplicate_trigger_archives_once_without_calling_ice_again(functions, ice_sim):
    ingest, archive = functions
    stop_key = deliver(ingest, call_events("inst-dup2"))
    ice_sim.add_instance("inst-dup2", call_log={**CALL_LOG, "instanceid": "inst-dup2"})
    assert trigger(archive, stop_key)["results"][0]["status"] == "archived"
    before = ice_sim.count("DescribeAIAgentInstance")
    assert trigger(archive, stop_key)["results"][0]["status"] == "already_archived"
    assert ice_sim.count("DescribeAIAgentInstance") == before
    keys = [o.key for o in object_store.get_store().list(layout.CALL_LOGS) if "inst-dup2" in o.key]
    assert len(keys) == 1


def test_early_agent_stop_is_retried_then_archived(functions, ice_sim):
    ingest, archive = functions
    stop_key = deliver(ingest, call_events("inst-early"))
    ice_sim.add_instance("inst-early", status="Executing")
    with pytest.raises(Exception, match="not ready"):
        trigger(archive, stop_key)
    ice_sim.add_instance("inst-early", status="Finished", call_log={**CALL_LOG, "instanceid": "inst-early"})
    assert trigger(archive, stop_key)["results"][0]["status"] == "archived"


def test_never_finished_ends_in_a_dead_letter_after_max_attempts(monkeypatch, chain_env, ice_sim):
    ingest = load_function("ingest_callback", monkeypatch, {})
    archive = load_function("archive_call_log", monkeypatch, {"ARCHIVE_MAX_ATTEMPTS": "3"})
    stop_key = deliver(ingest, call_events("inst-never"))
    ice_sim.add_instance("inst-never", status="Executing")
    for _ in range(2):
        with pytest.raises(RetryLater):
            trigger(archive, stop_key)
    out = trigger(archive, stop_key)
    assert out["results"][0]["status"] == "dead_letter"
    letter = json.loads(object_store.get_store().get(out["results"][0]["key"])[0])
    assert letter["attempts"] == 3 and "not ready" in letter["reason"] and letter["source_key"] == stop_key
    assert out["results"][0]["key"].startswith(layout.FAILED)


@pytest.mark.parametrize("setup, reason", [
    (dict(call_log_url="https://evil.example.com/log.json"), "CALL_LOG_ALLOWED_HOSTS"),
    (dict(call_log_url="http://bucket.oss-cn-shanghai.aliyuncs.com/log.json"), "only https"),
    (dict(call_log_url="https://user@bucket.oss-cn-shanghai.aliyuncs.com/log.json"), "userinfo"),
    (dict(call_log_url="https://10.0.0.1/log.json"), "IP literal"),
    (dict(call_log_raw=b"<html>not json</html>"), "not JSON"),
    (dict(call_log={"instanceid": "x", "dialog": "not a list"}), "dialog"),
    (dict(call_log={**CALL_LOG, "dialog": [{"text": "x" * 4000, "role": "user", "begin": 1, "id": i}
                                           for i in range(10)]}), "limit"),
])
def test_refused_call_logs_are_dead_lettered_with_the_reason(monkeypatch, chain_env, ice_sim, setup, reason):
    ingest = load_function("ingest_callback", monkeypatch, {})
    env = {"CALL_LOG_MAX_BYTES": "20000"}
    if "call_log_url" in setup:
        env["CALL_LOG_ALLOW_INSECURE"] = "false"
    archive = load_function("archive_call_log", monkeypatch, env)
    inst = "inst-refused-" + str(abs(hash(reason)) % 10_000)
    stop_key = deliver(ingest, call_events(inst))
    ice_sim.add_instance(inst, **setup)
    out = trigger(archive, stop_key)
    result = out["results"][0]
    assert result["status"] == "dead_letter", result
    letter = json.loads(object_store.get_store().get(result["key"])[0])
    assert reason in letter["reason"]
    assert object_store.get_store().head(layout.call_log_key("2025-08-14", inst)) is None


def test_only_stop_events_are_archived_and_only_call_logs_written(functions, ice_sim):
    ingest, archive = functions
    deliver(ingest, call_events("inst-only"))
    ice_sim.add_instance("inst-only", call_log={**CALL_LOG, "instanceid": "inst-only"})
    written = []
    observe_process_store([lambda b, k, r, s: written.append(k)])
    try:
        start_key = next(o.key for o in object_store.get_store().list(layout.CALLBACKS)
                         if "inst-only" in o.key and o.key.endswith("agent_start.json"))
        assert trigger(archive, start_key)["results"][0]["status"] == "skipped"
        stop_key = next(o.key for o in object_store.get_store().list(layout.CALLBACKS)
                        if "inst-only" in o.key and o.key.endswith("agent_stop.json"))
        trigger(archive, stop_key)
    finally:
        object_store.reset_store()
    analyzed = [k for k in written if k.startswith(layout.TRIGGERS["analyze_conversation"][0])]
    assert analyzed == [layout.call_log_key("2025-08-14", "inst-only")]


def test_malformed_trigger_event_is_dropped_not_retried(functions):
    _, archive = functions
    out = archive(b"not json", Ctx())
    assert out["results"] == [] and "error" in out
