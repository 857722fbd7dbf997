"""shared.archive.workflow.archive_call against the in-memory fakes (tests/fakes.py): no sockets."""
import json
from typing import Any

import pytest

from shared.archive import layout
from shared.archive.call_log import validate_call_log
from shared.archive.dead_letters import RetryLater, Unit
from shared.archive.workflow import Outcome, archive_call
from shared.clients.safe_fetch import FetchFailed, Refused
from shared.errors import BadRequest, NotFound, StorageError, UpstreamTimeout
from shared.settings import ArchiveSettings, load
from tests.fakes import FakeIce, MemoryStore
from tests.support import sample

INST, DT = "inst-1", "2025-08-14"
URL = "https://bucket.oss-cn-shanghai.aliyuncs.com/logs/inst-1.json?Signature=x"
CALL_LOG = {**sample("call_log.json"), "instanceid": INST}
TARGET = layout.call_log_key(DT, INST)


def attempts_key(stop_key: str) -> str:
    """The attempt counter of one stop event (the archive step's unit of work)."""
    return Unit("archive", DT, INST, stop_key).attempts_key


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
                          data={"role": "user", "ossUrl": "oss://archive-bucket/recordings/inst-1/0.wav",
                                "duration": 1.5, "text": "hi"},
                          extendData={"sentenceId": 4})
    same_day = put_callback(store, "full_audio_record", "2025-08-14T00:10:01Z",
                            data=json.dumps({"AudioOssPath": "recordings/inst-1/full.mp3", "format": "mp3"}))
    put_callback(store, "chat_record", "2025-08-14T00:00:01Z", data={"text": "not a recording"})
    put_callback(store, "audio_record", "2025-08-12T23:00:00Z", data={"url": "https://x.aliyuncs.com/old.wav"})
    put_callback(store, "audio_record", "2025-08-14T00:00:02Z", instance_id="inst-2",
                 data={"url": "https://x.aliyuncs.com/other.wav"})
    fetch = FakeFetch()

    out = run(store, ice, stop_key, fetch)

    assert out == Outcome("archived", TARGET)
    assert store.writes == [_update(store, "archive"), TARGET]
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
         "role": "user", "duration": 1.5, "locations": {"ossUrl": "oss://archive-bucket/recordings/inst-1/0.wav"},
         "sentenceId": 4},
        {"event": "full_audio_record", "timestamp": "2025-08-14T00:10:01Z", "callback_key": same_day,
         "locations": {"AudioOssPath": "recordings/inst-1/full.mp3"}, "format": "mp3"},
    ]
    assert doc["recordings_rejected"] == 0
    assert doc["stop_event_claims"] == {"ai_agent_id": "agent-7", "user_data": '{"from": "stop"}'}
    assert doc["archived_at"].endswith("Z")


def test_user_data_is_ices_only_the_stop_events_claim_is_kept_apart(store, stop_key):
    ice = FakeIce()
    ice.set_instance(INST, call_log_url=URL)
    assert run(store, ice, stop_key).status == "archived"
    doc = store.json(TARGET)
    assert doc["user_data"] is None and doc["session_id"] is None and doc["recordings"] == []
    assert doc["stop_event_claims"]["user_data"] == '{"from": "stop"}'


def test_ices_answer_wins_over_what_the_stop_event_claims(store, ice):
    forged = put_callback(store, "agent_stop", "2025-08-14T00:10:00Z", userData='{"role": "admin"}',
                          status="Finished", callInfo={"CallType": "forged"}, data={"Status": "Forged"})
    assert run(store, ice, forged).status == "archived"
    doc = store.json(TARGET)
    assert (doc["user_data"], doc["status"], doc["call_info"], doc["session_id"]) == (
        '{"u": 1}', "Finished", {"CallType": "voice"}, "sess-1")
    assert doc["stop_event_claims"] == {"ai_agent_id": "agent-7", "user_data": '{"role": "admin"}'}


@pytest.mark.parametrize("location, kept", [
    ("https://bucket.oss-cn-shanghai.aliyuncs.com/rec/1.wav?Expires=1&Signature=x", True),
    ("oss://archive-bucket/recordings/inst-1/1.wav", True),
    ("oss://archive-bucket/anything/else.mp3", True),
    ("recordings/inst-1/1.wav", True),
    ("https://evil.example.com/1.wav", False),  # not an allowed host
    ("https://aliyuncs.com.evil.example/1.wav", False),
    ("http://bucket.oss-cn-shanghai.aliyuncs.com/1.wav", False),  # not https
    ("https://user@bucket.oss-cn-shanghai.aliyuncs.com/1.wav", False),  # userinfo
    ("https://10.0.0.1/1.wav", False),  # IP literal
    ("https://bucket.oss-cn-shanghai.aliyuncs.com:8443/1.wav", False),  # port
    ("oss://someone-elses-bucket/recordings/1.wav", False),
    ("oss://archive-bucket", False),
    ("oss://archive-bucket/../call-logs/x.wav", False),
    ("call-logs/dt=2025-08-14/inst-2.wav", False),  # our bucket, but not under recordings/
    ("rec/inst-1/full.mp3", False),
    ("/etc/passwd.wav", False),
    ("recordings/../call-logs/x.wav", False),
    ("file:///etc/passwd.wav", False),
    ("s3://archive-bucket/recordings/1.wav", False),
])
def test_recording_locations_are_kept_only_on_allowed_hosts_or_in_our_bucket(store, ice, stop_key, location, kept):
    key = put_callback(store, "audio_record", "2025-08-14T00:05:00Z",
                       data={"role": "user", "url": location, "duration": 2, "format": {"not": "a scalar"}})
    assert run(store, ice, stop_key).status == "archived"
    doc = store.json(TARGET)
    (entry,) = doc["recordings"]
    assert entry["callback_key"] == key and entry["role"] == "user" and entry["duration"] == 2
    assert "format" not in entry  # only scalars are copied from an event
    assert entry.get("locations") == ({"url": location} if kept else None)
    assert doc["recordings_rejected"] == (0 if kept else 1)


def test_already_archived_call_costs_no_ice_call_and_settles_leftovers(store, ice, stop_key):
    store.seed(TARGET, {"schema": "aicall.call-log/1", "instance_id": INST})
    fetch = FakeFetch()
    assert run(store, ice, stop_key, fetch) == Outcome("already_archived", TARGET)
    # One HEAD finds the call archived; one HEAD (its attempt counter) and one LIST (its open
    # dead letters) settle what a failed attempt of this unit may have left behind.
    unit = Unit("archive", "2025-08-14", INST, stop_key)
    assert store.ops == [("head", layout.erased_key(INST)), ("head", TARGET), ("head", unit.attempts_key),
                         ("list", layout.dead_letter_prefix("archive", "2025-08-14", INST))]
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
        assert store.json(attempts_key(stop_key))["attempts"] == attempt
    assert fetch.calls == [] and ice.count() == 2
    assert store.keys("call-logs/") == [] and dead_letters(store) == []


@pytest.mark.parametrize("cause, error_code, says", [
    ("not-ready", "CallLogNotReady", "not ready"),
    (FetchFailed("HTTP 503 from the call log host"), "CallLogFetchFailed", "HTTP 503"),
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
    assert says in letter["reason"] and letter["reason"].startswith("gave up after 3 attempts: ")
    # The counter went with the dead letter: a later duplicate trigger gets a fresh series of
    # attempts, and the same failure again is the same dead letter (not a second one).
    assert store.keys("failed/archive/attempts/") == []
    for _ in range(2):
        with pytest.raises(RetryLater):
            run(store, ice, stop_key, fetch)
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
    assert store.keys("call-logs/") == [] and store.keys("failed/archive/attempts/") == []
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
    assert store.keys("failed/") == []


def test_attempt_counter_is_removed_once_the_call_is_archived(store, ice, stop_key):
    ice.set_instance(INST, status="Executing", call_log_url="")
    for _ in range(2):  # one short of ARCHIVE_MAX_ATTEMPTS=3
        with pytest.raises(RetryLater):
            run(store, ice, stop_key)
    assert store.json(attempts_key(stop_key))["attempts"] == 2
    ice.set_instance(INST, call_log_url=URL)
    assert run(store, ice, stop_key) == Outcome("archived", TARGET)
    assert store.keys("failed/") == []  # the counter is gone, no dead letter
    # Later duplicate triggers stop at the HEAD.
    before = ice.count()
    for _ in range(3):
        assert run(store, ice, stop_key) == Outcome("already_archived", TARGET)
    assert ice.count() == before and store.keys("failed/") == [] and store.json(TARGET)["call_log"] == CALL_LOG


# --- every exception ends in a retry or a dead letter; attempts per unit of work ---------------------


def _unexpected_errors() -> list[BaseException]:
    import zlib

    import httpx

    return [ValueError("bad value at https://x.aliyuncs.com/l.json?Signature=s3cr3t"), KeyError("k"),
            TypeError("t"), RuntimeError("r"), OSError(5, "I/O error"), zlib.error("invalid block type"),
            UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), RecursionError("deep"),
            httpx.StreamConsumed(), httpx.CookieConflict("c")]


@pytest.mark.parametrize("exc", _unexpected_errors(), ids=lambda e: type(e).__name__)
def test_unexpected_exception_is_counted_then_dead_lettered_with_type_and_redacted_message(store, ice, stop_key,
                                                                                          exc):
    fetch = FakeFetch(exc)
    for attempt in (1, 2):
        with pytest.raises(RetryLater):
            run(store, ice, stop_key, fetch)
        assert store.json(attempts_key(stop_key))["attempts"] == attempt
    out = run(store, ice, stop_key, fetch)
    assert out.status == "dead_letter"
    (letter,) = dead_letters(store)
    name = type(exc).__name__
    assert letter["error_code"] == f"Unexpected.{name}" and letter["attempts"] == 3
    assert f"gave up after 3 attempts: {name}" in letter["reason"]
    assert "s3cr3t" not in json.dumps(letter) and store.keys("failed/archive/attempts/") == []


@pytest.mark.parametrize("body, code", [
    (None, "StopEventMissing"),
    (b"not json", "StopEventInvalid"),
    (b"[1, 2]", "StopEventInvalid"),
    (b"[" * 100_000, "StopEventInvalid"),  # RecursionError in json.loads
    (b"\xff\xfe", "StopEventInvalid"),
])
def test_missing_or_unreadable_stop_event_is_dead_lettered_at_once_without_calling_ice(store, ice, stop_key, body,
                                                                                      code):
    if body is None:
        store.delete(stop_key)
    else:
        store.objects[stop_key].data = body
    out = run(store, ice, stop_key)
    assert out.status == "dead_letter"
    (letter,) = dead_letters(store)
    assert letter["error_code"] == code and letter["attempts"] is None and letter["source_key"] == stop_key
    assert ice.count() == 0 and store.keys("call-logs/") == []


@pytest.mark.parametrize("error, code", [
    (None, "InstanceNotFound"),  # the fake answers NotFound for an unknown instance, as ICE's 404 maps
    (BadRequest("ICE: InstanceId is invalid", error_code="InvalidParameter"), "InvalidParameter"),
])
def test_ice_refusals_retrying_cannot_fix_are_dead_lettered_at_once(store, stop_key, error, code):
    ice = FakeIce()
    if error is not None:
        ice.fail(INST, error)
    out = run(store, ice, stop_key)
    assert out.status == "dead_letter"
    (letter,) = dead_letters(store)
    assert letter["error_code"] == code and letter["attempts"] is None
    assert letter["reason"].startswith("ICE refused DescribeAIAgentInstance")
    assert ice.count() == 1 and store.keys("failed/archive/attempts/") == []


def test_forged_early_stop_events_do_not_use_up_the_genuine_ones_attempts(store, ice):
    ice.set_instance(INST, status="Executing", call_log_url="")
    forged = [put_callback(store, "agent_stop", f"2025-08-14T00:0{i}:00Z", message=f"forged {i}") for i in range(3)]
    for key in forged:
        for _ in range(2):
            with pytest.raises(RetryLater):
                run(store, ice, key)
    assert len(store.keys("failed/archive/attempts/")) == 3 and dead_letters(store) == []
    genuine = put_callback(store, "agent_stop", "2025-08-14T00:10:00Z")
    with pytest.raises(RetryLater):  # its own first attempt, not the forged events' third
        run(store, ice, genuine)
    assert store.json(attempts_key(genuine))["attempts"] == 1
    ice.set_instance(INST, call_log_url=URL)
    assert run(store, ice, genuine) == Outcome("archived", TARGET)
    assert store.head(attempts_key(genuine)) is None and dead_letters(store) == []


def test_storage_error_reading_the_counter_propagates_and_does_not_reset_it(store, ice, stop_key):
    ice.set_instance(INST, status="Executing", call_log_url="")
    for _ in range(2):
        with pytest.raises(RetryLater):
            run(store, ice, stop_key)
    store.fail_next("get", key_prefix="failed/archive/attempts/")
    with pytest.raises(StorageError):
        run(store, ice, stop_key)
    assert store.json(attempts_key(stop_key))["attempts"] == 2  # not restarted at 1
    assert run(store, ice, stop_key).status == "dead_letter"  # the third attempt


def test_unreadable_counter_counts_from_zero(store, ice, stop_key):
    ice.set_instance(INST, status="Executing", call_log_url="")
    store.seed(attempts_key(stop_key), b"garbage")
    with pytest.raises(RetryLater):
        run(store, ice, stop_key)
    assert store.json(attempts_key(stop_key))["attempts"] == 1


def test_each_distinct_failure_gets_its_own_dead_letter_and_the_log_tells_which(store, ice, stop_key, logs):
    out1 = run(store, ice, stop_key, FakeFetch(Refused("host evil.example.com is not in CALL_LOG_ALLOWED_HOSTS")))
    out2 = run(store, ice, stop_key, FakeFetch(Refused("host evil.example.com is not in CALL_LOG_ALLOWED_HOSTS")))
    assert out1.key == out2.key  # the same failure again: one record
    ice.fail(INST, NotFound("gone", error_code="InstanceNotFound"))
    out3 = run(store, ice, stop_key)
    assert out3.key != out1.key
    assert sorted(letter["error_code"] for letter in dead_letters(store)) == ["CallLogRefused", "InstanceNotFound"]
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if "dead letter" in line]
    assert [line["message"] for line in lines] == [
        "dead letter written", "dead letter already recorded (same unit, same error)", "dead letter written"]


@pytest.mark.parametrize("op", ["head", "delete"])
def test_a_store_error_while_clearing_the_counter_does_not_undo_the_archive(store, ice, stop_key, op):
    ice.set_instance(INST, status="Executing", call_log_url="")
    with pytest.raises(RetryLater):
        run(store, ice, stop_key)
    ice.set_instance(INST, call_log_url=URL)
    store.fail_next(op, key_prefix="failed/archive/attempts/")
    assert run(store, ice, stop_key) == Outcome("archived", TARGET)
    if op == "delete":  # a refused DELETE (a role without oss:DeleteObject): the counter is reset instead
        assert store.json(attempts_key(stop_key))["attempts"] == 0
    else:  # the failed HEAD is tried again and the counter goes (a counter left behind is harmless too)
        assert attempts_key(stop_key) not in store.keys("failed/archive/attempts/")
    assert dead_letters(store) == []


# --- one terminal state per call (issue: terminal states) ---------------------------------

def resolved(store: MemoryStore) -> list[dict]:
    return [store.json(k) for k in store.keys(layout.RESOLVED + "archive/")]


def test_a_later_success_resolves_the_dead_letter(store, ice, stop_key):
    fetch = FakeFetch(Refused("host not allowed"))
    assert run(store, ice, stop_key, fetch).status == "dead_letter"
    [letter] = dead_letters(store)
    assert letter["error_code"] == "CallLogRefused"
    # The cause is fixed; the same stop event runs again (a late duplicate trigger, a replay).
    assert run(store, ice, stop_key, FakeFetch()) == Outcome("archived", TARGET)
    assert dead_letters(store) == []
    [moved] = resolved(store)
    assert moved["error_code"] == "CallLogRefused" and moved["resolved_by"] == TARGET
    assert moved["resolved_at"].endswith("Z")
    assert store.keys("failed/archive/attempts/") == []


def test_success_through_another_stop_event_resolves_every_archive_letter_of_the_call(store, ice, stop_key):
    early = put_callback(store, "agent_stop", "2025-08-14T00:05:00Z")
    fetch = FakeFetch(Refused("host not allowed"))
    assert run(store, ice, early, fetch).status == "dead_letter"
    assert len(dead_letters(store)) == 1
    assert run(store, ice, stop_key, FakeFetch()).status == "archived"
    assert dead_letters(store) == [] and len(resolved(store)) == 1


def test_a_letter_of_another_call_whose_id_extends_this_one_is_left_alone(store, ice):
    other = INST + "-b"
    other_stop = put_callback(store, "agent_stop", "2025-08-14T00:10:00Z", instance_id=other)
    ice.set_instance(other, call_log_url=URL)
    assert run(store, ice, other_stop, FakeFetch(Refused("nope"))).status == "dead_letter"
    mine = put_callback(store, "agent_stop", "2025-08-14T00:11:00Z")
    assert run(store, ice, mine, FakeFetch()).status == "archived"
    assert [d["instance_id"] for d in dead_letters(store)] == [other] and resolved(store) == []


def test_no_dead_letter_for_a_call_archived_meanwhile(store, ice, stop_key):
    """A duplicate trigger archives the call while this attempt fails: no letter is left."""
    class ArchivedMeanwhile(FakeFetch):
        def __call__(self, url: str, **kwargs: Any) -> Any:
            store.seed(TARGET, {"schema": "aicall.call-log/1", "instance_id": INST})
            raise Refused("host not allowed")

    assert run(store, ice, stop_key, ArchivedMeanwhile()) == Outcome("already_archived", TARGET)
    assert dead_letters(store) == [] and resolved(store) == []
    assert store.keys("failed/") == []


def test_a_letter_written_while_the_success_lands_is_resolved_by_the_check_after_writing(store, ice, stop_key):
    """Write, then check: the success finished between the first check and the letter."""
    from shared.archive import dead_letters as dl

    real = dl.dead_letter

    def letter_then_success(*args: Any, **kwargs: Any) -> str:
        key = real(*args, **kwargs)
        store.seed(TARGET, {"schema": "aicall.call-log/1", "instance_id": INST})
        return key

    dl_before = dl.dead_letter
    dl.dead_letter = letter_then_success  # type: ignore[assignment]
    try:
        outcome = run(store, ice, stop_key, FakeFetch(Refused("host not allowed")))
    finally:
        dl.dead_letter = dl_before  # type: ignore[assignment]
    assert outcome == Outcome("already_archived", TARGET)
    assert dead_letters(store) == []
    [moved] = resolved(store)
    assert moved["resolved_by"] == TARGET


def test_a_store_that_refuses_delete_marks_the_letter_resolved_in_place(store, ice, stop_key):
    from shared.archive import dead_letters as dl

    assert run(store, ice, stop_key, FakeFetch(Refused("nope"))).status == "dead_letter"
    [key] = store.keys(layout.date_prefix("failed/archive/", DT))
    store.fail_next("delete", key_prefix=key)
    assert run(store, ice, stop_key, FakeFetch()).status == "archived"
    assert store.json(key)["resolved_by"] == TARGET  # kept, but marked
    unit = Unit("archive", DT, INST, stop_key)
    assert list(dl.open_letters(store, unit)) == []


# --- REDACTION_MODE=archive -----------------------------------------------------------------------

@pytest.mark.parametrize("keep_raw", [False, True])
def test_archive_mode_stores_redacted_text_and_the_raw_copy_only_when_asked(store, ice, stop_key, keep_raw):
    pii = {**CALL_LOG, "dialog": [{"id": 1, "begin": 1.0, "role": "user", "text": "身份证 11010519900307777X"}]}
    out = archive_call(store, ice, settings(), stop_key, validate=validate_call_log, fetch=FakeFetch(pii),
                       deadline=1.0, redaction="archive", keep_raw=keep_raw)
    assert out == Outcome("archived", TARGET)
    doc = store.json(TARGET)
    assert doc["call_log"]["dialog"][0]["text"] == "身份证 [身份证号]"
    assert "11010519900307777X" not in json.dumps(doc, ensure_ascii=False)
    raw_key = layout.raw_call_log_key(DT, INST)
    assert doc["redaction"] == {"mode": "archive", "findings": {"id_card": 1}, "raw_key": raw_key if keep_raw else None}
    assert (store.json(raw_key)["dialog"][0]["text"] == pii["dialog"][0]["text"]) if keep_raw \
        else raw_key not in store.objects


def test_an_erased_call_is_not_archived_and_late_callbacks_go(store, ice, stop_key):
    chat = put_callback(store, "chat_record", "2025-08-14T00:09:00Z")
    store.seed(layout.erased_key(INST), {"erased_at": "2025-08-14T00:09:30Z"})
    fetch = FakeFetch()
    assert run(store, ice, stop_key, fetch) == Outcome("skipped", reason="the call was erased")
    assert ice.calls == [] and fetch.calls == []
    assert chat not in store.objects and stop_key not in store.objects and TARGET not in store.objects


def _update(store, kind: str) -> str:
    """The one row update of the call index written before the result (shared/archive/index_rows.py)."""
    updates = [k for k in store.writes if k.startswith("warehouse/updates/")]
    assert len(updates) == 1 and f"-{kind}-" in updates[0], updates
    return updates[0]
