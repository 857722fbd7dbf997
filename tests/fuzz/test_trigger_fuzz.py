"""Property-based fuzzing of the OSS-triggered functions through their real handlers.

Whatever event arrives (garbage bytes, JSON of any shape, OSS events whose keys are
outside, near or inside the trigger's prefix, objects that do not exist): the handler
never crashes on the event itself (a malformed event is logged and dropped, since a
retry cannot fix it), writes nothing under analyses/ or call-logs/ for a key that is
not a call it should process, and calls no upstream for it.
"""
import itertools
import json
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devkit.sandbox import oss_events
from shared.clients import object_store
from tests.support import Ctx, load_function

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))

key_parts = st.sampled_from(["call-logs/", "callbacks/", "analyses/", "failed/", "dt=2025-08-14/", "dt=2025-13-40/",
                             "inst-1", "../", "%2F", "x.json", "-agent_stop.json", ".json", "é", " ", "/", ""])
keys = st.lists(key_parts, min_size=1, max_size=6).map("".join)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=8)
events = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda k, size, etag: json.dumps(oss_events.build("fuzz-bucket", k, size=size, etag=etag)).encode(),
              keys, st.integers(0, 10**9), st.text(max_size=40)),
    st.dictionaries(st.sampled_from(["events", "oss", "eventName"]), json_values, max_size=3).map(
        lambda d: json.dumps(d).encode()),
)


@pytest.fixture
def fns(monkeypatch, analysis_env):
    return {"archive": load_function("archive_call_log", monkeypatch, {}),
            "analyze": load_function("analyze_conversation", monkeypatch, {})}


@FUZZ
@given(event=events)
def test_triggered_functions_survive_any_event_and_write_nothing_for_it(fns, ice_sim, ccai_sim, event):
    store = object_store.get_store()
    before = {o.key for o in store.list("")}
    ice_calls, ccai_calls = ice_sim.count(), ccai_sim.count()
    for fn in fns.values():
        out = fn(event, Ctx(name="fuzz"))
        assert isinstance(out, dict) and "results" in out
        for result in out["results"]:
            assert result.get("status") == "skipped", result
    assert {o.key for o in store.list("")} == before
    assert (ice_sim.count(), ccai_sim.count()) == (ice_calls, ccai_calls)


# --- whatever the stored objects and upstream answers hold, a call ends archived/analysed or dead-lettered ---

_ids = itertools.count()
STEP_FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
blobs = st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                  st.just(b"[" * 50_000), st.just(b"\x1f\x8b\x08\x00garbage"))
locations = st.one_of(st.text(max_size=40), st.sampled_from([
    "https://b.oss-cn-shanghai.aliyuncs.com/r/1.wav", "https://evil.example.com/1.wav", "oss://fuzz-bucket/x.wav",
    "oss://other/x.wav", "recordings/a/1.wav", "../x.wav", "http://127.0.0.1/x.wav", "file:///etc/passwd.wav"]))
recording_data = st.one_of(json_values, st.dictionaries(st.sampled_from(["url", "ossUrl", "role", "format", "x"]),
                                                        st.one_of(locations, json_values), max_size=4))


@STEP_FUZZ
@given(stop=st.one_of(blobs, st.just(None)), call_log=st.one_of(blobs, st.just(None)),
       status=st.sampled_from(["Finished", "Finished", "Executing", ""]), data=recording_data)
def test_archive_ends_archived_or_dead_lettered_whatever_it_reads(monkeypatch, analysis_env, ice_sim, stop,
                                                                  call_log, status, data):
    from shared.archive import layout

    fn = load_function("archive_call_log", monkeypatch, {"ARCHIVE_MAX_ATTEMPTS": "1"})
    store = object_store.get_store()
    inst = f"fuzz-a{next(_ids)}"
    ts = "2025-08-14T02:00:00Z"
    envelope = {"aiAgentId": "a", "instanceId": inst, "event": "agent_stop", "timestamp": ts}
    key = layout.callback_key(inst, "agent_stop", ts, envelope)
    store.put(key, json.dumps(envelope).encode() if stop is None else stop)
    rec = {"aiAgentId": "a", "instanceId": inst, "event": "audio_record", "timestamp": "2025-08-14T01:59:00Z",
           "data": data}
    store.put(layout.callback_key(inst, "audio_record", rec["timestamp"], rec), json.dumps(rec).encode())
    good_log = {"instanceid": inst, "dialog": [{"begin": 1, "role": "user", "text": "hi"}]}
    ice_sim.add_instance(inst, status=status or "Executing", call_log=good_log if call_log is None else None,
                         call_log_raw=call_log)
    out = fn(json.dumps(oss_events.build(store.bucket, key, size=1, etag="E")).encode(), Ctx(name="fuzz"))
    (result,) = out["results"]
    assert result["status"] in ("archived", "dead_letter"), result
    doc = json.loads(store.get(result["key"])[0])
    if result["status"] == "dead_letter":
        assert doc["error_code"] and doc["reason"] and doc["source_key"] == key
    else:
        for entry in doc["recordings"]:  # only locations on an allowed host or in our bucket are kept
            for loc in (entry.get("locations") or {}).values():
                if loc.lower().startswith("https://"):
                    assert (urlsplit(loc).hostname or "").endswith(".aliyuncs.com"), loc
                elif loc.lower().startswith("oss://"):
                    assert loc[len("oss://"):].startswith(store.bucket + "/"), loc
                else:
                    assert loc.startswith("recordings/") and ".." not in loc.split("/"), loc
    assert [o.key for o in store.list("failed/archive/attempts/") if f"/{inst}-" in o.key] == []


@STEP_FUZZ
@given(call_log=st.one_of(blobs, st.builds(
    lambda turns: json.dumps({"call_log": {"dialog": turns}}).encode(),
    st.lists(st.one_of(json_values, st.fixed_dictionaries(
        {"begin": json_values, "role": json_values, "text": st.one_of(st.text(max_size=20), json_values)})),
        max_size=5))))
def test_analysis_ends_analysed_or_dead_lettered_whatever_the_call_log_holds(monkeypatch, analysis_env, ccai_sim,
                                                                             call_log):
    from shared.archive import layout

    fn = load_function("analyze_conversation", monkeypatch, {"ANALYSIS_MAX_ATTEMPTS": "1"})
    store = object_store.get_store()
    inst = f"fuzz-c{next(_ids)}"
    key = layout.call_log_key("2025-08-14", inst)
    info = store.put(key, call_log)
    out = fn(json.dumps(oss_events.build(store.bucket, key, size=len(call_log), etag=info.etag)).encode(),
             Ctx(name="fuzz"))
    (result,) = out["results"]
    assert result["status"] in ("analysed", "empty", "dead_letter"), result
    assert [o.key for o in store.list("failed/analyze/attempts/") if f"/{inst}-" in o.key] == []
