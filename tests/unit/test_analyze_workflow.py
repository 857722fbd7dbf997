"""shared.analysis.workflow.analyze_call against the in-memory fakes (tests/fakes.py): no sockets."""
import json

import pytest

from shared.analysis import profile as profiles
from shared.analysis.workflow import Outcome, analyze_call
from shared.archive import layout
from shared.archive.dead_letters import RetryLater, Unit
from shared.settings import CcaiSettings, load
from tests.fakes import FakeCcai, MemoryStore, ccai_answer, failure
from tests.support import sample

INST, DT = "inst-9", "2025-08-14"
SOURCE = layout.call_log_key(DT, INST)
TARGET = layout.analysis_key(DT, INST, "default")
CALL_LOG = sample("call_log.json")
PROFILE = profiles.load_profile("default")


def attempts_key(etag: str, profile: profiles.Profile = PROFILE) -> str:
    """The attempt counter of one unit of work: this call log version with this profile version."""
    return Unit("analyze", DT, INST, SOURCE, {"profile": profile.name, "profile_hash": profile.digest,
                                              "source_etag": etag}).attempts_key


def settings(**env: str) -> CcaiSettings:
    return load(CcaiSettings, {"CCAI_WORKSPACE_ID": "ws1", "CCAI_APP_ID": "app1", "ANALYSIS_MAX_ATTEMPTS": "3",
                               "ANALYSIS_MAX_REQUEST_CHARS": "1000", **env})


def archive(store: MemoryStore, dialog: list | None = None, **extra) -> str:
    """Put an archived call as archive_call writes it; its ETag."""
    log = {**CALL_LOG, "dialog": CALL_LOG["dialog"] if dialog is None else dialog}
    doc = {"schema": "aicall.call-log/1", "instance_id": INST, "session_id": "sess-1", "call_log": log, **extra}
    return store.seed(SOURCE, doc).etag


def run(store: MemoryStore, ccai: FakeCcai, *, etag: str | None = None, profile: profiles.Profile = PROFILE,
        key: str = SOURCE, **env: str) -> Outcome:
    return analyze_call(store, ccai, settings(**env), key, profile=profile, source_etag=etag, deadline=77.0)


def dead_letters(store: MemoryStore) -> list[dict]:
    return [store.json(k) for k in store.keys(layout.date_prefix("failed/analyze/", DT))]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore("archive-bucket")


def test_call_is_analyzed_once_with_provenance(store):
    etag = archive(store, dialog=CALL_LOG["dialog"][::-1])  # sent ordered by `begin`
    ccai = FakeCcai()

    out = run(store, ccai, etag=etag)

    assert out == Outcome("analysed", TARGET, requests=1)
    assert store.writes == [_update(store, "analysis"), TARGET] and ccai.deadlines == [77.0]
    (body,) = ccai.bodies
    expected = sorted((t for t in CALL_LOG["dialog"] if t["text"].strip()), key=lambda t: t["begin"])
    assert [s["text"] for s in body["dialogue"]["sentences"]] == [t["text"].strip() for t in expected]
    assert [s["role"] for s in body["dialogue"]["sentences"]] == [t["role"] for t in expected]
    assert body["dialogue"]["sessionId"] == "sess-1" and body["stream"] is False
    assert body["resultTypes"] == PROFILE.request["resultTypes"] and body["modelCode"] == "tyxmTurbo"
    doc = store.json(TARGET)
    chars = sum(len(s["text"]) for s in body["dialogue"]["sentences"])
    assert doc["status"] == "analysed" and doc["schema"] == "aicall.analysis/1" and doc["dt"] == DT
    assert doc["source"] == {"key": SOURCE, "etag": etag, "bucket": "archive-bucket"}
    assert doc["profile"] == {"name": "default", "version": PROFILE.version, "hash": PROFILE.digest}
    assert doc["ccai"] == {"host": "contactcenterai.cn-shanghai.aliyuncs.com", "workspace_id": "ws1",
                           "app_id": "app1", "stream": False, "request_ids": ["ccai-req-1"], "requests": 1,
                           "attempts": 1, "stream_events": 0}
    assert doc["dialog"] == {"turns": len(CALL_LOG["dialog"]), "sentences": len(expected), "chars": chars}
    assert doc["result"]["parsed"] == {"summary": "answer 1"} and doc["long_dialog"] is None
    assert doc["usage"] == {"input_tokens": chars, "output_tokens": 1, "total_tokens": chars + 1}
    assert doc["timings"]["ccai_ms"] == 12.5 and doc["reason"] is None
    meta = store.head(TARGET).metadata
    assert meta == {"source-etag": etag, "profile-hash": PROFILE.digest, "profile": "default"}


def test_duplicate_trigger_calls_ccai_no_more_and_settles_leftovers(store):
    etag = archive(store)
    ccai = FakeCcai()
    run(store, ccai, etag=etag)
    store.ops.clear()
    # One HEAD finds it done; a HEAD (attempt counter) and a LIST (open dead letters) settle
    # what a failed attempt of the same unit may have left behind.
    settle_ops = [("head", "attempts"), ("list", layout.dead_letter_prefix("analyze", DT, INST))]
    # OSS trigger events may carry the ETag quoted and in upper case.
    for trigger_etag in (etag, f'"{etag.upper()}"'):
        assert run(store, ccai, etag=trigger_etag) == Outcome("already_analysed", TARGET)
    erased = ("head", layout.erased_key(INST))  # an erased call is never analysed (aiagent erase)
    assert [(op, "attempts" if "/attempts/" in key else key) for op, key in store.ops] == \
        ([erased, ("head", TARGET)] + settle_ops) * 2
    # Without an ETag (a re-run over the archive) it costs a GET more, still no CCAI call.
    store.ops.clear()
    assert run(store, ccai).status == "already_analysed"
    assert [(op, "attempts" if "/attempts/" in key else key) for op, key in store.ops] == \
        [erased, ("head", TARGET), ("get", SOURCE)] + settle_ops
    assert ccai.count == 1 and store.writes == [_update(store, "analysis"), TARGET]


def test_changed_call_log_is_analyzed_again(store):
    ccai = FakeCcai()
    run(store, ccai, etag=archive(store))
    store.delete(SOURCE)
    new_etag = archive(store, dialog=CALL_LOG["dialog"][:3])
    assert run(store, ccai, etag=new_etag).status == "analysed"
    assert ccai.count == 2 and len(ccai.bodies[-1]["dialogue"]["sentences"]) == 3
    assert store.head(TARGET).metadata["source-etag"] == new_etag
    assert store.json(TARGET)["source"]["etag"] == new_etag


def test_new_profile_version_is_analyzed_again(store):
    etag = archive(store)
    ccai = FakeCcai()
    run(store, ccai, etag=etag)
    doc = json.loads((profiles.PROFILES_DIR / "default.json").read_text(encoding="utf-8"))
    newer = profiles.parse_profile({**doc, "version": doc["version"] + 1}, "default.json")
    assert newer.digest != PROFILE.digest
    assert run(store, ccai, etag=etag, profile=newer).status == "analysed"
    assert ccai.count == 2
    assert store.json(TARGET)["profile"] == {"name": "default", "version": doc["version"] + 1, "hash": newer.digest}
    assert store.head(TARGET).metadata["profile-hash"] == newer.digest
    # And back to the old profile: its hash no longer matches what is stored, so once more.
    assert run(store, ccai, etag=etag).status == "analysed" and ccai.count == 3


def test_empty_dialog_is_recorded_without_calling_ccai(store):
    etag = archive(store, dialog=[{"id": 1, "begin": 1.0, "role": "user", "text": "   "},
                                  {"id": 2, "begin": 2.0, "role": "agent"}])
    ccai = FakeCcai()
    assert run(store, ccai, etag=etag) == Outcome("empty", TARGET, requests=0)
    assert ccai.count == 0
    doc = store.json(TARGET)
    assert doc["status"] == "empty" and doc["result"] is None and doc["usage"] is None
    assert "no sentence with text" in doc["reason"] and doc["dialog"] == {"turns": 2, "sentences": 0, "chars": 0}
    assert doc["ccai"]["requests"] == 0 and doc["ccai"]["request_ids"] == []
    assert store.head(TARGET).metadata["source-etag"] == etag  # so a duplicate trigger stops at the HEAD
    assert run(store, ccai, etag=etag).status == "already_analysed"


@pytest.mark.parametrize("raw", [b"not json", b'{"call_log": {"dialog": "not a list"}}', b"[1, 2]", b"{}"])
def test_call_log_without_a_dialog_list_is_dead_lettered(store, raw):
    store.seed(SOURCE, raw)
    ccai = FakeCcai()
    out = run(store, ccai)
    assert out.status == "dead_letter" and str(out.key).startswith(f"failed/analyze/dt={DT}/{INST}-")
    (letter,) = dead_letters(store)
    assert letter["error_code"] == "CallLogInvalid" and letter["source_key"] == SOURCE and letter["stage"] == "analyze"
    assert ccai.count == 0 and store.head(TARGET) is None


def test_retryable_failure_asks_for_retry_then_dead_letters_after_max_attempts(store):
    etag = archive(store)
    throttled = failure("CCAI.Throttling.Qps", status=429, request_id="ccai-thr", attempts=5)
    ccai = FakeCcai(throttled, throttled, throttled)
    for attempt in (1, 2):
        with pytest.raises(RetryLater, match="CCAI.Throttling.Qps"):
            run(store, ccai, etag=etag)
        assert store.json(attempts_key(etag))["attempts"] == attempt
    out = run(store, ccai, etag=etag)
    assert out.status == "dead_letter"
    (letter,) = dead_letters(store)
    assert {k: letter[k] for k in ("error_code", "attempts", "http_status", "ccai_request_id", "profile")} == {
        "error_code": "CCAI.Throttling.Qps", "attempts": 3, "http_status": 429, "ccai_request_id": "ccai-thr",
        "profile": PROFILE.provenance()}
    assert letter["reason"].startswith("gave up after 3 attempts: ")
    assert ccai.count == 3 and store.head(TARGET) is None


def test_retryable_failure_then_success_is_analyzed(store):
    etag = archive(store)
    ccai = FakeCcai(failure("CCAI.InternalError", status=500))
    with pytest.raises(RetryLater):
        run(store, ccai, etag=etag)
    assert store.json(attempts_key(etag))["attempts"] == 1
    assert run(store, ccai, etag=etag).status == "analysed"
    assert ccai.count == 2 and dead_letters(store) == []
    assert store.keys("failed/") == []  # the counter goes once the unit is done


def test_permanent_failure_is_dead_lettered_at_once(store):
    etag = archive(store)
    ccai = FakeCcai(failure("CCAI.IllegalPermission.NoAuth", retryable=False, status=403, request_id="ccai-403"))
    out = run(store, ccai, etag=etag)
    assert out.status == "dead_letter" and "CCAI.IllegalPermission.NoAuth" in str(out.reason)
    (letter,) = dead_letters(store)
    assert letter["error_code"] == "CCAI.IllegalPermission.NoAuth" and letter["http_status"] == 403
    assert letter["attempts"] == 1 and letter["ccai_request_id"] == "ccai-403"
    assert ccai.count == 1 and store.keys("failed/analyze/attempts/") == [] and store.head(TARGET) is None


def test_long_dialog_is_split_into_part_requests_and_merged(store):
    dialog = [{"id": i, "begin": float(i), "role": "agent" if i % 2 else "user", "text": f"{i:02d}" + "x" * 98}
              for i in range(30)]  # 3,000 characters: three requests of 1,000
    etag = archive(store, dialog=dialog)
    ccai = FakeCcai(*(ccai_answer(f'{{"part": {n}}}', input_tokens=1000, output_tokens=n, request_id=f"r{n}",
                                  attempts=n, upstream_ms=10.0 * n) for n in (1, 2, 3)))
    out = run(store, ccai, etag=etag)
    assert out == Outcome("analysed", TARGET, requests=3)
    assert [b["dialogue"]["sessionId"] for b in ccai.bodies] == ["sess-1-part1of3", "sess-1-part2of3",
                                                                 "sess-1-part3of3"]
    sent = [s["text"] for b in ccai.bodies for s in b["dialogue"]["sentences"]]
    assert sent == [t["text"] for t in dialog]
    doc = store.json(TARGET)
    assert doc["usage"] == {"input_tokens": 3000, "output_tokens": 6, "total_tokens": 3006}
    assert doc["ccai"]["request_ids"] == ["r1", "r2", "r3"] and doc["ccai"]["requests"] == 3
    assert doc["ccai"]["attempts"] == 6 and doc["timings"]["ccai_ms"] == 60.0
    assert [p["turns"] for p in doc["result"]["parts"]] == [[0, 9], [10, 19], [20, 29]]
    assert [p["parsed"] for p in doc["result"]["parts"]] == [{"part": 1}, {"part": 2}, {"part": 3}]
    assert doc["long_dialog"]["policy"] == "split" and doc["long_dialog"]["requests"] == 3
    assert doc["long_dialog"]["total_chars"] == 3000 and doc["long_dialog"]["limit_chars"] == 1000


def test_missing_call_log_or_other_key_is_skipped(store):
    ccai = FakeCcai()
    assert run(store, ccai) == Outcome("skipped", reason="the call log no longer exists")
    assert store.ops == [("head", layout.erased_key(INST)), ("head", TARGET), ("get", SOURCE)]
    store.ops.clear()
    assert run(store, ccai, key=TARGET) == Outcome("skipped", reason="not a call-logs/ key")
    assert store.ops == [] and store.writes == [] and ccai.count == 0


# --- every exception ends in a retry or a dead letter; attempts per unit of work ---------------------


def other_profile() -> profiles.Profile:
    doc = json.loads((profiles.PROFILES_DIR / "default.json").read_text(encoding="utf-8"))
    return profiles.parse_profile({**doc, "name": "other", "version": doc["version"] + 1}, "other.json")


def test_attempts_of_one_profile_do_not_count_against_another_or_a_changed_call_log(store):
    etag = archive(store)
    throttled = failure("CCAI.Throttling.Qps")
    ccai = FakeCcai(throttled, throttled)
    for _ in range(2):  # one short of ANALYSIS_MAX_ATTEMPTS=3
        with pytest.raises(RetryLater):
            run(store, ccai, etag=etag)
    other = other_profile()
    ccai.then(throttled)
    with pytest.raises(RetryLater):  # the other profile's first attempt, not a dead letter
        run(store, ccai, etag=etag, profile=other)
    assert store.json(attempts_key(etag, other))["attempts"] == 1
    # A changed call log is a new unit of work too.
    store.delete(SOURCE)
    new_etag = archive(store, dialog=CALL_LOG["dialog"][:3])
    ccai.then(throttled)
    with pytest.raises(RetryLater):
        run(store, ccai, etag=new_etag)
    assert store.json(attempts_key(new_etag))["attempts"] == 1
    assert store.json(attempts_key(etag))["attempts"] == 2 and dead_letters(store) == []
    assert run(store, ccai, etag=new_etag).status == "analysed"
    assert store.head(attempts_key(new_etag)) is None


class RaisingCcai:
    """A CCAI client whose request fails with something the workflow has no rule for."""

    def __init__(self, exc: BaseException) -> None:
        self.exc, self.count = exc, 0

    def analyze(self, body, *, deadline=None):
        self.count += 1
        raise self.exc


def _unexpected_errors() -> list[BaseException]:
    import zlib

    import httpx

    return [httpx.DecodingError("Error -3 while decompressing data"), httpx.InvalidURL("bad url"),
            httpx.StreamClosed(), ValueError("v https://contactcenterai.aliyuncs.com/x?Signature=s3cr3t"),
            KeyError("k"), OSError("o"), zlib.error("z"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad")]


@pytest.mark.parametrize("exc", _unexpected_errors(), ids=lambda e: type(e).__name__)
def test_unexpected_exception_is_counted_then_dead_lettered_with_the_profile(store, exc):
    etag = archive(store)
    client = RaisingCcai(exc)
    for _ in range(2):
        with pytest.raises(RetryLater):
            run(store, client, etag=etag)
    out = run(store, client, etag=etag)
    assert out.status == "dead_letter" and client.count == 3
    (letter,) = dead_letters(store)
    name = type(exc).__name__
    assert letter["error_code"] == f"Unexpected.{name}" and letter["attempts"] == 3
    assert name in letter["reason"] and "s3cr3t" not in json.dumps(letter)
    assert letter["profile"] == PROFILE.provenance() and letter["unit"]["source_etag"] == etag
    assert store.keys("failed/analyze/attempts/") == [] and store.head(TARGET) is None


def test_distinct_failures_of_one_call_each_get_a_dead_letter(store, logs):
    etag = archive(store)
    refused = failure("CCAI.IllegalPermission.NoAuth", retryable=False, status=403)
    ccai = FakeCcai(refused, refused, failure("CCAI.InvalidParam.NotExist", retryable=False, status=400), refused)
    first = run(store, ccai, etag=etag)
    assert run(store, ccai, etag=etag).key == first.key  # the same failure: one record
    assert run(store, ccai, etag=etag).key != first.key  # another error code
    assert run(store, ccai, etag=etag, profile=other_profile()).key != first.key  # another profile
    letters = dead_letters(store)
    assert sorted((d["error_code"], d["profile"]["name"]) for d in letters) == [
        ("CCAI.IllegalPermission.NoAuth", "default"), ("CCAI.IllegalPermission.NoAuth", "other"),
        ("CCAI.InvalidParam.NotExist", "default")]
    messages = [json.loads(line)["message"] for line in logs.getvalue().splitlines() if "dead letter" in line]
    assert messages.count("dead letter written") == 3
    assert messages.count("dead letter already recorded (same unit, same error)") == 1


def test_storage_error_reading_the_counter_propagates_and_does_not_reset_it(store):
    from shared.errors import StorageError

    etag = archive(store)
    throttled = failure("CCAI.Throttling.Qps")
    ccai = FakeCcai(*[throttled] * 4)  # the third call's count cannot be read: a fourth call
    for _ in range(2):
        with pytest.raises(RetryLater):
            run(store, ccai, etag=etag)
    store.fail_next("get", key_prefix="failed/analyze/attempts/")
    with pytest.raises(StorageError):
        run(store, ccai, etag=etag)
    assert store.json(attempts_key(etag))["attempts"] == 2
    assert run(store, ccai, etag=etag).status == "dead_letter"


# --- one terminal state per call and profile version ---------------------------------------

def test_success_resolves_the_letters_of_the_same_profile_version_only(store):
    etag = archive(store)
    refused = failure("CCAI.IllegalPermission.NoAuth", retryable=False, status=403)
    ccai = FakeCcai(refused, refused)
    assert run(store, ccai, etag=etag).status == "dead_letter"
    assert run(store, ccai, etag=etag, profile=other_profile()).status == "dead_letter"
    assert len(dead_letters(store)) == 2
    # The permission is restored; a late duplicate trigger analyses the call with "default".
    assert run(store, FakeCcai(), etag=etag).status == "analysed"
    [still_open] = dead_letters(store)
    assert still_open["profile"]["name"] == "other"  # another profile version: its own to-do
    [moved] = [store.json(k) for k in store.keys(layout.RESOLVED + "analyze/")]
    assert moved["profile"]["name"] == "default" and moved["resolved_by"] == TARGET


def test_no_dead_letter_when_a_duplicate_trigger_analysed_it_meanwhile(store):
    etag = archive(store)

    class AnalysedMeanwhile(FakeCcai):
        def analyze(self, body, *, deadline=None):
            run(store, FakeCcai(), etag=etag)  # the duplicate trigger wins the race
            raise failure("CCAI.IllegalPermission.NoAuth", retryable=False, status=403)

    assert run(store, AnalysedMeanwhile(), etag=etag) == Outcome("already_analysed", TARGET)
    assert dead_letters(store) == [] and store.keys(layout.RESOLVED) == []
    assert store.keys("failed/") == []


# --- REDACTION_MODE ---------------------------------------------------------------------------

PII_DIALOG = [{"id": 1, "begin": 1.0, "role": "user", "text": "我的手机是幺三八零零幺三八零零零"},
              {"id": 2, "begin": 2.0, "role": "agent", "text": "好的，已记录 13800138000"}]


@pytest.mark.parametrize("mode, stored_redacted", [("analysis", False), ("archive", True)])
def test_ccai_reads_redacted_text_and_the_archive_mode_redacts_the_result(store, mode, stored_redacted):
    from shared.analysis.workflow import analyze_call

    etag = archive(store, dialog=PII_DIALOG)
    quoting = FakeCcai(ccai_answer('{"summary": "用户手机 13800138000"}'))
    out = analyze_call(store, quoting, settings(), SOURCE, profile=PROFILE, source_etag=etag, redaction=mode)
    assert out.status == "analysed"
    sent = json.dumps(quoting.bodies, ensure_ascii=False)
    assert "13800138000" not in sent and "幺三八" not in sent and "[手机号]" in sent
    doc = store.json(TARGET)
    assert doc["redaction"]["mode"] == mode and doc["redaction"]["findings"]["mobile"] >= 2
    assert ("13800138000" in json.dumps(doc["result"], ensure_ascii=False)) is not stored_redacted


def test_redaction_off_sends_the_transcript_as_it_is(store):
    etag = archive(store, dialog=PII_DIALOG)
    ccai = FakeCcai()
    assert run(store, ccai, etag=etag).status == "analysed"
    assert "13800138000" in json.dumps(ccai.bodies, ensure_ascii=False)
    assert store.json(TARGET)["redaction"] == {"mode": "off", "findings": {}}


def _update(store, kind: str) -> str:
    """The one row update of the call index written before the result (shared/archive/index_rows.py)."""
    updates = [k for k in store.writes if k.startswith("warehouse/updates/")]
    assert len(updates) == 1 and f"-{kind}-" in updates[0], updates
    return updates[0]
