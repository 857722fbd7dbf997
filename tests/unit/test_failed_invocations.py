"""FC's failure destination: shared.destination.parse and shared.archive.failed_invocations
on the in-memory store (tests/fakes.py). The record's shape is FC's documented one (the
"result callback" / destinations page), taken as inferred: every field may be off."""
import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devkit.sandbox import oss_events
from shared import destination
from shared.archive import failed_invocations, layout
from shared.errors import StorageError
from tests.fakes import MemoryStore

STOP_KEY = "callbacks/dt=2022-08-10/inst-1/20220810T083116Z-0123456789abcdef-agent_stop.json"
NOW = 1660120300.0  # 2022-08-10T08:31:40Z


def fc_record(**overrides):
    """A failure record as documented: timestamp in ms, the failed function's ARN, the original
    event (here an OSS event) as a JSON string in requestPayload."""
    source = oss_events.build("aicall-archive-prod", STOP_KEY, size=120, etag="abc")
    record = {
        "timestamp": 1660120276975,
        "requestContext": {"requestId": "1-62f36c2c-4e5f6a7b8c9d0e1f2a3b4c5d",
                           "functionArn": "acs:fc:cn-shanghai:1234567890123456:functions/aicall-prod-archive-call-log",
                           "condition": "FunctionResourceExhausted", "approximateInvokeCount": 4},
        "requestPayload": json.dumps(source),
        "responseContext": {"statusCode": 200, "functionError": "UnhandledInvocationError"},
        "responsePayload": json.dumps({"errorType": "StorageError", "errorMessage": "store unavailable"}),
    }
    record.update(overrides)
    return record


def record(store, event):
    return failed_invocations.record(store, destination.parse(event), now=NOW)


def test_documented_record_is_kept_whole_once_and_names_the_call(logs):
    store = MemoryStore()
    raw = json.dumps(fc_record()).encode()
    out = record(store, raw)
    assert out.status == "recorded"
    assert out.key == ("failed/invocations/dt=2022-08-10/"
                       "aicall-prod-archive-call-log-1-62f36c2c-4e5f6a7b8c9d0e1f2a3b4c5d.json")
    doc = store.json(out.key)
    assert doc["record"] == json.loads(raw)  # the whole record, as sent
    assert doc["source_keys"] == [STOP_KEY] and doc["source_bucket"] == "aicall-archive-prod"
    assert (doc["function"], doc["condition"], doc["approximate_invoke_count"]) == \
        ("aicall-prod-archive-call-log", "FunctionResourceExhausted", 4)
    assert doc["error"] == "StorageError: store unavailable" and doc["parsed"] is True
    assert out.source_keys == [STOP_KEY]
    line = next(json.loads(x) for x in logs.getvalue().splitlines() if "failed invocation recorded" in x)
    assert line["level"] == "ERROR" and line["source_keys"] == [STOP_KEY] and line["key"] == out.key


def test_a_redelivered_record_is_the_same_object():
    store = MemoryStore()
    first = record(store, json.dumps(fc_record()).encode())
    # FC may deliver again; key order or spacing does not matter, the request id names it.
    again = record(store, json.dumps(fc_record(), indent=2, sort_keys=True).encode())
    assert again.status == "already_recorded" and again.key == first.key
    assert store.keys(layout.FAILED_INVOCATIONS) == [first.key] and store.count("put") == 2


def test_request_payload_as_an_object_and_fc2_arns_are_read_too():
    store = MemoryStore()
    rec = fc_record(requestPayload=json.loads(fc_record()["requestPayload"]))
    rec["requestContext"]["functionArn"] = "acs:fc:cn-shanghai:123:services/svc/functions/legacy-fn"
    out = record(store, rec)  # a dict event, as a test or another runtime may pass
    assert out.source_keys == [STOP_KEY] and out.function == "legacy-fn"


def test_without_request_id_the_key_is_a_digest_of_the_record():
    store = MemoryStore()
    rec = fc_record()
    del rec["requestContext"]["requestId"]
    first = record(store, json.dumps(rec).encode())
    again = record(store, json.dumps(rec, sort_keys=True).encode())
    assert first.key == again.key and again.status == "already_recorded"
    assert first.key.endswith(f"aicall-prod-archive-call-log-{layout.content_digest(rec)}.json")


@pytest.mark.parametrize("raw", [b"not json at all", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b'"a string"',
                                 b"", b"null", b'{"requestContext": 5}'])
def test_what_cannot_be_read_is_still_kept_byte_for_byte(raw):
    store = MemoryStore()
    out = record(store, raw)
    assert out.status == "recorded" and out.key.startswith("failed/invocations/dt=2022-08-10/")
    doc = store.json(out.key)
    if doc["parsed"]:
        assert json.dumps(doc["record"]).encode() == raw or doc["record"] == json.loads(raw)
    elif "raw_base64" in doc:
        assert base64.b64decode(doc["raw_base64"]) == raw
    else:
        assert doc["raw_text"].encode() == raw
    assert record(store, raw).key == out.key  # same bytes, same key


@pytest.mark.parametrize("mutate", [
    lambda r: r.update(requestContext=["not", "an", "object"]),
    lambda r: r.update(timestamp="yesterday", responseContext=None, responsePayload={"errorMessage": ["x"]}),
    lambda r: r["requestContext"].update(functionArn=12, requestId={"id": 1}, approximateInvokeCount="many"),
    lambda r: r["requestContext"].update(requestId="../../etc/passwd", functionArn="acs:fc:x:y:functions/a b"),
    lambda r: r.update(requestPayload='{"events": [{"oss": "nope"}]}'),
    lambda r: r.update(requestPayload="{not json", timestamp=10 ** 30),
    lambda r: r.update(timestamp=True, requestPayload=None),
])
def test_odd_fields_never_raise_and_fall_back_safely(mutate):
    rec = fc_record()
    mutate(rec)
    store = MemoryStore()
    out = record(store, json.dumps(rec).encode())
    assert out.status == "recorded"
    name = out.key.rsplit("/", 1)[1]
    assert "/" not in name and ".." not in name and " " not in name
    assert store.json(out.key)["record"] == rec


def test_a_storage_error_propagates_so_fc_retries_the_delivery():
    store = MemoryStore()
    store.fail_next("put", StorageError("down"))
    with pytest.raises(StorageError):
        record(store, json.dumps(fc_record()).encode())
    assert store.keys() == []
    assert record(store, json.dumps(fc_record()).encode()).status == "recorded"  # the retry


def test_failed_invocation_key():
    assert layout.failed_invocation_key("2025-01-02", "fn", "1-abc", "0123456789abcdef") == \
        "failed/invocations/dt=2025-01-02/fn-1-abc.json"
    assert layout.failed_invocation_key("2025-01-02", None, "bad/id", "0123456789abcdef") == \
        "failed/invocations/dt=2025-01-02/unknown-0123456789abcdef.json"
    with pytest.raises(ValueError):
        layout.failed_invocation_key("2025-01-02", "fn", "1-abc", "not-hex")
    with pytest.raises(ValueError):
        layout.failed_invocation_key("2025-02-30", "fn", "1-abc", "0123456789abcdef")
    # Under failed/ (its retention), written by the destination only, triggering nothing.
    assert layout.FAILED_INVOCATIONS.startswith(layout.FAILED)
    assert layout.WRITES["record_failed_invocation"] == (layout.FAILED_INVOCATIONS,)
    assert layout.triggered_by("failed/invocations/dt=2025-01-02/fn-1-abc.json") == []


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner,
                                                                                       max_size=4), max_leaves=10)
records = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={
        "timestamp": json_values, "requestContext": st.dictionaries(
            st.sampled_from(["requestId", "functionArn", "condition", "approximateInvokeCount"]), json_values),
        "requestPayload": json_values | st.sampled_from([fc_record()["requestPayload"], '{"events": []}']),
        "responseContext": json_values, "responsePayload": json_values}).map(lambda d: json.dumps(d).encode()),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(records)
def test_any_record_at_all_is_kept_exactly_once(raw):
    store = MemoryStore()
    out = record(store, raw)
    assert len(store.keys()) == 1 and out.key in store.objects
    assert out.key.startswith(layout.FAILED_INVOCATIONS)
    doc = store.json(out.key)
    assert doc["kind"] == "failed_invocation"
    assert record(store, raw).status == "already_recorded"
