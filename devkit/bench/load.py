"""A bounded load test of the client API and the callback endpoint through `aiagent dev`.

Each endpoint gets a fixed number of requests (`--requests`, per endpoint), sent by
`--concurrency` threads (each with its own keep-alive `httpx.Client`), and at most
`--max-seconds` of wall time (when the cap is hit the endpoint stops early and says
so). Every answer must be 2xx with a JSON body; anything else (other statuses, bodies
that are not JSON, transport errors) is an error, and the first 3 of each endpoint are
shown. Latencies are client-side, per request.

Without `--url` the sandbox is started here (`python -m devkit.cli dev` on a free
loopback port, data in a temporary directory, simulators and the embedded development
defaults: variables that would point it at real services are not passed on) and is
always stopped at the end. With `--url`, an already running sandbox is used, with the
development tokens unless `--client-token` / `--callback-token` say otherwise.

Callbacks are distinct chat_record events (unique text) spread over a few instance ids;
no agent_stop is sent, so no archive or analysis is started by the load.

    python -m devkit.bench.load [--requests 300] [--concurrency 4] [--max-seconds 20]
                                [--only NAME ...] [--url URL] [--client-token T]
                                [--callback-token T] [--json PATH]

Exit status 1 if any request failed, else 0.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from devkit.defaults import DEV_CALLBACK_TOKEN, DEV_TOKEN

REPO = Path(__file__).resolve().parents[2]
API = "/api/v2/aiagent/"
AGENT_ID = "load_agent"
CALLBACK_INSTANCES = 4  # callbacks are spread over this many instance ids
MAX_ERROR_SAMPLES = 3
START_TIMEOUT = 30.0
# Variables that would point a self-started sandbox away from its simulators, defaults
# and temporary data (as the test suite's conftest does): never passed on.
_NOT_INHERITED_PREFIXES = ("AUTH_", "LIVE_MIC_", "RTC_", "ALIBABA_CLOUD_", "ICE_", "OSS_", "CCAI_", "ARCHIVE_",
                           "SANDBOX_")
_NOT_INHERITED = ("STAGE", "CALLBACK_TOKEN", "CORS_ALLOW_ORIGINS", "HTTP_MAX_BODY_BYTES", "CALL_LOG_ALLOW_INSECURE")


@dataclass
class Target:
    """Where the load goes and with which tokens."""

    url: str
    client_token: str
    callback_token: str


# One request: (path, JSON body, headers); built from the request's index.
MakeRequest = Callable[[int], tuple[str, dict[str, Any], dict[str, str]]]


@dataclass
class Result:
    """What one endpoint's run measured."""

    name: str
    planned: int
    latencies: list[float] = field(default_factory=list)  # seconds, one per request sent
    errors: int = 0
    error_samples: list[dict[str, Any]] = field(default_factory=list)
    elapsed: float = 0.0
    capped: bool = False  # stopped by --max-seconds before `planned` requests

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def error(self, status: int | None, body: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append({"status": status, "body": body[:200]})

    def percentile_ms(self, q: float) -> float:
        """Nearest-rank percentile of the latencies, in milliseconds (0 with no requests)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    def figures(self) -> dict[str, Any]:
        return {
            "name": self.name, "path": API + self.name, "planned": self.planned, "requests": self.requests,
            "errors": self.errors, "elapsed_s": round(self.elapsed, 3),
            "throughput_rps": round(self.requests / self.elapsed, 1) if self.elapsed > 0 else 0.0,
            "p50_ms": round(self.percentile_ms(50), 2), "p90_ms": round(self.percentile_ms(90), 2),
            "p99_ms": round(self.percentile_ms(99), 2), "max_ms": round(self.percentile_ms(100), 2),
            "capped": self.capped, "error_samples": self.error_samples,
        }


# ---------------------------------------------------------------------------- requests


class SetupError(Exception):
    """A request needed before the measured ones failed."""

    def __init__(self, status: int | None, body: str) -> None:
        super().__init__(f"{status}: {body[:200]}")
        self.status, self.body = status, body


def _json_or_none(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None


def _user(i: int) -> str:
    return f"load_user_{i % 50}"  # also a valid chat user id (no '-')


def _client_auth(target: Target) -> dict[str, str]:
    return {"Authorization": f"Bearer {target.client_token}"}


def _rtc_token(target: Target, _: Any) -> MakeRequest:
    return lambda i: (API + "getRtcAuthToken", {"user_id": _user(i)}, _client_auth(target))


def _message_chat_token(target: Target, _: Any) -> MakeRequest:
    return lambda i: (API + "generateMessageChatToken", {"user_id": _user(i), "ai_agent_id": AGENT_ID},
                      _client_auth(target))


def _agent_call(target: Target, _: Any) -> MakeRequest:
    config = json.dumps({"Greeting": "hi"})
    return lambda i: (API + "generateAIAgentCall",
                      {"user_id": _user(i), "ai_agent_id": AGENT_ID, "agent_config": config},
                      _client_auth(target))


def _describe_instance(target: Target, client: httpx.Client) -> MakeRequest:
    """Creates the instance to describe first (one generateAIAgentCall, not measured)."""
    user = "load_describer"
    r = client.post(API + "generateAIAgentCall", headers=_client_auth(target),
                    json={"user_id": user, "ai_agent_id": AGENT_ID, "agent_config": json.dumps({"Greeting": "hi"})})
    instance = _json_or_none(r)
    if r.status_code != 200 or not isinstance(instance, dict) or not instance.get("ai_agent_instance_id"):
        raise SetupError(r.status_code, r.text)
    body = {"user_id": user, "ai_agent_instance_id": instance["ai_agent_instance_id"]}
    return lambda i: (API + "describeAIAgentInstance", body, _client_auth(target))


def _callback(target: Target, _: Any) -> MakeRequest:
    """Distinct chat_record events (unique text) over a few instance ids of this run."""
    run = uuid.uuid4().hex[:8]
    auth = {"Authorization": f"Bearer {target.callback_token}"}

    def make(i: int) -> tuple[str, dict[str, Any], dict[str, str]]:
        now = datetime.now(timezone.utc)
        timestamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
        role = "agent" if i % 2 == 0 else "user"
        return API + "callback", {
            "aiAgentId": AGENT_ID, "instanceId": f"load_{run}_{i % CALLBACK_INSTANCES}", "event": "chat_record",
            "code": 0, "message": "", "timestamp": timestamp,
            "data": {"role": role, "text": f"load test {run}: sentence {i} from the {role}"},
            "extendData": {"sentenceId": i},
        }, auth

    return make


# Endpoint short name -> builder of its requests (given the target and a setup client).
ENDPOINTS: dict[str, Callable[[Target, httpx.Client], MakeRequest]] = {
    "getRtcAuthToken": _rtc_token,
    "generateMessageChatToken": _message_chat_token,
    "describeAIAgentInstance": _describe_instance,
    "generateAIAgentCall": _agent_call,
    "callback": _callback,
}


# ---------------------------------------------------------------------------- running


def run_endpoint(name: str, target: Target, requests: int, concurrency: int, max_seconds: float) -> Result:
    """Send `requests` requests to one endpoint from `concurrency` threads, within `max_seconds`."""
    result = Result(name, requests)
    try:
        with httpx.Client(base_url=target.url, timeout=10) as setup:
            make = ENDPOINTS[name](target, setup)
    except (SetupError, httpx.HTTPError) as exc:
        status = exc.status if isinstance(exc, SetupError) else None
        body = exc.body if isinstance(exc, SetupError) else f"{type(exc).__name__}: {exc}"
        result.error(status, f"setup failed: {body}")
        return result

    counter = itertools.count()
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + max_seconds

    def worker() -> None:
        with httpx.Client(base_url=target.url, timeout=10) as client:
            while True:
                with lock:
                    i = next(counter)
                    if i >= requests:
                        return
                    if time.perf_counter() >= deadline:
                        result.capped = True
                        return
                path, body, headers = make(i)
                t0 = time.perf_counter()
                try:
                    r = client.post(path, json=body, headers=headers)
                    status, text = r.status_code, r.text
                    ok = 200 <= status < 300 and isinstance(_json_or_none(r), (dict, list))
                except Exception as exc:  # transport errors (and anything else): an error, with its sample
                    status, text, ok = None, f"{type(exc).__name__}: {exc}", False
                elapsed = time.perf_counter() - t0
                with lock:
                    result.latencies.append(elapsed)
                    if not ok:
                        result.error(status, text)

    threads = [threading.Thread(target=worker, name=f"load-{name}-{n}") for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------- the sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sandbox_env(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_NOT_INHERITED_PREFIXES) and k not in _NOT_INHERITED}
    env["SANDBOX_DATA_DIR"] = data_dir
    return env


class LocalSandbox:
    """`python -m devkit.cli dev` on a free loopback port, data in a temporary directory."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tempfile.mkdtemp(prefix="aicall-load-data-")
        fd, self.log_path = tempfile.mkstemp(prefix="aicall-load-sandbox-", suffix=".log")
        self._log = os.fdopen(fd, "wb")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from devkit.sandbox.stack import wait_until_listening

        self.proc = subprocess.Popen([sys.executable, "-m", "devkit.cli", "dev", "--port", str(self.port)],
                                     cwd=REPO, env=_sandbox_env(self.data_dir), stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                wait_until_listening("127.0.0.1", self.port, timeout=0.5)
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the sandbox exited with status {self.proc.returncode}:\n{self.output()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the sandbox did not listen within {START_TIMEOUT:.0f}s:\n{self.output()}") from None

    def output(self) -> str:
        self._log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, keep_log: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if not keep_log:
            Path(self.log_path).unlink(missing_ok=True)


# ---------------------------------------------------------------------------- report


def table(figures: list[dict[str, Any]]) -> list[str]:
    head = (f"{'endpoint':<26}{'requests':>9}{'errors':>8}{'elapsed s':>11}{'req/s':>9}"
            f"{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    lines = [head, "-" * len(head)]
    for f in figures:
        note = f"  (stopped at --max-seconds: {f['requests']}/{f['planned']})" if f["capped"] else ""
        lines.append(f"{f['name']:<26}{f['requests']:>9}{f['errors']:>8}{f['elapsed_s']:>11.2f}"
                     f"{f['throughput_rps']:>9.1f}{f['p50_ms']:>9.1f}{f['p90_ms']:>9.1f}{f['p99_ms']:>9.1f}"
                     f"{f['max_ms']:>9.1f}{note}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devkit.bench.load",
                                description="bounded load test of the sandbox's HTTP endpoints")
    p.add_argument("--url", help="use this running sandbox (default: start one on a free port)")
    p.add_argument("--client-token", default=DEV_TOKEN, help="client bearer token (default: the development one)")
    p.add_argument("--callback-token", default=DEV_CALLBACK_TOKEN,
                   help="ICE callback bearer token (default: the development one)")
    p.add_argument("--requests", type=int, default=300, help="requests per endpoint (default 300)")
    p.add_argument("--concurrency", type=int, default=4, help="client threads per endpoint (default 4)")
    p.add_argument("--max-seconds", type=float, default=20.0, help="wall-time cap per endpoint (default 20)")
    p.add_argument("--only", action="append", choices=list(ENDPOINTS), metavar="NAME",
                   help=f"only this endpoint (repeatable): {', '.join(ENDPOINTS)}")
    p.add_argument("--json", help="also write the figures as JSON to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.max_seconds <= 0:
        p.error("--requests and --concurrency must be at least 1, --max-seconds positive")
    names = [n for n in ENDPOINTS if not args.only or n in args.only]

    sandbox = None if args.url else LocalSandbox()
    figures: list[dict[str, Any]] = []
    failed = True  # until every endpoint ran without an error: keeps the sandbox's log
    try:
        if sandbox is not None:
            sandbox.start()
        url = (sandbox.url if sandbox is not None else args.url).rstrip("/")
        target = Target(url, args.client_token, args.callback_token)
        print(f"load test of {url}: {args.requests} requests per endpoint, concurrency {args.concurrency}, "
              f"at most {args.max_seconds:g}s per endpoint")
        for name in names:
            figures.append(run_endpoint(name, target, args.requests, args.concurrency, args.max_seconds).figures())
        failed = any(f["errors"] for f in figures)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if sandbox is not None:
            sandbox.stop(keep_log=failed)
            if failed:
                print(f"the sandbox's output: {sandbox.log_path}")

    for line in table(figures):
        print(line)
    for f in figures:
        for sample in f["error_samples"]:
            print(f"  {f['name']}: error sample: status {sample['status']}: {sample['body']}")
    total = sum(f["requests"] for f in figures)
    errors = sum(f["errors"] for f in figures)
    capped = [f["name"] for f in figures if f["capped"]]
    if capped:
        print(f"stopped early by --max-seconds {args.max_seconds:g}: {', '.join(capped)}")
    print(f"load test: {total} requests, {errors} errors")
    if args.json:
        report = {"url": url, "requests_per_endpoint": args.requests, "concurrency": args.concurrency,
                  "max_seconds": args.max_seconds, "total_requests": total, "total_errors": errors,
                  "endpoints": figures}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
