"""Every key and prefix of the archive bucket (docs/protocols.md#archive-chain), in one place.

Writers build keys here, triggered functions parse them here, and s.yaml checks and
tests compare their filters against `TRIGGERS`/`WRITES` here. Layout (Hive-style
date partitions, dates in UTC)::

    callbacks/dt=YYYY-MM-DD/<instanceId>/<eventtime>-<digest>-<event>.json   raw ICE callbacks
    call-logs/dt=YYYY-MM-DD/<instanceId>.json                               archived call logs
    analyses/dt=YYYY-MM-DD/<instanceId>/<profile>.json                      analysis results
    failed/<step>/dt=YYYY-MM-DD/<instanceId>-<digest>.json                 dead letters
    failed/<step>/attempts/<instanceId>-<digest>.json                      retry counters
    failed/resolved/<step>/dt=YYYY-MM-DD/<instanceId>-<digest>.json        dead letters whose work later succeeded
    failed/invocations/dt=YYYY-MM-DD/<function>-<requestId|digest>.json    FC's failure destination records
    recordings/...                                                          ICE audio; never triggers
    raw/call-logs/dt=YYYY-MM-DD/<instanceId>.json                           the raw call log (REDACTION_MODE=archive,
                                                                            REDACTION_KEEP_RAW=true); never triggers
    erasures/instances/<instanceId>.json                                    an erased call: nothing more written
    erasures/receipts/dt=YYYY-MM-DD/<time>-<digest>.json                    what an erasure deleted (counts only)
    state/owners/<instanceId>.json                                          who started an agent instance
    state/channels/<channelId>.json                                         whose ARTC channel it is
    state/voiceprints/<voiceprintId>.json                                   whose voiceprint id it is
    state/quota/dt=YYYY-MM-DD/<userId>/<slot>.json                          a user's billed call starts of a day
    state/recordings/tasks/<taskId>.json                                    an ARTC cloud recording task: whose call
    state/recordings/calls/<instanceId>.json                                a call's recording task (or why none)
    recordings/dt=YYYY-MM-DD/<instanceId>/<taskId>/<file>.mp4               ARTC cloud recording files (Live writes)
    warehouse/updates/dt=YYYY-MM-DD/<instanceId>/<time>-<kind>-<digest>.json  a row update of the call index
    warehouse/calls/dt=YYYY-MM-DD/calls.parquet                             the call index (docs/archive-index.md)
    warehouse/compaction.lease                                              who is compacting, until when

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
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

from shared import lazyre

# --- prefixes -----------------------------------------------------------------------

CALLBACKS = "callbacks/"
CALL_LOGS = "call-logs/"
ANALYSES = "analyses/"
FAILED = "failed/"
RECORDINGS = "recordings/"
# What FC's async invocation gave up on (record_failed_invocation, the failure destination).
FAILED_INVOCATIONS = FAILED + "invocations/"
# Dead letters whose unit of work succeeded after all (moved here, with when and by what).
RESOLVED = FAILED + "resolved/"

# The client API's own records (ownership and quotas): written by the HTTP functions, never triggers.
STATE = "state/"
OWNERS = STATE + "owners/"
CHANNELS = STATE + "channels/"
VOICEPRINTS = STATE + "voiceprints/"
QUOTA = STATE + "quota/"
RECORDING_TASKS = STATE + "recordings/"

# The raw call log when the archive keeps only redacted text (REDACTION_MODE=archive).
RAW = "raw/"

# Erasures on request (aiagent erase): a marker per erased call, and receipts.
ERASURES = "erasures/"
ERASED_INSTANCES = ERASURES + "instances/"

# The call index (docs/archive-index.md): row updates from the chain, merged by the compaction
# step into one Parquet file per day; the archive API and MaxCompute read the Parquet files.
WAREHOUSE = "warehouse/"
INDEX_UPDATES = WAREHOUSE + "updates/"
INDEX_CALLS = WAREHOUSE + "calls/"
INDEX_LEASE = WAREHOUSE + "compaction.lease"
INDEX_FILE = "calls.parquet"

ALL_PREFIXES = (CALLBACKS, CALL_LOGS, ANALYSES, FAILED, RECORDINGS, STATE, RAW, ERASURES, WAREHOUSE)

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
    "ingest_recording_callback": (CALLBACKS,),
    "archive_call_log": (CALL_LOGS, FAILED, RAW, INDEX_UPDATES, RECORDINGS, RECORDING_TASKS),
    "analyze_conversation": (ANALYSES, FAILED, INDEX_UPDATES),
    "record_failed_invocation": (FAILED_INVOCATIONS,),
    "get_rtc_auth_token": (CHANNELS, QUOTA),
    "generate_ai_agent_call": (OWNERS, CHANNELS, QUOTA, RECORDING_TASKS),
    "start_ai_agent_outbound_call": (OWNERS, QUOTA),
    "set_ai_agent_voiceprint": (VOICEPRINTS,),
    "clear_ai_agent_voiceprint": (VOICEPRINTS,),
    "erase_archive": (ERASURES, INDEX_UPDATES),
    "compact_archive_index": (WAREHOUSE,),
}

# Function name -> every prefix it reads under (GET/HEAD; a write-if-absent HEADs too).
# With WRITES, what template.yaml's role of each function may touch in the bucket
# (tests/unit/test_deploy_consistency.py checks the roles against both).
READS: dict[str, tuple[str, ...]] = {
    "ingest_callback": (CALLBACKS, ERASED_INSTANCES),
    "ingest_recording_callback": (CALLBACKS, RECORDING_TASKS, ERASED_INSTANCES),
    "archive_call_log": (CALLBACKS, CALL_LOGS, FAILED, ERASED_INSTANCES, OWNERS, RECORDINGS, RECORDING_TASKS),
    "analyze_conversation": (CALL_LOGS, ANALYSES, FAILED, ERASED_INSTANCES),
    "record_failed_invocation": (FAILED_INVOCATIONS,),
    "get_rtc_auth_token": (CHANNELS, QUOTA),
    "describe_ai_agent_instance": (OWNERS,),
    "generate_ai_agent_call": (OWNERS, CHANNELS, QUOTA),
    "start_ai_agent_outbound_call": (OWNERS, QUOTA),
    "set_ai_agent_voiceprint": (VOICEPRINTS,),
    "clear_ai_agent_voiceprint": (VOICEPRINTS,),
    "erase_archive": (CALL_LOGS, RAW, STATE),
    "compact_archive_index": (WAREHOUSE,),
    # GET /api/v2/archive/*: the index, and the objects of one call (recordings: HEAD, and the
    # presigned URLs it signs are only as good as its own right to GET them)
    "archive_api": (INDEX_CALLS, CALL_LOGS, ANALYSES, FAILED, RECORDINGS),
}

# Function name -> every prefix it lists (archive: a call's callbacks; both steps: the open
# dead letters of a call, which a success resolves). The roles' ListObjects conditions.
LISTS: dict[str, tuple[str, ...]] = {
    "archive_call_log": (CALLBACKS, FAILED),
    "analyze_conversation": (FAILED,),
    "get_rtc_auth_token": (QUOTA,),
    "generate_ai_agent_call": (QUOTA,),
    "start_ai_agent_outbound_call": (QUOTA,),
    # POST /api/v2/archive/erase: every object of the calls and the user being erased
    "erase_archive": (CALLBACKS, ANALYSES, FAILED, STATE, INDEX_UPDATES, RECORDINGS),
    "compact_archive_index": (INDEX_UPDATES,),
    "archive_api": (INDEX_CALLS, CALLBACKS, ANALYSES, FAILED, RECORDINGS),
}

# Function name -> every prefix it deletes under (the steps: retry counters and resolved dead
# letters; the archive step: callbacks of an erased call; the call-starting functions: a quota
# slot given back when ICE refused the start).
DELETES: dict[str, tuple[str, ...]] = {
    # archive: also the callbacks of an erased call that landed while its erasure ran
    "archive_call_log": (FAILED, CALLBACKS),
    "analyze_conversation": (FAILED,),
    "generate_ai_agent_call": (QUOTA,),
    "start_ai_agent_outbound_call": (QUOTA,),
    "erase_archive": (CALLBACKS, CALL_LOGS, RAW, ANALYSES, FAILED, STATE, RECORDINGS, INDEX_UPDATES),
    # applied row updates, the lease, a day file left with no rows
    "compact_archive_index": (WAREHOUSE,),
}

# --- validation ---------------------------------------------------------------------

_INSTANCE_ID = lazyre.compile(r"[A-Za-z0-9_-]{1,128}")
_PROFILE = lazyre.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_EVENT = lazyre.compile(r"[a-z0-9_]{1,64}")
_STEP = lazyre.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_DIGEST = lazyre.compile(r"[0-9a-f]{8,64}")
_DT = lazyre.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# ISO-8601 / RFC 3339 date-time, ASCII digits only ("\d" would also take other scripts'
# digits): "Z", +hh:mm / +hhmm, or no offset (UTC); 1-9 fractional digits.
_TIMESTAMP = lazyre.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?"
)
# The accepted range of callback timestamps: every instant in it has a four-digit UTC year,
# so `callback_key` and `parse_callback_key` are exact inverses over all of it
# (tests/unit/test_archive_keys.py proves it with hypothesis).
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST_EVENT_TIME = datetime(2999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc)
MAX_UTC_OFFSET = timedelta(hours=14)  # UTC-12:00 .. UTC+14:00 exist; ±14:00 is accepted


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


_RESERVED_STEPS = frozenset({RESOLVED[len(FAILED):-1], FAILED_INVOCATIONS[len(FAILED):-1]})


def check_step(step: str) -> str:
    """`step` (a step of the chain such as `archive`) if well formed, else ValueError."""
    if not isinstance(step, str) or not _STEP.fullmatch(step):
        raise ValueError("step must be 1-32 characters of a-z, 0-9, '_' and '-', starting with a letter or digit")
    if step in _RESERVED_STEPS:
        raise ValueError(f"step must not be {step!r} (a reserved folder of failed/)")
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
    """An ISO-8601 date-time (`Z`, `+00:00`, `+08:00`, `+0800`, fractional seconds allowed)
    as an aware datetime in UTC, truncated to the millisecond (the resolution of a callback
    key, so a key's time equals this exactly). Without an offset it is taken as UTC: refusing
    it would make ICE drop the event after its retries, and ICE's documented timestamps are UTC.

    Accepted: ASCII digits; a UTC offset within ±14:00; an instant from EARLIEST_EVENT_TIME
    to LATEST_EVENT_TIME (years 2000-2999 in UTC). ValueError, and only ValueError, for
    anything else and for impossible dates (Feb 30th, 24:00, leap second 60)."""
    if not isinstance(value, str):
        raise ValueError("timestamp must be a string")
    m = _TIMESTAMP.fullmatch(value.strip())
    if not m:
        raise ValueError("timestamp must be ISO-8601, such as 2023-10-01T12:00:00Z")
    year, month, day, hour, minute, second, frac, _zulu, sign, off_h, off_m = m.groups()
    millis = int((frac or "0")[:3].ljust(3, "0"))
    offset = timedelta(0)
    if sign:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if int(off_m) > 59 or offset > MAX_UTC_OFFSET:
            raise ValueError("timestamp has an invalid UTC offset (at most ±14:00)")
        if sign == "-":
            offset = -offset
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), millis * 1000)
    except ValueError:
        raise ValueError("timestamp is not a real date and time") from None
    # Checked before the shift: year 1 or 9999 shifted by an offset would leave datetime's range.
    if not EARLIEST_EVENT_TIME.year - 1 <= local.year <= LATEST_EVENT_TIME.year + 1:
        raise _out_of_range()
    return _in_range((local - offset).replace(tzinfo=timezone.utc))


def _out_of_range() -> ValueError:
    return ValueError(f"timestamp must lie between {EARLIEST_EVENT_TIME:%Y-%m-%dT%H:%M:%SZ} and "
                      f"{LATEST_EVENT_TIME:%Y-%m-%dT%H:%M:%S}.999Z")


def _in_range(utc: datetime) -> datetime:
    if not EARLIEST_EVENT_TIME <= utc <= LATEST_EVENT_TIME:
        raise _out_of_range()
    return utc


def event_time(value: str | datetime) -> str:
    """The compact UTC form used in callback keys: `20231001T120000Z`, or
    `20231001T120000.123Z` when the instant has a non-zero millisecond part
    (sub-millisecond digits are dropped). Built field by field (never `strftime`, whose
    `%Y` does not pad years below 1000); ValueError outside the accepted range."""
    if isinstance(value, str):
        ts = parse_timestamp(value)
    else:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("timestamp must carry a UTC offset")
        try:
            ts = value.astimezone(timezone.utc)
        except OverflowError:
            raise _out_of_range() from None
        ts = _in_range(ts.replace(microsecond=ts.microsecond // 1000 * 1000))
    base = f"{ts.year:04d}{ts.month:02d}{ts.day:02d}T{ts.hour:02d}{ts.minute:02d}{ts.second:02d}"
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

    `timestamp_str` is the event's `timestamp` (ISO-8601, in the range `parse_timestamp`
    accepts) and gives both the partition date and the sortable time; `event_obj` is the
    parsed event, whose canonical JSON gives the digest. ValueError names a bad instance
    id or timestamp. For every accepted input `parse_callback_key` gives back the instance
    id, `safe_event(event_type)`, `parse_timestamp(timestamp_str)` and its UTC day.
    """
    validate_instance_id(instance_id)
    ts = parse_timestamp(timestamp_str)
    return (f"{CALLBACKS}dt={ts.date().isoformat()}/{instance_id}/"
            f"{event_time(ts)}-{content_digest(event_obj)}-{safe_event(event_type)}{JSON_SUFFIX}")


def call_log_key(dt: str | date, instance_id: str) -> str:
    """`call-logs/dt=<dt>/<instanceId>.json`; `dt` is taken from the agent_stop callback key."""
    return f"{date_prefix(CALL_LOGS, dt)}{validate_instance_id(instance_id)}{JSON_SUFFIX}"


def index_update_key(dt: str | date, instance_id: str, kind: str, stamp: str, digest: str) -> str:
    """`warehouse/updates/dt=<dt>/<instanceId>/<stamp>-<kind>-<digest>.json`: one row update
    (unique per content and time, so an update written while the compaction runs is never
    deleted unread)."""
    if not re.fullmatch(r"[a-z]{1,16}", kind):
        raise ValueError("kind must be 1-16 lower-case letters")
    if not re.fullmatch(r"[0-9]{8}T[0-9]{6}(?:\.[0-9]{1,6})?Z", stamp):
        raise ValueError("stamp must be a compact UTC time such as 20231001T120000.123456Z")
    if not re.fullmatch(r"[0-9a-f]{8,64}", digest):
        raise ValueError("digest must be lower-case hex")
    return f"{date_prefix(INDEX_UPDATES, dt)}{validate_instance_id(instance_id)}/{stamp}-{kind}-{digest}.json"


def index_day_key(dt: str | date) -> str:
    """`warehouse/calls/dt=<dt>/calls.parquet`: the index rows of the calls of one day."""
    return f"{date_prefix(INDEX_CALLS, dt)}{INDEX_FILE}"


_INDEX_UPDATE_KEY = lazyre.compile(r"warehouse/updates/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/([A-Za-z0-9_-]{1,128})/"
                               r"([0-9]{8}T[0-9.]{6,13}Z)-([a-z]{1,16})-([0-9a-f]{8,64})\.json")


def parse_index_update_key(key: str) -> tuple[str, str, str]:
    """(dt, instance id, kind) of a row update's key; ValueError when it is not one."""
    m = _INDEX_UPDATE_KEY.fullmatch(key)
    if m is None:
        raise ValueError("not an index update key")
    return _real_dt(m.group(1), key), m.group(2), m.group(4)


def raw_call_log_key(dt: str | date, instance_id: str) -> str:
    """`raw/call-logs/dt=<dt>/<instanceId>.json`: the raw call log of an archive that keeps only
    redacted text (REDACTION_MODE=archive with REDACTION_KEEP_RAW)."""
    return RAW + call_log_key(dt, instance_id)


def analysis_key(dt: str | date, instance_id: str, profile: str) -> str:
    """`analyses/dt=<dt>/<instanceId>/<profile>.json`: one result per analysis profile."""
    return (f"{date_prefix(ANALYSES, dt)}{validate_instance_id(instance_id)}/"
            f"{check_profile_name(profile)}{JSON_SUFFIX}")


def failed_key(step: str, dt: str | date, instance_id: str, digest: str) -> str:
    """`failed/<step>/dt=<dt>/<instanceId>-<digest>.json`: one dead letter.

    `digest` is a `content_digest` of what failed: the unit of work (source key, step,
    profile, source version) and the error code, so the same failure is recorded once
    and a different one (another profile, another error) gets its own letter.
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError("digest must be 8-64 lowercase hex characters (see content_digest)")
    partition = date_prefix(f"{FAILED}{check_step(step)}/", dt)
    return f"{partition}{validate_instance_id(instance_id)}-{digest}{JSON_SUFFIX}"


def dead_letter_prefix(step: str, dt: str | date, instance_id: str) -> str:
    """`failed/<step>/dt=<dt>/<instanceId>-`: the open dead letters of one call and step
    (also lists ids that start with `<instanceId>-`: compare `parse_failed_key(...).instance_id`)."""
    return f"{date_prefix(f'{FAILED}{check_step(step)}/', dt)}{validate_instance_id(instance_id)}-"


def resolved_key(failed: str) -> str:
    """`failed/resolved/<step>/dt=.../<name>` for the dead letter at `failed` (a `failed_key`)."""
    ref = parse_failed_key(failed)
    return f"{RESOLVED}{ref.step}/{failed[len(FAILED) + len(ref.step) + 1:]}"


def erased_key(instance_id: str) -> str:
    """`erasures/instances/<instanceId>.json`: the call was erased; the chain writes nothing more for it."""
    return f"{ERASED_INSTANCES}{validate_instance_id(instance_id)}{JSON_SUFFIX}"


def erasure_receipt_key(day: str | date, stamp: str, digest: str) -> str:
    """`erasures/receipts/dt=<day>/<stamp>-<digest>.json`: one erasure's receipt."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError("digest must be 8-64 lowercase hex characters (see content_digest)")
    if not isinstance(stamp, str) or not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z", stamp):
        raise ValueError("stamp must be YYYYMMDDTHHMMSSZ")
    return f"{date_prefix(ERASURES + 'receipts/', day)}{stamp}-{digest}{JSON_SUFFIX}"


def owner_key(instance_id: str) -> str:
    """`state/owners/<instanceId>.json`: who started an agent instance (the client API's ownership)."""
    return f"{OWNERS}{validate_instance_id(instance_id)}{JSON_SUFFIX}"


def channel_key(channel_id: str) -> str:
    """`state/channels/<channelId>.json`: whose ARTC channel it is."""
    if not isinstance(channel_id, str) or not _INSTANCE_ID.fullmatch(channel_id):
        raise ValueError("channel id must be 1-128 characters of A-Z, a-z, 0-9, '_' and '-'")
    return f"{CHANNELS}{channel_id}{JSON_SUFFIX}"


def voiceprint_key(voiceprint_id: str) -> str:
    """`state/voiceprints/<voiceprintId>.json`: whose voiceprint id it is."""
    if not isinstance(voiceprint_id, str) or not _INSTANCE_ID.fullmatch(voiceprint_id):
        raise ValueError("voiceprint id must be 1-128 characters of A-Z, a-z, 0-9, '_' and '-'")
    return f"{VOICEPRINTS}{voiceprint_id}{JSON_SUFFIX}"


def recording_task_key(task_id: str) -> str:
    """`state/recordings/tasks/<taskId>.json`: which call an ARTC cloud recording task records."""
    if not isinstance(task_id, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", task_id):
        raise ValueError("task id must be 1-128 letters, digits, '_', '.' or '-'")
    return f"{RECORDING_TASKS}tasks/{task_id}.json"


def recording_call_key(instance_id: str) -> str:
    """`state/recordings/calls/<instanceId>.json`: the call's recording (its task, or why it did not start)."""
    return f"{RECORDING_TASKS}calls/{validate_instance_id(instance_id)}.json"


def recording_prefix(dt: str | date, instance_id: str) -> str:
    """`recordings/dt=<dt>/<instanceId>/`: where a call's ARTC cloud recording files land."""
    return f"{RECORDINGS}dt={validate_dt(dt)}/{validate_instance_id(instance_id)}/"


def quota_prefix(day: str | date, user_id: str) -> str:
    """`state/quota/dt=<day>/<userId>/`: one user's quota slots of one UTC day."""
    if not isinstance(user_id, str) or not _INSTANCE_ID.fullmatch(user_id):
        raise ValueError("user id must be 1-128 characters of A-Z, a-z, 0-9, '_' and '-'")
    return f"{date_prefix(QUOTA, day)}{user_id}/"


def quota_slot_key(day: str | date, user_id: str, slot: int) -> str:
    """`state/quota/dt=<day>/<userId>/<slot>.json`: slot `slot` (0-based) of the day's quota."""
    if not isinstance(slot, int) or isinstance(slot, bool) or not 0 <= slot < 1_000_000:
        raise ValueError("slot must be an integer from 0 to 999999")
    return f"{quota_prefix(day, user_id)}{slot:06d}{JSON_SUFFIX}"


def attempts_key(step: str, instance_id: str, digest: str) -> str:
    """`failed/<step>/attempts/<instanceId>-<digest>.json`: how often `step` was tried for
    one unit of work of a call; `digest` is the `content_digest` of that unit (archive: the
    stop event's key; analyze: the call log's key and ETag and the profile), so an attempt
    on one unit never counts against another. Kept under failed/, which the step's
    function already writes and nothing triggers on."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError("digest must be 8-64 lowercase hex characters (see content_digest)")
    return f"{FAILED}{check_step(step)}/attempts/{validate_instance_id(instance_id)}-{digest}{JSON_SUFFIX}"


# --- parsers ------------------------------------------------------------------------

class CallbackKey(NamedTuple):
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


class CallLogKey(NamedTuple):
    """A parsed `call-logs/` key."""

    key: str
    dt: str
    instance_id: str


class AnalysisKey(NamedTuple):
    """A parsed `analyses/` key."""

    key: str
    dt: str
    instance_id: str
    profile: str


class FailedKey(NamedTuple):
    """A parsed `failed/` dead-letter key."""

    key: str
    step: str
    dt: str
    instance_id: str
    digest: str


_CALLBACK_KEY = lazyre.compile(  # ASCII digits only, as `callback_key` writes them
    r"callbacks/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/([A-Za-z0-9_-]{1,128})/"
    r"([0-9]{8}T[0-9]{6}(?:\.[0-9]{3})?Z)-([0-9a-f]{16})-([a-z0-9_]{1,64})\.json"
)
_CALL_LOG_KEY = lazyre.compile(r"call-logs/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/([A-Za-z0-9_-]{1,128})\.json")
_ANALYSIS_KEY = lazyre.compile(
    r"analyses/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/([A-Za-z0-9_-]{1,128})/([a-z0-9][a-z0-9_-]{0,63})\.json")
_FAILED_KEY = lazyre.compile(
    r"failed/([a-z0-9][a-z0-9_-]{0,31})/dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/([A-Za-z0-9_-]{1,128})-([0-9a-f]{8,64})\.json"
)
_DT_SEGMENT = lazyre.compile(r"(?:^|/)dt=([0-9]{4}-[0-9]{2}-[0-9]{2})/")


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


_FUNCTION_NAME = lazyre.compile(r"[A-Za-z0-9_-]{1,128}")
_REQUEST_ID = lazyre.compile(r"[A-Za-z0-9_-]{1,128}")


def failed_invocation_key(day: str | date, function: str | None, request_id: str | None, digest: str) -> str:
    """`failed/invocations/dt=<day>/<function>-<requestId or digest>.json`: one invocation FC's
    async invocation gave up on, as its failure destination received it.

    `function` is the failed function's name (`unknown` when absent or not key-safe);
    the failed invocation's `request_id` names it when it is key-safe, else `digest` (a
    `content_digest` of the record, or of its bytes): either way the same record, delivered
    twice, maps to the same key. Not a dead letter of a step (`parse_failed_key` is for those).
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError("digest must be 8-64 lowercase hex characters (see content_digest)")
    name = function if isinstance(function, str) and _FUNCTION_NAME.fullmatch(function) else "unknown"
    ident = request_id if isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id) else digest
    return f"{date_prefix(FAILED_INVOCATIONS, day)}{name}-{ident}{JSON_SUFFIX}"
