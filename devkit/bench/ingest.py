"""Ingest benchmarks (issue 4):

1. ingest_callback cold start above a bare interpreter (new process: import the
   handler, one real callback stored in moto's S3 server);
2. warm ingest latency (median / p99) in-process against moto's server over HTTP;
3. sustained events per second through one `aiagent dev` process for N seconds,
   then a check that every accepted event is in the archive (zero loss).

    python -m devkit.bench.ingest [--seconds 60] [--clients 8] [--cold-runs 15] [--warm-runs 500]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[2]
AK, SK, BUCKET, TOKEN = "bench-ak", "bench-sk-0123456789", "bench-archive", "bench-callback-token-0123456789"
SANDBOX_TOKEN = "bench-sandbox-token-0123456789"  # the sandbox's /_sandbox/ endpoints (not the callback token)


def callback(instance: str, n: int, event: str = "chat_record") -> bytes:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{n % 1000:03d}Z"
    return json.dumps({"aiAgentId": "bench", "instanceId": instance, "event": event, "code": 0, "timestamp": ts,
                       "data": {"role": "user", "text": f"sentence {n} " + "x" * 200}, "extendData": {}}).encode()


def http_event(body: bytes) -> bytes:
    sample = json.loads((REPO / "tests/samples/fc_http_trigger_event.json").read_text())
    sample["rawPath"] = sample["requestContext"]["http"]["path"] = "/api/v2/aiagent/callback"
    sample["headers"] = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    sample["body"] = body.decode()
    return json.dumps(sample).encode()


def start_moto() -> tuple[ThreadedMotoServer, str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                 region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return server, endpoint


def _median_run(argv: list[str], n: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_start(endpoint: str, runs: int) -> tuple[float, float]:
    env = {**os.environ, "OSS_ENDPOINT": endpoint, "ARCHIVE_BUCKET": BUCKET, "OSS_ACCESS_KEY_ID": AK,
           "OSS_ACCESS_KEY_SECRET": SK, "CALLBACK_TOKEN": TOKEN}
    event_file = REPO / ".sandbox" / "bench" / "ingest_event.json"
    event_file.parent.mkdir(parents=True, exist_ok=True)
    code = (f"import sys, importlib.util, json\nsys.path.insert(0, {str(REPO)!r})\n"
            "spec = importlib.util.spec_from_file_location("
            f"'fn', {str(REPO / 'functions/ingest_callback/index.py')!r})\n"
            "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
            f"out = mod.handler(open({str(event_file)!r}, 'rb').read(), None)\n"
            "assert out['statusCode'] == 200, out\n")
    bare = _median_run([sys.executable, "-c", "pass"], runs, env)
    times = []
    for _ in range(runs):  # a new event each run, so every run really writes
        event_file.write_bytes(http_event(callback(uuid.uuid4().hex, 1)))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return bare, statistics.median(times)


def warm(endpoint: str, runs: int) -> tuple[float, float]:
    os.environ.update({"OSS_ENDPOINT": endpoint, "ARCHIVE_BUCKET": BUCKET, "OSS_ACCESS_KEY_ID": AK,
                       "OSS_ACCESS_KEY_SECRET": SK, "CALLBACK_TOKEN": TOKEN})
    from devkit import syaml
    from devkit.sandbox.fc_context import FCContext, load_handler
    from shared.log import logger

    spec = syaml.functions()["ingest_callback"]
    handler = load_handler(spec, fresh=True)
    ctx = FCContext.for_function(spec)
    events = [http_event(callback(f"warm{i % 50}", i)) for i in range(runs + 1)]
    log_handler = logger.registered_handler
    assert isinstance(log_handler, logging.StreamHandler)  # Powertools logs through a StreamHandler
    with open(os.devnull, "w") as sink:
        old = log_handler.setStream(sink)
        try:
            assert handler(events[0], ctx)["statusCode"] == 200
            times = []
            for ev in events[1:]:
                start = time.perf_counter()
                out = handler(ev, ctx)
                times.append(time.perf_counter() - start)
                assert out["statusCode"] == 200, out
        finally:
            log_handler.setStream(old)  # later log lines must not go to a closed file
    for name in ("OSS_ENDPOINT", "ARCHIVE_BUCKET", "OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET"):
        os.environ.pop(name, None)  # the sandbox phase must use its own embedded store
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.99) - 1)]


def sustained(seconds: float, clients: int) -> dict:
    """Drive one `aiagent dev` process with `clients` concurrent senders for `seconds`."""
    from tests.support import SandboxProcess

    data = REPO / ".sandbox" / "bench" / f"sustained-{uuid.uuid4().hex[:8]}"
    env = {"CALLBACK_TOKEN": TOKEN, "SANDBOX_TOKEN": SANDBOX_TOKEN, "ARCHIVE_BUCKET": "bench-sustained",
           "SANDBOX_DATA_DIR": str(data)}
    accepted: list[str] = []
    errors: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    with SandboxProcess(env) as sb:
        stop_at = time.monotonic() + seconds

        def sender(idx: int) -> None:
            with httpx.Client(base_url=sb.url, timeout=10) as client:
                n = 0
                while time.monotonic() < stop_at:
                    n += 1
                    t0 = time.perf_counter()
                    r = client.post("/api/v2/aiagent/callback", content=callback(f"load{idx}", n),
                                    headers={"Authorization": f"Bearer {TOKEN}"})
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                        if r.status_code == 200:
                            accepted.append(r.json()["key"])
                        else:
                            errors.append(r.status_code)

        threads = [threading.Thread(target=sender, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        stored: set[str] = set()
        with httpx.Client(base_url=sb.url, timeout=60) as client:
            after = ""
            while True:  # paginate the listing
                page = client.get("/_sandbox/objects", params={"prefix": "callbacks/", "start_after": after},
                                  headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}).json()
                stored.update(o["key"] for o in page["objects"])
                if not page["truncated"]:
                    break
                after = page["objects"][-1]["key"]
    latencies.sort()
    return {"seconds": round(elapsed, 1), "clients": clients, "accepted": len(set(accepted)),
            "errors": len(errors), "events_per_second": round(len(accepted) / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2) if latencies else None,
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2) if latencies else None,
            "stored": len(stored), "lost": len(set(accepted) - stored)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench_ingest")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--cold-runs", type=int, default=15)
    p.add_argument("--warm-runs", type=int, default=500)
    args = p.parse_args(argv)
    # A deployment ships compiled bytecode (FC's code directory is read-only): measure that.
    import compileall

    compileall.compile_dir(str(REPO / "shared"), quiet=1)
    compileall.compile_dir(str(REPO / "functions"), quiet=1)
    server, endpoint = start_moto()
    try:
        bare, cold = cold_start(endpoint, args.cold_runs)
        print(f"ingest_callback cold start: bare {bare * 1e3:.1f} ms, handler+1 PUT {cold * 1e3:.1f} ms, "
              f"+{(cold - bare) * 1e3:.1f} ms (goal <= 200 ms)")
        med, p99 = warm(endpoint, args.warm_runs)
        print(f"ingest_callback warm (moto over HTTP): median {med * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms")
    finally:
        server.stop()
    result = sustained(args.seconds, args.clients)
    print(f"sustained through one aiagent dev process: {json.dumps(result)}")
    return 0 if result["lost"] == 0 and result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
