"""ingest_callback through its real handler; OSS is moto's server over HTTP."""
import json

import pytest

from shared.archive import layout
from shared.clients import object_store
from tests.chain import CALLBACK_TOKEN, callback, raw
from tests.support import call, http_event, load_function

PATH = "/api/v2/aiagent/callback"
EVENTS = ["agent_start", "session_start", "agent_stop", "error", "intent_detected", "intent_recognized",
          "llm_data_received", "tts_data_received", "chat_record", "audio_record", "full_audio_record",
          "outbound_call", "inbound_call", "client_defined_data", "instruction", "some_future_event"]


@pytest.fixture
def ingest(monkeypatch, chain_env):
    return load_function("ingest_callback", monkeypatch, {})


def post(handler, body, token=CALLBACK_TOKEN, raw_body=None):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return call(handler, http_event(raw_body=raw_body if raw_body is not None else raw(body), path=PATH,
                                    headers=headers))


def stored(instance_id):
    store = object_store.get_store()
    return [o.key for o in store.list(layout.CALLBACKS) if f"/{instance_id}/" in o.key]


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_type_stored_once_exactly_as_received(ingest, event):
    inst = f"inst-{event.replace('_', '-')}"
    body = raw(callback(inst, event, data={"k": "v"}))
    status, _, out = post(ingest, None, raw_body=body)
    assert status == 200 and out["code"] == 200 and out["duplicate"] is False
    keys = stored(inst)
    assert keys == [out["key"]]
    ref = layout.parse_callback_key(out["key"])
    assert (ref.instance_id, ref.event, ref.dt) == (inst, event, "2025-08-14")
    data, _ = object_store.get_store().get(out["key"])
    assert data == body.encode()


def test_same_event_three_times_is_one_object(ingest):
    body = callback("inst-dup", "agent_stop")
    outs = [post(ingest, body) for _ in range(3)]
    assert [s for s, _, _ in outs] == [200, 200, 200]
    assert [o["duplicate"] for _, _, o in outs] == [False, True, True]
    # Same content re-serialised (key order, spacing) still maps to the same object.
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    status, _, out = post(ingest, None, raw_body=reordered)
    assert status == 200 and out["duplicate"] is True
    assert len(stored("inst-dup")) == 1


def test_unknown_type_with_odd_characters_is_kept(ingest):
    status, _, out = post(ingest, callback("inst-odd", "Weird/Type!"))
    assert status == 200 and out["key"].endswith("-unknown.json")
    assert json.loads(object_store.get_store().get(out["key"])[0])["event"] == "Weird/Type!"


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789", CALLBACK_TOKEN + "x", CALLBACK_TOKEN[:-1]])
def test_bad_callback_token_is_401_and_nothing_stored(ingest, token):
    status, headers, out = post(ingest, callback("inst-401", "agent_start"), token=token)
    assert status == 401 and out["code"] == 401 and headers.get("WWW-Authenticate") == "Bearer"
    assert stored("inst-401") == []


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b.pop("instanceId"), "instanceId"),
    (lambda b: b.pop("aiAgentId"), "aiAgentId"),
    (lambda b: b.pop("event"), "event"),
    (lambda b: b.pop("timestamp"), "timestamp"),
    (lambda b: b.update(timestamp="yesterday"), "timestamp"),
    (lambda b: b.update(instanceId="../../etc"), "instanceId"),
    (lambda b: b.update(code=True), "code"),
    (lambda b: b.update(code=[1]), "code"),
    (lambda b: b.update(event=7), "event"),
])
def test_bad_envelopes_are_400_naming_the_field(ingest, mutate, field):
    body = callback("inst-400", "agent_start")
    mutate(body)
    status, _, out = post(ingest, body)
    assert status == 400 and out["message"].startswith(field), out
    assert stored("inst-400") == []


@pytest.mark.parametrize("code", [1001, "1001", 3.5, None])
def test_code_number_or_string_and_data_as_string(ingest, code):
    body = callback("inst-code", "chat_record", code=code, data=json.dumps({"text": "hi"}), extendData="{}")
    status, _, _ = post(ingest, body)
    assert status == 200


def test_not_json_and_oversized(ingest):
    assert post(ingest, None, raw_body="{nope")[0] == 400
    big = callback("inst-big", "chat_record", data={"text": "x" * (300 * 1024)})
    status, _, out = post(ingest, big)
    assert status == 413 and out["code"] == 413
    assert stored("inst-big") == []


def test_store_down_is_5xx_and_nothing_is_written(monkeypatch, chain_env, moto_oss):
    from tests.support import free_port

    handler = load_function("ingest_callback", monkeypatch, {"OSS_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
    object_store.reset_store()
    status, _, out = post(handler, callback("inst-down", "agent_stop"))
    assert 500 <= status < 600 and out["code"] == status and "Traceback" not in json.dumps(out)
    monkeypatch.setenv("OSS_ENDPOINT", moto_oss.endpoint)
    from shared.settings import reset_cache

    reset_cache()
    object_store.reset_store()
    assert stored("inst-down") == []


def test_no_secret_in_logs(ingest, logs):
    post(ingest, callback("inst-log", "agent_start"))
    post(ingest, callback("inst-log", "agent_start"), token="wrong-token-0123456789")
    text = logs.getvalue()
    assert "request done" in text and CALLBACK_TOKEN not in text and "wrong-token-0123456789" not in text


# --- timestamps: the accepted range, key round trip, the event-time window (security review) ---

def stamp(when, offset_minutes=0, sep="T", frac=None):
    """`when` (aware) written in the UTC offset `offset_minutes` ("Z" for 0 unless told)."""
    from datetime import timedelta, timezone

    local = when.astimezone(timezone(timedelta(minutes=offset_minutes)))
    frac = f".{local.microsecond // 1000:03d}" if frac is None else frac
    zone = "Z" if offset_minutes == 0 else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    return local.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + frac + zone


# Timestamps that, before the fix, were stored under a key `parse_callback_key` refused (the
# archive step then "skipped" the stop event: the call was lost) or crashed the handler (500).
FOUND_FAILING = [
    "0999-12-31T23:59:59Z",         # year < 1000: strftime wrote 999..., the key did not parse back
    "1000-01-01T00:00:00+00:01",    # 0999 in UTC: same
    "0125-11-02T03:11:24.5Z",       # same
    "0001-01-01T00:00:00+01:00",    # OverflowError -> 500
    "9999-12-31T23:59:59-01:00",    # OverflowError -> 500
    "٢٠٢٥-08-14T02:00:00Z",         # non-ASCII digits were read by \d and int()
    "２０２５-08-14T02:00:00Z",      # full-width digits
    "2025-08-14T02:00:00+23:59",    # offsets beyond ±14:00 were accepted
    "2025-08-14T02:00:00-14:01",
]


@pytest.mark.parametrize("ts", FOUND_FAILING)
def test_timestamps_outside_the_accepted_range_are_400_naming_timestamp(ingest, ts):
    for event in ("agent_stop", "chat_record"):
        status, _, out = post(ingest, callback("inst-badts", event, ts))
        assert status == 400 and out["message"].startswith("timestamp"), out
    assert stored("inst-badts") == []


@pytest.fixture
def default_window_handler(monkeypatch, chain_env):
    """ingest_callback with the default event-time window (chain_env widens it for its 2025 payloads)."""
    monkeypatch.delenv("CALLBACK_MAX_EVENT_AGE_SECONDS")
    return load_function("ingest_callback", monkeypatch, {})


def test_property_accepted_timestamps_round_trip_through_the_handler(default_window_handler):
    """Real payloads (the ICE sample) with times near now, in any accepted UTC offset and
    notation: the key the handler answers parses back to the same call, event, instant and day."""
    from datetime import datetime, timedelta, timezone

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(EVENTS), st.integers(-7 * 86400 + 120, 540), st.integers(0, 999),
           st.integers(-14 * 60, 14 * 60), st.sampled_from(["T", "t", " "]), st.sampled_from(["", "0", "000123"]))
    def run(event, delta_s, ms, offset, sep, extra):
        when = (datetime.now(timezone.utc) + timedelta(seconds=delta_s)).replace(microsecond=ms * 1000)
        ts = stamp(when, offset, sep, frac=f".{ms:03d}{extra}")
        status, _, out = post(default_window_handler, callback("inst-prop", event, ts, data={"ts": ts}))
        assert status == 200, (ts, out)
        ref = layout.parse_callback_key(out["key"])
        assert (ref.instance_id, ref.event, ref.timestamp, ref.dt) == (
            "inst-prop", event, when, when.date().isoformat()), ts
        assert layout.ARCHIVE_TRIGGER.matches(out["key"]) == (event == "agent_stop")

    run()


def test_stop_event_in_a_far_offset_is_archived_not_skipped(monkeypatch, chain_env, ice_sim):
    """The point of the round trip: an agent_stop written in +14:00 (for most of the day a
    local date other than its UTC day) reaches the archive step and is archived, not skipped."""
    from datetime import datetime, timedelta, timezone

    from tests.chain import trigger
    from tests.support import sample

    monkeypatch.delenv("CALLBACK_MAX_EVENT_AGE_SECONDS")
    ingest_fn = load_function("ingest_callback", monkeypatch, {})
    archive_fn = load_function("archive_call_log", monkeypatch, {})
    when = (datetime.now(timezone.utc) - timedelta(minutes=5)).replace(microsecond=250_000)
    ts = stamp(when, 14 * 60)
    status, _, out = post(ingest_fn, callback("inst-far", "agent_stop", ts))
    assert status == 200, out
    ice_sim.add_instance("inst-far", call_log={**sample("call_log.json"), "instanceid": "inst-far"})
    result = trigger(archive_fn, out["key"])["results"][0]
    assert result["status"] == "archived", result
    assert object_store.get_store().head(layout.call_log_key(when.date(), "inst-far")) is not None


def test_event_time_window_defaults_refuse_old_and_future_events(default_window_handler):
    from datetime import datetime, timedelta, timezone

    now = datetime.now(timezone.utc)
    cases = [(now - timedelta(days=7) + timedelta(minutes=2), 200), (now - timedelta(days=7, minutes=2), 400),
             (now + timedelta(seconds=540), 200), (now + timedelta(seconds=660), 400),
             (datetime(2025, 8, 14, 2, tzinfo=timezone.utc), 400)]  # the chain's fixed payload time
    for i, (when, want) in enumerate(cases):
        status, _, out = post(default_window_handler, callback(f"inst-win{i}", "chat_record", stamp(when)))
        assert status == want, (when, out)
        if want == 400:
            assert out["message"].startswith("timestamp") and "CALLBACK_MAX_EVENT_" in out["message"], out
            assert stored(f"inst-win{i}") == []


def test_forged_stop_dated_2099_creates_no_second_archive(default_window_handler):
    from datetime import datetime, timezone

    status, _, first = post(default_window_handler, callback("inst-forge", "agent_stop",
                                                            stamp(datetime.now(timezone.utc))))
    assert status == 200
    for ts in ("2099-01-01T00:00:00Z", "2099-01-01T08:00:00+08:00", "2999-12-31T23:59:59.999Z"):
        status, _, out = post(default_window_handler, callback("inst-forge", "agent_stop", ts))
        assert status == 400 and out["message"].startswith("timestamp"), out
    stops = [k for k in stored("inst-forge") if layout.ARCHIVE_TRIGGER.matches(k)]
    assert stops == [first["key"]]


def test_event_time_window_is_configurable(monkeypatch, chain_env):
    from datetime import datetime, timedelta, timezone

    handler = load_function("ingest_callback", monkeypatch, {"CALLBACK_MAX_EVENT_AGE_SECONDS": "3600",
                                                             "CALLBACK_MAX_EVENT_FUTURE_SECONDS": "0"})
    now = datetime.now(timezone.utc)
    for when, want in [(now - timedelta(minutes=30), 200), (now - timedelta(hours=2), 400),
                       (now + timedelta(seconds=90), 400), (now - timedelta(seconds=5), 200)]:
        status, _, out = post(handler, callback("inst-conf", "chat_record", stamp(when, 480)))
        assert status == want, (when, out)


@pytest.mark.parametrize("value, name", [("59", "CALLBACK_MAX_EVENT_AGE_SECONDS"),
                                         (str(3650 * 86400 + 1), "CALLBACK_MAX_EVENT_AGE_SECONDS"),
                                         ("-1", "CALLBACK_MAX_EVENT_FUTURE_SECONDS"),
                                         ("86401", "CALLBACK_MAX_EVENT_FUTURE_SECONDS")])
def test_event_window_settings_out_of_bounds_fail_the_cold_start_by_name(monkeypatch, chain_env, value, name):
    handler = load_function("ingest_callback", monkeypatch, {name: value})
    status, _, out = post(handler, callback("inst-cfg", "chat_record"))
    assert status == 500 and name in out["message"], out
    assert stored("inst-cfg") == []


OLD_TOKEN, NEW_TOKEN = "old-callback-token-0123456789", "new-callback-token-9876543210"


def test_callback_token_list_accepts_every_entry_for_rotation(monkeypatch, chain_env):
    handler = load_function("ingest_callback", monkeypatch, {"CALLBACK_TOKEN": f"{NEW_TOKEN}, {OLD_TOKEN}"})
    for i, token in enumerate((NEW_TOKEN, OLD_TOKEN)):
        status, _, out = post(handler, callback("inst-rot", "chat_record", data={"n": i}), token=token)
        assert status == 200, out
    for token in (CALLBACK_TOKEN, f"{NEW_TOKEN},{OLD_TOKEN}", NEW_TOKEN[:-1], OLD_TOKEN + "x", "", None):
        status, headers, out = post(handler, callback("inst-rot", "chat_record", data={"bad": True}), token=token)
        assert status == 401 and headers.get("WWW-Authenticate") == "Bearer", (token, out)
    assert len(stored("inst-rot")) == 2


@pytest.mark.parametrize("value", [f"{NEW_TOKEN},short-token", "short", ",", f"{NEW_TOKEN},,  ,"])
def test_callback_token_entries_must_each_be_long_enough(monkeypatch, chain_env, value):
    handler = load_function("ingest_callback", monkeypatch, {"CALLBACK_TOKEN": value})
    status, _, out = post(handler, callback("inst-tok", "chat_record"), token=NEW_TOKEN)
    if value == f"{NEW_TOKEN},,  ,":  # empty entries are dropped: one valid token remains
        assert status == 200, out
        return
    assert status == 500 and "CALLBACK_TOKEN" in out["message"] and NEW_TOKEN not in json.dumps(out), out
    assert stored("inst-tok") == []
