"""Chaos run: N simulated calls through the whole sandbox (HTTP gateway, ingest, OSS
triggers, archiver) with random duplicate deliveries, out-of-order stop events, and
injected object-store and ICE failures; then an accounting of what was accepted
against what is in the archive. Exit status 1 if anything accepted was lost.

    python -m devkit.chaos [--calls 30] [--seed 7]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

PATH = "/api/v2/aiagent/callback"


def call_events(rng: random.Random, instance_id: str, start: datetime) -> list[dict]:
    turns = rng.randint(2, 8)
    events = [{"event": "agent_start", "t": 0.0}]
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
    from devkit.sandbox import DevStack
    from shared import archive_keys, object_store

    rng = random.Random(seed)
    data_dir = Path(tempfile.mkdtemp(prefix="aicall-chaos-"))
    stack = DevStack("127.0.0.1", 0, data_dir=data_dir, retry_delay=0.05).start()
    token = __import__("os").environ["CALLBACK_TOKEN"]
    accepted: dict[str, dict] = {}  # key -> event
    stops: dict[str, str] = {}  # instance -> stop key
    refused = deliveries = injected_store = injected_ice = 0
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=stack.url, timeout=10) as client:
            base = datetime(2026, 1, 1, tzinfo=timezone.utc)
            for n in range(calls):
                instance_id = f"chaos{seed}x{n:04d}"
                for ev in call_events(rng, instance_id, base + timedelta(minutes=n)):
                    if rng.random() < fault_rate:
                        stack.ups.oss.inject_fault(503, "ServiceUnavailable", times=rng.randint(1, 3))
                        injected_store += 1
                    if ev["event"] == "agent_stop" and rng.random() < fault_rate * 2:
                        stack.ups.ice.inject(status=rng.choice([500, 503, 429]), code="Throttling.User"
                                             if rng.random() < 0.3 else "InternalError",
                                             times=rng.randint(1, 4), action="DescribeAIAgentInstance")
                        injected_ice += 1
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
        stored_callbacks = {o.key for o in store.list(archive_keys.CALLBACKS)}
        call_logs = {archive_keys.parse_call_log_key(o.key).instance_id for o in store.list(archive_keys.CALL_LOGS)}
        dead = {}
        for o in store.list(archive_keys.FAILED):
            if "/attempts/" in o.key:
                continue  # attempt counters live under failed/ too
            letter = json.loads(store.get(o.key)[0])
            if not isinstance(letter, dict) or "instance_id" not in letter:
                out(f"unexpected object under failed/: {o.key}: {str(letter)[:200]}")
                continue
            dead[letter["instance_id"]] = letter.get("reason")
        lost_events = sorted(set(accepted) - stored_callbacks)
        unarchived = sorted(i for i in stops if i not in call_logs and i not in dead)
        stats = stack.dispatcher.stats
        report = {
            "calls": calls, "seed": seed, "deliveries": deliveries, "accepted_events": len(accepted),
            "refused_after_retries": refused, "stored_callback_objects": len(stored_callbacks),
            "injected_store_faults": injected_store, "injected_ice_faults": injected_ice,
            "finished_calls": len(stops), "archived_calls": len(call_logs & set(stops)),
            "dead_lettered_calls": len(dead), "trigger_deliveries": stats.delivered,
            "trigger_failed_attempts": stats.failed_attempts, "trigger_exhausted": len(stats.exhausted),
            "lost_events": lost_events, "unarchived_calls": unarchived, "idle": idle,
            "seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        stack.stop()
    out(json.dumps({k: v for k, v in report.items() if k not in ("lost_events", "unarchived_calls")}))
    out(f"accounting: {report['accepted_events']} accepted events -> {report['stored_callback_objects']} stored "
        f"({len(report['lost_events'])} lost); {report['finished_calls']} finished calls -> "
        f"{report['archived_calls']} archived + {report['dead_lettered_calls']} dead-lettered "
        f"({len(report['unarchived_calls'])} unaccounted)")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="chaos")
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fault-rate", type=float, default=0.15)
    args = p.parse_args(argv)
    report = run(args.calls, args.seed, fault_rate=args.fault_rate)
    ok = not report["lost_events"] and not report["unarchived_calls"] and report["idle"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
