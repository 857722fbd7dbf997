"""One call's record from its two witnesses: ICE's call log and the callbacks ICE sent during the call.

Pure standard library, cheap to import, no I/O: every function takes already-parsed events (the
JSON objects stored under `callbacks/`, in any order, duplicates allowed) and never raises on a
malformed one (`data`/`extendData` may be objects or strings holding JSON; a field of the wrong
type counts as absent). An event's name is its `event` field, its time its `timestamp`; when
either is missing, a `callback_key` (or `key`) field holding the event's archive key supplies it
(`layout.parse_callback_key`).

- `chat_turns`: the turns the `chat_record` callbacks carry (ICE's `data.dialogues` shape and the
  simulator's flat `data: {role, text}` shape).
- `reconcile`: the call log's dialog merged with those turns (every turn once, in order, with its
  source) and a verdict on the transcript's completeness.
- `link_audio`: each `audio_record` / `full_audio_record` location tied to its turn (or the call).
- `timings`: the call's duration, who hung up, and per user turn the latency to the LLM's and
  the TTS's first packet, with nearest-rank percentiles.

Identifiers. A chat record's `dialogueId` is compared with a call-log turn's `id`; a `sentenceId`
identifies a sentence *of one role* (role + sentence id), and is also compared with a call-log
turn's `id` (the simulator numbers both alike, and so does the documented sample), but only when
the two turns' texts or times do not contradict it. Numeric ids compare as integers (`"2" == 2`).

Times are epoch seconds inside and ISO 8601 UTC with milliseconds (`2026-12-01T12:00:05.000Z`)
outside. A call-log turn's time is the call's start (`startTime`) plus its `begin`.
"""
from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any, NamedTuple

from shared.archive import layout

# How far apart (s) a call-log turn (start + begin) and a chat record may be to match on time alone.
TIME_WINDOW_S = 5.0
# A text match between turns further apart than this (s) is refused (a phrase said twice: "好的").
TEXT_MAX_SKEW_S = 120.0
# Two chat records of one role with the same text this close (s) are one re-delivered record.
DUP_WINDOW_S = 2.0
# How far (s) an audio record's timestamp may lie from its turn's time when linked by time alone
# (the audio arrives when the sentence ends; a call-log turn's time is when it began).
AUDIO_WINDOW_S = 30.0
# A user's last turn with no answer on either side, the call going on this long (s) after it
# (its end: the last intent_recognized after it) -> the answer was lost.
UNANSWERED_AFTER_S = 10.0
# The agent's answer began (llm/tts first packet) and the call went on this long (s) after it ->
# it was (at least partly) spoken, yet neither side recorded it.
SPOKEN_AFTER_S = 3.0
# Above this many candidate pairs (call-log turn, chat turn) the best alignment gives way to a
# greedy one (only with many repeated texts and no times).
MAX_CANDIDATE_PAIRS = 200_000

AGENT_ROLES = frozenset({"agent", "assistant", "bot", "ai", "robot"})
USER_ROLES = frozenset({"user", "human", "customer", "caller", "client"})
HANGUP_ROLES = {0: "agent", 1: "user", 2: "transfer"}
AUDIO_SUFFIXES = (".wav", ".mp3", ".pcm", ".aac", ".m4a", ".opus", ".ogg", ".flac")
# Where an audio record's location is looked for first; any other field holding one is accepted too.
LOCATION_FIELDS = ("ossUrl", "ossPath", "url", "audioUrl", "fileUrl", "recordUrl", "objectKey", "key", "path",
                   "location")
TEXT_FIELDS = ("text", "content", "sentence", "Text")
ROLE_FIELDS = ("role", "producer", "speaker", "Role")
SENTENCE_FIELDS = ("sentenceId", "sentence_id", "SentenceId")
DIALOGUE_FIELDS = ("dialogueId", "dialogue_id", "DialogueId")

# Epoch seconds accepted as times (2000-01-01 .. 3000-01-01), as layout's timestamps.
_EARLIEST, _LATEST = 946684800.0, 32503680000.0


# --- small conversions (never raise) -------------------------------------------------------------

def _loads(value: Any) -> Any:
    """`data`/`extendData` arrive as objects or as strings holding JSON: accept both."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            f = float(value)
        except OverflowError:
            return None
        return f if math.isfinite(f) else None
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except (ValueError, OverflowError):
            return None
        return f if math.isfinite(f) else None
    return None


def _epoch(value: Any) -> float | None:
    """Epoch seconds from an ISO 8601 string, or from a number of seconds or milliseconds."""
    n = _num(value)
    if n is None and isinstance(value, str):
        try:
            return layout.parse_timestamp(value).timestamp()
        except ValueError:
            return None
    if n is None:
        return None
    if n > 1e11:  # milliseconds
        n /= 1000.0
    return n if _EARLIEST <= n <= _LATEST else None


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    try:
        ms = round(t * 1000)
        dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _ident(value: Any) -> int | str | None:
    """An id as compared: integral numbers and digit strings as int, other strings stripped."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if s.isascii() and s.isdigit() and len(s) <= 18:
            return int(s)
        return s[:200]
    return None


def _role(value: Any) -> str | None:
    """`agent` or `user` (aliases accepted), else None (unknown: compatible with either)."""
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    if v in AGENT_ROLES:
        return "agent"
    if v in USER_ROLES:
        return "user"
    return None


def _roles_fit(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _first(d: dict[str, Any], names: Iterable[str], pick: Callable[[Any], Any]) -> Any:
    for name in names:
        v = pick(d.get(name))
        if v is not None:
            return v
    return None


def normalise_text(text: Any) -> str:
    """Text as compared: NFKC (full-width punctuation, letters and digits become their ASCII
    forms), case-folded, keeping only letters, digits and combining marks (no whitespace,
    punctuation or symbols): "你好，世界！" == "你好, 世界!" == "你好世界"."""
    if not isinstance(text, str):
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LNM")


def _text_kind(a: str, b: str) -> str | None:
    """How two normalised texts match: `exact`, `prefix` (one is the other cut short, as by an
    interruption; the shorter has at least two characters), or None."""
    if not a or not b:
        return None
    if a == b:
        return "exact"
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return "prefix" if len(short) >= 2 and long_.startswith(short) else None


# --- events --------------------------------------------------------------------------------------

class _Ev(NamedTuple):
    name: str
    t: float | None
    data: Any
    extend: dict[str, Any]
    canon: str
    sid: int | str | None
    did: int | str | None


def _canon(ev: dict[str, Any]) -> str:
    try:
        return json.dumps(ev, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(ev)


def _ids(*sources: Any) -> tuple[int | str | None, int | str | None]:
    """(sentence id, dialogue id) from the first of `sources` (dicts) that has each."""
    sid = did = None
    for src in sources:
        if isinstance(src, dict):
            sid = sid if sid is not None else _first(src, SENTENCE_FIELDS, _ident)
            did = did if did is not None else _first(src, DIALOGUE_FIELDS, _ident)
    return sid, did


def _events(events: Any) -> list[_Ev]:
    """The events, parsed, de-duplicated (same content = one event) and in a canonical order
    (time, name, content): the result does not depend on the order they were given in."""
    try:
        items = list(events) if events is not None else []
    except TypeError:
        return []
    seen: dict[str, _Ev] = {}
    for ev in items:
        if not isinstance(ev, dict):
            continue
        canon = _canon(ev)
        if canon in seen:
            continue
        raw_name = ev.get("event")
        name = raw_name.strip() if isinstance(raw_name, str) else ""
        t = _epoch(ev.get("timestamp"))
        if not name or t is None:
            for k in ("callback_key", "key"):
                if isinstance(ev.get(k), str):
                    try:
                        ref = layout.parse_callback_key(ev[k])
                    except ValueError:
                        continue
                    name = name or ref.event
                    t = t if t is not None else ref.timestamp.timestamp()
                    break
        data, extend = _loads(ev.get("data")), _dict(_loads(ev.get("extendData")))
        sid, did = _ids(extend, data)
        seen[canon] = _Ev(name, t, data, extend, canon, sid, did)
    return sorted(seen.values(), key=lambda e: (e.t is None, e.t or 0.0, e.name, e.canon))


# --- chat records --------------------------------------------------------------------------------

class _Chat:
    __slots__ = ("role", "text", "t", "did", "sid", "type", "norm")

    def __init__(self, role: str | None, text: str | None, t: float | None, did: int | str | None,
                 sid: int | str | None, type: str | None, norm: str) -> None:
        self.role = role
        self.text = text
        self.t = t
        self.did = did
        self.sid = sid
        self.type = type
        self.norm = norm

    def __repr__(self) -> str:
        return (f"_Chat(role={self.role!r}, text={self.text!r}, t={self.t!r}, did={self.did!r}, sid={self.sid!r}, "
                f"type={self.type!r}, norm={self.norm!r})")

    def public(self) -> dict[str, Any]:
        return {"role": self.role, "text": self.text, "time": _iso(self.t), "dialogue_id": self.did,
                "sentence_id": self.sid, "source": "chat_record"}

    def order(self) -> tuple[Any, ...]:
        return (self.t is None, self.t or 0.0, str(self.sid), str(self.did), self.role or "", self.text or "",
                self.type or "")


def _chat_records(events: Any) -> list[_Chat]:
    raw: list[_Chat] = []
    for ev in _events(events):
        if ev.name != "chat_record":
            continue
        data = ev.data
        dialogues = data.get("dialogues") if isinstance(data, dict) else None
        if isinstance(dialogues, list):
            items = [d for d in dialogues if isinstance(d, dict)]
            for d in items:
                sid, did = _ids(d)
                if sid is None and len(items) == 1:  # the event's sentence id is this dialogue's
                    sid = ev.sid
                if did is None and len(items) == 1:
                    did = ev.did
                t = _epoch(d.get("time"))
                raw.append(_Chat(_first(d, ("producer", "role", "Role"), _role), _first(d, TEXT_FIELDS, _text),
                                 t if t is not None else ev.t, did, sid,
                                 d.get("type") if isinstance(d.get("type"), str) else None, ""))
        elif isinstance(data, dict):
            raw.append(_Chat(_first(data, ROLE_FIELDS, _role), _first(data, TEXT_FIELDS, _text), ev.t, ev.did, ev.sid,
                             data.get("type") if isinstance(data.get("type"), str) else None, ""))
        elif isinstance(data, str):  # not JSON: the text itself, its role unknown
            raw.append(_Chat(None, _text(data), ev.t, ev.did, ev.sid, None, ""))
    turns: list[_Chat] = []
    # Where a record's possible duplicates are (positions in `turns`): by dialogue id, else by
    # role + sentence id and by role + text (`_same_record` decides).
    by_key: dict[tuple[Any, ...], list[int]] = {}
    for c in sorted(raw, key=_Chat.order):
        c.norm = normalise_text(c.text)
        if not c.norm:
            continue
        keys = [("d", c.did)] if c.did is not None else [("s", c.role, c.sid), ("t", c.role, c.norm)]
        dup = next((k for key in keys for k in by_key.get(key, ()) if _same_record(turns[k], c)), None)
        if dup is None:
            dup = len(turns)
            turns.append(c)
        elif (len(c.norm), c.text or "") > (len(turns[dup].norm), turns[dup].text or ""):
            c.t = turns[dup].t if turns[dup].t is not None else c.t  # the first delivery's time
            turns[dup] = c  # the longest text: the final version of a streamed record
        else:
            continue
        for key in keys:
            by_key.setdefault(key, []).append(dup)
    return sorted(turns, key=_Chat.order)


def _same_record(a: _Chat, b: _Chat) -> bool:
    """Whether two chat records are one record delivered twice (or a streamed update of it)."""
    if not _roles_fit(a.role, b.role):
        return False
    if a.did is not None or b.did is not None:
        return a.did == b.did
    if a.sid is not None and a.sid == b.sid and a.role == b.role:
        return _text_kind(a.norm, b.norm) is not None
    if a.sid is not None and b.sid is not None:
        return False
    close = a.t is None and b.t is None or (a.t is not None and b.t is not None and abs(a.t - b.t) <= DUP_WINDOW_S)
    return a.role == b.role and a.norm == b.norm and close


def chat_turns(events: Any) -> list[dict[str, Any]]:
    """The turns the `chat_record` callbacks carry, in time order, each once:
    `[{role, text, time, dialogue_id, sentence_id, source: "chat_record"}]`.

    Shapes: ICE's `data.dialogues: [{roundId, producer, text, time (epoch ms), dialogueId, type, ...}]`
    (the event's `extendData.sentenceId` is a dialogue's when the event carries exactly one), and the
    simulator's `data: {role, text, sentenceId?}` (its time is the event's). A record without text
    is no turn. Re-deliveries collapse: the same dialogue id, the same role + sentence id with one
    text a prefix of the other (the longest kept), or the same role and text within DUP_WINDOW_S.
    `role` is `agent`, `user` or None (unknown)."""
    return [c.public() for c in _chat_records(events)]


# --- reconciliation ------------------------------------------------------------------------------

class _Log:
    __slots__ = ("raw_id", "id", "role", "raw_role", "begin", "text", "type", "t", "norm")

    def __init__(self, raw_id: Any, id: int | str | None, role: str | None, raw_role: Any,
                 begin: float | None, text: Any, type: Any, t: float | None, norm: str) -> None:
        self.raw_id = raw_id
        self.id = id
        self.role = role
        self.raw_role = raw_role
        self.begin = begin
        self.text = text
        self.type = type
        self.t = t
        self.norm = norm

    def __repr__(self) -> str:
        return (f"_Log(raw_id={self.raw_id!r}, id={self.id!r}, role={self.role!r}, raw_role={self.raw_role!r}, "
                f"begin={self.begin!r}, text={self.text!r}, type={self.type!r}, t={self.t!r}, norm={self.norm!r})")


def _log_turns(dialog: list[Any], start: float | None) -> list[_Log]:
    out: list[_Log] = []
    seen: set[str] = set()
    for d in dialog:
        if not isinstance(d, dict):
            continue
        canon = _canon({k: d.get(k) for k in ("id", "role", "begin", "text", "type")})
        if canon in seen:  # the same turn twice in the call log
            continue
        seen.add(canon)
        begin = _num(d.get("begin"))
        out.append(_Log(d.get("id"), _ident(d.get("id")), _role(d.get("role")), d.get("role"), begin, d.get("text"),
                        d.get("type"), start + begin if start is not None and begin is not None else None,
                        normalise_text(d.get("text"))))
    return out


def _pair_score(lg: _Log, ch: _Chat, base: int) -> int:
    """How well a call-log turn and a chat turn match, 0 when they may not be paired. Ordered so
    that an alignment maximising the sum pairs by id first, then by text (exact before prefix),
    then by time: score = id*B^3 + text*B^2 + exact*B + close, B above any count of pairs."""
    if not _roles_fit(lg.role, ch.role):
        return 0
    dt = abs(lg.t - ch.t) if lg.t is not None and ch.t is not None else None
    close = dt is not None and dt <= TIME_WINDOW_S
    kind = _text_kind(lg.norm, ch.norm)
    if kind is not None and dt is not None and dt > TEXT_MAX_SKEW_S:
        kind = None
    by_id = lg.id is not None and ch.did is not None and ch.did == lg.id
    if not by_id and lg.id is not None and ch.sid is not None and ch.sid == lg.id:
        # a sentence id taken for the call log's id, unless both text and time say otherwise
        by_id = not (lg.norm and ch.norm and kind is None and not close)
    if not (by_id or kind or close):
        return 0
    return (int(by_id) * base ** 3 + int(kind is not None) * base ** 2 + int(kind == "exact") * base
            + int(close))


def _candidates(logs: list[_Log], chats: list[_Chat]) -> list[list[tuple[int, int]]]:
    """Per call-log turn, the chat turns it may pair with and how well, [(chat index, score)] by
    chat index: only those sharing an id, the first two characters of their text (a prefix or
    exact match needs them; a one-character text matches exactly only) or a time within
    TIME_WINDOW_S are scored."""
    from bisect import bisect_left, bisect_right

    by_id: dict[Any, list[int]] = {}
    by_text: dict[str, list[tuple[float, int]]] = {}  # (time, index) by time; untimed under inf
    for j, ch in enumerate(chats):
        for ident in {ch.did, ch.sid} - {None}:
            by_id.setdefault(ident, []).append(j)
        by_text.setdefault(ch.norm[:2], []).append((ch.t if ch.t is not None else math.inf, j))
    for bucket in by_text.values():
        bucket.sort()
    timed = sorted((ch.t, j) for j, ch in enumerate(chats) if ch.t is not None)
    times = [t for t, _ in timed]
    base = max(len(logs), len(chats)) + 2
    out: list[list[tuple[int, int]]] = []
    for lg in logs:
        near: set[int] = set(by_id.get(lg.id, ())) if lg.id is not None else set()
        same = by_text.get(lg.norm[:2], []) if lg.norm else []
        if same and lg.t is not None:  # a text match is refused beyond TEXT_MAX_SKEW_S
            lo = bisect_left(same, (lg.t - TEXT_MAX_SKEW_S, -1))
            hi = bisect_right(same, (lg.t + TEXT_MAX_SKEW_S, len(chats)))
            near.update(j for _, j in same[lo:hi])
            near.update(j for _, j in same[bisect_left(same, (math.inf, -1)):])
        else:
            near.update(j for _, j in same)
        if lg.t is not None:
            near.update(j for _, j in timed[bisect_left(times, lg.t - TIME_WINDOW_S):
                                            bisect_right(times, lg.t + TIME_WINDOW_S)])
        scored = ((j, _pair_score(lg, chats[j], base)) for j in sorted(near))
        out.append([(j, sc) for j, sc in scored if sc])
    return out


def _align(logs: list[_Log], chats: list[_Chat]) -> list[tuple[int, int]]:
    """Order-preserving pairs (call-log index, chat index), each turn in at most one pair: the
    alignment of highest total `_pair_score`, as for a weighted longest common subsequence - a
    heaviest chain of candidate pairs increasing in both indexes (a Fenwick tree of prefix maxima
    over chat indexes, call-log rows in order). Above MAX_CANDIDATE_PAIRS, a greedy pass: each
    call-log turn takes its best candidate after the last one taken."""
    if not logs or not chats:
        return []
    cands = _candidates(logs, chats)
    if sum(len(c) for c in cands) > MAX_CANDIDATE_PAIRS:
        greedy, j0 = [], 0
        for i, row in enumerate(cands):
            best = max(((sc, -j) for j, sc in row if j >= j0), default=None)
            if best is not None:
                greedy.append((i, -best[1]))
                j0 = -best[1] + 1
        return greedy
    m = len(chats)
    tree: list[tuple[int, int]] = [(0, -1)] * (m + 1)  # 1-based: (chain value, pair index) prefix maxima
    pairs: list[tuple[int, int]] = []
    back: list[int] = []

    def query(j: int) -> tuple[int, int]:  # the best chain over chat indexes < j
        best = (0, -1)
        while j > 0:
            best = max(best, tree[j])
            j -= j & -j
        return best

    def update(j: int, value: tuple[int, int]) -> None:
        j += 1
        while j <= m:
            tree[j] = max(tree[j], value)
            j += j & -j

    top = (0, -1)
    for i, row in enumerate(cands):
        done = [(j, query(j), sc) for j, sc in row]  # all before the row's own updates: one pair per row
        for j, (value, prev), sc in done:
            pairs.append((i, j))
            back.append(prev)
            entry = (value + sc, len(pairs) - 1)
            update(j, entry)
            top = max(top, entry)
    chain = []
    k = top[1]
    while k >= 0:
        chain.append(pairs[k])
        k = back[k]
    return chain[::-1]


def _merge(logs: list[_Log], chats: list[_Chat], pairs: list[tuple[int, int]],
           ) -> list[tuple[_Log | None, _Chat | None]]:
    """Every turn once, in order: the pairs are anchors; between two anchors, the call-log-only and
    chat-only turns are merged by time (a call-log turn first when either time is unknown)."""
    out: list[tuple[_Log | None, _Chat | None]] = []
    li = cj = 0
    for pi, pj in [*pairs, (len(logs), len(chats))]:
        while li < pi or cj < pj:
            if cj >= pj:
                take_log = True
            elif li >= pi:
                take_log = False
            else:
                lt, ct = logs[li].t, chats[cj].t
                take_log = lt is None or ct is None or lt <= ct
            if take_log:
                out.append((logs[li], None))
                li += 1
            else:
                out.append((None, chats[cj]))
                cj += 1
        if pi < len(logs) and pj < len(chats):
            out.append((logs[pi], chats[pj]))
            li, cj = pi + 1, pj + 1
    return out


def reconcile(call_log: dict[str, Any] | None, events: list[dict[str, Any]], start_time: float | None,
              ) -> dict[str, Any]:
    """The call log's dialog merged with the chat_record turns, and whether the transcript is complete.

    `start_time`: the call's start (epoch s); None -> the call log's `startTime`. Returns::

        {"turns": [{id, role, begin, text, type, source, time, sentence_id?}],
         "completeness": {"verdict": "complete" | "incomplete", "reason": str | None,
                          "missing": [{side, turn, role, reason, ...}],
                          "call_log_turns": n, "chat_record_turns": m}}

    Turns. Every turn once, in order, `source` `call_log`, `chat_record` or `both`; a turn only one
    side has is kept. Pairs are found by an order-preserving alignment that prefers, in this order:
    a shared id (chat `dialogueId` == call-log `id`; or `sentenceId` == `id` unless both text and
    time contradict it), the same role and text (normalised: width, case, whitespace and punctuation
    ignored; one may be a prefix of the other, as when a turn is interrupted; refused more than
    TEXT_MAX_SKEW_S apart), the same role within TIME_WINDOW_S (call-log `begin` + start vs chat
    time). Roles must agree (an unknown role fits either). A paired turn keeps the call log's id,
    begin, text (the chat text when the log's is empty) and type, and the chat record's sentence id.
    A chat-only turn's id is its dialogue id, else its sentence id, else `chat-<k>` (whichever is not
    already a turn's id); its begin is its time - start. `time`: start + begin, else the chat time.

    Verdict (`missing` lists what each side lacked; `turn` indexes `turns`):

    1. No call log (None, or no `dialog` list): "incomplete" - the chat records alone may be sparse.
    2. A turn only the chat records have: the call log lacked it; it is kept, so the call stays
       "complete". `missing`: side "call_log", reason "lost from the call log at hang-up" when it
       comes after the call log's last turn, else "absent from the call log".
    3. A turn only the call log has: chat records may be sparse, so the call stays "complete".
       Listed (side "chat_records") only when there are chat records at all: "lost from the chat
       records at hang-up" after their last turn, else "no chat record for this turn".
    4. Something neither side has, detected from the other events -> "incomplete", listed with
       side "both" and `turn: None` (`after`: the index it would follow, `sentence_id` when known):
       a. the last turn is the user's, there is an agent_stop, and either the agent's answer began
          (an llm_data_received / tts_data_received after that turn) and the call went on
          SPOKEN_AFTER_S after it, or no answer began and the call went on more than
          UNANSWERED_AFTER_S after the user's turn ended (the last intent_recognized after it);
       b. an audio_record or chat_record carrying a sentence id that no turn has and that cannot be
          tied to a turn otherwise (`link_audio`'s rules: same role and text, or same role within
          AUDIO_WINDOW_S of a turn without a sentence id of its own).
    So: "complete" when every turn is on both sides, or the call log has every turn the chat
    records have, or the call log's gaps were filled from the chat records; "incomplete" only
    when there is no call log or a loss both sides share is evident.
    """
    log = call_log if isinstance(call_log, dict) else None
    dialog = log.get("dialog") if log is not None else None
    has_log = isinstance(dialog, list)
    start = _num(start_time)
    if start is None and log is not None:
        start = _epoch(log.get("startTime"))
    elif start is not None and start > 1e11:
        start /= 1000.0
    logs = _log_turns(dialog if isinstance(dialog, list) else [], start)
    chats = _chat_records(events)
    merged = _merge(logs, chats, _align(logs, chats))

    turns: list[dict[str, Any]] = []
    used: set[int | str | None] = {lg.id for lg in logs if lg.id is not None}
    ends: list[float | None] = []  # each turn's latest known time
    for k, (lg, ch) in enumerate(merged):
        if lg is not None:
            text = lg.text if (lg.norm or ch is None) else ch.text
            role = lg.role or (ch.role if ch else None) or (lg.raw_role if isinstance(lg.raw_role, str) else None)
            turn: dict[str, Any] = {"id": lg.raw_id, "role": role,
                                    "begin": lg.begin, "text": text, "type": lg.type,
                                    "source": "both" if ch is not None else "call_log",
                                    "time": _iso(lg.t if lg.t is not None else (ch.t if ch else None))}
        else:
            assert ch is not None
            tid: Any = next((c for c in (ch.did, ch.sid) if c is not None and c not in used), None)
            if tid is None:
                tid = f"chat-{k}"
            used.add(_ident(tid))
            turn = {"id": tid, "role": ch.role, "begin": round(ch.t - start, 3) if ch.t is not None and start
                    is not None else None, "text": ch.text, "type": ch.type, "source": "chat_record",
                    "time": _iso(ch.t)}
        if ch is not None and ch.sid is not None:
            turn["sentence_id"] = ch.sid
        turns.append(turn)
        times = [x for x in (lg.t if lg else None, ch.t if ch else None) if x is not None]
        ends.append(max(times) if times else None)

    completeness = _completeness(turns, ends, has_log, len(logs), len(chats), events)
    return {"turns": turns, "completeness": completeness}


def _completeness(turns: list[dict[str, Any]], ends: list[float | None], has_log: bool, n_log: int,
                  n_chat: int, events: Any) -> dict[str, Any]:
    missing: list[dict[str, Any]] = []
    reasons: list[str] = []
    if not has_log:
        missing.append({"side": "call_log", "turn": None, "role": None, "reason": "no call log"})
        reasons.append("no call log: the transcript rests on the chat records alone, which may be sparse")
    last_log = max((k for k, t in enumerate(turns) if t["source"] != "chat_record"), default=-1)
    last_chat = max((k for k, t in enumerate(turns) if t["source"] != "call_log"), default=-1)
    for k, t in enumerate(turns):
        if t["source"] == "chat_record" and has_log:
            reason = ("absent from the call log (its dialog is empty)" if n_log == 0 else
                      "lost from the call log at hang-up" if k > last_log else "absent from the call log")
            missing.append({"side": "call_log", "turn": k, "role": t["role"], "reason": reason})
        elif t["source"] == "call_log" and n_chat:
            reason = "lost from the chat records at hang-up" if k > last_chat else "no chat record for this turn"
            missing.append({"side": "chat_records", "turn": k, "role": t["role"], "reason": reason})

    evs = _events(events)
    both: list[dict[str, Any]] = []
    gap = _unanswered(turns, ends, evs)
    if gap is not None:
        both.append(gap)
    index = _TurnIndex(turns)
    reported: set[tuple[Any, Any]] = set()
    for ev in evs:
        if ev.name not in ("audio_record", "chat_record") or ev.sid is None:
            continue
        data = _dict(ev.data)
        role = _first(data, ROLE_FIELDS, _role)
        sid, did = ev.sid, ev.did
        dialogues = data.get("dialogues")
        if isinstance(dialogues, list):
            if len(dialogues) != 1 or not isinstance(dialogues[0], dict):
                continue  # the event's sentence id is no single dialogue's
            data = dialogues[0]
            role = role or _first(data, ("producer", "role", "Role"), _role)
            own_sid, own_did = _ids(data)  # as `chat_turns` reads them: the dialogue's own first
            sid = own_sid if own_sid is not None else sid
            did = own_did if own_did is not None else did
        if (role, sid) in reported:
            continue
        found, _ = index.find(role=role, sid=sid, did=did, text=_first(data, TEXT_FIELDS, _text), t=ev.t)
        if found is None:
            reported.add((role, sid))
            after = max((k for k, e in enumerate(ends) if e is not None and ev.t is not None and e <= ev.t),
                        default=len(turns) - 1 if ev.t is None else -1)
            both.append({"side": "both", "turn": None, "after": after, "role": role, "sentence_id": sid,
                         "reason": f"{ev.name} sentence {sid}{f' ({role})' if role else ''} has no turn on "
                                   "either side"})
    missing.extend(both)
    reasons.extend(b["reason"] for b in both)
    return {"verdict": "incomplete" if reasons else "complete", "reason": "; ".join(reasons) or None,
            "missing": missing, "call_log_turns": n_log, "chat_record_turns": n_chat}


def _unanswered(turns: list[dict[str, Any]], ends: list[float | None], evs: list[_Ev]) -> dict[str, Any] | None:
    """Rule 4a of `reconcile`: the user's last turn, whose answer neither side has."""
    if not turns or _role(turns[-1]["role"]) != "user" or ends[-1] is None:
        return None
    stops = [e.t for e in evs if e.name == "agent_stop" and e.t is not None]
    if not stops:
        return None
    said, stop = ends[-1], max(stops)
    started = min((e.t for e in evs if e.name in ("llm_data_received", "tts_data_received")
                   and e.t is not None and said < e.t <= stop), default=None)
    after = len(turns) - 1
    if started is not None:
        if stop - started < SPOKEN_AFTER_S:
            return None
        reason = (f"the agent's answer to the last user turn began ({_iso(started)}) and the call went on "
                  f"{stop - started:.1f} s, but neither side recorded it")
    else:
        heard = max((e.t for e in evs if e.name == "intent_recognized" and e.t is not None and said <= e.t <= stop),
                    default=said)
        if stop - heard <= UNANSWERED_AFTER_S:
            return None
        reason = (f"the last user turn has no agent answer on either side although the call went on "
                  f"{stop - heard:.1f} s after it")
    return {"side": "both", "turn": None, "after": after, "role": "agent", "reason": reason}


# --- linking events to turns ---------------------------------------------------------------------

class _View(NamedTuple):
    id: int | str | None
    role: str | None
    sid: int | str | None
    norm: str
    t: float | None


class _TurnIndex:
    """Turns (`reconcile`'s, or any `[{id, role, text, time?, sentence_id?}]`) indexed for `find`."""

    def __init__(self, turns: Any) -> None:
        self.turns = [_dict(t) for t in turns] if isinstance(turns, list) else []
        self.views = [_View(_ident(d.get("id")), _role(d.get("role")), _ident(d.get("sentence_id")),
                            normalise_text(d.get("text")), _epoch(d.get("time"))) for d in self.turns]
        self.by_sid: dict[Any, list[int]] = {}
        self.by_id: dict[Any, list[int]] = {}
        self.by_text: dict[str, list[int]] = {}
        for k, v in enumerate(self.views):
            if v.sid is not None:
                self.by_sid.setdefault(v.sid, []).append(k)
            if v.id is not None:
                self.by_id.setdefault(v.id, []).append(k)
            if v.norm:
                self.by_text.setdefault(v.norm[:2], []).append(k)
        self.timed = sorted((v.t, k) for k, v in enumerate(self.views) if v.t is not None)
        self.times = [t for t, _ in self.timed]

    def find(self, *, role: str | None, sid: Any, did: Any, text: str | None, t: float | None,
             window: float = AUDIO_WINDOW_S) -> tuple[int | None, str | None]:
        """The index of the turn an event belongs to, and by what: `sentence_id` (the turn's
        sentence id, same role), `dialogue_id` (the turn's id), `id` (the event's sentence id is
        the turn's id, the turn having no sentence id, same role, texts not contradicting), `text`
        (same role, matching text, nearest in time, refused beyond TEXT_MAX_SKEW_S), `time` (same
        role, nearest within `window`); the last two only among turns with no other sentence id.
        (None, None) when none fits."""
        from bisect import bisect_left, bisect_right

        views = self.views
        norm = normalise_text(text)

        def dist(k: int) -> float:
            tk = views[k].t
            return abs(tk - t) if tk is not None and t is not None else math.inf

        def nearest(cands: Iterable[int]) -> int | None:
            return min(cands, key=lambda k: (dist(k), k), default=None)

        def fits(k: int) -> bool:
            return _roles_fit(views[k].role, role)

        def free(k: int) -> bool:
            return fits(k) and (sid is None or views[k].sid is None)

        if sid is not None:
            found = nearest(k for k in self.by_sid.get(sid, ()) if fits(k))
            if found is not None:
                return found, "sentence_id"
        if did is not None:
            found = nearest(self.by_id.get(did, ()))
            if found is not None:
                return found, "dialogue_id"
        if sid is not None:
            found = nearest(k for k in self.by_id.get(sid, ()) if fits(k) and views[k].sid is None
                            and not (norm and views[k].norm and _text_kind(norm, views[k].norm) is None))
            if found is not None:
                return found, "id"
        if norm:
            found = nearest(k for k in self.by_text.get(norm[:2], ()) if free(k)
                            and _text_kind(norm, views[k].norm) is not None
                            and (dist(k) <= TEXT_MAX_SKEW_S or dist(k) == math.inf))
            if found is not None:
                return found, "text"
        if t is not None:
            span = self.timed[bisect_left(self.times, t - window):bisect_right(self.times, t + window)]
            found = nearest(k for _, k in span if free(k))
            if found is not None:
                return found, "time"
        return None, None


def _is_location(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    low = value.strip().lower()
    if low.startswith(("https://", "oss://", "http://")):  # whether it may be used is the caller's rule
        return True
    return ":" not in low.split("/", 1)[0] and low.split("?", 1)[0].endswith(AUDIO_SUFFIXES)


def _location(*sources: Any) -> str | None:
    for src in sources:
        if not isinstance(src, dict):
            continue
        names = [*LOCATION_FIELDS, *sorted(k for k in src if isinstance(k, str) and k not in LOCATION_FIELDS)]
        for name in names:
            if _is_location(src.get(name)):
                return str(src[name]).strip()
    return None


def bucket_key(location: str | None, bucket: str) -> str | None:
    """The object key of `location` in `bucket`: `oss://<bucket>/<key>`, an https URL of the bucket
    (`https://<bucket>.<endpoint>/<key>`), or a bare object key; None for anything else."""
    from urllib.parse import unquote, urlsplit

    if not isinstance(location, str) or not location:
        return None
    if location.lower().startswith("oss://"):
        name, _, key = location[len("oss://"):].partition("/")
        return key if bucket and name == bucket and key else None
    if location.lower().startswith(("https://", "http://")):
        try:
            parts = urlsplit(location)
            host = parts.hostname or ""
        except ValueError:
            return None
        if bucket and host.startswith(bucket.lower() + "."):
            return unquote(parts.path.lstrip("/")) or None
        return None
    return location.lstrip("/") or None


def link_audio(turns: list[dict[str, Any]], events: list[dict[str, Any]], *, bucket: str) -> list[dict[str, Any]]:
    """Each audio_record / full_audio_record event's location, tied to its turn (or to the call).

    `turns`: `reconcile(...)["turns"]` (any `[{id, role, text, time?, sentence_id?}]` works; without
    `time` no turn is linked by time). Returns, in time order::

        [{event, role, turn_id, kind: "sentence" | "call", location, key, duration_ms, format,
          timestamp, sentence_id, linked_by}]

    An audio_record is linked, in this order, by sentence id (the turn's `sentence_id`, same role),
    dialogue id (the turn's `id`), sentence id taken for the turn's `id` (a turn with no sentence id
    of its own, same role, texts not contradicting), role + text, role + time (the turn nearest the
    event's timestamp within AUDIO_WINDOW_S, among turns with no other sentence id); `turn_id` None
    and `linked_by` None when nothing fits. A full_audio_record is the call's (`kind` "call",
    `turn_id` None). `location`: the first field of `data` (then `extendData`) holding an https URL,
    an oss:// URL or an object key with an audio suffix (None when none does); `key`: its object
    key when it is in `bucket` (or a bare key), else None. Whether a location may be trusted is the
    caller's decision (`workflow.recording_location_allowed`). `duration_ms` from `data.duration`
    (ms); `format` from `data.format`, else the location's suffix.
    """
    index = _TurnIndex(turns)
    out: list[dict[str, Any]] = []
    for ev in _events(events):
        if ev.name not in ("audio_record", "full_audio_record"):
            continue
        data = _dict(ev.data)
        location = _location(data, ev.extend)
        role = _first(data, ROLE_FIELDS, _role)
        fmt = data.get("format") if isinstance(data.get("format"), str) and data.get("format") else None
        if fmt is None and location:
            path = location.split("?", 1)[0].rsplit("/", 1)[-1]
            fmt = path.rsplit(".", 1)[-1].lower() if "." in path else None
        duration = _first(data, ("duration", "duration_ms", "durationMs"), _num)
        if duration is not None and duration.is_integer():
            duration = int(duration)
        entry: dict[str, Any] = {"event": ev.name, "role": role, "turn_id": None, "kind": "sentence",
                                 "location": location, "key": bucket_key(location, bucket),
                                 "duration_ms": duration, "format": fmt, "timestamp": _iso(ev.t),
                                 "sentence_id": ev.sid, "linked_by": None}
        if ev.name == "full_audio_record":
            entry["kind"] = "call"
        else:
            found, how = index.find(role=role, sid=ev.sid, did=ev.did, text=_first(data, TEXT_FIELDS, _text), t=ev.t)
            if found is not None:
                entry["turn_id"] = index.turns[found].get("id")
                entry["linked_by"] = how
        out.append(entry)
    return out


# --- timings -------------------------------------------------------------------------------------

def _percentile(values: list[int], p: float) -> int | None:
    """Nearest-rank: the value at rank ceil(p/100 * n) (1-based) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def _summary(values: list[int]) -> dict[str, Any]:
    return {"p50": _percentile(values, 50), "p95": _percentile(values, 95), "max": max(values) if values else None,
            "count": len(values)}


def _answer(intent: _Ev, pool: list[_Ev], until: float) -> float | None:
    """When the first packet answering `intent` arrived: the event of `pool` with the intent's id
    when both carry one (None when it came before the intent: out of order), else the first event
    at or after the intent and before the next intent that carries no other id."""
    assert intent.t is not None
    ids = {x for x in (intent.sid, intent.did) if x is not None}
    if ids:
        same = [e for e in pool if e.t is not None and ({e.sid, e.did} & ids)]
        if same:
            first = min(e.t for e in same if e.t is not None)
            return first if first >= intent.t else None
    for e in pool:
        if e.t is None or e.t < intent.t:
            continue
        if e.t >= until:
            break
        other = {x for x in (e.sid, e.did) if x is not None}
        if ids and other and not other & ids:
            continue
        return e.t
    return None


def timings(events: list[dict[str, Any]], call_info: dict[str, Any] | None, turns: list[dict[str, Any]],
            ) -> dict[str, Any]:
    """The call's duration, who hung up, and how fast the agent answered each user turn.

    Returns::

        {"duration_s": float | None, "duration_source": "call_info" | "events" | None,
         "hangup_role": "agent" | "user" | "transfer" | None,
         "turns": [{"after": ISO time of the intent, "turn_id", "llm_ms", "tts_ms"}],
         "llm_ms": {"p50", "p95", "max", "count"}, "tts_ms": {...}}

    `duration_s`: CallInfo.CallDuration (seconds; read as milliseconds above 1e5), else the last
    agent_stop - the first agent_start. `hangup_role`: CallInfo.HangupRole 0 agent, 1 user,
    2 transfer. `call_info` may be a JSON string.

    Per `intent_recognized` (a user turn understood): `llm_ms` to the LLM's first packet
    (`llm_data_received`), `tts_ms` to the TTS's first packet (`tts_data_received`), in
    milliseconds. The answering event is the one carrying the intent's sentence/dialogue id when
    both carry one, else the first at or after the intent and before the next intent. A figure is
    None, and left out of the summaries, when its event is missing, when it came before its intent
    (out of order), or (tts) when the TTS packet came before the LLM packet; an intent without a
    timestamp has both None. `turn_id`: the user turn the intent belongs to (`link_audio`'s rules),
    or None.

    Summaries use the nearest-rank method: of n sorted values, the p-th percentile is the value at
    1-based rank ceil(p/100 * n) (p50 of [1, 2, 3, 4] is 2, p95 is 4); always one of the values.
    """
    evs = _events(events)
    info = _dict(_loads(call_info))
    duration = _num(info.get("CallDuration"))
    source: str | None = "call_info" if duration is not None else None
    if duration is not None and duration > 1e5:
        duration /= 1000.0
    if duration is None:
        starts = [e.t for e in evs if e.name == "agent_start" and e.t is not None]
        stops = [e.t for e in evs if e.name == "agent_stop" and e.t is not None]
        if starts and stops and max(stops) >= min(starts):
            duration, source = round(max(stops) - min(starts), 3), "events"
    hangup = _ident(info.get("HangupRole"))
    role = HANGUP_ROLES.get(hangup) if isinstance(hangup, int) else None

    intents = [e for e in evs if e.name == "intent_recognized"]
    llm = [e for e in evs if e.name == "llm_data_received"]
    tts = [e for e in evs if e.name == "tts_data_received"]
    index = _TurnIndex(turns)
    rows: list[dict[str, Any]] = []
    llm_all: list[int] = []
    tts_all: list[int] = []
    timed = [e.t for e in intents if e.t is not None]
    for ev in intents:
        row: dict[str, Any] = {"after": _iso(ev.t), "turn_id": None, "llm_ms": None, "tts_ms": None}
        if ev.t is not None:
            until = min((x for x in timed if x > ev.t), default=math.inf)
            t_llm, t_tts = _answer(ev, llm, until), _answer(ev, tts, until)
            if t_tts is not None and t_llm is not None and t_tts < t_llm:
                t_tts = None  # the TTS cannot speak before the LLM answered: out of order
            if t_llm is not None:
                row["llm_ms"] = round((t_llm - ev.t) * 1000)
                llm_all.append(row["llm_ms"])
            if t_tts is not None:
                row["tts_ms"] = round((t_tts - ev.t) * 1000)
                tts_all.append(row["tts_ms"])
            found, _ = index.find(role="user", sid=ev.sid, did=ev.did, text=None, t=ev.t)
            if found is not None:
                row["turn_id"] = index.turns[found].get("id")
        rows.append(row)
    return {"duration_s": duration, "duration_source": source, "hangup_role": role, "turns": rows,
            "llm_ms": _summary(llm_all), "tts_ms": _summary(tts_all)}
