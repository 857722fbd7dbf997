"""OSS-trigger emulation for the sandbox: every write through `shared.clients.object_store`
becomes, for each function whose s.yaml OSS trigger matches (event, prefix, suffix),
an asynchronous invocation with an FC OSS event, retried like FC's async invocation
(`asyncInvokeConfig.maxAsyncRetryAttempts`, default 3) with backoff. When the retries are
used up and the function's `asyncInvokeConfig.destinationConfig.onFailure.destination`
names a deployed function, that function is invoked (asynchronously, retried the same
way) with a failure record shaped like FC's (`failure_record`, see shared/destination.py).
"""
from __future__ import annotations

import heapq
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devkit.sandbox import oss_events
from shared import oss_trigger

PUT_EVENT = "oss:ObjectCreated:PutObject"
DEFAULT_RETRIES = 3


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    function: str = field(compare=False)
    event: bytes = field(compare=False)
    attempt: int = field(compare=False, default=0)
    request_id: str = field(compare=False, default="")  # one per async invocation, kept across retries


@dataclass
class Stats:
    delivered: int = 0
    failed_attempts: int = 0
    exhausted: list[tuple[str, str]] = field(default_factory=list)  # (function, key)
    by_function: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # events delivered twice on purpose (duplicate_rate)
    to_destination: list[tuple[str, str]] = field(default_factory=list)  # (function, destination) after exhaustion


def destination_of(spec: Any) -> str | None:
    """The function name an s.yaml function's failure destination ARN names, if any."""
    dest = ((spec.async_config.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
    if not isinstance(dest, str) or ":functions/" not in dest:
        return None
    return dest.rsplit(":functions/", 1)[1].split("/", 1)[0] or None


def failure_record(function_name: str, request_id: str, event: bytes, attempts: int, exc: BaseException, *,
                   region: str = "cn-shanghai", account: str = "1234567890123456") -> dict[str, Any]:
    """What FC sends a failure destination (the documented shape; `condition` and the
    error fields as the sandbox fills them for an invocation that raised)."""
    return {
        "timestamp": int(time.time() * 1000),
        "requestContext": {"requestId": request_id,
                           "functionArn": f"acs:fc:{region}:{account}:functions/{function_name}",
                           "condition": "UnhandledInvocationError", "approximateInvokeCount": attempts},
        "requestPayload": event.decode("utf-8", "replace"),
        "responseContext": {"statusCode": 200, "functionError": "UnhandledInvocationError"},
        "responsePayload": json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)[:500]}),
    }


class TriggerDispatcher:
    """Matches writes against OSS triggers and runs the invocations on worker threads."""

    def __init__(self, deployed: dict[str, Any], *, region: str = "cn-shanghai", workers: int = 2,
                 retry_delay: float = 1.0, on_exhausted: Callable[[str, str], None] | None = None) -> None:
        self.deployed = deployed
        self.region = region
        self.retry_delay = retry_delay
        self.on_exhausted = on_exhausted
        # At-least-once, like OSS: deliver an event twice with this probability (chaos runs).
        self.duplicate_rate = 0.0
        self._rng = random.Random(0)
        self.stats = Stats()
        self._queue: list[_Job] = []
        self._seq = 0
        self._active = 0
        self._cond = threading.Condition()
        self._stop = False
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"oss-trigger-{i}")
                         for i in range(workers)]

    def start(self) -> TriggerDispatcher:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def subscribers(self, key: str, event: str = PUT_EVENT) -> list[str]:
        """The functions an object-created event on `key` triggers."""
        out = []
        for name, dep in self.deployed.items():
            for trig in dep.spec.oss_triggers:
                if event in trig.events and key.startswith(trig.prefix) and key.endswith(trig.suffix):
                    out.append(name)
        return out

    def on_write(self, bucket: str, key: str, result: Any, size: int) -> None:
        """`shared.clients.object_store` write listener."""
        for name in self.subscribers(key):
            event = json.dumps(oss_events.build(bucket, key, size=size, etag=result.etag, region=self.region)).encode()
            self._push(name, event, 0, 0.0)
            if self.duplicate_rate and self._rng.random() < self.duplicate_rate:
                with self._cond:
                    self.stats.duplicates += 1
                self._push(name, event, 0, self._rng.choice([0.0, 0.05, 0.3]))

    def _push(self, function: str, event: bytes, attempt: int, delay: float, request_id: str | None = None) -> None:
        rid = request_id or f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:12]}"
        with self._cond:
            self._seq += 1
            heapq.heappush(self._queue, _Job(time.monotonic() + delay, self._seq, function, event, attempt, rid))
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._queue or self._queue[0].due > time.monotonic()):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(timeout=wait)
                if self._stop:
                    return
                job = heapq.heappop(self._queue)
                self._active += 1
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()

    def _run(self, job: _Job) -> None:
        dep = self.deployed[job.function]
        max_retries = int(dep.spec.async_config.get("maxAsyncRetryAttempts", DEFAULT_RETRIES))
        try:
            dep.invoke(job.event, request_id=job.request_id, retry_count=job.attempt)
        except Exception as exc:
            with self._cond:
                self.stats.failed_attempts += 1
            if job.attempt < max_retries:
                self._push(job.function, job.event, job.attempt + 1, self.retry_delay * (2 ** job.attempt),
                           job.request_id)
            else:
                try:
                    key = oss_trigger.parse(job.event)[0].key
                except oss_trigger.InvalidOssEvent:
                    key = ""  # not an OSS event: e.g. a failure record its destination gave up on
                with self._cond:
                    self.stats.exhausted.append((job.function, key))
                self._to_destination(dep, job, exc)
                if self.on_exhausted:
                    self.on_exhausted(job.function, key)
            return
        with self._cond:
            self.stats.delivered += 1
            self.stats.by_function[job.function] = self.stats.by_function.get(job.function, 0) + 1

    def _to_destination(self, dep: Any, job: _Job, exc: BaseException) -> None:
        """FC gives up on an invocation: send its failure record to the failure destination."""
        target = destination_of(dep.spec)
        name = next((k for k, d in self.deployed.items() if d.spec.function_name == target), None)
        if name is None:
            return
        record = failure_record(dep.spec.function_name, job.request_id, job.event, job.attempt + 1, exc,
                                region=self.region)
        with self._cond:
            self.stats.to_destination.append((job.function, name))
        self._push(name, json.dumps(record).encode(), 0, 0.0)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no invocation is queued or running (True) or `timeout` passes (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 0.1))
            return True
