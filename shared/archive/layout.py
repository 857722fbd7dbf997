"""Every key and prefix of the archive bucket (docs/protocols.md#archive-chain), in one place.

Writers build keys here, triggered functions parse them here, and s.yaml checks and
tests compare their filters against `TRIGGERS`/`WRITES` here. Layout (Hive-style
date partitions, dates in UTC)::

    callbacks/dt=YYYY-MM-DD/<instanceId>/<eventtime>-<digest>-<event>.json   raw ICE callbacks
    call-logs/dt=YYYY-MM-DD/<instanceId>.json                               archived call logs
    analyses/dt=YYYY-MM-DD/<instanceId>/<profile>.json                      analysis results
    failed/<step>/dt=YYYY-MM-DD/<instanceId>-<digest>.json                 dead letters
    failed/<step>/attempts/<instanceId>.json                               retry counters
    recordings/...                                                          ICE audio; never triggers

`<eventtime>` is the event's timestamp in UTC compact form (`20231001T120000Z`, or
`20231001T120000.123Z` when it has a sub-second part), so keys of one call sort by
time. `<digest>` is derived from the event's content (not its formatting), so a
re-delivered event maps to the same key. `<event>` comes last so an OSS suffix
filter (`agent_stop.json`) selects one event type.

Pure standard library and cheap to import: every function imports it.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

# --- prefixes -----------------------------------------------------------------------

CALLBACKS = "callbacks/"
CALL_LOGS = "call-logs/"
ANALYSES = "analyses/"
FAILED = "failed/"
RECORDINGS = "recordings/"

ALL_PREFIXES = (CALLBACKS, CALL_LOGS, ANALYSES, FAILED, RECORDINGS)

STOP_EVENT = "agent_stop"
UNKNOWN_EVENT = "unknown"
JSON_SUFFIX = ".json"


class KeyFilter(NamedTuple):
    """An OSS trigger filter: an object key matches when it has both prefix and suffix."""

    prefix: str
    suffix: str

    def matches(self, key: str) -> bool:
        """True when an object created at `key` fires this filter."""
        return key.startswith(self.prefix) and key.endswith(self.suffix)


# What each OSS trigger listens to (s.yaml `triggerConfig.filter.key` must equal these).
ARCHIVE_TRIGGER = KeyFilter(CALLBACKS, "-" + STOP_EVENT + JSON_SUFFIX)  # exact: not pre_agent_stop
ANALYZE_TRIGGER = KeyFilter(CALL_LOGS, JSON_SUFFIX)

# Function name -> the filter of its OSS trigger.
TRIGGERS: dict[str, KeyFilter] = {
    "archive_call_log": ARCHIVE_TRIGGER,
    "analyze_conversation": ANALYZE_TRIGGER,
}

# Function name -> every prefix it writes under. A function must never write under a
# prefix one of its own triggers listens to (tests/unit/test_archive_keys.py checks).
WRITES: dict[str, tuple[str, ...]] = {
    "ingest_callback": (CALLBACKS,),
    "archive_call_log": (CALL_LOGS, FAILED),
    "analyze_conversation": (ANALYSES, FAILED),
}

# --- validation ---------------------------------------------------------------------

_INSTANCE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_PROFILE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_EVENT = re.compile(r"[a-z0-9_]{1,64}")
_STEP = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_DIGEST = re.compile(r"[0-9a-f]{8,64}")
_DT = re.compile(r"\d{4}-\d{2}-\d{2}")
# ISO-8601 / RFC 3339 date-time with a mandatory UTC offset ("Z" or +hh:mm / +hhmm).
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def validate_instance_id(instance_id: str) -> str:
    """`instance_id` if it is 1-128 of A-Z a-z 0-9 _ -, else ValueError."""
    if not isinstance(instance_id, str) or not _INSTANCE_ID.fullmatch(instance_id):
        raise ValueError("instanceId must be 1-128 characters of A-Z, a-z, 0-9, '_' and '-'")
    return instance_id


def check_profile_name(profile: str) -> str:
    """`profile` if it is a valid analysis profile name, else ValueError."""
    if not isinstance(profile, str) or not _PROFILE.fullmatch(profile):
        raise ValueError("analysis profile must be 1-64 characters of a-z, 0-9, '_' and '-', "
                         "starting with a letter or digit")
    return profile


def check_step(step: str) -> str:
    """`step` (a step of the chain such as `archive`) if well formed, else ValueError."""
    if not isinstance(step, str) or not _STEP.fullmatch(step):
        raise ValueError("step must be 1-32 characters of a-z, 0-9, '_' and '-', starting with a letter or digit")
    return step


def validate_dt(dt: str | date) -> str:
    """The partition date as `YYYY-MM-DD` (from a str or a date), else ValueError."""
    if isinstance(dt, datetime):
        raise ValueError("dt must be a date, not a datetime (convert to UTC and take .date())")
    if isinstance(dt, date):
        return dt.isoformat()
    if not isinstance(dt, str) or not _DT.fullmatch(dt):
        raise ValueError("dt must be a date in the form YYYY-MM-DD")
    try:
        date.fromisoformat(dt)
    except ValueError:
        raise ValueError(f"dt is not a real calendar date: {dt}") from None
    return dt


def safe_event(event_type: object) -> str:
    """The event type as it appears in a key: itself if it matches `^[a-z0-9_]{1,64}$`, else `unknown`."""
    if isinstance(event_type, str) and _EVENT.fullmatch(event_type):
        return event_type
    return UNKNOWN_EVENT


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 date-time (`Z`, `+00:00`, `+08:00`, fractional seconds allowed) as an
    aware datetime in UTC. Without an offset it is taken as UTC: refusing it would make
    ICE drop the event after its retries, and ICE's documented timestamps are UTC.
    ValueError for anything else and for impossible dates."""
    if not isinstance(value, str):
        raise ValueError("timestamp must be a string")
    m = _TIMESTAMP.fullmatch(value.strip())
    if not m:
        raise ValueError("timestamp must be ISO-8601, such as 2023-10-01T12:00:00Z")
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    if zulu or not sign:
        tz = timezone.utc
    else:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError("timestamp has an invalid UTC offset")
        delta = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-delta if sign == "-" else delta)
    try:
        parsed = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
    except ValueError:
        raise ValueError("timestamp is not a real date and time") from None
    return parsed.astimezone(timezone.utc)


def event_time(value: str | datetime) -> str:
    """The compact UTC form used in callback keys: `20231001T120000Z`, or
    `20231001T120000.123Z` when the instant has a non-zero millisecond part
    (sub-millisecond digits are dropped)."""
    ts = parse_timestamp(value) if isinstance(value, str) else value
    if ts.tzinfo is None:
        raise ValueError("timestamp must carry a UTC offset")
    ts = ts.astimezone(timezone.utc)
    base = ts.strftime("%Y%m%dT%H%M%S")
    ms = ts.microsecond // 1000
    return f"{base}.{ms:03d}Z" if ms else f"{base}Z"


def canonical_json(obj: Any) -> bytes:
    """The canonical UTF-8 JSON of `obj`: sorted keys, no whitespace, non-ASCII kept."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_digest(obj: Any) -> str:
    """First 16 hex characters of sha256 over `canonical_json(obj)`: equal for equal content,
    whatever the key order or whitespace it arrived with."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()[:16]


# --- builders -----------------------------------------------------------------------

def date_prefix(prefix: str, day: str | date) -> str:
    """`<prefix>dt=YYYY-MM-DD/`: everything under `prefix` for one UTC day (for listings).

    `prefix` is one of CALLBACKS, CALL_LOGS, ANALYSES, or `FAILED + "<step>/"`.
    """
    if not isinstance(prefix, str) or not prefix.endswith("/") or not prefix.startswith(ALL_PREFIXES):
        raise ValueError(f"prefix must be one of the archive prefixes ending in '/', got {prefix!r}")
    return f"{prefix}dt={validate_dt(day)}/"


def date_prefixes(prefix: str, start: str | date, end: str | date) -> Iterator[str]:
    """`date_prefix(prefix, d)` for every day from `start` to `end`, both included (for
    reanalysing a date range). ValueError when `end` is before `start`."""
    first, last = date.fromisoformat(validate_dt(start)), date.fromisoformat(validate_dt(end))
    if last < first:
        raise ValueError("end date is before start date")
    day = first
    while day <= last:
        yield date_prefix(prefix, day)
        day += timedelta(days=1)


def callback_instance_prefix(dt: str | date, instance_id: str) -> str:
    """`callbacks/dt=<dt>/<instanceId>/`: every stored callback of one call on one day."""
    return f"{date_prefix(CALLBACKS, dt)}{validate_instance_id(instance_id)}/"


def callback_key(instance_id: str, event_type: str, timestamp_str: str, event_obj: Any) -> str:
    """The deterministic key of one raw callback event.

    `timestamp_str` is the event's `timestamp` (ISO-8601 with offset) and gives both the
    partition date and the sortable time; `event_obj` is the parsed event, whose
    canonical JSON gives the digest. ValueError names a bad instance id or timestamp.
    """
    validate_instance_id(instance_id)
    ts = parse_timestamp(timestamp_str)
    return (f"{CALLBACKS}dt={ts.date().isoformat()}/{instance_id}/"
            f"{event_time(ts)}-{content_digest(event_obj)}-{safe_event(event_type)}{JSON_SUFFIX}")


def call_log_key(dt: str | date, instance_id: str) -> str:
    """`call-logs/dt=<dt>/<instanceId>.json`; `dt` is taken from the agent_stop callback key."""
    return f"{date_prefix(CALL_LOGS, dt)}{validate_instance_id(instance_id)}{JSON_SUFFIX}"


def analysis_key(dt: str | date, instance_id: str, profile: str) -> str:
    """`analyses/dt=<dt>/<instanceId>/<profile>.json`: one result per analysis profile."""
    return (f"{date_prefix(ANALYSES, dt)}{validate_instance_id(instance_id)}/"
            f"{check_profile_name(profile)}{JSON_SUFFIX}")


def failed_key(step: str, dt: str | date, instance_id: str, digest: str) -> str:
    """`failed/<step>/dt=<dt>/<instanceId>-<digest>.json`: one dead letter.

    `digest` is a `content_digest` of what failed (so the same failure is recorded once).
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError("digest must be 8-64 lowercase hex characters (see content_digest)")
    partition = date_prefix(f"{FAILED}{check_step(step)}/", dt)
    return f"{partition}{validate_instance_id(instance_id)}-{digest}{JSON_SUFFIX}"


def attempts_key(step: str, instance_id: str) -> str:
    """`failed/<step>/attempts/<instanceId>.json`: how often `step` was tried for a call
    (kept under failed/, which the step's function already writes and nothing triggers on)."""
    return f"{FAILED}{check_step(step)}/attempts/{validate_instance_id(instance_id)}{JSON_SUFFIX}"


# --- parsers ------------------------------------------------------------------------

@dataclass(frozen=True)
class CallbackKey:
    """A parsed `callbacks/` key."""

    key: str
    dt: str
    instance_id: str
    event_time: str  # compact UTC, e.g. 20231001T120000Z
    digest: str
    event: str

    @property
    def timestamp(self) -> datetime:
        """`event_time` as an aware UTC datetime (millisecond precision)."""
        fmt = "%Y%m%dT%H%M%S.%fZ" if "." in self.event_time else "%Y%m%dT%H%M%SZ"
        return datetime.strptime(self.event_time, fmt).replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class CallLogKey:
    """A parsed `call-logs/` key."""

    key: str
    dt: str
    instance_id: str


@dataclass(frozen=True)
class AnalysisKey:
    """A parsed `analyses/` key."""

    key: str
    dt: str
    instance_id: str
    profile: str


@dataclass(frozen=True)
class FailedKey:
    """A parsed `failed/` dead-letter key."""

    key: str
    step: str
    dt: str
    instance_id: str
    digest: str


_CALLBACK_KEY = re.compile(
    r"callbacks/dt=(\d{4}-\d{2}-\d{2})/([A-Za-z0-9_-]{1,128})/"
    r"(\d{8}T\d{6}(?:\.\d{3})?Z)-([0-9a-f]{16})-([a-z0-9_]{1,64})\.json"
)
_CALL_LOG_KEY = re.compile(r"call-logs/dt=(\d{4}-\d{2}-\d{2})/([A-Za-z0-9_-]{1,128})\.json")
_ANALYSIS_KEY = re.compile(r"analyses/dt=(\d{4}-\d{2}-\d{2})/([A-Za-z0-9_-]{1,128})/([a-z0-9][a-z0-9_-]{0,63})\.json")
_FAILED_KEY = re.compile(
    r"failed/([a-z0-9][a-z0-9_-]{0,31})/dt=(\d{4}-\d{2}-\d{2})/([A-Za-z0-9_-]{1,128})-([0-9a-f]{8,64})\.json"
)
_DT_SEGMENT = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/")


def _real_dt(dt: str, key: str) -> str:
    try:
        date.fromisoformat(dt)
    except ValueError:
        raise ValueError(f"not an archive key (dt={dt} is not a real date): {key[:200]!r}") from None
    return dt


def parse_callback_key(key: str) -> CallbackKey:
    """The parts of a key made by `callback_key`; ValueError for any other key."""
    m = _CALLBACK_KEY.fullmatch(key) if isinstance(key, str) else None
    if not m:
        raise ValueError(f"not a callback key: {str(key)[:200]!r}")
    dt, instance_id, etime, digest, event = m.groups()
    _real_dt(dt, key)
    if f"{etime[0:4]}-{etime[4:6]}-{etime[6:8]}" != dt:
        raise ValueError(f"not a callback key (event time is not on day {dt}): {key[:200]!r}")
    ref = CallbackKey(key, dt, instance_id, etime, digest, event)
    try:
        _ = ref.timestamp  # an impossible time (Feb 30th, 25:00) does not parse
    except ValueError:
        raise ValueError(f"not a callback key (impossible event time): {key[:200]!r}") from None
    return ref


def parse_call_log_key(key: str) -> CallLogKey:
    """The parts of a key made by `call_log_key`; ValueError for any other key."""
    m = _CALL_LOG_KEY.fullmatch(key) if isinstance(key, str) else None
    if not m:
        raise ValueError(f"not a call-log key: {str(key)[:200]!r}")
    return CallLogKey(key, _real_dt(m.group(1), key), m.group(2))


def parse_analysis_key(key: str) -> AnalysisKey:
    """The parts of a key made by `analysis_key`; ValueError for any other key."""
    m = _ANALYSIS_KEY.fullmatch(key) if isinstance(key, str) else None
    if not m:
        raise ValueError(f"not an analysis key: {str(key)[:200]!r}")
    return AnalysisKey(key, _real_dt(m.group(1), key), m.group(2), m.group(3))


def parse_failed_key(key: str) -> FailedKey:
    """The parts of a key made by `failed_key`; ValueError for any other key."""
    m = _FAILED_KEY.fullmatch(key) if isinstance(key, str) else None
    if not m:
        raise ValueError(f"not a dead-letter key: {str(key)[:200]!r}")
    step, dt, instance_id, digest = m.groups()
    return FailedKey(key, step, _real_dt(dt, key), instance_id, digest)


def dt_of(key: str) -> str:
    """The `YYYY-MM-DD` of the `dt=` partition in any dated archive key; ValueError if none."""
    m = _DT_SEGMENT.search(key) if isinstance(key, str) else None
    if not m:
        raise ValueError(f"key has no dt= partition: {str(key)[:200]!r}")
    return _real_dt(m.group(1), key)


def triggered_by(key: str) -> list[str]:
    """The functions whose OSS trigger an object created at `key` fires."""
    return [name for name, flt in TRIGGERS.items() if flt.matches(key)]
