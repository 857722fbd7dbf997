"""Dead letters and attempt counters of the chain's triggered steps (archive, analyze).

A step works on *units of work* (`Unit`): archive, one stop event; analyze, one call
log version with one profile version. A unit that cannot be finished either asks FC
to retry (a `Failure` that retrying may fix, counted under
`failed/<step>/attempts/<instanceId>-<unit digest>.json`) or, when retrying cannot
help or the attempts are used up, gets a record under `failed/<step>/dt=.../` saying
why: one record per unit and error code (`settle`). The counter is removed when the
unit is done (`clear_attempts`), either way. Any exception is a `Failure`
(`unexpected`): only `StorageError` (the store itself is down, nothing can be
recorded) is left to propagate so FC retries.
The record's `stage` field names the step (kept for the records already written).

One terminal state per unit: when a unit's work succeeds (`finish`: a late or duplicate
trigger, `aiagent replay`, `aiagent reanalyze`), its open dead letters are *resolved*:
moved to `failed/resolved/<step>/...` with `resolved_at` and `resolved_by` (what
succeeded), so `failed/<step>/dt=...` lists exactly the open ones (an operator's to-do
list) and the history stays for audit. `settle` never writes a dead letter for a unit
that already succeeded, and checks again after writing one, so a success racing a
failure still ends with the letter resolved.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from shared import lazyre
from shared.archive import index_rows, layout
from shared.clients.object_store import ObjectNotFound
from shared.errors import StorageError
from shared.log import logger, redact_text
from shared.ports import Store


class RetryLater(Exception):
    """Not done yet; raise out of the handler so FC retries the invocation.

    `code` says why (the dead letter's `error_code` once the attempts are used up).
    """

    def __init__(self, message: str, *, code: str = "RetryLater") -> None:
        super().__init__(message)
        self.code = code


class GiveUp(Exception):
    """A problem retrying cannot fix (`code`, safe `message`): dead letter at once."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_NOTHING: Mapping[str, Any] = MappingProxyType({})  # the default `fields` / `extra`: empty, shared, read-only


class Unit(NamedTuple):
    """One unit of work of a step: what an attempt counter and a dead letter are about.

    `fields` tells versions of the same source apart (analyze: profile name and hash,
    source ETag); the unit's digest covers step, source key and fields. `scope` names the
    fields a success must share with a dead letter to resolve it (archive: none, so any
    archive dead letter of the call; analyze: the profile's name and hash).
    """

    step: str
    dt: str
    instance_id: str
    source_key: str
    fields: Mapping[str, Any] = _NOTHING
    scope: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        return layout.content_digest({"step": self.step, "source": self.source_key, **self.fields})

    @property
    def attempts_key(self) -> str:
        return layout.attempts_key(self.step, self.instance_id, self.digest)


class Failure(NamedTuple):
    """Why a unit is not done: a code, a reason safe to store, whether retrying may help."""

    code: str
    reason: str
    retryable: bool
    attempts: int | None = None  # for a dead letter at once: attempts made inside the invocation
    extra: Mapping[str, Any] = _NOTHING


_URL_QUERY = lazyre.compile(r"(?i)\b((?:https?|oss)://[^\s?#'\"]*)[?#][^\s'\"]*")


def safe_message(text: object, limit: int = 300) -> str:
    """`text` fit to store and log: secrets and secret shapes masked, URL queries (signed
    URLs) cut, at most `limit` characters."""
    try:
        s = str(text)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure itself
        s = ""
    return redact_text(_URL_QUERY.sub(r"\1?...", s))[:limit]


def unexpected(exc: BaseException) -> Failure:
    """An exception the step has no rule for: counted and retried, then dead-lettered,
    its type and redacted message as the reason."""
    name = type(exc).__name__
    text = safe_message(exc)
    return Failure(f"Unexpected.{name}", f"{name}: {text}" if text else name, retryable=True)


def utcnow() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def bump_attempts(store: Store, unit: Unit, error_code: str | None = None) -> int:
    """Count one more failed attempt of `unit`; the new count.

    A missing counter is the first attempt; a StorageError while reading it propagates
    (treating it as "no counter yet" would restart the count whenever the store hiccups).
    """
    key = unit.attempts_key
    try:
        raw, _ = store.get(key)
    except ObjectNotFound:
        count = 0
    else:
        try:
            count = int(json.loads(raw).get("attempts", 0))
        except (ValueError, TypeError, AttributeError, RecursionError):  # not ours: start again
            logger.warning("unreadable attempt counter; counting from 0", extra={"key": key})
            count = 0
    count = max(count, 0) + 1
    store.put(key, json.dumps({"attempts": count, "at": utcnow(), "source_key": unit.source_key,
                               "error_code": error_code, **unit.fields}, ensure_ascii=False).encode())
    return count


def clear_attempts(store: Store, unit: Unit, *, known: bool = False) -> None:
    """Remove the attempt counter of a finished unit (archived, analysed or dead-lettered).

    Best effort: a counter left behind belongs to a unit that is done, so it is harmless.
    Without `known`, one HEAD first, so units that never failed cost no write. If the
    store refuses the DELETE (a role without oss:DeleteObject), the counter is reset to 0.
    """
    key = unit.attempts_key
    for attempt in range(3):  # a store hiccup (its own retries used up) gets two more tries
        try:
            if not known and store.head(key) is None:
                return
            try:
                store.delete(key)
            except StorageError:
                store.put(key, json.dumps({"attempts": 0, "at": utcnow(), "source_key": unit.source_key,
                                           "cleared": True}).encode())
            return
        except Exception as exc:  # noqa: BLE001 - the unit is done; never turn that into a failure
            if attempt == 2:
                logger.warning("attempt counter not cleared", extra={"key": key, "error": type(exc).__name__,
                                                                     "reason": safe_message(exc)})
            else:
                time.sleep(0.05 * (attempt + 1))


def dead_letter(store: Store, unit: Unit, reason: str, error_code: str, attempts: int | None = None,
                extra: Mapping[str, Any] | None = None) -> str:
    """Write the failed/ record of a unit that could not be processed, and why; its key.

    The key's digest covers the unit and the error code: the same failure of the same unit
    is recorded once, any other failure gets its own record. The log says which happened.
    """
    digest = layout.content_digest({"source": unit.source_key, "stage": unit.step, "unit": dict(unit.fields),
                                    "error_code": error_code})
    key = layout.failed_key(unit.step, unit.dt, unit.instance_id, digest)
    doc = {"stage": unit.step, "instance_id": unit.instance_id, "source_key": unit.source_key, "reason": reason,
           "error_code": error_code, "attempts": attempts, "failed_at": utcnow(),
           **({"unit": dict(unit.fields)} if unit.fields else {}), **(extra or {})}
    result = store.put(key, json.dumps(doc, ensure_ascii=False).encode(), if_absent=True)
    fields = {"step": unit.step, "key": key, "reason": reason, "error_code": error_code, "attempts": attempts}
    if result.created:
        logger.error("dead letter written", extra=fields)
        index_rows.emit(store, "letter", unit.dt, unit.instance_id, index_rows.letter_fragment(doc))
    else:
        logger.warning("dead letter already recorded (same unit, same error)", extra=fields)
    return key


def letter_matches(letter: Any, unit: Unit) -> bool:
    """Whether the dead letter `letter` (its JSON) is an open one about `unit`'s work."""
    if not isinstance(letter, dict) or letter.get("resolved_at"):
        return False
    if letter.get("stage") != unit.step or letter.get("instance_id") != unit.instance_id:
        return False
    fields = letter.get("unit")
    fields = fields if isinstance(fields, dict) else {}
    return all(fields.get(name) == unit.fields.get(name) for name in unit.scope)


def open_letters(store: Store, unit: Unit) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, letter) of every open dead letter about `unit`'s work (one LIST; letters are rare)."""
    for info in store.list(layout.dead_letter_prefix(unit.step, unit.dt, unit.instance_id)):
        try:
            if layout.parse_failed_key(info.key).instance_id != unit.instance_id:
                continue  # another call whose id starts with this one's
            letter = json.loads(store.get(info.key)[0])
        except (ValueError, RecursionError, ObjectNotFound):
            continue
        if letter_matches(letter, unit):
            yield info.key, letter


def resolve_letter(store: Store, key: str, letter: dict[str, Any], by: str) -> str:
    """Mark one dead letter resolved by `by` (what succeeded): moved under failed/resolved/
    with when and by what; where the store refuses the DELETE, marked in place. Its new key."""
    doc = {**letter, "resolved_at": utcnow(), "resolved_by": by}
    body = json.dumps(doc, ensure_ascii=False).encode()
    target = layout.resolved_key(key)
    store.put(target, body)
    try:
        store.delete(key)
    except StorageError:
        store.put(key, body)  # cannot move it: resolved in place (`letter_matches` skips it)
        target = key
    logger.info("dead letter resolved", extra={"key": key, "resolved_by": by})
    return target


def resolve(store: Store, unit: Unit, by: str) -> list[str]:
    """Resolve every open dead letter about `unit`'s work (see the module doc); their new keys.
    StorageError propagates: the success is then retried and resolves them next time."""
    return [resolve_letter(store, key, letter, by) for key, letter in list(open_letters(store, unit))]


def finish(store: Store, unit: Unit, by: str) -> None:
    """The unit's work is done (by `by`, the key of what it produced): its counter goes and its
    dead letters, if any, are resolved. Also run when a duplicate trigger finds the work done."""
    clear_attempts(store, unit)
    resolve(store, unit, by)


Done = Callable[[], "str | None"]


def settle(store: Store, unit: Unit, failure: Failure, max_attempts: int, done: Done | None = None) -> str | None:
    """The end of an attempt that failed: the dead letter's key, None when the unit's work
    turned out to be done after all, or RetryLater.

    `done()` says whether the unit's work has succeeded meanwhile (a duplicate trigger won
    the race): the key of what it produced, else None. Then no dead letter is written, or
    one just written is resolved at once. Not retryable: dead letter at once. Retryable:
    one more attempt counted; at `max_attempts` a dead letter (the reason says how many),
    else RetryLater so FC runs the invocation again. The counter is removed with the dead
    letter, so a later run of the same unit (a duplicate trigger, `aiagent replay` once the
    cause is fixed) starts afresh. StorageError propagates.
    """
    if done is not None and (by := done()) is not None:
        finish(store, unit, by)
        return None
    if not failure.retryable:
        key = dead_letter(store, unit, failure.reason, failure.code, failure.attempts, failure.extra)
        clear_attempts(store, unit)
        return _unless_done(store, unit, key, done)
    count = bump_attempts(store, unit, failure.code)
    if count >= max_attempts:
        key = dead_letter(store, unit, f"gave up after {count} attempts: {failure.reason}", failure.code, count,
                          failure.extra)
        clear_attempts(store, unit, known=True)
        return _unless_done(store, unit, key, done)
    logger.warning(f"{unit.step} not done; retry later", extra={
        "instance_id": unit.instance_id, "source_key": unit.source_key, "error_code": failure.code,
        "reason": failure.reason, "attempt": count})
    raise RetryLater(failure.reason, code=failure.code)


def _unless_done(store: Store, unit: Unit, key: str, done: Done | None) -> str | None:
    """Check again after writing a dead letter: a success that finished in between found no
    letter to resolve, so this letter is resolved now (write, then check: no window left)."""
    if done is None or (by := done()) is None:
        return key
    resolve(store, unit, by)
    return None


def open_dead_letters(store: Store, step: str, days: Iterator[str] | list[str] | None = None,
                      ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, letter) of every open dead letter of `step`, on the given days (`YYYY-MM-DD`)
    or on every day; letters resolved in place and unreadable objects are skipped."""
    base = f"{layout.FAILED}{layout.check_step(step)}/"
    prefixes = [layout.date_prefix(base, d) for d in days] if days is not None else [base + "dt="]
    for prefix in prefixes:
        for info in store.list(prefix):
            try:
                layout.parse_failed_key(info.key)
                letter = json.loads(store.get(info.key)[0])
            except (ValueError, RecursionError, ObjectNotFound):
                continue
            if isinstance(letter, dict) and not letter.get("resolved_at"):
                yield info.key, letter
