"""shared.archive.layout: the archive's key layout (docs/protocols.md#archive-chain)."""
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.archive import layout as ak

EVENT = {"aiAgentId": "agent-1", "instanceId": "inst-1", "event": "agent_stop", "code": 1000,
         "timestamp": "2023-10-01T12:00:00Z", "data": {"text": "你好", "n": [1, 2]}, "extendData": {}}


def key_of(event, event_type=None, ts=None):
    return ak.callback_key(event["instanceId"], event_type or event["event"], ts or event["timestamp"], event)


# --- callback keys ------------------------------------------------------------------

def test_callback_key_layout_and_round_trip():
    key = key_of(EVENT)
    assert key.startswith("callbacks/dt=2023-10-01/inst-1/20231001T120000Z-") and key.endswith("-agent_stop.json")
    ref = ak.parse_callback_key(key)
    assert (ref.key, ref.dt, ref.instance_id, ref.event, ref.event_time) == \
        (key, "2023-10-01", "inst-1", "agent_stop", "20231001T120000Z")
    assert ref.digest == ak.content_digest(EVENT) and len(ref.digest) == 16
    assert ref.timestamp.isoformat() == "2023-10-01T12:00:00+00:00"
    assert ak.dt_of(key) == "2023-10-01"
    assert key.startswith(ak.callback_instance_prefix("2023-10-01", "inst-1"))


def test_same_event_reformatted_maps_to_the_same_key():
    raw_a = json.dumps(EVENT, ensure_ascii=False)
    raw_b = json.dumps(dict(reversed(list(EVENT.items()))), indent=4, ensure_ascii=True)
    assert raw_a != raw_b
    assert key_of(json.loads(raw_a)) == key_of(json.loads(raw_b))


def test_different_content_gives_a_different_key():
    assert key_of(EVENT) != key_of({**EVENT, "code": 1001})
    assert key_of(EVENT) != key_of({**EVENT, "data": {"text": "你好", "n": [2, 1]}})


def test_digest_is_sha256_of_canonical_json():
    import hashlib

    canon = json.dumps(EVENT, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert ak.content_digest(EVENT) == hashlib.sha256(canon).hexdigest()[:16]


@pytest.mark.parametrize("ts, dt, etime", [
    ("2023-10-01T12:00:00Z", "2023-10-01", "20231001T120000Z"),
    ("2023-10-01T12:00:00+00:00", "2023-10-01", "20231001T120000Z"),
    ("2023-10-01T12:00:00.123Z", "2023-10-01", "20231001T120000.123Z"),
    ("2023-10-01T12:00:00.123456789Z", "2023-10-01", "20231001T120000.123Z"),
    ("2023-10-01T12:00:00.000Z", "2023-10-01", "20231001T120000Z"),
    ("2023-10-01T12:00:00.5+00:00", "2023-10-01", "20231001T120000.500Z"),
    ("2023-10-01T07:30:00+08:00", "2023-09-30", "20230930T233000Z"),  # UTC date, not local
    ("2023-09-30T20:00:00-05:00", "2023-10-01", "20231001T010000Z"),
    ("2023-10-01T12:00:00+0530", "2023-10-01", "20231001T063000Z"),
    ("2023-10-01 12:00:00z", "2023-10-01", "20231001T120000Z"),
    ("2024-02-29T23:59:59Z", "2024-02-29", "20240229T235959Z"),
])
def test_timestamps_are_normalised_to_utc(ts, dt, etime):
    ref = ak.parse_callback_key(key_of(EVENT, ts=ts))
    assert (ref.dt, ref.event_time) == (dt, etime)


def test_same_instant_in_different_notations_is_one_key():
    keys = {key_of(EVENT, ts=t) for t in ("2023-10-01T12:00:00Z", "2023-10-01T12:00:00+00:00",
                                          "2023-10-01T20:00:00+08:00", "2023-10-01T12:00:00.000Z")}
    assert len(keys) == 1


def test_timestamp_without_offset_is_utc():
    # Refusing it would make ICE drop the event after its retries.
    assert ak.parse_timestamp("2023-10-01T12:00:00") == ak.parse_timestamp("2023-10-01T12:00:00Z")


@pytest.mark.parametrize("ts", ["yesterday", "", "2023-10-01", "2023-10-01T12:00Z",
                                "2023-02-30T00:00:00Z", "2023-10-01T24:00:00Z", "2023-10-01T12:00:61Z",
                                "2023-10-01T12:00:00+24:00", "2023-10-01T12:00:00+08:60", "1696161600",
                                "20231001T120000Z", "2023-10-01T12:00:00Z trailing", "2023-10-01T12:00:00.Z"])
def test_bad_timestamps_raise(ts):
    with pytest.raises(ValueError, match="timestamp"):
        ak.callback_key("inst-1", "agent_stop", ts, EVENT)
    with pytest.raises(ValueError):
        ak.parse_timestamp(ts)


def test_non_string_timestamp_raises():
    with pytest.raises(ValueError):
        ak.parse_timestamp(1696161600)  # type: ignore[arg-type]


@pytest.mark.parametrize("event_type, shown", [
    ("agent_stop", "agent_stop"), ("chat_record", "chat_record"), ("some_future_event", "some_future_event"),
    ("Weird/Type!", "unknown"), ("Agent_Stop", "unknown"), ("agent-stop", "unknown"), ("", "unknown"),
    ("x" * 65, "unknown"), ("../../etc", "unknown"), (7, "unknown"), (None, "unknown"),
])
def test_event_types_in_keys(event_type, shown):
    assert ak.safe_event(event_type) == shown
    key = ak.callback_key("inst-1", event_type, "2023-10-01T12:00:00Z", EVENT)
    assert key.endswith(f"-{shown}.json") and ak.parse_callback_key(key).event == shown


@pytest.mark.parametrize("instance_id", ["", "../x", "a/b", "a b", "é", "x" * 129, "inst.1", None, 5])
def test_bad_instance_ids_raise_naming_instance_id(instance_id):
    for build in (lambda: ak.callback_key(instance_id, "agent_stop", "2023-10-01T12:00:00Z", EVENT),
                  lambda: ak.call_log_key("2023-10-01", instance_id),
                  lambda: ak.analysis_key("2023-10-01", instance_id, "default"),
                  lambda: ak.failed_key("archive", "2023-10-01", instance_id, "0" * 16),
                  lambda: ak.attempts_key("archive", instance_id, "0" * 16),
                  lambda: ak.callback_instance_prefix("2023-10-01", instance_id)):
        with pytest.raises(ValueError, match="instanceId"):
            build()


def test_longest_and_odd_valid_instance_ids():
    for inst in ("x" * 128, "A_b-9", "-", "_"):
        assert ak.parse_call_log_key(ak.call_log_key("2023-10-01", inst)).instance_id == inst
        assert ak.parse_callback_key(ak.callback_key(inst, "agent_stop", "2023-10-01T12:00:00Z", {})).instance_id == inst


def test_suffix_filter_selects_only_stop_events():
    keys = {t: key_of(EVENT, event_type=t) for t in
            ("agent_start", "agent_stop", "chat_record", "audio_record", "error", "unknown", "Weird!")}
    fired = {t for t, k in keys.items() if ak.ARCHIVE_TRIGGER.matches(k)}
    assert fired == {"agent_stop"}
    assert ak.triggered_by(keys["agent_stop"]) == ["archive_call_log"]
    assert ak.triggered_by(keys["chat_record"]) == []


def test_keys_of_one_call_sort_chronologically():
    stamps = ["2023-10-01T23:59:58Z", "2023-10-01T23:59:59.250Z", "2023-10-02T00:00:01Z",
              "2023-10-01T23:59:59.100+00:00", "2023-10-02T08:00:00.001+08:00"]
    keys = [ak.callback_key("inst-1", "chat_record", t, {"t": t}) for t in stamps]
    names = sorted(k.rsplit("/", 1)[1] for k in keys)
    times = [ak.parse_callback_key(f"callbacks/dt={n[0:4]}-{n[4:6]}-{n[6:8]}/inst-1/{n}").timestamp for n in names]
    assert times == sorted(times)


# --- other keys -----------------------------------------------------------------------

def test_call_log_key_round_trip():
    key = ak.call_log_key("2025-08-14", "inst-a1")
    assert key == "call-logs/dt=2025-08-14/inst-a1.json"
    ref = ak.parse_call_log_key(key)
    assert (ref.dt, ref.instance_id) == ("2025-08-14", "inst-a1")
    assert ak.call_log_key(date(2025, 8, 14), "inst-a1") == key
    assert ak.ANALYZE_TRIGGER.matches(key) and ak.triggered_by(key) == ["analyze_conversation"]


def test_call_log_dt_comes_from_the_stop_key():
    stop = ak.parse_callback_key(key_of(EVENT, ts="2023-10-01T23:59:59.999Z"))
    assert ak.call_log_key(stop.dt, stop.instance_id) == "call-logs/dt=2023-10-01/inst-1.json"


def test_analysis_key_round_trip():
    key = ak.analysis_key("2025-08-14", "inst-a1", "default")
    assert key == "analyses/dt=2025-08-14/inst-a1/default.json"
    ref = ak.parse_analysis_key(key)
    assert (ref.dt, ref.instance_id, ref.profile) == ("2025-08-14", "inst-a1", "default")
    assert ak.triggered_by(key) == []


@pytest.mark.parametrize("profile", ["", "Default", "-x", "_x", "a b", "a/b", "x" * 65, "a.b"])
def test_bad_profiles_raise(profile):
    with pytest.raises(ValueError, match="profile"):
        ak.analysis_key("2025-08-14", "inst-a1", profile)


def test_failed_and_attempts_keys():
    digest = ak.content_digest({"source": "callbacks/x", "stage": "archive"})
    key = ak.failed_key("archive", "2025-08-14", "inst-a1", digest)
    assert key == f"failed/archive/dt=2025-08-14/inst-a1-{digest}.json"
    ref = ak.parse_failed_key(key)
    assert (ref.step, ref.dt, ref.instance_id, ref.digest) == ("archive", "2025-08-14", "inst-a1", digest)
    assert ak.parse_failed_key(ak.failed_key("analyze", "2025-08-14", "a-b-c", digest)).instance_id == "a-b-c"
    assert ak.dt_of(key) == "2025-08-14"
    assert ak.attempts_key("archive", "inst-a1", digest) == f"failed/archive/attempts/inst-a1-{digest}.json"
    assert ak.triggered_by(key) == [] and ak.triggered_by(ak.attempts_key("archive", "inst-a1", digest)) == []
    with pytest.raises(ValueError, match="digest"):
        ak.attempts_key("archive", "inst-a1", "XYZ")
    with pytest.raises(ValueError):  # a counter is not a dead letter
        ak.parse_failed_key(ak.attempts_key("archive", "inst-a1", digest))
    with pytest.raises(ValueError, match="step"):
        ak.failed_key("Archive", "2025-08-14", "inst-a1", digest)
    with pytest.raises(ValueError, match="digest"):
        ak.failed_key("archive", "2025-08-14", "inst-a1", "XYZ")


@pytest.mark.parametrize("dt", ["2025-8-14", "2025-02-30", "14-08-2025", "", "2025-08-14/..", None])
def test_bad_dates_raise(dt):
    with pytest.raises(ValueError, match="dt"):
        ak.call_log_key(dt, "inst-a1")


def test_datetime_is_not_a_date():
    with pytest.raises(ValueError, match="dt"):
        ak.call_log_key(datetime(2025, 8, 14, tzinfo=timezone.utc), "inst-a1")


@pytest.mark.parametrize("parse, key", [
    (ak.parse_callback_key, "callbacks/dt=2023-10-01/inst-1/20231001T120000Z-0123456789abcdef-agent_stop.txt"),
    (ak.parse_callback_key, "callbacks/dt=2023-10-02/inst-1/20231001T120000Z-0123456789abcdef-agent_stop.json"),
    (ak.parse_callback_key, "callbacks/dt=2023-02-30/inst-1/20230230T120000Z-0123456789abcdef-agent_stop.json"),
    (ak.parse_callback_key, "callbacks/dt=2023-10-01/inst-1/20231001T250000Z-0123456789abcdef-agent_stop.json"),
    (ak.parse_callback_key, "callbacks/dt=2023-10-01/inst-1/20231001T120000Z-0123456789ABCDEF-agent_stop.json"),
    (ak.parse_callback_key, "callbacks/dt=2023-10-01/inst-1/extra/20231001T120000Z-0123456789abcdef-agent_stop.json"),
    (ak.parse_callback_key, "call-logs/dt=2023-10-01/inst-1.json"),
    (ak.parse_callback_key, "recordings/x.wav"),
    (ak.parse_call_log_key, "call-logs/dt=2023-10-01/inst-1.json.bak"),
    (ak.parse_call_log_key, "call-logs/dt=2023-10-01/sub/inst-1.json"),
    (ak.parse_call_log_key, "call-logs/dt=2023-13-01/inst-1.json"),
    (ak.parse_call_log_key, "analyses/dt=2023-10-01/inst-1/default.json"),
    (ak.parse_analysis_key, "analyses/dt=2023-10-01/inst-1.json"),
    (ak.parse_analysis_key, "analyses/dt=2023-10-01/inst-1/Default.json"),
    (ak.parse_failed_key, "failed/archive/attempts/inst-1.json"),
    (ak.parse_call_log_key, None),
])
def test_parsers_refuse_foreign_keys(parse, key):
    with pytest.raises(ValueError):
        parse(key)


def test_dt_of_and_date_prefixes():
    assert ak.dt_of(ak.analysis_key("2025-08-14", "i", "p")) == "2025-08-14"
    with pytest.raises(ValueError):
        ak.dt_of("recordings/a.wav")
    with pytest.raises(ValueError):
        ak.dt_of("call-logs/dt=2025-02-30/i.json")
    assert ak.date_prefix(ak.CALL_LOGS, "2025-08-14") == "call-logs/dt=2025-08-14/"
    assert ak.date_prefix(ak.FAILED + "archive/", date(2025, 8, 14)) == "failed/archive/dt=2025-08-14/"
    assert list(ak.date_prefixes(ak.CALL_LOGS, "2025-02-27", "2025-03-01")) == [
        "call-logs/dt=2025-02-27/", "call-logs/dt=2025-02-28/", "call-logs/dt=2025-03-01/"]
    assert ak.call_log_key("2025-08-14", "i").startswith(ak.date_prefix(ak.CALL_LOGS, "2025-08-14"))
    with pytest.raises(ValueError):
        list(ak.date_prefixes(ak.CALL_LOGS, "2025-03-01", "2025-02-27"))
    for bad in ("call-logs", "elsewhere/", ""):
        with pytest.raises(ValueError, match="prefix"):
            ak.date_prefix(bad, "2025-08-14")


# --- the trigger graph ----------------------------------------------------------------

def _overlap(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def test_no_function_writes_where_its_own_trigger_listens():
    for name, flt in ak.TRIGGERS.items():
        for prefix in ak.WRITES.get(name, ()):
            assert not _overlap(prefix, flt.prefix), (name, prefix, flt)


def test_prefixes_are_disjoint_and_recordings_trigger_nothing():
    for a in ak.ALL_PREFIXES:
        for b in ak.ALL_PREFIXES:
            assert a == b or not _overlap(a, b)
    for flt in ak.TRIGGERS.values():
        assert not _overlap(flt.prefix, ak.RECORDINGS)
    assert all(p.endswith("/") for p in ak.ALL_PREFIXES)


def test_the_chain_is_acyclic_and_as_designed():
    # function -> functions its writes can trigger (prefix overlap is enough to fire)
    edges = {name: {t for t, flt in ak.TRIGGERS.items() for p in prefixes if _overlap(p, flt.prefix)}
             for name, prefixes in ak.WRITES.items()}
    # The recording callbacks are stored as the call's callbacks (prefix callbacks/), so they
    # could fire the archive step; their keys end -rtc_<event>.json, never -agent_stop.json (below).
    chain = {"ingest_callback": {"archive_call_log"}, "archive_call_log": {"analyze_conversation"},
             "analyze_conversation": set(), "record_failed_invocation": set(),
             "ingest_recording_callback": {"archive_call_log"}}
    assert {k: v for k, v in edges.items() if k in chain} == chain
    # The client API's records (state/: owners, channels, voiceprints, quotas), the erasure
    # receipts (erasures/) and the call index (warehouse/) trigger nothing.
    assert all(edges[k] == set() and all(p.startswith((ak.STATE, ak.ERASURES, ak.WAREHOUSE)) for p in ak.WRITES[k])
               for k in edges if k not in chain)

    def reaches(start, seen=()):
        for nxt in edges.get(start, ()):
            assert nxt not in seen and nxt != start, f"trigger cycle through {nxt}"
            reaches(nxt, seen + (start,))

    for name in edges:
        reaches(name)


def test_what_the_builders_make_fires_only_the_next_function():
    digest = "0" * 16
    assert ak.triggered_by(key_of(EVENT)) == ["archive_call_log"]
    from shared.archive import recording_callbacks

    for kind in recording_callbacks.EVENT_TYPES:  # a recording callback stored for a call fires nothing
        name = recording_callbacks.event_name(kind)
        assert ak.triggered_by(ak.callback_key("i", name, "2025-08-14T00:00:00Z", {"k": kind})) == [], name
    for key in (ak.call_log_key("2025-08-14", "i"),):
        assert ak.triggered_by(key) == ["analyze_conversation"]
    for key in (ak.analysis_key("2025-08-14", "i", "default"), ak.failed_key("archive", "2025-08-14", "i", digest),
                ak.failed_key("analyze", "2025-08-14", "i", digest), ak.attempts_key("archive", "i", digest),
                ak.attempts_key("analyze", "i", digest)):
        assert ak.triggered_by(key) == []
    # Keys each function writes lie under the prefixes WRITES declares for it.
    assert ak.call_log_key("2025-08-14", "i").startswith(ak.WRITES["archive_call_log"])
    assert ak.failed_key("archive", "2025-08-14", "i", digest).startswith(ak.WRITES["archive_call_log"])
    assert ak.attempts_key("archive", "i", digest).startswith(ak.WRITES["archive_call_log"])
    assert ak.analysis_key("2025-08-14", "i", "p").startswith(ak.WRITES["analyze_conversation"])
    assert key_of(EVENT).startswith(ak.WRITES["ingest_callback"])


# --- properties -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)
instance_ids = st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True)
# Fixed UTC offsets in whole minutes within ±14:00 (ISO-8601 has no seconds in offsets), local
# times whose UTC instant stays in the accepted range (2000-2999). The whole range, edges,
# notations and refusals: tests/unit/test_callback_timestamps.py.
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
timestamps = st.datetimes(timezones=offsets, min_value=datetime(2000, 1, 1, 14),
                          max_value=datetime(2999, 12, 31, 9, 59, 59))


@settings(max_examples=150, deadline=None)
@given(instance_ids, st.text(max_size=70), timestamps, st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_property_callback_keys_round_trip_and_are_deterministic(instance_id, event_type, ts, obj):
    stamp = ts.isoformat()
    key = ak.callback_key(instance_id, event_type, stamp, obj)
    ref = ak.parse_callback_key(key)
    assert ref.instance_id == instance_id and ref.event == ak.safe_event(event_type)
    utc = ak.parse_timestamp(stamp)
    assert ref.dt == utc.date().isoformat()
    assert abs((ref.timestamp - utc).total_seconds()) < 0.001
    shuffled = json.loads(json.dumps(dict(reversed(list(obj.items()))), indent=2))
    assert ak.callback_key(instance_id, event_type, stamp, shuffled) == key
    assert ak.ARCHIVE_TRIGGER.matches(key) == (ref.event == "agent_stop")


@settings(max_examples=100, deadline=None)
@given(instance_ids, st.dates(), st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True))
def test_property_other_keys_round_trip(instance_id, day, profile):
    assert ak.parse_call_log_key(ak.call_log_key(day, instance_id)) == \
        ak.CallLogKey(ak.call_log_key(day, instance_id), day.isoformat(), instance_id)
    ref = ak.parse_analysis_key(ak.analysis_key(day, instance_id, profile))
    assert (ref.dt, ref.instance_id, ref.profile) == (day.isoformat(), instance_id, profile)


@pytest.mark.parametrize("digit", ["٢", "２", "२"])  # Arabic-Indic, full-width, Devanagari two
def test_day_partitions_take_ascii_digits_only(digit):
    # Python's \d also matches other scripts' digits; the layout's keys are ASCII (the regexes
    # say so; date.fromisoformat behind them refuses these too, a second line of defence).
    digest = ak.content_digest({"x": 1})
    keys = {ak.parse_call_log_key: ak.call_log_key("2025-08-14", "inst-1"),
            ak.parse_analysis_key: ak.analysis_key("2025-08-14", "inst-1", "default"),
            ak.parse_failed_key: ak.failed_key("archive", "2025-08-14", "inst-1", digest)}
    for parse, key in keys.items():
        assert parse(key)  # the ASCII key parses
        with pytest.raises(ValueError):
            parse(key.replace("dt=2025", f"dt={digit}025"))
    with pytest.raises(ValueError):
        ak.dt_of(keys[ak.parse_call_log_key].replace("dt=2025", f"dt={digit}025"))
