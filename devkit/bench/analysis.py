"""Analysis benchmarks (issue: CCAI analysis), against local stand-ins on loopback:
the embedded object store (devkit.sandbox.local_oss, S3 protocol, signatures checked) and the
CCAI simulator (signatures checked).

1. Per-call overhead of the analyser, excluding upstream time: `--calls` archived
   calls (the sample call log) analysed through the real handler of
   functions/analyze_conversation with real OSS-trigger events. For each call:
   handler wall time, the CCAI time the client measured (request to last byte), and
   the difference (our code + the object store's GET/HEAD/PUT on loopback). Also the
   pure-CPU part (sentences, plan, body, signing, merge, JSON) without any I/O.
2. Reanalysis throughput: `--archive` (1,000) archived calls, `aiagent reanalyze`'s
   engine at several concurrencies (every call analysed: a new profile each round),
   then a resumed run where everything is current (skip throughput).

    python -m devkit.bench.analysis [--calls 200] [--archive 1000] [--ccai-latency 0.0]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

AK, SK = "bench-ak", "bench-sk-0123456789abcdef"
BUCKET = "bench-analysis"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _env(oss, sim) -> dict[str, str]:
    return {"STAGE": "dev", "ARCHIVE_BUCKET": BUCKET, "OSS_ENDPOINT": oss.endpoint, "OSS_ACCESS_KEY_ID": AK,
            "OSS_ACCESS_KEY_SECRET": SK, "ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK,
            "CCAI_ENDPOINT": sim.endpoint, "CCAI_WORKSPACE_ID": "bench-ws", "CCAI_APP_ID": "bench-app",
            }


def _profile_copy(directory: Path, version: int) -> None:
    from shared.analysis import profile as profiles

    doc = json.loads((profiles.PROFILES_DIR / "default.json").read_text())
    (directory / "default.json").write_text(json.dumps({**doc, "version": version}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_analysis")
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--archive", type=int, default=1000)
    p.add_argument("--concurrency", type=int, nargs="*", default=[1, 4, 8])
    p.add_argument("--ccai-latency", type=float, default=0.0, help="seconds the simulator waits per answer")
    p.add_argument("--slow-latency", type=float, default=0.2,
                   help="CCAI latency (s) of the last round, where concurrency shows (default 0.2)")
    p.add_argument("--slow-calls", type=int, default=100)
    args = p.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # before shared.log is imported: one line per call costs

    from devkit import syaml
    from devkit.sandbox import oss_events
    from devkit.sandbox.fc_context import FCContext, load_handler
    from devkit.sandbox.local_oss import LocalOssServer
    from devkit.sims.ccai import CcaiSimulator
    from shared.analysis import dialog, results
    from shared.analysis import profile as profiles
    from shared.archive import layout
    from shared.clients import ccai, object_store
    from shared.settings import reset_cache

    tmp = Path(tempfile.mkdtemp(prefix="bench-analysis-"))
    oss = LocalOssServer(tmp / "oss", BUCKET, AK, SK)
    oss.start()
    sim = CcaiSimulator({AK: SK}, workspace_id="bench-ws", app_id="bench-app", latency=args.ccai_latency).start()
    os.environ.update(_env(oss, sim))
    reset_cache()
    object_store.reset_store()
    ccai.reset_client()
    sample = json.loads((Path(__file__).resolve().parents[2] / "tests" / "samples" / "call_log.json").read_text())
    store = object_store.get_store()
    try:
        # --- 1. per-call overhead through the real handler ---------------------------
        spec = syaml.functions()["analyze_conversation"]
        handler = load_handler(spec, fresh=True)
        ctx = FCContext.for_function(spec)
        total, upstream, overhead = [], [], []
        for i in range(args.calls + 10):
            inst = f"bench-{i:05d}"
            key = layout.call_log_key("2025-01-01", inst)
            put = store.put(key, json.dumps({"instance_id": inst, "call_log": {**sample, "instanceid": inst}},
                                            ensure_ascii=False).encode())
            event = json.dumps(oss_events.build(BUCKET, key, size=1, etag=put.etag)).encode()
            t0 = time.perf_counter()
            out = handler(event, ctx)
            ms = (time.perf_counter() - t0) * 1000
            assert out["results"][0]["status"] == "analysed", out
            if i < 10:
                continue  # warm-up
            doc = json.loads(store.get(layout.analysis_key("2025-01-01", inst, "default"))[0])
            total.append(ms)
            upstream.append(doc["timings"]["ccai_ms"])
            overhead.append(ms - doc["timings"]["ccai_ms"])
        profile = profiles.load_profile("default")
        client = ccai.get_client()
        cpu = []
        for _ in range(500):
            t0 = time.perf_counter()
            items = dialog.sentences(sample["dialog"])
            plan = dialog.plan(items, 60000, "split")
            body = dialog.request_body(profile, plan.parts[0], "s", False)
            client.prepare(body)
            merged = results.merge([{"text": json.dumps({"summary": "x" * 400}), "finishReason": "stop",
                                      "inputTokens": "1", "outputTokens": "1", "totalTokens": "2"}], plan)
            json.dumps({"result": merged, "sentences": items}, ensure_ascii=False).encode()
            cpu.append((time.perf_counter() - t0) * 1000)
        print(f"per-call analysis through the handler ({args.calls} calls, sample call log, "
              f"simulator latency {args.ccai_latency * 1000:.0f} ms):")
        for name, vals in (("handler wall time", total), ("CCAI time (client-measured)", upstream),
                           ("overhead = wall - CCAI", overhead), ("pure CPU (no I/O)", cpu)):
            print(f"  {name:30} p50 {pct(vals, 50):7.2f} ms  p90 {pct(vals, 90):7.2f} ms  "
                  f"p99 {pct(vals, 99):7.2f} ms  mean {statistics.fmean(vals):7.2f} ms")

        # --- 2. reanalysis throughput over an archive --------------------------------
        from devkit.ops import reanalyze
        from shared.settings import CcaiSettings, load

        dt = "2025-02-01"
        for i in range(args.archive):
            inst = f"arch-{i:05d}"
            store.put(layout.call_log_key(dt, inst),
                      json.dumps({"instance_id": inst, "call_log": {**sample, "instanceid": inst}},
                                 ensure_ascii=False).encode())
        day = date.fromisoformat(dt)
        keys = reanalyze.call_log_keys(store, day, day)
        settings = load(CcaiSettings)
        profile_dir = tmp / "profiles"
        profile_dir.mkdir()
        print(f"reanalysis of {len(keys)} archived calls (every call analysed: a new profile version per round):")
        version = 1
        for k in args.concurrency:
            version += 1
            _profile_copy(profile_dir, version)
            profiles.load_profile.cache_clear()
            prof = profiles.load_profile("default", str(profile_dir))
            calls_before = sim.count()
            rep = reanalyze.reanalyze(store, client, settings, keys, prof, k)
            assert rep.done == len(keys) and rep.failed == 0, rep.as_dict()
            print(f"  concurrency {k:2}: {rep.done} analysed in {rep.seconds:6.2f} s = "
                  f"{rep.done / rep.seconds:7.1f} calls/s ({sim.count() - calls_before} CCAI requests)")
        rep = reanalyze.reanalyze(store, client, settings, keys, prof, max(args.concurrency))
        assert rep.skipped == len(keys), rep.as_dict()
        print(f"  resumed run, all current (concurrency {max(args.concurrency)}): {rep.skipped} skipped in "
              f"{rep.seconds:5.2f} s = {rep.skipped / rep.seconds:7.1f} calls/s (one HEAD each, no CCAI call)")
        sim.latency = args.slow_latency
        subset = keys[: args.slow_calls]
        print(f"reanalysis of {len(subset)} calls with CCAI answering in {args.slow_latency * 1000:.0f} ms "
              "(where concurrency pays):")
        for k in args.concurrency:
            version += 1
            _profile_copy(profile_dir, version)
            profiles.load_profile.cache_clear()
            prof = profiles.load_profile("default", str(profile_dir))
            rep = reanalyze.reanalyze(store, client, settings, subset, prof, k)
            assert rep.done == len(subset) and rep.failed == 0, rep.as_dict()
            print(f"  concurrency {k:2}: {rep.done} analysed in {rep.seconds:6.2f} s = "
                  f"{rep.done / rep.seconds:7.1f} calls/s")
    finally:
        sim.stop()
        oss.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
