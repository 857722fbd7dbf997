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
    assert letter["error_code"] == "CallLogNotReady"
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


# --- every exception the archive step can meet ends in a retry or a dead letter ------------------------


def _fetch_path_errors() -> list[BaseException]:
    """Every exception class httpx exports (its hierarchy, enumerated), plus what the
    standard library can raise under a download (decoding, decompression, I/O)."""
    import inspect
    import zlib

    import httpx

    request = httpx.Request("GET", "https://bucket.oss-cn-shanghai.aliyuncs.com/l.json?Signature=s3cr3t")
    variants: list[tuple[tuple, dict]] = [(("boom",), {"request": request, "response": httpx.Response(500)}),
                                          (("boom",), {"request": request}), (("boom",), {}), ((), {})]
    out: list[BaseException] = []
    for cls in sorted((c for c in vars(httpx).values() if inspect.isclass(c) and issubclass(c, Exception)),
                      key=lambda c: c.__name__):
        for args, kwargs in variants:
            try:
                out.append(cls(*args, **kwargs))
                break
            except TypeError:
                continue
    assert len(out) >= 28, out  # the whole hierarchy, not a hand-picked few
    return out + [ValueError("v"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
                  zlib.error("Error -3 while decompressing data: incorrect header check"),
                  OSError(5, "Input/output error"), ConnectionResetError(104, "Connection reset by peer"),
                  TimeoutError("t"), RecursionError("r"), RuntimeError("r"), KeyError("k"), TypeError("t")]


def _name(exc: BaseException) -> str:
    return f"{type(exc).__module__}-{type(exc).__name__}".replace(".", "-").replace("builtins-", "")


@pytest.mark.parametrize("exc", _fetch_path_errors(), ids=_name)
def test_every_exception_of_the_fetch_path_ends_in_a_retry_or_a_dead_letter(monkeypatch, chain_env, ice_sim, exc):
    import httpx

    archive = load_function("archive_call_log", monkeypatch, {"ARCHIVE_MAX_ATTEMPTS": "2"})
    inst = f"inst-exc-{_name(exc).lower()}"
    stop = call_events(inst)[-1]  # stored as ingest_callback stores it (tested there), to keep this fast
    stop_key = layout.callback_key(inst, "agent_stop", stop["timestamp"], stop)
    object_store.get_store().put(stop_key, raw(stop).encode())
    ice_sim.add_instance(inst, call_log={**CALL_LOG, "instanceid": inst})
    original = httpx.Client.stream

    def stream(self, method, url, **kwargs):
        if "/call-logs/" in str(url):  # the call-log download only (not ICE, not the store)
            raise exc
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(httpx.Client, "stream", stream)
    outcomes = []
    for _ in range(2):  # FC: the first invocation and its retries, ARCHIVE_MAX_ATTEMPTS in all
        try:
            result = trigger(archive, stop_key)["results"][0]
        except RetryLater:
            outcomes.append("retry")
            continue
        outcomes.append(result["status"])
        break
    assert outcomes in (["dead_letter"], ["retry", "dead_letter"]), outcomes
    store = object_store.get_store()
    letters = [json.loads(store.get(o.key)[0]) for o in store.list(layout.date_prefix("failed/archive/", "2025-08-14"))
               if f"/{inst}-" in o.key]
    (letter,) = letters
    assert letter["source_key"] == stop_key and letter["error_code"] and letter["reason"]
    assert "s3cr3t" not in json.dumps(letter)
    if outcomes == ["dead_letter"]:
        assert letter["error_code"] == "CallLogRefused"
    elif letter["error_code"].startswith("Unexpected."):
        assert type(exc).__name__ in letter["reason"]
    else:
        assert letter["error_code"] == "CallLogFetchFailed"
    assert [o.key for o in store.list("failed/archive/attempts/") if f"/{inst}-" in o.key] == []


def test_malformed_gzip_call_log_is_dead_lettered_through_the_handler(monkeypatch, chain_env, ice_sim):
    """A real malformed compressed body (httpx raises DecodingError while reading it)."""
    import httpx

    ingest = load_function("ingest_callback", monkeypatch, {})
    archive = load_function("archive_call_log", monkeypatch, {})
    stop_key = deliver(ingest, call_events("inst-gzip"))
    ice_sim.add_instance("inst-gzip", call_log={**CALL_LOG, "instanceid": "inst-gzip"})
    original = httpx.Client.stream

    def stream(self, method, url, **kwargs):
        if "/call-logs/" not in str(url):
            return original(self, method, url, **kwargs)
        bad = httpx.Client(transport=httpx.MockTransport(
            lambda r: httpx.Response(200, headers={"content-encoding": "gzip"}, content=b"\x1f\x8bnot gzip")))
        return original(bad, method, url, **kwargs)

    monkeypatch.setattr(httpx.Client, "stream", stream)
    result = trigger(archive, stop_key)["results"][0]
    assert result["status"] == "dead_letter"
    letter = json.loads(object_store.get_store().get(result["key"])[0])
    assert letter["error_code"] == "CallLogRefused" and "could not be decoded" in letter["reason"]


def test_missing_stop_event_object_is_dead_lettered_not_lost(functions, ice_sim):
    """A trigger for a stop event that is not (or no longer) in the bucket."""
    _, archive = functions
    body = {"aiAgentId": "a", "instanceId": "inst-gone", "event": "agent_stop", "timestamp": "2025-08-14T02:00:00Z"}
    key = layout.callback_key("inst-gone", "agent_stop", body["timestamp"], body)
    from devkit.sandbox import oss_events

    event = oss_events.build(object_store.get_store().bucket, key, size=10, etag="ABC")
    result = archive(json.dumps(event).encode(), Ctx(name="triggered"))["results"][0]
    assert result["status"] == "dead_letter"
    letter = json.loads(object_store.get_store().get(result["key"])[0])
    assert letter["error_code"] == "StopEventMissing" and letter["source_key"] == key
    assert ice_sim.count("DescribeAIAgentInstance") == 0


def test_non_json_stop_event_object_is_dead_lettered(functions, ice_sim):
    _, archive = functions
    body = {"aiAgentId": "a", "instanceId": "inst-nj", "event": "agent_stop", "timestamp": "2025-08-14T02:00:00Z"}
    key = layout.callback_key("inst-nj", "agent_stop", body["timestamp"], body)
    object_store.get_store().put(key, b"{not json")
    result = trigger(archive, key)["results"][0]
    assert result["status"] == "dead_letter"
    assert json.loads(object_store.get_store().get(result["key"])[0])["error_code"] == "StopEventInvalid"


def test_unknown_instance_is_dead_lettered_at_once(functions, ice_sim):
    """ICE answers NotFound: retrying cannot fix it, so no ARCHIVE_MAX_ATTEMPTS retries."""
    ingest, archive = functions
    stop_key = deliver(ingest, call_events("inst-unknown"))  # the simulator has no such instance
    result = trigger(archive, stop_key)["results"][0]
    assert result["status"] == "dead_letter"
    letter = json.loads(object_store.get_store().get(result["key"])[0])
    assert letter["error_code"] == "InvalidInstanceId.NotFound" and letter["attempts"] is None
    assert ice_sim.count("DescribeAIAgentInstance") == 1


def test_forged_early_stop_events_do_not_dead_letter_the_genuine_one(monkeypatch, chain_env, ice_sim):
    from datetime import datetime, timezone

    from tests.chain import callback

    ingest = load_function("ingest_callback", monkeypatch, {})
    archive = load_function("archive_call_log", monkeypatch, {"ARCHIVE_MAX_ATTEMPTS": "3"})
    ice_sim.add_instance("inst-forged", status="Executing")
    for i in range(3):  # early, different stop events: each its own unit of work
        forged = callback("inst-forged", "agent_stop", datetime(2025, 8, 14, 1, 0, i, tzinfo=timezone.utc))
        key = deliver(ingest, [forged])
        for _ in range(2):
            with pytest.raises(RetryLater):
                trigger(archive, key)
    stop_key = deliver(ingest, call_events("inst-forged"))
    with pytest.raises(RetryLater):  # the genuine event's first attempt: not a dead letter
        trigger(archive, stop_key)
    ice_sim.add_instance("inst-forged", status="Finished", call_log={**CALL_LOG, "instanceid": "inst-forged"})
    assert trigger(archive, stop_key)["results"][0]["status"] == "archived"
    store = object_store.get_store()
    assert not [o.key for o in store.list("failed/archive/dt=") if "/inst-forged-" in o.key]
    # The genuine event's counter went with its success; the forged ones' are still counting.
    assert len([o.key for o in store.list("failed/archive/attempts/") if "/inst-forged-" in o.key]) == 3
