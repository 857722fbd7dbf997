"""`aiagent reanalyze` over an archive on moto's server with the CCAI simulator:
date range, resumable (skips what is current), failures counted and reported,
bounded concurrency, a profile change analysed again."""
import argparse
import io
import json
import threading

import pytest

from devkit.ops import reanalyze
from shared.archive import layout
from shared.clients import object_store
from tests.support import sample

CALL_LOG = sample("call_log.json")


def put_calls(days: dict[str, int], tag: str) -> list[str]:
    store = object_store.get_store()
    keys = []
    for dt, n in days.items():
        for i in range(n):
            inst = f"re-{tag}-{dt.replace('-', '')}-{i}"
            doc = {"instance_id": inst, "call_log": {**CALL_LOG, "instanceid": inst}}
            key = layout.call_log_key(dt, inst)
            store.put(key, json.dumps(doc, ensure_ascii=False).encode())
            keys.append(key)
    return keys


def run(since, until, profile="summary-only", concurrency=4, report=None):
    args = argparse.Namespace(since=since, until=until, profile=profile, concurrency=concurrency, url=None,
                              report=report)
    out, err = io.StringIO(), io.StringIO()
    code = reanalyze.main(args, err=err, out=out)
    return code, out.getvalue(), err.getvalue()


def test_reanalyze_a_date_range_then_resume_skipping_what_is_done(analysis_env, ccai_sim, tmp_path):
    put_calls({"2024-03-01": 3, "2024-03-02": 4, "2024-03-05": 2}, "a")
    code, out, err = run("2024-03-01", "2024-03-02", report=str(tmp_path / "r.json"))
    assert code == 0, out + err
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["total"], report["done"], report["skipped"], report["failed"]) == (7, 7, 0, 0)
    assert ccai_sim.count() == 7 and report["profile"]["name"] == "summary-only"
    assert "7/7" in err and "done 7" in out
    store = object_store.get_store()
    for day, n in (("2024-03-01", 3), ("2024-03-02", 4)):
        found = [i.key for i in store.list(layout.date_prefix(layout.ANALYSES, day))]
        assert len(found) == n and all(k.endswith("/summary-only.json") for k in found)
    assert not list(store.list(layout.date_prefix(layout.ANALYSES, "2024-03-05")))
    # A second run (an interrupted one resumed) skips all of them: no CCAI call.
    code, out, _ = run("2024-03-01", "2024-03-05")
    assert code == 0 and "done 2 (empty 0), skipped 7, failed 0 of 9" in out
    assert ccai_sim.count() == 9


def test_failures_are_counted_reported_and_retried_by_the_next_run(analysis_env, ccai_sim, monkeypatch):
    monkeypatch.setenv("CCAI_MAX_RETRIES", "0")
    put_calls({"2024-04-01": 5}, "b")
    ccai_sim.inject(status=403, code="CCAI.IllegalPermission.NoAuth", times=2)
    code, out, _ = run("2024-04-01", "2024-04-01", concurrency=1)
    assert code == 1
    assert "done 3 (empty 0), skipped 0, failed 2 of 5" in out and out.count("CCAI.IllegalPermission.NoAuth") == 2
    code, out, _ = run("2024-04-01", "2024-04-01")
    assert code == 0 and "done 2 (empty 0), skipped 3, failed 0 of 5" in out


def test_concurrency_is_bounded(analysis_env, ccai_sim, monkeypatch):
    put_calls({"2024-05-01": 12}, "c")
    active, peak, lock = [0], [0], threading.Lock()
    from shared.analysis import workflow as analyze_workflow

    real = analyze_workflow.analyze_call

    def counting(*a, **kw):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            import time

            time.sleep(0.02)
            return real(*a, **kw)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(analyze_workflow, "analyze_call", counting)
    code, out, _ = run("2024-05-01", "2024-05-01", concurrency=3)
    assert code == 0 and "done 12" in out and 1 < peak[0] <= 3


def test_bad_dates_are_refused_by_name(analysis_env):
    with pytest.raises(SystemExit) as exc:
        run("2024-13-01", None)
    assert "--since" in str(exc.value) and "YYYY-MM-DD" in str(exc.value)
    code, _, err = run("2024-01-02", "2024-01-01")
    assert code == 2 and "--until" in err


def test_unknown_profile_and_missing_configuration_are_refused(analysis_env, monkeypatch):
    code, _, err = run("2024-01-01", "2024-01-01", profile="nope")
    assert code == 2 and "--profile" in err and "default" in err
    monkeypatch.delenv("CCAI_WORKSPACE_ID")
    code, _, err = run("2024-01-01", "2024-01-01")
    assert code == 2 and "CCAI_WORKSPACE_ID" in err


def test_interrupted_run_stops_starting_calls_and_resumes(analysis_env, ccai_sim, monkeypatch):
    from shared.analysis import workflow as analyze_workflow

    put_calls({"2024-06-01": 10}, "d")
    real, seen = analyze_workflow.analyze_call, []

    def interrupting(*a, **kw):
        seen.append(1)
        if len(seen) == 4:
            raise KeyboardInterrupt  # as Ctrl+C would, in the middle of the run
        return real(*a, **kw)

    monkeypatch.setattr(analyze_workflow, "analyze_call", interrupting)
    code, out, _ = run("2024-06-01", "2024-06-01", concurrency=1)
    assert code == 130 and "interrupted" in out and "run the same command again" in out
    done_first = ccai_sim.count()
    assert 0 < done_first < 10
    monkeypatch.setattr(analyze_workflow, "analyze_call", real)
    code, out, _ = run("2024-06-01", "2024-06-01")
    assert code == 0 and f"done {10 - done_first} (empty 0), skipped {done_first}, failed 0 of 10" in out
