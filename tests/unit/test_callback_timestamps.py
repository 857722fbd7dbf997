"""Callback timestamps -> keys -> back (shared/archive/layout.py; security review).

`callback_key` and `parse_callback_key` must be exact inverses for every timestamp the
callback endpoint accepts: a key the archive step cannot parse is "skipped" and the call
is lost. The accepted range is explicit (`parse_timestamp`): ISO-8601 with ASCII digits,
`Z`, an offset within ±14:00 or none (UTC), 1-9 fractional digits (kept to the
millisecond), an instant in 2000-01-01T00:00:00Z .. 2999-12-31T23:59:59.999Z. Anything
else is a ValueError, never another exception (which the endpoint would answer with a 500).

Failing classes found before the fix (hypothesis search), kept as examples below:
- UTC year below 1000 (`0999-12-31T23:59:59Z`, or `1000-01-01T00:00:00+00:01` which is
  0999 in UTC): `strftime("%Y")` wrote `999...`, the key did not parse back.
- year 1 / 9999 with an offset that crosses the calendar's edge
  (`0001-01-01T00:00:00+01:00`, `9999-12-31T23:59:59-01:00`): OverflowError -> 500.
- non-ASCII digits (`٢٠٢٥-…`, `２０２５-…`): `\\d` took them, `int()` read them.
- offsets up to ±23:59 accepted although no zone is beyond ±14:00.
"""
import calendar
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.archive import layout as ak

EARLIEST, LATEST = ak.EARLIEST_EVENT_TIME, ak.LATEST_EVENT_TIME
instance_ids = st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True)
event_types = st.one_of(st.sampled_from(["agent_stop", "agent_start", "chat_record", "Weird/Type!"]),
                        st.text(max_size=70))


def _two(n: int) -> str:
    return f"{n:02d}"


@st.composite
def accepted(draw):
    """(timestamp string, the UTC instant it means): any instant of the accepted range, in
    any UTC offset within ±14:00 and any accepted notation."""
    naive = draw(st.datetimes(min_value=EARLIEST.replace(tzinfo=None), max_value=LATEST.replace(tzinfo=None)))
    utc = naive.replace(microsecond=naive.microsecond // 1000 * 1000, tzinfo=timezone.utc)
    minutes = draw(st.one_of(st.integers(-14 * 60, 14 * 60), st.sampled_from([0, 14 * 60, -14 * 60, 330, -210])))
    local = (utc + timedelta(minutes=minutes)).replace(tzinfo=None)  # may be 1999-12-31 or 3000-01-01
    if minutes == 0:
        zone = draw(st.sampled_from(["Z", "z", "", "+00:00", "-00:00", "+0000"]))
    else:
        sign = "+" if minutes > 0 else "-"
        zone = f"{sign}{_two(abs(minutes) // 60)}{draw(st.sampled_from([':', '']))}{_two(abs(minutes) % 60)}"
    ms = utc.microsecond // 1000
    digits = f"{ms:03d}" + draw(st.text("0123456789", max_size=6))  # sub-millisecond digits are dropped
    if draw(st.booleans()):
        digits = digits.rstrip("0")
    frac = "" if not digits else draw(st.sampled_from(".,")) + digits
    if not frac and ms == 0 and draw(st.booleans()):
        frac = "." + "0" * draw(st.integers(1, 9))
    sep = draw(st.sampled_from("Tt "))
    text = (f"{local.year:04d}-{_two(local.month)}-{_two(local.day)}{sep}"
            f"{_two(local.hour)}:{_two(local.minute)}:{_two(local.second)}{frac}{zone}")
    return text, utc


@settings(max_examples=400, deadline=None)
@given(instance_ids, event_types, accepted(), st.dictionaries(st.text(max_size=8), st.integers(), max_size=4))
@example("inst-1", "agent_stop", ("2000-01-01T00:00:00Z", EARLIEST), {})
@example("inst-1", "agent_stop", ("2999-12-31T23:59:59.999Z", LATEST), {})
@example("inst-1", "agent_stop", ("2000-01-01T14:00:00+14:00", EARLIEST), {})
@example("inst-1", "agent_stop", ("2999-12-31T09:59:59.999-14:00", LATEST), {})
@example("inst-1", "agent_stop", ("1999-12-31T23:00:00-01:00", EARLIEST), {})
@example("inst-1", "agent_stop", ("3000-01-01T00:59:59.999+01:00", LATEST), {})
def test_property_every_accepted_timestamp_round_trips_through_its_key(instance_id, event_type, stamp, obj):
    text, utc = stamp
    assert ak.parse_timestamp(text) == utc
    key = ak.callback_key(instance_id, event_type, text, obj)
    ref = ak.parse_callback_key(key)  # never "not a callback key" for an accepted timestamp
    assert ref.key == key and ref.instance_id == instance_id and ref.event == ak.safe_event(event_type)
    assert ref.timestamp == utc  # exact: the key keeps milliseconds, parse_timestamp keeps milliseconds
    assert ref.dt == utc.date().isoformat() == ak.dt_of(key)
    assert ref.digest == ak.content_digest(obj)
    assert key.startswith(ak.callback_instance_prefix(ref.dt, instance_id))
    assert ak.ARCHIVE_TRIGGER.matches(key) == (ref.event == "agent_stop")


def _oracle(year, month, day, hour, minute, second, offset_minutes):
    """The UTC instant a component-built timestamp means, or None when it must be refused.
    Integer arithmetic on ordinals: no datetime, so no overflow and no shared code."""
    if not (1 <= year and 1 <= month <= 12) or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    if hour > 23 or minute > 59 or second > 59 or abs(offset_minutes) > 14 * 60:
        return None
    seconds = date(year, month, day).toordinal() * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60
    lo = EARLIEST.date().toordinal() * 86400
    hi = (LATEST.date().toordinal() + 1) * 86400
    if not lo <= seconds < hi:
        return None
    day_no, rest = divmod(seconds, 86400)
    return datetime.combine(date.fromordinal(day_no), datetime.min.time(), timezone.utc) + timedelta(seconds=rest)


@settings(max_examples=600, deadline=None)
@given(year=st.one_of(st.integers(0, 9999), st.sampled_from([1, 999, 1000, 1999, 2000, 2999, 3000, 9999])),
       month=st.integers(0, 19), day=st.integers(0, 39), hour=st.integers(0, 29), minute=st.integers(0, 69),
       second=st.integers(0, 69), off_h=st.integers(0, 29), off_m=st.integers(0, 69), sign=st.sampled_from("+-"),
       frac=st.sampled_from(["", ".5", ",123456789"]))
@example(year=999, month=12, day=31, hour=23, minute=59, second=59, off_h=0, off_m=0, sign="+", frac="")
@example(year=1000, month=1, day=1, hour=0, minute=0, second=0, off_h=0, off_m=1, sign="+", frac="")
@example(year=1, month=1, day=1, hour=0, minute=0, second=0, off_h=1, off_m=0, sign="+", frac="")
@example(year=9999, month=12, day=31, hour=23, minute=59, second=59, off_h=1, off_m=0, sign="-", frac="")
@example(year=2025, month=8, day=14, hour=2, minute=0, second=0, off_h=14, off_m=1, sign="+", frac="")
@example(year=2025, month=8, day=14, hour=2, minute=0, second=0, off_h=23, off_m=59, sign="-", frac="")
def test_property_accept_or_refuse_exactly_as_specified(year, month, day, hour, minute, second, off_h, off_m, sign,
                                                          frac):
    text = f"{year:04d}-{_two(month)}-{_two(day)}T{_two(hour)}:{_two(minute)}:{_two(second)}{frac}{sign}" \
           f"{_two(off_h)}:{_two(off_m)}"
    offset = (off_h * 60 + off_m) * (1 if sign == "+" else -1) if off_m <= 59 else 10_000
    want = _oracle(year, month, day, hour, minute, second, offset)
    if want is None:
        with pytest.raises(ValueError, match="timestamp"):
            ak.parse_timestamp(text)
        with pytest.raises(ValueError, match="timestamp"):
            ak.callback_key("inst-1", "agent_stop", text, {})
        return
    millis = {"": 0, ".5": 500, ",123456789": 123}[frac]
    want += timedelta(milliseconds=millis)
    assert ak.parse_timestamp(text) == want
    ref = ak.parse_callback_key(ak.callback_key("inst-1", "agent_stop", text, {}))
    assert (ref.timestamp, ref.dt, ref.instance_id, ref.event) == (want, want.date().isoformat(), "inst-1",
                                                                    "agent_stop")


def _mutants(draw_text: str, draw) -> str:
    pos = draw(st.integers(0, len(draw_text)))
    kind = draw(st.sampled_from(["replace", "insert", "delete"]))
    ch = draw(st.one_of(st.sampled_from(list("0123456789+-:.,TZ tz٢２\u00a0\n")), st.characters()))
    if kind == "replace" and pos < len(draw_text):
        return draw_text[:pos] + ch + draw_text[pos + 1:]
    if kind == "delete" and pos < len(draw_text):
        return draw_text[:pos] + draw_text[pos + 1:]
    return draw_text[:pos] + ch + draw_text[pos:]


@st.composite
def anything(draw):
    """Arbitrary text, near misses of accepted timestamps, and non-strings."""
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.text(max_size=64))
    if choice == 1:
        return _mutants(draw(accepted())[0], draw)
    if choice == 2:
        return draw(st.from_regex(r"[0-9٠-٩０-９]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
                                  r"([.,][0-9]{1,12})?([Zz]|[+-][0-9]{2}:?[0-9]{2})?", fullmatch=True))
    return draw(st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=30),
                          st.datetimes(timezones=st.just(timezone.utc))))


@settings(max_examples=600, deadline=None)
@given(anything())
@example("0999-12-31T23:59:59Z")
@example("1000-01-01T00:00:00+00:01")
@example("0001-01-01T00:00:00+01:00")
@example("9999-12-31T23:59:59-01:00")
@example("٢٠٢٥-08-14T02:00:00Z")
@example("２０２５-08-14T02:00:00Z")
@example("2025-08-14T02:00:00+23:59")
@example("2025-08-14T02:00:00.１２３Z")
def test_property_anything_is_accepted_and_round_trips_or_is_a_value_error(value):
    try:
        utc = ak.parse_timestamp(value)
    except ValueError:
        with pytest.raises(ValueError):
            ak.callback_key("inst-1", "agent_stop", value, {})
        return
    assert EARLIEST <= utc <= LATEST and utc.tzinfo is timezone.utc and utc.microsecond % 1000 == 0
    ref = ak.parse_callback_key(ak.callback_key("inst-1", "agent_stop", value, {}))
    assert (ref.timestamp, ref.dt) == (utc, utc.date().isoformat())


@pytest.mark.parametrize("ts, why", [
    ("0999-12-31T23:59:59Z", "UTC year below 1000: the key's time was not 8 digits"),
    ("1000-01-01T00:00:00+00:01", "0999 in UTC"),
    ("0125-11-02T03:11:24Z", "year 125"),
    ("0001-01-01T00:00:00+01:00", "OverflowError (a 500) before the fix"),
    ("9999-12-31T23:59:59-01:00", "OverflowError (a 500) before the fix"),
    ("9999-12-31T23:00:00-14:00", "OverflowError within the new offset range"),
    ("٢٠٢٥-08-14T02:00:00Z", "Arabic-Indic digits"),
    ("２０２５-08-14T02:00:00Z", "full-width digits"),
    ("2025-08-14T02:00:00+０８:00", "full-width offset"),
    ("2025-08-14T02:00:00+14:01", "offset beyond +14:00"),
    ("2025-08-14T02:00:00-23:59", "offset beyond -14:00"),
    ("1999-12-31T23:59:59.999Z", "just before the range"),
    ("2000-01-01T13:59:59.999+14:00", "just before the range, in +14:00"),
    ("3000-01-01T00:00:00Z", "just after the range"),
    ("2999-12-31T23:59:59-00:01", "just after the range, in -00:01"),
])
def test_found_failing_classes_are_now_value_errors(ts, why):
    with pytest.raises(ValueError, match="timestamp"):
        ak.parse_timestamp(ts)
    with pytest.raises(ValueError, match="timestamp"):
        ak.callback_key("inst-1", "agent_stop", ts, {})


def test_range_edges_are_accepted_and_sub_milliseconds_are_dropped_exactly():
    for ts, want in [("2000-01-01T00:00:00Z", "20000101T000000Z"), ("2999-12-31T23:59:59.999999999Z",
                                                                     "29991231T235959.999Z"),
                     ("2000-01-01T14:00:00+14:00", "20000101T000000Z"),
                     ("2999-12-31T09:59:59.999-14:00", "29991231T235959.999Z"),
                     ("2023-10-01T12:00:00.0009Z", "20231001T120000Z")]:
        ref = ak.parse_callback_key(ak.callback_key("inst-1", "agent_stop", ts, {}))
        assert ref.event_time == want and ref.timestamp == ak.parse_timestamp(ts)


def test_event_time_of_a_datetime_pads_and_checks_the_range():
    assert ak.event_time(datetime(2001, 2, 3, 4, 5, 6, 7890, tzinfo=timezone.utc)) == "20010203T040506.007Z"
    for bad in (datetime(999, 1, 1, tzinfo=timezone.utc), datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
                datetime(2020, 1, 1), "0999-01-01T00:00:00Z"):
        with pytest.raises(ValueError):
            ak.event_time(bad)


def test_keys_with_non_ascii_digits_are_not_callback_keys():
    key = ak.callback_key("inst-1", "agent_stop", "2025-08-14T02:00:00Z", {})
    with pytest.raises(ValueError):
        ak.parse_callback_key(key.replace("20250814T", "２0250814T"))
    assert json.dumps(key).isascii()
