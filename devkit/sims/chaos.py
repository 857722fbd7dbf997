"""Chaos run: N simulated calls through the whole sandbox (HTTP gateway, ingest, OSS
triggers, archiver, analyser) with random duplicate deliveries (callbacks and OSS
triggers), out-of-order stop events, and injected object-store, ICE and CCAI failures
(errors, throttling, slow answers, dropped connections, a permanent refusal); then an
accounting of what was accepted against what is in the archive: every accepted
callback stored once, every finished call archived once or dead-lettered, every
archive analysed once or dead-lettered with a reason. The accounting checks the
partition, call by call: every finished call is in exactly one of archived /
dead-lettered (an open dead letter), every archived call in exactly one of analysed /
dead-lettered; a call in both or in neither is named. Exit status 1 if anything accepted
was lost or a partition is not exact.

    python -m devkit.sims.chaos [--calls 30] [--seed 7 [11 ...]]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

PATH = "/api/v2/aiagent/callback"


def call_events(rng: random.Random, instance_id: str, start: datetime) -> list[dict]:
    turns = rng.randint(2, 8)
    events: list[dict[str, Any]] = [{"event": "agent_start", "t": 0.0}]
    events += [{"event": "chat_record", "t": 1.0 + 2 * i,
                "data": {"role": "agent" if i % 2 == 0 else "user", "text": f"{instance_id} turn {i}"}}
               for i in range(turns)]
    events.append({"event": "audio_record", "t": 1.5, "data": {"role": "user", "url": f"https://b.oss-cn-shanghai.aliyuncs.com/{instance_id}.wav"}})
    events.append({"event": "agent_stop", "t": 2.0 + 2 * turns})
    out = []
    for ev in events:
        ts = start + timedelta(seconds=ev["t"])
        out.append({"aiAgentId": "chaos-agent", "instanceId": instance_id, "event": ev["event"], "code": 0,
                    "message": "", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
                    "data": ev.get("data", {}), "extendData": {}})
    if rng.random() < 0.3:  # agent_stop overtakes the last chat_record
        out[-1], out[-2] = out[-2], out[-1]
    return out


def run(calls: int, seed: int, *, fault_rate: float = 0.15, out=print) -> dict:
    import os

    from devkit.sandbox.stack import DevStack
    from shared import settings as settings_mod
    from shared.archive import layout
    from shared.clients import ccai, ice, object_store
    from shared.clients import live as live_client

    saved_env = dict(os.environ)  # the stack fills os.environ with its endpoints: one run each
    rng = random.Random(seed)
    data_dir = Path(tempfile.mkdtemp(prefix="aicall-chaos-"))
    stack = DevStack("127.0.0.1", 0, data_dir=data_dir, retry_delay=0.05).start()
    stack.dispatcher.duplicate_rate = 0.3
    stack.dispatcher._rng = random.Random(seed)
    token = os.environ["CALLBACK_TOKEN"].split(",")[0].strip()  # a list: its first entry
    accepted: dict[str, dict] = {}  # key -> event
    stops: dict[str, str] = {}  # instance -> stop key
    refused = deliveries = injected_store = injected_ice = injected_ccai = injected_live = 0
    recorded: list[str] = []  # calls started through generateAIAgentCall (recorded, or saying why not)
    client_token = os.environ["AUTH_STATIC_TOKENS"].split(",")[0].strip()
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            # Calls 20 s apart, the last one ending before now: inside the callbacks' default
            # event-time window (7 days back, CALLBACK_MAX_EVENT_AGE_SECONDS) for up to ~30,000 calls.
            base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=20 * calls + 60)
            live = stack.ups.live
            live.lose_callbacks, live.delay_callbacks_s = 0.3, 0.05  # lost and late recording callbacks
            for n in range(calls):
                instance_id = f"chaos{seed}x{n:04d}"
                if n % 3 == 0:  # a video call the client API starts: ARTC cloud recording (policy: dev)
                    if rng.random() < fault_rate * 2:  # Live refuses the start: the call goes on unrecorded
                        live.inject(status=503, code="ServiceUnavailable", times=1, action="StartRtcCloudRecording")
                        injected_live += 1
                    if rng.random() < fault_rate * 2:  # Live fails every stop: its idle timeout must do
                        live.inject(status=500, code="InternalError", times=6, action="StopRtcCloudRecording")
                        injected_live += 1
                    r = client.post("/api/v2/aiagent/generateAIAgentCall",
                                    json={"user_id": f"chaos-user-{n}", "ai_agent_id": "chaos-agent",
                                          "workflow_type": "VisionChat"},
                                    headers={"Authorization": f"Bearer {client_token}"})
                    if r.status_code == 200:
                        instance_id = r.json()["ai_agent_instance_id"]
                        recorded.append(instance_id)
                for ev in call_events(rng, instance_id, base + timedelta(seconds=20 * n)):
                    if rng.random() < fault_rate:
                        stack.ups.oss.inject_fault(503, "ServiceUnavailable", times=rng.randint(1, 3))
                        injected_store += 1
                    if ev["event"] == "agent_stop" and rng.random() < fault_rate * 2:
                        stack.ups.ice.inject(status=rng.choice([500, 503, 429]), code="Throttling.User"
                                             if rng.random() < 0.3 else "InternalError",
                                             times=rng.randint(1, 4), action="DescribeAIAgentInstance")
                        injected_ice += 1
                    if ev["event"] == "agent_stop" and rng.random() < fault_rate * 2:
                        kind = rng.choice(["throttle", "throttle", "5xx", "slow", "drop", "forbidden"])
                        ccai_faults: dict[str, dict[str, Any]] = {
                            "throttle": dict(status=400,
                                             code=rng.choice(["CCAI.Throttling.Qps", "CCAI.Throttling.Qpm"]),
                                             retry_after_ms=rng.choice([None, 20, 100]), times=rng.randint(1, 3)),
                            "5xx": dict(status=500, code="CCAI.InternalError", times=rng.randint(1, 6)),
                            "slow": dict(status=200, delay=0.3, times=1),
                            "drop": dict(status=200, drop=True, times=rng.randint(1, 2)),
                            "forbidden": dict(status=403, code="CCAI.IllegalPermission.NoAuth", times=1),
                        }
                        stack.ups.ccai.inject(**ccai_faults[kind])
                        injected_ccai += 1
                    body = json.dumps(ev, ensure_ascii=False, indent=rng.choice([None, 1]))
                    for _ in range(rng.choice([1, 1, 1, 2, 3])):  # duplicate deliveries
                        for _attempt in range(3):  # ICE: first try + 2 retries on non-200
                            deliveries += 1
                            r = client.post(PATH, content=body, headers={"Authorization": f"Bearer {token}"})
                            if r.status_code == 200:
                                key = r.json()["key"]
                                accepted[key] = ev
                                if ev["event"] == "agent_stop":
                                    stops[instance_id] = key
                                break
                        else:
                            refused += 1  # ICE gives up: never accepted, so not ours to keep
        idle = stack.dispatcher.wait_idle(120)
        store = object_store.get_store()
        # Recordings: each task Live accepted ends with its file in the bucket, stopped by the archive
        # step or, where every stop failed, by its own idle timeout (MaxIdleTime): simulated here.
        recordings: dict[str, str] = {}  # instance -> status of its recording record
        for inst in recorded:
            try:
                rec = json.loads(store.get(layout.recording_call_key(inst))[0])
            except Exception:  # noqa: BLE001 - no record at all: reported below
                recordings[inst] = "no record"
                continue
            recordings[inst] = str(rec.get("status"))
            if rec.get("reason"):
                out(f"recording of {inst}: {rec['status']}: {rec['reason']}")
            if rec.get("status") == "stop_failed":
                live.idle_out(rec["task_id"])
        live.drain(30)
        recording_files = {o.key.split("/")[2] for o in store.list(layout.RECORDINGS + "dt=") if o.key.endswith(".mp4")}
        unrecorded = sorted(i for i, st in recordings.items()
                            if (st in ("started", "stopped", "stop_failed") and i not in recording_files)
                            or st == "no record")
        all_callbacks = {o.key for o in store.list(layout.CALLBACKS)}
        # ICE's callbacks (what was accepted from ICE); Live's recording callbacks are counted apart
        stored_callbacks = {k for k in all_callbacks if "-rtc_" not in k}
        call_logs = {layout.parse_call_log_key(o.key).instance_id for o in store.list(layout.CALL_LOGS)}
        analyzed: dict[str, int] = {}
        for o in store.list(layout.ANALYSES):
            inst = layout.parse_analysis_key(o.key).instance_id
            analyzed[inst] = analyzed.get(inst, 0) + 1
        dead: dict[str, str | None] = {}  # instance -> reason (open dead letters only)
        dead_analysis: dict[str, str | None] = {}
        failed_invocations = resolved_letters = 0
        attempt_counters_left = 0  # each is removed once its unit of work is archived/analysed/dead-lettered
        for o in store.list(layout.FAILED):
            if "/attempts/" in o.key:
                attempt_counters_left += 1  # attempt counters live under failed/ too
                continue
            if o.key.startswith(layout.FAILED_INVOCATIONS):
                failed_invocations += 1  # what FC gave up on, kept by its failure destination
                continue
            if o.key.startswith(layout.RESOLVED):
                resolved_letters += 1  # dead letters whose work succeeded later: not open
                continue
            letter = json.loads(store.get(o.key)[0])
            if not isinstance(letter, dict) or "instance_id" not in letter:
                out(f"unexpected object under failed/: {o.key}: {str(letter)[:200]}")
                continue
            if not letter.get("reason") or not letter.get("error_code"):
                out(f"dead letter without a reason or an error code: {o.key}")
            if letter.get("resolved_at"):
                resolved_letters += 1  # resolved in place (the store refused to move it)
                continue
            (dead_analysis if letter.get("stage") == "analyze" else dead)[letter["instance_id"]] = letter.get("reason")
        lost_events = sorted(set(accepted) - stored_callbacks)
        # The partitions, call by call: in neither part is unaccounted, in both is two terminal states.
        unarchived = sorted(i for i in stops if i not in call_logs and i not in dead)
        archived_and_dead = sorted(i for i in stops if i in call_logs and i in dead)
        archived = call_logs & set(stops)
        unanalyzed = sorted(i for i in archived if i not in analyzed and i not in dead_analysis)
        analysed_and_dead = sorted(i for i in archived if i in analyzed and i in dead_analysis)
        not_archived_but_analysed = sorted((set(analyzed) | set(dead_analysis)) - archived)
        # CCAI answers per call: more than one means an analysis was made twice.
        ccai_ok: dict[str, int] = {}
        for c in list(stack.ups.ccai.calls):
            sid = ((c.get("body") or {}).get("dialogue") or {}).get("sessionId")
            if sid and c.get("answered"):
                ccai_ok[sid] = ccai_ok.get(sid, 0) + 1
        stats = stack.dispatcher.stats
        report = {
            "calls": calls, "seed": seed, "deliveries": deliveries, "accepted_events": len(accepted),
            "refused_after_retries": refused, "stored_callback_objects": len(stored_callbacks),
            "injected_store_faults": injected_store, "injected_ice_faults": injected_ice,
            "finished_calls": len(stops), "archived_calls": len(call_logs & set(stops)),
            "dead_lettered_calls": len(dead), "injected_ccai_faults": injected_ccai,
            "analysed_calls": len(set(analyzed) & call_logs), "analysis_dead_letters": len(dead_analysis),
            "analysis_objects_per_call_max": max(analyzed.values(), default=0),
            "ccai_requests": len(stack.ups.ccai.calls), "ccai_results": sum(ccai_ok.values()),
            "calls_analysed_more_than_once": sorted(s for s, n in ccai_ok.items() if n > 1),
            "duplicate_triggers": stats.duplicates,
            "trigger_deliveries": stats.delivered,
            "trigger_failed_attempts": stats.failed_attempts, "trigger_exhausted": len(stats.exhausted),
            "failed_invocation_records": failed_invocations, "attempt_counters_left": attempt_counters_left,
            "resolved_dead_letters": resolved_letters,
            "lost_events": lost_events, "unarchived_calls": unarchived, "unanalysed_calls": unanalyzed,
            "archived_and_dead_lettered": archived_and_dead, "analysed_and_dead_lettered": analysed_and_dead,
            "analysed_but_not_archived": not_archived_but_analysed,
            "recorded_calls": len(recorded), "injected_live_faults": injected_live,
            "recordings": {st: sum(1 for v in recordings.values() if v == st)
                           for st in sorted(set(recordings.values()))},
            "recording_files": len(recording_files & set(recorded)), "unrecorded_calls": unrecorded,
            "recording_callback_objects": len(all_callbacks - stored_callbacks),
            "idle": idle,
            "seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        os.environ.clear()
        os.environ.update(saved_env)
        settings_mod.reset_cache()
        ice.reset_client()
        ccai.reset_client()
        live_client.reset_client()
        object_store.reset_store()
    out(json.dumps({k: v for k, v in report.items() if k not in VIOLATIONS}))
    out(f"accounting: {report['accepted_events']} accepted events -> {report['stored_callback_objects']} stored "
        f"({len(report['lost_events'])} lost); {report['finished_calls']} finished calls -> "
        f"{report['archived_calls'] - len(archived_and_dead)} archived | "
        f"{report['dead_lettered_calls'] - len(archived_and_dead)} dead-lettered | "
        f"{len(archived_and_dead)} both | {len(unarchived)} neither; {report['archived_calls']} archived -> "
        f"{report['analysed_calls'] - len(analysed_and_dead)} analysed | "
        f"{report['analysis_dead_letters'] - len(analysed_and_dead) - len(not_archived_but_analysed)} "
        f"dead-lettered | {len(analysed_and_dead)} both | {len(unanalyzed)} neither "
        f"({report['resolved_dead_letters']} dead letters resolved by a later success); "
        f"{report['recorded_calls']} calls started with recording -> {report['recordings']}, "
        f"{report['recording_files']} with their MP4, {len(unrecorded)} missing")
    for name in VIOLATIONS:
        if report[name]:
            out(f"NOT EXACT: {name}: {', '.join(map(str, report[name][:50]))}")
    return report


# Report entries that name what went wrong; each must be empty for a run to pass.
VIOLATIONS = ("lost_events", "unarchived_calls", "unanalysed_calls", "archived_and_dead_lettered",
              "analysed_and_dead_lettered", "analysed_but_not_archived", "unrecorded_calls")


def exact(report: dict) -> bool:
    """Nothing accepted lost, every partition exact, and the dispatcher drained."""
    return bool(report["idle"]) and not any(report[name] for name in VIOLATIONS)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="chaos")
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--seed", type=int, nargs="+", default=[7], help="one or more seeds, one run each")
    p.add_argument("--fault-rate", type=float, default=0.15)
    args = p.parse_args(argv)
    ok = True
    for seed in args.seed:
        ok = exact(run(args.calls, seed, fault_rate=args.fault_rate)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
