"""Shared test utilities: event and context factories, function loading, a sandbox process."""
from __future__ import annotations

import base64
import contextlib
import copy
import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "tests" / "samples"


def sample(name: str) -> Any:
    """A payload from tests/samples (copies of ../shared/spec/samples)."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def http_event(
    body: Any = None,
    *,
    path: str = "/api/v2/aiagent/getRtcAuthToken",
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    token: str | None = None,
    raw_body: str | bytes | None = None,
    base64_body: bool = False,
    request_id: str = "1-test-req",
) -> bytes:
    """An FC 3.0 HTTP-trigger event (built on the real sample) as the bytes FC passes."""
    event = copy.deepcopy(sample("fc_http_trigger_event.json"))
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = request_id
    hdrs = {"Content-Type": "application/json"}
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    hdrs.update(headers or {})
    event["headers"] = hdrs
    if raw_body is not None:
        data = raw_body if isinstance(raw_body, bytes) else raw_body.encode()
    else:
        data = b"" if body is None else json.dumps(body).encode()
    if base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = data.decode("utf-8"), False
    return json.dumps(event).encode()


class Ctx:
    """An FC-like context for direct handler calls."""

    def __init__(self, request_id: str = "1-test-req", name: str = "test-fn") -> None:
        from devkit.sandbox.fc_context import FunctionMeta

        self.request_id = request_id
        self.function = FunctionMeta(name, "index.handler", 256, 10)
        self.region = "cn-shanghai"
        self.account_id = "1234567890123456"


def load_function(key: str, monkeypatch, env: Mapping[str, str]):
    """Cold-start function `key` with exactly `env` (plus the process env) and return its handler."""
    from devkit import syaml
    from devkit.sandbox.fc_context import load_handler
    from shared.settings import reset_cache

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_cache()
    return load_handler(syaml.functions()[key], fresh=True)


def call(handler, event: bytes, ctx: Ctx | None = None) -> tuple[int, dict, Any]:
    """Invoke a handler; return (status, headers, decoded JSON body or None)."""
    out = handler(event, ctx or Ctx())
    body = out.get("body") or ""
    return out["statusCode"], out["headers"], (json.loads(body) if body else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SandboxProcess:
    """`aiagent dev` in a subprocess on a free loopback port."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        import tempfile

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # A store of its own (SANDBOX_DATA_DIR), unless the test gives one: quotas and
        # ownership records must not carry over from another run.
        self._data_dir = tempfile.TemporaryDirectory(prefix="aicall-sandbox-")
        self.env = {**os.environ, "SANDBOX_DATA_DIR": self._data_dir.name, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log_path = REPO / ".sandbox" / f"dev-{self.port}.log"

    def __enter__(self) -> SandboxProcess:
        from devkit.sandbox.stack import wait_until_listening

        self.log_path.parent.mkdir(exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devkit.cli", "dev", "--port", str(self.port)],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_listening("127.0.0.1", self.port, timeout=30)
        except OSError:
            self.__exit__()
            raise RuntimeError("sandbox did not start:\n" + self.output()) from None
        return self

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._data_dir.cleanup()
        self._log.close()


@contextlib.contextmanager
def in_process_sandbox(env: Mapping[str, str] | None = None):
    """`aiagent dev` in this process (its simulators reachable: `stack.ups.ccai.inject(...)`), on a
    free port with a store of its own; os.environ, settings and clients are restored afterwards."""
    import shutil
    import tempfile

    from devkit.sandbox.stack import DevStack
    from shared import settings
    from shared.clients import ccai, ice, live, object_store

    saved = dict(os.environ)
    os.environ.update(env or {})
    settings.reset_cache()
    data_dir = Path(tempfile.mkdtemp(prefix="aicall-sandbox-"))
    stack = DevStack("127.0.0.1", 0, data_dir=data_dir, retry_delay=0.05).start()
    try:
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        os.environ.clear()
        os.environ.update(saved)
        settings.reset_cache()
        ice.reset_client()
        ccai.reset_client()
        live.reset_client()
        object_store.reset_store()
