"""Property-based fuzzing of the OSS-triggered functions through their real handlers.

Whatever event arrives (garbage bytes, JSON of any shape, OSS events whose keys are
outside, near or inside the trigger's prefix, objects that do not exist): the handler
never crashes on the event itself (a malformed event is logged and dropped, since a
retry cannot fix it), writes nothing under analyses/ or call-logs/ for a key that is
not a call it should process, and calls no upstream for it.
"""
import json

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
