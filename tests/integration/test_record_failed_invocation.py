"""record_failed_invocation through its real handler (OSS is moto's server over HTTP), and the
sandbox's trigger emulation delivering FC's failure record to it when it gives up."""
import json

import pytest

from devkit import syaml
from devkit.sandbox import oss_events
from devkit.sandbox.stack import Deployed
from devkit.sandbox.triggers import TriggerDispatcher, destination_of, failure_record
from shared.archive import layout
from shared.clients import object_store
from shared.errors import ConfigurationError, StorageError
from tests.oss_server import BUCKET
from tests.support import Ctx, load_function

STOP_KEY = "callbacks/dt=2025-08-14/inst-fi/20250814T100000Z-0123456789abcdef-agent_stop.json"


@pytest.fixture
def fn(monkeypatch, oss_env):
    return load_function("record_failed_invocation", monkeypatch, {})


def a_record(request_id="1-aaaa-bbbb-cccc", function="aicall-dev-archive-call-log"):
    source = json.dumps(oss_events.build(BUCKET, STOP_KEY, size=10, etag="e")).encode()
    return json.dumps(failure_record(function, request_id, source, 4, StorageError("store unavailable"))).encode()


def test_record_is_stored_once_and_names_the_call(fn):
    event = a_record()
    out = fn(event, Ctx(name="aicall-dev-record-failed-invocation"))
    assert out["status"] == "recorded" and out["source_keys"] == [STOP_KEY]
    assert out["key"].startswith(layout.FAILED_INVOCATIONS) and out["key"].endswith(
        "/aicall-dev-archive-call-log-1-aaaa-bbbb-cccc.json")
    store = object_store.get_store()
    doc = json.loads(store.get(out["key"])[0])
    assert doc["record"] == json.loads(event) and doc["error"] == "StorageError: store unavailable"
    again = fn(event, Ctx())
    assert again["status"] == "already_recorded" and again["key"] == out["key"]


def test_garbage_is_kept_not_raised(fn):
    out = fn(b"\x00\x01 definitely not a record", Ctx())
    assert out["status"] == "recorded" and "/unknown-" in out["key"]
    doc = json.loads(object_store.get_store().get(out["key"])[0])
    assert doc["parsed"] is False and doc["raw_text"] == "\x00\x01 definitely not a record"


def test_store_down_raises_so_fc_retries(monkeypatch, oss_env):
    handler = load_function("record_failed_invocation", monkeypatch, {
        "OSS_ENDPOINT": "http://127.0.0.1:9", "OSS_MAX_ELAPSED_SECONDS": "0.5", "OSS_CONNECT_TIMEOUT_SECONDS": "0.2"})
    object_store.reset_store()
    with pytest.raises(StorageError):
        handler(a_record(), Ctx())


def test_missing_bucket_fails_the_cold_start_and_every_call(monkeypatch, oss_env):
    monkeypatch.delenv("ARCHIVE_BUCKET")
    handler = load_function("record_failed_invocation", monkeypatch, {})
    assert handler.config_error is not None and "ARCHIVE_BUCKET" in handler.config_error.message
    with pytest.raises(ConfigurationError):
        handler(a_record(), Ctx())


def test_sandbox_delivers_the_failure_record_when_it_gives_up(monkeypatch, oss_env):
    """Like FC: an OSS-triggered invocation that keeps failing is retried, then its failure
    record goes to the destination s.yaml names, with the same request id and its attempts."""
    specs = syaml.functions()
    archive = specs["archive_call_log"]
    assert destination_of(archive) == specs["record_failed_invocation"].function_name
    seen = []

    def always_fails(event, context):
        seen.append(context.request_id)
        raise StorageError("injected: the dead letter could not be written either")

    destination = Deployed(specs["record_failed_invocation"], load_function("record_failed_invocation", monkeypatch, {}))
    deployed = {"archive_call_log": Deployed(archive, always_fails), "record_failed_invocation": destination}
    exhausted = []
    dispatcher = TriggerDispatcher(deployed, retry_delay=0.01, on_exhausted=lambda f, k: exhausted.append((f, k)))
    dispatcher.start()
    try:
        dispatcher.on_write(oss_env.bucket, STOP_KEY, type("R", (), {"etag": "e"})(), 10)
        assert dispatcher.wait_idle(20)
    finally:
        dispatcher.stop()
    retries = archive.async_config["maxAsyncRetryAttempts"]
    assert len(seen) == retries + 1 and len(set(seen)) == 1  # one async invocation, one request id
    assert exhausted == [("archive_call_log", STOP_KEY)]
    assert dispatcher.stats.to_destination == [("archive_call_log", "record_failed_invocation")]
    store = object_store.get_store()
    keys = [o.key for o in store.list(layout.FAILED_INVOCATIONS) if seen[0] in o.key]
    assert len(keys) == 1 and keys[0].endswith(f"/{archive.function_name}-{seen[0]}.json")
    doc = json.loads(store.get(keys[0])[0])
    assert doc["source_keys"] == [STOP_KEY] and doc["approximate_invoke_count"] == retries + 1
    assert doc["record"]["requestContext"]["functionArn"].endswith(f":functions/{archive.function_name}")
    assert "StorageError" in doc["error"]
