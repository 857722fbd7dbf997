"""Dead letters end: a later success resolves them, and `aiagent replay` re-drives them once the
cause is fixed, through the real triggered functions, moto's OSS and the ICE/CCAI simulators."""
import argparse
import io
import json
from datetime import datetime, timezone

import pytest

from devkit.ops import replay
from shared.archive import layout
from shared.clients import object_store
from tests.chain import call_events, raw, trigger
from tests.support import call, http_event, load_function, sample

CALL_LOG = sample("call_log.json")
# A day of its own: other modules leave dead letters on the chain's usual day (2025-08-14) in
# the shared moto server, and a replay takes every open letter of its days.
# Each test its own day too (a replay that still fails leaves its letter open).
DAYS = {"rp-ccai-1": 26, "rp-ccai-2": 27, "rp-late-1": 28, "rp-arch-1": 29}
DT = "2024-02-29"


def day_of(instance_id):
    return f"2024-02-{DAYS[instance_id]:02d}"


def run(stage, *, dry_run=False, since=None, until=None, report=None, concurrency=2, instance=None):
    since = since or (day_of(instance) if instance else DT)
    until = until or since
    args = argparse.Namespace(stage=stage, since=since, until=until, dry_run=dry_run, concurrency=concurrency,
                              retry_delay=0.01, url=None, report=report)
    out, err = io.StringIO(), io.StringIO()
    code = replay.main(args, err=err, out=out)
    return code, out.getvalue(), err.getvalue()


def open_letters(step, instance_id):
    store = object_store.get_store()
    prefix = layout.date_prefix(f"failed/{step}/", day_of(instance_id))
    return [o.key for o in store.list(prefix) if f"/{instance_id}-" in o.key]


def resolved_letters(step, instance_id):
    store = object_store.get_store()
    return [json.loads(store.get(o.key)[0]) for o in store.list(f"{layout.RESOLVED}{step}/")
            if f"/{instance_id}-" in o.key]


def archived_call(monkeypatch, instance_id):
    """A call through ingest and archive (the real handlers); its call-log key."""
    from tests.chain import CALLBACK_TOKEN

    ingest = load_function("ingest_callback", monkeypatch, {})
    archive = load_function("archive_call_log", monkeypatch, {})
    stop_key = None
    start = datetime.fromisoformat(day_of(instance_id)).replace(hour=2, tzinfo=timezone.utc)
    for ev in call_events(instance_id, start=start):
        status, _, out = call(ingest, http_event(raw_body=raw(ev), path="/api/v2/aiagent/callback",
                                                 headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}))
        assert status == 200, out
        stop_key = out["key"] if ev["event"] == "agent_stop" else stop_key
    return archive, stop_key


def test_permanent_ccai_refusal_then_fixed_then_replay_analyses_and_resolves(monkeypatch, analysis_env, ice_sim,
                                                                            ccai_sim, tmp_path):
    archive, stop_key = archived_call(monkeypatch, "rp-ccai-1")
    ice_sim.add_instance("rp-ccai-1", call_log={**CALL_LOG, "instanceid": "rp-ccai-1"})
    assert trigger(archive, stop_key)["results"][0]["status"] == "archived"
    analyze = load_function("analyze_conversation", monkeypatch, {})
    source = layout.call_log_key(day_of("rp-ccai-1"), "rp-ccai-1")
    ccai_sim.inject(status=403, code="CCAI.IllegalPermission.NoAuth", times=1)
    assert trigger(analyze, source)["results"][0]["status"] == "dead_letter"
    [letter_key] = open_letters("analyze", "rp-ccai-1")

    # A dry run lists it and changes nothing.
    code, out, err = run("analyze", dry_run=True, report=str(tmp_path / "dry.json"), instance="rp-ccai-1")
    assert code == 0 and "would replay rp-ccai-1" in out and "CCAI.IllegalPermission.NoAuth" in out
    assert open_letters("analyze", "rp-ccai-1") == [letter_key] and ccai_sim.count() == 1
    assert json.loads((tmp_path / "dry.json").read_text())["units"][0]["dead_letters"] == [letter_key]

    # The permission is restored (no more injected refusals): the replay analyses it.
    code, out, err = run("analyze", report=str(tmp_path / "r.json"), instance="rp-ccai-1")
    assert code == 0, out + err
    assert "done 1, skipped 0, still failing 0 of 1" in out
    assert object_store.get_store().head(layout.analysis_key(day_of("rp-ccai-1"), "rp-ccai-1", "default")) is not None
    assert open_letters("analyze", "rp-ccai-1") == []
    [moved] = resolved_letters("analyze", "rp-ccai-1")
    assert moved["error_code"] == "CCAI.IllegalPermission.NoAuth"
    assert moved["resolved_by"] == layout.analysis_key(day_of("rp-ccai-1"), "rp-ccai-1", "default")
    # Resumable: nothing is left to replay.
    code, out, err = run("analyze", instance="rp-ccai-1")
    assert code == 0 and "0 unit(s) of work" in err


def test_replay_that_still_fails_reports_the_reason_and_keeps_one_open_letter(monkeypatch, analysis_env, ice_sim,
                                                                              ccai_sim):
    archive, stop_key = archived_call(monkeypatch, "rp-ccai-2")
    ice_sim.add_instance("rp-ccai-2", call_log={**CALL_LOG, "instanceid": "rp-ccai-2"})
    trigger(archive, stop_key)
    analyze = load_function("analyze_conversation", monkeypatch, {})
    ccai_sim.inject(status=403, code="CCAI.IllegalPermission.NoAuth", times=2)
    trigger(analyze, layout.call_log_key(day_of("rp-ccai-2"), "rp-ccai-2"))
    code, out, _ = run("analyze", instance="rp-ccai-2")
    assert code == 1
    assert "still failing 1 of 1" in out and "rp-ccai-2" in out and "CCAI.IllegalPermission.NoAuth" in out
    assert len(open_letters("analyze", "rp-ccai-2")) == 1  # the same failure: the same letter


def test_late_duplicate_trigger_succeeds_after_a_dead_letter_and_resolves_it(monkeypatch, analysis_env, ice_sim,
                                                                             ccai_sim):
    archive, stop_key = archived_call(monkeypatch, "rp-late-1")
    ice_sim.add_instance("rp-late-1", call_log={**CALL_LOG, "instanceid": "rp-late-1"})
    trigger(archive, stop_key)
    analyze = load_function("analyze_conversation", monkeypatch, {})
    source = layout.call_log_key(day_of("rp-late-1"), "rp-late-1")
    ccai_sim.inject(status=403, code="CCAI.IllegalPermission.NoAuth", times=1)
    assert trigger(analyze, source)["results"][0]["status"] == "dead_letter"
    assert len(open_letters("analyze", "rp-late-1")) == 1
    # OSS delivers the trigger again later (at-least-once); CCAI now answers.
    assert trigger(analyze, source)["results"][0]["status"] == "analysed"
    assert open_letters("analyze", "rp-late-1") == []
    assert [m["resolved_by"] for m in resolved_letters("analyze", "rp-late-1")] == [
        layout.analysis_key(day_of("rp-late-1"), "rp-late-1", "default")]


def test_archive_replay_after_ice_is_back(monkeypatch, analysis_env, ice_sim):
    archive, stop_key = archived_call(monkeypatch, "rp-arch-1")
    ice_sim.add_instance("rp-arch-1", call_log={**CALL_LOG, "instanceid": "rp-arch-1"})
    ice_sim.inject(status=404, code="InvalidParameter.NotFound", times=1, action="DescribeAIAgentInstance")
    assert trigger(archive, stop_key)["results"][0]["status"] == "dead_letter"
    assert len(open_letters("archive", "rp-arch-1")) == 1
    code, out, err = run("archive", instance="rp-arch-1")
    assert code == 0, out + err
    assert object_store.get_store().head(layout.call_log_key(day_of("rp-arch-1"), "rp-arch-1")) is not None
    assert open_letters("archive", "rp-arch-1") == []
    assert resolved_letters("archive", "rp-arch-1")[0]["resolved_by"] == layout.call_log_key(day_of("rp-arch-1"), "rp-arch-1")


def test_bad_arguments_are_refused_by_name(analysis_env):
    with pytest.raises(SystemExit, match="--since: must be a date"):
        run("analyze", since="2025-13-01", until="2025-12-31")
    code, _, err = run("analyze", since="2025-08-02", until="2025-08-01")
    assert code == 2 and "--until: is before --since" in err
    code, _, err = run("analyze", concurrency=0)
    assert code == 2 and "--concurrency" in err
