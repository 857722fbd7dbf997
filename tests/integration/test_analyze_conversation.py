"""analyze_conversation through its real handler with real OSS-trigger events; OSS on
moto's server, CCAI through the simulator (every request's ACS3 signature checked)."""
import json

import pytest

from shared.analysis import profile as profiles
from shared.archive import layout
from shared.clients import object_store
from tests.chain import AK, SK, trigger
from tests.support import load_function, sample

CALL_LOG = sample("call_log.json")
DT = "2025-08-14"


def archived(instance_id: str, dialog=None, **extra) -> str:
    """Put an archived call (as archive_call_log writes it) under call-logs/; its key."""
    log = {**CALL_LOG, "instanceid": instance_id}
    if dialog is not None:
        log["dialog"] = dialog
    doc = {"schema": "aicall.call-log/1", "instance_id": instance_id, "session_id": f"sess-{instance_id}",
           "call_log": log, **extra}
    key = layout.call_log_key(DT, instance_id)
    object_store.get_store().put(key, json.dumps(doc, ensure_ascii=False).encode())
    return key


def result_doc(instance_id: str, profile: str = "default") -> dict:
    return json.loads(object_store.get_store().get(layout.analysis_key(DT, instance_id, profile))[0])


def dead_letters(instance_id: str) -> list[dict]:
    store = object_store.get_store()
    prefix = layout.date_prefix(f"{layout.FAILED}analyze/", DT)
    return [json.loads(store.get(i.key)[0]) for i in store.list(prefix) if f"/{instance_id}-" in i.key]


@pytest.fixture
def analyze(monkeypatch, analysis_env):
    return load_function("analyze_conversation", monkeypatch, {})


def test_call_is_analyzed_with_full_provenance(analyze, ccai_sim):
    key = archived("inst-an1")
    out = trigger(analyze, key)
    assert out["results"][0]["status"] == "analysed"
    doc = result_doc("inst-an1")
    profile = profiles.load_profile("default")
    info = object_store.get_store().head(key)
    assert doc["source"] == {"key": key, "etag": info.etag, "bucket": object_store.get_store().bucket}
    assert doc["profile"] == {"name": "default", "version": profile.version, "hash": profile.digest}
    assert doc["model"] == "tyxmTurbo" and doc["result_types"] == profile.request["resultTypes"]
    assert len(doc["ccai"]["request_ids"]) == 1 and doc["ccai"]["request_ids"][0]
    assert doc["ccai"]["workspace_id"] == "chain-ws" and doc["ccai"]["stream"] is False
    # What CCAI received: the dialog's non-empty turns ordered by begin, roles kept.
    sent = ccai_sim.calls[-1]["body"]
    expected = sorted((t for t in CALL_LOG["dialog"] if t["text"].strip()), key=lambda t: t["begin"])
    assert [s["text"] for s in sent["dialogue"]["sentences"]] == [t["text"].strip() for t in expected]
    assert sent["dialogue"]["sessionId"] == "sess-inst-an1" and sent["stream"] is False
    # Raw text kept, and parsed because (several result types) it is a JSON object.
    assert isinstance(doc["result"]["text"], str)
    assert doc["result"]["parsed"] == json.loads(doc["result"]["text"])
    assert set(doc["result"]["parsed"]) == set(profile.request["resultTypes"])
    chars = sum(len(s["text"]) for s in sent["dialogue"]["sentences"])
    assert doc["usage"] == {"input_tokens": chars, "output_tokens": len(doc["result"]["text"]),
                            "total_tokens": chars + len(doc["result"]["text"])}
    assert doc["timings"]["total_ms"] >= doc["timings"]["ccai_ms"] > 0
    assert doc["long_dialog"] is None and doc["result"]["finish_reason"] == "stop"


@pytest.mark.parametrize("result_type", profiles.KNOWN_RESULT_TYPES - {"custom_prompt"})
def test_each_result_type_round_trips(monkeypatch, analysis_env, ccai_sim, tmp_path, result_type):
    from devkit.sims.ccai import answer_for

    base = json.loads((profiles.PROFILES_DIR / "default.json").read_text())
    doc = {"name": "one", "version": 1, "resultTypes": [result_type], "fields": base["fields"],
           "serviceInspection": base["serviceInspection"]}
    (tmp_path / "one.json").write_text(json.dumps(doc))
    monkeypatch.setattr(profiles, "PROFILES_DIR", tmp_path)
    fn = load_function("analyze_conversation", monkeypatch, {"ANALYSIS_PROFILE": "one"})
    key = archived(f"inst-rt-{result_type.replace('_', '-')}")
    assert trigger(fn, key)["results"][0]["status"] == "analysed"
    out = result_doc(f"inst-rt-{result_type.replace('_', '-')}", "one")
    expected = answer_for(result_type, ccai_sim.calls[-1]["body"])
    if isinstance(expected, str):  # plain text: kept raw, not parsed
        assert out["result"]["text"] == expected and out["result"]["parsed"] is None
    else:
        assert out["result"]["parsed"] == expected
        assert json.loads(out["result"]["text"]) == expected


@pytest.mark.parametrize("mode", ["delta", "cumulative"])
def test_sse_stream_is_assembled(monkeypatch, analysis_env, ccai_sim, mode):
    ccai_sim.stream_mode = mode
    fn = load_function("analyze_conversation", monkeypatch, {"CCAI_STREAM": "true"})
    key = archived(f"inst-sse-{mode}")
    assert trigger(fn, key)["results"][0]["status"] == "analysed"
    doc = result_doc(f"inst-sse-{mode}")
    from devkit.sims.ccai import text_for

    assert ccai_sim.calls[-1]["body"]["stream"] is True
    assert doc["result"]["text"] == text_for(ccai_sim.calls[-1]["body"])
    assert doc["ccai"]["stream_events"] > 10 and doc["result"]["finish_reason"] == "stop"
    assert doc["usage"]["total_tokens"] > 0


def test_stream_cut_short_is_retried(monkeypatch, analysis_env, ccai_sim):
    fn = load_function("analyze_conversation", monkeypatch, {"CCAI_STREAM": "true"})
    ccai_sim.inject(status=200, cut_stream=True, times=1)
    key = archived("inst-sse-cut")
    assert trigger(fn, key)["results"][0]["status"] == "analysed"
    assert ccai_sim.count() == 2
    assert result_doc("inst-sse-cut")["ccai"]["attempts"] == 2


def test_throttling_is_retried_honouring_retry_after_then_succeeds(analyze, ccai_sim):
    import time

    ccai_sim.inject(status=400, code="CCAI.Throttling.Qps", message="Trigger current QPS limit", times=1,
                    retry_after_ms=300)
    ccai_sim.inject(status=400, code="CCAI.Throttling.Qpm", message="Trigger QPM flow restriction", times=1)
    key = archived("inst-thr")
    started = time.monotonic()
    assert trigger(analyze, key)["results"][0]["status"] == "analysed"
    assert time.monotonic() - started >= 0.3  # x-acs-retry-after honoured
    assert ccai_sim.count() == 3
    assert result_doc("inst-thr")["ccai"]["attempts"] == 3
    nonces = {c["headers"]["x-acs-signature-nonce"] for c in ccai_sim.calls}
    assert len(nonces) == 3  # each retry freshly signed


def test_throttling_beyond_retries_asks_fc_to_retry_then_dead_letters(monkeypatch, analysis_env, ccai_sim):
    from shared.archive.dead_letters import RetryLater

    fn = load_function("analyze_conversation", monkeypatch, {"CCAI_MAX_RETRIES": "0", "ANALYSIS_MAX_ATTEMPTS": "3"})
    ccai_sim.inject(status=500, code="CCAI.InternalError", times=10)
    key = archived("inst-5xx")
    for _ in range(2):
        with pytest.raises(RetryLater):
            trigger(fn, key)
    out = trigger(fn, key)
    assert out["results"][0]["status"] == "dead_letter"
    (dl,) = dead_letters("inst-5xx")
    assert dl["error_code"] == "CCAI.InternalError" and dl["attempts"] == 3 and dl["source_key"] == key
    assert object_store.get_store().head(layout.analysis_key(DT, "inst-5xx", "default")) is None


@pytest.mark.parametrize("status, code", [(403, "CCAI.IllegalPermission.NoAuth"),
                                          (403, "CCAI.TenantPermission.NoAuth"),
                                          (400, "CCAI.InvalidParam.NotExist")])
def test_permanent_error_is_dead_lettered_at_once(analyze, ccai_sim, status, code):
    ccai_sim.inject(status=status, code=code, message="You have no permission", times=1)
    inst = f"inst-perm-{status}-{code.split('.')[1].lower()}"
    key = archived(inst)
    out = trigger(analyze, key)
    assert out["results"][0]["status"] == "dead_letter"
    assert ccai_sim.count() == 1  # not retried
    (dl,) = dead_letters(inst)
    assert dl["stage"] == "analyze" and dl["error_code"] == code and dl["http_status"] == status
    assert code in dl["reason"] and dl["profile"]["name"] == "default"
    assert object_store.get_store().head(layout.analysis_key(DT, inst, "default")) is None


def test_wrong_workspace_is_a_403_dead_letter(monkeypatch, analysis_env, ccai_sim):
    fn = load_function("analyze_conversation", monkeypatch, {"CCAI_WORKSPACE_ID": "someone-elses"})
    key = archived("inst-ws")
    assert trigger(fn, key)["results"][0]["status"] == "dead_letter"
    assert dead_letters("inst-ws")[0]["error_code"] == "CCAI.TenantPermission.NoAuth"


def test_wrong_secret_is_refused_by_the_signature_check_and_dead_lettered(monkeypatch, analysis_env, ccai_sim):
    fn = load_function("analyze_conversation", monkeypatch, {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-the-secret"})
    key = archived("inst-sig")
    assert trigger(fn, key)["results"][0]["status"] == "dead_letter"
    dl = dead_letters("inst-sig")[0]
    assert dl["error_code"] == "SignatureDoesNotMatch" and "not-the-secret" not in json.dumps(dl)


def test_duplicate_trigger_calls_ccai_once(analyze, ccai_sim):
    key = archived("inst-dup")
    outs = [trigger(analyze, key)["results"][0]["status"] for _ in range(3)]
    assert outs == ["analysed", "already_analysed", "already_analysed"]
    assert ccai_sim.count() == 1


def test_changed_call_log_or_profile_is_analyzed_again(monkeypatch, analysis_env, ccai_sim, tmp_path):
    fn = load_function("analyze_conversation", monkeypatch, {})
    key = archived("inst-chg")
    trigger(fn, key)
    archived("inst-chg", dialog=CALL_LOG["dialog"][:3])  # a new ETag for the same key
    assert trigger(fn, key)["results"][0]["status"] == "analysed"
    assert ccai_sim.count() == 2
    assert len(ccai_sim.calls[-1]["body"]["dialogue"]["sentences"]) == 3
    # A new version of the profile (another hash) analyses again too.
    doc = json.loads((profiles.PROFILES_DIR / "default.json").read_text())
    (tmp_path / "default.json").write_text(json.dumps({**doc, "version": doc["version"] + 1}))
    monkeypatch.setattr(profiles, "PROFILES_DIR", tmp_path)
    profiles.load_profile.cache_clear()
    fn = load_function("analyze_conversation", monkeypatch, {})
    assert trigger(fn, key)["results"][0]["status"] == "analysed"
    assert result_doc("inst-chg")["profile"]["version"] == doc["version"] + 1
    assert ccai_sim.count() == 3


def test_empty_dialog_is_recorded_without_calling_ccai(analyze, ccai_sim):
    key = archived("inst-empty", dialog=[{"id": 1, "begin": 1.0, "role": "user", "type": "normal", "text": "  "}])
    assert trigger(analyze, key)["results"][0]["status"] == "empty"
    assert ccai_sim.count() == 0
    doc = result_doc("inst-empty")
    assert doc["status"] == "empty" and doc["result"] is None and "no sentence" in doc["reason"]


def test_unreadable_call_log_is_dead_lettered(analyze, ccai_sim):
    key = layout.call_log_key(DT, "inst-bad")
    object_store.get_store().put(key, b"not json")
    assert trigger(analyze, key)["results"][0]["status"] == "dead_letter"
    assert dead_letters("inst-bad")[0]["error_code"] == "CallLogInvalid" and ccai_sim.count() == 0


def long_dialog(turns: int = 2000) -> list[dict]:
    """A 2-hour call: ~2,000 turns of ~60 characters, 3.6 s apart."""
    return [{"id": i + 1, "begin": round(3.6 * i, 3), "role": "agent" if i % 2 else "user", "type": "normal",
             "text": f"turn {i:04d} " + ("lorem ipsum dolor sit amet " * 2)[:50]} for i in range(turns)]


def test_2000_turn_call_is_split_into_requests_that_fit_and_merged(monkeypatch, analysis_env, ccai_sim):
    ccai_sim.max_chars = 30000  # the simulator refuses anything bigger, like a real limit would
    fn = load_function("analyze_conversation", monkeypatch, {"ANALYSIS_MAX_REQUEST_CHARS": "30000"})
    dialog = long_dialog()
    total = sum(len(t["text"]) for t in dialog)
    key = archived("inst-long", dialog=dialog)
    assert trigger(fn, key)["results"][0]["status"] == "analysed"
    doc = result_doc("inst-long")
    bodies = [c["body"] for c in ccai_sim.calls]
    assert len(bodies) == doc["ccai"]["requests"] == -(-total // 30000)  # as few as fit
    sent = [s["text"] for b in bodies for s in b["dialogue"]["sentences"]]
    assert sent == [t["text"] for t in dialog]  # every turn once, in order
    assert all(sum(len(s["text"]) for s in b["dialogue"]["sentences"]) <= 30000 for b in bodies)
    assert doc["long_dialog"]["policy"] == "split" and doc["long_dialog"]["total_turns"] == 2000
    assert doc["long_dialog"]["total_chars"] == total
    assert len(doc["result"]["parts"]) == len(bodies)
    assert doc["result"]["parts"][0]["turns"][0] == 0 and doc["result"]["parts"][-1]["turns"][1] == 1999
    assert doc["usage"]["input_tokens"] == total
    assert [p["request_id"] for p in doc["result"]["parts"]] == doc["ccai"]["request_ids"]


def test_2000_turn_call_is_truncated_keeping_start_and_end(monkeypatch, analysis_env, ccai_sim):
    ccai_sim.max_chars = 30000
    fn = load_function("analyze_conversation", monkeypatch, {"ANALYSIS_MAX_REQUEST_CHARS": "30000",
                                                             "ANALYSIS_LONG_DIALOG_POLICY": "truncate"})
    dialog = long_dialog()
    key = archived("inst-trunc", dialog=dialog)
    assert trigger(fn, key)["results"][0]["status"] == "analysed"
    (call,) = ccai_sim.calls
    sentences = call["body"]["dialogue"]["sentences"]
    rec = result_doc("inst-trunc")["long_dialog"]
    assert rec["policy"] == "truncate" and rec["omitted_turns"] > 0
    assert rec["kept_head_turns"] + rec["kept_tail_turns"] + rec["omitted_turns"] == 2000
    assert sentences[0]["text"] == dialog[0]["text"] and sentences[-1]["text"] == dialog[-1]["text"]
    marker = sentences[rec["kept_head_turns"]]
    assert marker["role"] == "system" and str(rec["omitted_turns"]) in marker["text"]
    assert sum(len(s["text"]) for s in sentences) <= 30000


def test_missing_ccai_ids_fail_the_cold_start_by_name(monkeypatch, analysis_env):
    monkeypatch.delenv("CCAI_APP_ID")
    fn = load_function("analyze_conversation", monkeypatch, {})
    assert "CCAI_APP_ID" in fn.config_error.message
    with pytest.raises(Exception) as exc:
        trigger(fn, archived("inst-cfg"))
    assert "CCAI_APP_ID" in str(exc.value)


def test_unknown_profile_fails_the_cold_start_by_name(monkeypatch, analysis_env):
    fn = load_function("analyze_conversation", monkeypatch, {"ANALYSIS_PROFILE": "nope"})
    assert "ANALYSIS_PROFILE" in fn.config_error.message and "default" in fn.config_error.message


def test_no_secret_in_logs_or_results(analyze, ccai_sim, capsys):
    key = archived("inst-sec")
    trigger(analyze, key)
    ccai_sim.inject(status=403, code="CCAI.IllegalPermission.NoAuth", times=1)
    trigger(analyze, archived("inst-sec2"))
    printed = capsys.readouterr()
    blob = printed.out + printed.err + json.dumps(result_doc("inst-sec")) + json.dumps(dead_letters("inst-sec2"))
    assert SK not in blob and "Signature=" not in blob
    assert AK not in json.dumps(result_doc("inst-sec"))


def test_dropped_connection_and_slow_answer_are_retried(monkeypatch, analysis_env, ccai_sim):
    import time

    fn = load_function("analyze_conversation", monkeypatch, {"CCAI_READ_TIMEOUT_SECONDS": "0.5"})
    ccai_sim.inject(status=200, drop=True, times=1)  # connection closed without an answer
    ccai_sim.inject(status=200, delay=1.5, times=1)  # slower than the read timeout
    key = archived("inst-drop-slow")
    started = time.monotonic()
    assert trigger(fn, key)["results"][0]["status"] == "analysed"
    assert time.monotonic() - started < 1.5  # the slow answer was not waited for
    assert ccai_sim.count() == 3 and result_doc("inst-drop-slow")["ccai"]["attempts"] == 3


def test_ccai_time_is_bounded_by_the_function_deadline(monkeypatch, analysis_env, ccai_sim):
    """Throttled with a long x-acs-retry-after: the function does not sleep past its
    budget; it hands the retry to FC (RetryLater) instead."""
    import time

    from shared.archive.dead_letters import RetryLater
    from tests.support import Ctx

    fn = load_function("analyze_conversation", monkeypatch, {})
    ccai_sim.inject(status=400, code="CCAI.Throttling.Qpm", retry_after_ms=60_000, times=5)
    ctx = Ctx(name="analyze")
    ctx.function = type(ctx.function)(ctx.function.name, ctx.function.handler, ctx.function.memory, 2)
    started = time.monotonic()
    with pytest.raises(RetryLater):
        trigger(fn, archived("inst-budget"), ctx)
    assert time.monotonic() - started < 2.0 and ccai_sim.count() == 1


def test_a_trickling_stream_is_cut_off_at_the_function_deadline(monkeypatch, analysis_env, ccai_sim):
    """SSE events arriving slowly but steadily (never a read timeout) must not keep the
    function past its budget: the stream is cut at the deadline and FC retries later."""
    import time

    from shared.archive.dead_letters import RetryLater
    from tests.support import Ctx

    ccai_sim.chunk_chars, ccai_sim.event_delay = 4, 0.2  # hundreds of events, 0.2 s apart
    fn = load_function("analyze_conversation", monkeypatch, {"CCAI_STREAM": "true", "CCAI_MAX_RETRIES": "0"})
    ctx = Ctx(name="analyze")
    ctx.function = type(ctx.function)(ctx.function.name, ctx.function.handler, ctx.function.memory, 2)
    started = time.monotonic()
    with pytest.raises(RetryLater):
        trigger(fn, archived("inst-trickle"), ctx)
    assert time.monotonic() - started < 2.2  # the deadline is 85% of the 2 s timeout


# --- every exception ends in a retry or a dead letter; attempts per unit of work ---------------------


def _ccai_path_errors() -> list[BaseException]:
    import zlib

    import httpx

    return [httpx.DecodingError("Error -3 while decompressing data"), httpx.InvalidURL("bad"),
            httpx.StreamConsumed(), httpx.CookieConflict("c"), ValueError("v"), OSError(5, "Input/output error"),
            zlib.error("incorrect header check"), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
            RuntimeError("r"), RecursionError("r")]


@pytest.mark.parametrize("exc", _ccai_path_errors(), ids=lambda e: type(e).__name__)
def test_every_exception_of_the_ccai_path_ends_in_a_retry_or_a_dead_letter(monkeypatch, analysis_env, ccai_sim, exc):
    import httpx

    from shared.archive.dead_letters import RetryLater

    fn = load_function("analyze_conversation", monkeypatch, {"CCAI_MAX_RETRIES": "0", "ANALYSIS_MAX_ATTEMPTS": "2"})
    original = httpx.Client.stream

    def stream(self, method, url, **kwargs):
        if "analyze_conversation" in str(url):
            raise exc
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(httpx.Client, "stream", stream)
    inst = f"inst-ccai-exc-{type(exc).__name__.lower()}"  # not the archive tests' instances (one bucket)
    key = archived(inst)
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(trigger(fn, key)["results"][0]["status"])
            break
        except RetryLater:
            outcomes.append("retry")
    assert outcomes in (["dead_letter"], ["retry", "dead_letter"]), outcomes
    (dl,) = dead_letters(inst)
    assert dl["error_code"] and dl["reason"] and dl["profile"]["name"] == "default" and dl["source_key"] == key
    if dl["error_code"].startswith("Unexpected."):
        assert dl["error_code"] == f"Unexpected.{type(exc).__name__}" and type(exc).__name__ in dl["reason"]
    store = object_store.get_store()
    assert [o.key for o in store.list("failed/analyze/attempts/") if f"/{inst}-" in o.key] == []


def test_reanalysis_with_another_profile_gets_its_own_attempts(monkeypatch, analysis_env, ccai_sim, tmp_path):
    from shared.archive.dead_letters import RetryLater

    env = {"CCAI_MAX_RETRIES": "0", "ANALYSIS_MAX_ATTEMPTS": "3"}
    fn = load_function("analyze_conversation", monkeypatch, env)
    ccai_sim.inject(status=500, code="CCAI.InternalError", times=3)
    key = archived("inst-reprof")
    for _ in range(2):  # one short of ANALYSIS_MAX_ATTEMPTS
        with pytest.raises(RetryLater):
            trigger(fn, key)
    doc = json.loads((profiles.PROFILES_DIR / "default.json").read_text())
    (tmp_path / "other.json").write_text(json.dumps({**doc, "name": "other"}))
    monkeypatch.setattr(profiles, "PROFILES_DIR", tmp_path)
    profiles.load_profile.cache_clear()
    other = load_function("analyze_conversation", monkeypatch, {**env, "ANALYSIS_PROFILE": "other"})
    with pytest.raises(RetryLater):  # its own first attempt: not dead-lettered by the default profile's two
        trigger(other, key)
    assert trigger(other, key)["results"][0]["status"] == "analysed"
    assert dead_letters("inst-reprof") == []
    store = object_store.get_store()
    counters = [json.loads(store.get(o.key)[0]) for o in store.list("failed/analyze/attempts/")
                if "/inst-reprof-" in o.key]
    assert [(c["profile"], c["attempts"]) for c in counters] == [("default", 2)]  # other's went with its success
