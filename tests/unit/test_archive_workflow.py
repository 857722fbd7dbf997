"""shared.archive.workflow.archive_call against the in-memory fakes (tests/fakes.py): no sockets."""
import json
from typing import Any

import pytest

from shared.archive import layout
from shared.archive.call_log import validate_call_log
from shared.archive.dead_letters import RetryLater
from shared.archive.workflow import Outcome, archive_call
from shared.clients.safe_fetch import FetchFailed, Refused
from shared.errors import StorageError, UpstreamTimeout
from shared.settings import ArchiveSettings, load
from tests.fakes import FakeIce, MemoryStore
from tests.support import sample

INST, DT = "inst-1", "2025-08-14"
URL = "https://bucket.oss-cn-shanghai.aliyuncs.com/logs/inst-1.json?Signature=x"
CALL_LOG = {**sample("call_log.json"), "instanceid": INST}
TARGET = layout.call_log_key(DT, INST)
ATTEMPTS = layout.attempts_key("archive", INST)


class FakeFetch:
    """Stands in for safe_fetch.fetch_json: returns `result` (or raises it), records each call."""

    def __init__(self, result: Any = CALL_LOG) -> None:
        self.result = result
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, url: str, **kwargs: Any) -> Any:
        self.calls.append((url, kwargs))
        if isinstance(self.result, Exception):
            raise self.result
        return json.loads(json.dumps(self.result))


def put_callback(store: MemoryStore, event: str, ts: str, instance_id: str = INST, **fields: Any) -> str:
    body = {"aiAgentId": "agent-7", "instanceId": instance_id, "event": event, "code": 1000, "timestamp": ts,
            "userData": '{"from": "stop"}', "extendData": {}, **fields}
    key = layout.callback_key(instance_id, event, ts, body)
    store.seed(key, body)
    return key


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore("archive-bucket")


@pytest.fixture
def ice() -> FakeIce:
    ice = FakeIce()
    ice.set_instance(INST, call_log_url=URL, UserData='{"u": 1}', SessionId="sess-1",
                     CallInfo={"CallType": "voice"}, GmtCreate="2025-08-13T23:58:00Z",
                     GmtModified="2025-08-14T00:10:05Z")
    return ice


@pytest.fixture
def stop_key(store: MemoryStore) -> str:
    return put_callback(store, "agent_stop", "2025-08-14T00:10:00Z")


def settings(**env: str) -> ArchiveSettings:
    return load(ArchiveSettings, {"ARCHIVE_MAX_ATTEMPTS": "3", **env})


def run(store: MemoryStore, ice: FakeIce, key: str, fetch: FakeFetch | None = None, **env: str) -> Outcome:
    return archive_call(store, ice, settings(**env), key, validate=validate_call_log,
                        fetch=fetch or FakeFetch(), deadline=123.0)


def dead_letters(store: MemoryStore) -> list[dict]:
    return [store.json(k) for k in store.keys(layout.date_prefix("failed/archive/", DT))]


def test_finished_call_is_archived_once_with_metadata_log_and_recordings(store, ice, stop_key):
    before = put_callback(store, "audio_record", "2025-08-13T23:59:50.250Z",
                          data={"role": "user", "ossUrl": "oss://rec/inst-1/0.wav", "duration": 1.5, "text": "hi"},
                          extendData={"sentenceId": 4})
    same_day = put_callback(store, "full_audio_record", "2025-08-14T00:10:01Z",
                            data=json.dumps({"AudioOssPath": "rec/inst-1/full.mp3", "format": "mp3"}))
    put_callback(store, "chat_record", "2025-08-14T00:00:01Z", data={"text": "not a recording"})
    put_callback(store, "audio_record", "2025-08-12T23:00:00Z", data={"url": "https://x.aliyuncs.com/old.wav"})
    put_callback(store, "audio_record", "2025-08-14T00:00:02Z", instance_id="inst-2",
                 data={"url": "https://x.aliyuncs.com/other.wav"})
    fetch = FakeFetch()

    out = run(store, ice, stop_key, fetch)

    assert out == Outcome("archived", TARGET)
    assert store.writes == [TARGET]
    assert ice.calls == [("DescribeAIAgentInstance", {"InstanceId": INST, "_region": None, "_deadline": 123.0})]
    s = settings()
    assert fetch.calls == [(URL, {"allowed_hosts": s.CALL_LOG_ALLOWED_HOSTS, "max_bytes": s.CALL_LOG_MAX_BYTES,
                                  "timeout": s.CALL_LOG_TIMEOUT_SECONDS, "allow_insecure": False})]
    doc = store.json(TARGET)
    assert {k: doc[k] for k in ("schema", "instance_id", "ai_agent_id", "user_data", "status", "session_id",
                                "call_info", "gmt_create", "gmt_modified")} == {
        "schema": "aicall.call-log/1", "instance_id": INST, "ai_agent_id": "agent-7", "user_data": '{"u": 1}',
        "status": "Finished", "session_id": "sess-1", "call_info": {"CallType": "voice"},
        "gmt_create": "2025-08-13T23:58:00Z", "gmt_modified": "2025-08-14T00:10:05Z"}
    assert doc["call_log"] == CALL_LOG
    assert doc["source"] == {"stop_event_key": stop_key, "call_log_host": "bucket.oss-cn-shanghai.aliyuncs.com"}
    assert doc["recordings"] == [
        {"event": "audio_record", "timestamp": "2025-08-13T23:59:50.250Z", "callback_key": before,
         "role": "user", "duration": 1.5, "locations": {"ossUrl": "oss://rec/inst-1/0.wav"}, "sentenceId": 4},
        {"event": "full_audio_record", "timestamp": "2025-08-14T00:10:01Z", "callback_key": same_day,
         "locations": {"AudioOssPath": "rec/inst-1/full.mp3"}, "format": "mp3"},
    ]
    assert doc["archived_at"].endswith("Z")


def test_user_data_falls_back_to_the_stop_event_when_ice_has_none(store, stop_key):
    ice = FakeIce()
    ice.set_instance(INST, call_log_url=URL)
    assert run(store, ice, stop_key).status == "archived"
    doc = store.json(TARGET)
    assert doc["user_data"] == '{"from": "stop"}' and doc["session_id"] is None and doc["recordings"] == []


def test_already_archived_call_costs_one_head_and_no_ice_call(store, ice, stop_key):
    store.seed(TARGET, {"schema": "aicall.call-log/1", "instance_id": INST})
    fetch = FakeFetch()
    assert run(store, ice, stop_key, fetch) == Outcome("already_archived", TARGET)
    assert store.ops == [("head", TARGET)]
    assert ice.calls == [] and fetch.calls == [] and store.writes == []
    assert store.json(TARGET) == {"schema": "aicall.call-log/1", "instance_id": INST}


@pytest.mark.parametrize("key, reason", [
    (layout.callback_key(INST, "chat_record", "2025-08-14T00:00:00Z", {}), "event chat_record does not finish a call"),
    (layout.callback_key(INST, "pre_agent_stop", "2025-08-14T00:00:00Z", {}), "event pre_agent_stop does not"),
    (TARGET, "not a callback key"),
    ("callbacks/dt=2025-08-14/inst-1/garbage-agent_stop.json", "not a callback key"),
])
def test_other_events_and_keys_are_skipped_without_any_io(store, ice, key, reason):
    out = run(store, ice, key)
    assert out.status == "skipped" and out.key is None and str(out.reason).startswith(reason)
    assert store.ops == [] and ice.calls == []


@pytest.mark.parametrize("status, url, says", [
    ("Executing", URL, "instance status is Executing and CallLogUrl is set"),
    ("Finished", "", "instance status is Finished and CallLogUrl is empty"),
])
def test_instance_not_ready_asks_for_a_retry_and_counts_the_attempt(store, ice, stop_key, status, url, says):
    ice.set_instance(INST, status=status, call_log_url=url)
    fetch = FakeFetch()
    for attempt in (1, 2):
        with pytest.raises(RetryLater, match=says):
            run(store, ice, stop_key, fetch)
        assert store.json(ATTEMPTS)["attempts"] == attempt
    assert fetch.calls == [] and ice.count() == 2
    assert store.keys("call-logs/") == [] and dead_letters(store) == []


@pytest.mark.parametrize("cause, error_code, says", [
    ("not-ready", "RetryLater", "not ready"),
    (FetchFailed("HTTP 503 from the call log host"), "FetchFailed", "HTTP 503"),
    (UpstreamTimeout("ICE did not answer in time", error_code="ICE.Timeout"), "ICE.Timeout", "did not answer"),
])
def test_transient_failures_end_in_one_dead_letter_after_max_attempts(store, ice, stop_key, cause, error_code, says):
    fetch = FakeFetch(cause if isinstance(cause, FetchFailed) else CALL_LOG)
    if cause == "not-ready":
        ice.set_instance(INST, status="Executing", call_log_url="")
    elif isinstance(cause, UpstreamTimeout):
        ice.fail(INST, cause)
    for _ in range(2):
        with pytest.raises(RetryLater, match=says):
            run(store, ice, stop_key, fetch)
    out = run(store, ice, stop_key, fetch)
    assert out.status == "dead_letter" and says in str(out.reason)
    assert str(out.key).startswith(f"failed/archive/dt={DT}/{INST}-")
    (letter,) = dead_letters(store)
    assert {k: letter[k] for k in ("stage", "instance_id", "source_key", "error_code", "attempts")} == {
        "stage": "archive", "instance_id": INST, "source_key": stop_key, "error_code": error_code, "attempts": 3}
    assert says in letter["reason"]
    # A further trigger does not write a second dead letter nor an archive.
    assert run(store, ice, stop_key, fetch).key == out.key
    assert dead_letters(store) == [letter] and store.keys("call-logs/") == []


@pytest.mark.parametrize("fetched, says", [
    (Refused("host evil.example.com is not in CALL_LOG_ALLOWED_HOSTS"), "CALL_LOG_ALLOWED_HOSTS"),
    ({"instanceid": INST, "dialog": "not a list"}, "call log invalid: dialog"),
    (["not", "an", "object"], "call log is not a JSON object"),
])
def test_refused_call_log_is_dead_lettered_at_once_with_the_reason(store, ice, stop_key, fetched, says):
    out = run(store, ice, stop_key, FakeFetch(fetched))
    assert out.status == "dead_letter" and says in str(out.reason)
    (letter,) = dead_letters(store)
    assert letter["error_code"] == "CallLogRefused" and says in letter["reason"] and letter["attempts"] is None
    assert store.keys("call-logs/") == [] and store.head(ATTEMPTS) is None
    assert ice.count() == 1


@pytest.mark.parametrize("op, prefix", [
    ("head", "call-logs/"),  # the already-archived check
    ("get", "callbacks/"),  # reading the stop event
    ("list", "callbacks/"),  # indexing the recordings
    ("put", "call-logs/"),  # writing the archive
])
def test_storage_error_propagates_and_nothing_is_half_written(store, ice, stop_key, op, prefix):
    store.fail_next(op, key_prefix=prefix)
    with pytest.raises(StorageError, match=f"injected {op} failure"):
        run(store, ice, stop_key)
    assert store.keys("call-logs/") == [] and store.keys("failed/") == []
    # The store is back: the retry FC makes archives the call, counting no failed attempt.
    assert run(store, ice, stop_key) == Outcome("archived", TARGET)
    assert store.head(ATTEMPTS) is None and dead_letters(store) == []


def test_attempts_left_by_earlier_retries_are_harmless_after_success(store, ice, stop_key):
    ice.set_instance(INST, status="Executing", call_log_url="")
    for _ in range(2):  # one short of ARCHIVE_MAX_ATTEMPTS=3
        with pytest.raises(RetryLater):
            run(store, ice, stop_key)
    ice.set_instance(INST, call_log_url=URL)
    assert run(store, ice, stop_key) == Outcome("archived", TARGET)
    assert store.json(ATTEMPTS)["attempts"] == 2  # left as it was: success does not bump it
    # Later duplicate triggers stop at the HEAD: the counter can never turn them into a dead letter.
    before = ice.count()
    for _ in range(3):
        assert run(store, ice, stop_key) == Outcome("already_archived", TARGET)
    assert ice.count() == before and dead_letters(store) == []
    assert store.json(ATTEMPTS)["attempts"] == 2 and store.json(TARGET)["call_log"] == CALL_LOG
