"""In-memory fakes of the ports in `shared.ports` (`Store`, `IceApi`, `CcaiApi`) for unit tests.

They keep the semantics the workflows rely on, as `shared.clients.object_store`,
`shared.clients.ice` and `shared.clients.ccai` define them: write-if-absent puts with
md5 ETags, metadata returned by get/head with lower-case names (not by list),
`ObjectNotFound` from get, None from head, listings in key order; ICE answers shaped
like DescribeAIAgentInstance's; CCAI answers or `CcaiFailure`s in sequence. Every call
is recorded so tests can count what a workflow did. No sockets, no sleeps.
"""
from __future__ import annotations

import builtins
import hashlib
import json
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from shared.clients.ccai import Answer, CcaiFailure
from shared.clients.object_store import ObjectInfo, ObjectNotFound, PutResult, check_key
from shared.errors import AppError, NotFound, StorageError
from shared.ports import CcaiApi, IceApi, Store

__all__ = ["OPS", "FakeCcai", "FakeIce", "MemoryStore", "ccai_answer", "failure", "instance_answer"]

OPS = ("put", "get", "head", "list", "delete")
_META_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass
class _Object:
    data: bytes
    etag: str
    content_type: str
    metadata: dict[str, str]
    last_modified: str


class MemoryStore:
    """A bucket in a dict, with the semantics of `shared.clients.object_store.ObjectStore`.

    - `put(..., if_absent=True)` on an existing key leaves it alone and answers
      `PutResult(created=False)` with the existing object's ETag.
    - ETags are the md5 hex of the bytes (no quotes), as OSS/S3 give for a simple PUT.
    - `metadata` is validated like the real client, kept with lower-case names, and
      returned by `get`/`head` (never by `list`).
    - `fail_next(op, exc)` makes the next `op` (put/get/head/list/delete), optionally
      only for keys starting with `key_prefix`, raise `exc` (a `StorageError` by default).
    - `ops` records every call as (op, key or prefix); `writes` the keys actually written.
    """

    def __init__(self, bucket: str = "test-bucket") -> None:
        self.bucket: str = bucket
        self.objects: dict[str, _Object] = {}
        self.ops: builtins.list[tuple[str, str]] = []
        self.writes: builtins.list[str] = []
        self._faults: dict[str, deque[tuple[str, Exception]]] = defaultdict(deque)
        self._clock = 0

    # -- test helpers --

    def fail_next(self, op: str, exc: Exception | None = None, *, key_prefix: str = "", times: int = 1) -> None:
        """Make the next `times` calls of `op` (on keys starting with `key_prefix`) raise `exc`."""
        if op not in OPS:
            raise ValueError(f"op must be one of {OPS}")
        for _ in range(times):
            self._faults[op].append((key_prefix, exc or StorageError(f"injected {op} failure")))

    def count(self, op: str, prefix: str = "") -> int:
        """How many times `op` was called on keys (or list prefixes) starting with `prefix`."""
        return sum(1 for o, k in self.ops if o == op and k.startswith(prefix))

    def keys(self, prefix: str = "") -> builtins.list[str]:
        """The stored keys starting with `prefix`, in key order."""
        return sorted(k for k in self.objects if k.startswith(prefix))

    def json(self, key: str) -> Any:
        """The stored object under `key`, parsed as JSON (KeyError when absent)."""
        return json.loads(self.objects[key].data)

    def seed(self, key: str, value: Any, **kwargs: Any) -> PutResult:
        """Put `value` (bytes, or anything JSON-serialisable) without recording it as an op."""
        data = value if isinstance(value, bytes) else json.dumps(value, ensure_ascii=False).encode()
        result = self.put(key, data, **kwargs)
        self.ops.pop()
        self.writes.pop()
        return result

    def _enter(self, op: str, key: str) -> None:
        self.ops.append((op, key))
        queue = self._faults.get(op)
        if queue:
            for i, (prefix, exc) in enumerate(queue):
                if key.startswith(prefix):
                    del queue[i]
                    raise exc

    def _info(self, key: str, obj: _Object, *, with_metadata: bool) -> ObjectInfo:
        return ObjectInfo(key, len(obj.data), obj.etag, obj.last_modified,
                          dict(obj.metadata) if with_metadata else None)

    # -- the Store port --

    def put(self, key: str, data: bytes, *, content_type: str = "application/json", if_absent: bool = False,
            metadata: dict[str, str] | None = None) -> PutResult:
        check_key(key)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes")
        meta: dict[str, str] = {}
        for name, value in (metadata or {}).items():
            if not isinstance(name, str) or not name or len(name) > 128 or set(name) - _META_NAME_CHARS \
                    or not name[0].isalnum():
                raise ValueError(f"metadata name {str(name)[:40]!r} must be letters, digits, '-' or '_'")
            if not isinstance(value, str) or not value.isascii() or not value.isprintable() or len(value) > 1024:
                raise ValueError(f"metadata {name!r} must be printable ASCII of at most 1024 characters")
            meta[name.lower()] = value
        self._enter("put", key)
        data = bytes(data)
        existing = self.objects.get(key)
        if if_absent and existing is not None:
            return PutResult(key, existing.etag, False)
        self._clock += 1
        etag = hashlib.md5(data).hexdigest()
        stamp = f"2025-01-01T00:{self._clock // 60 % 60:02d}:{self._clock % 60:02d}Z"
        self.objects[key] = _Object(data, etag, content_type, meta, stamp)
        self.writes.append(key)
        return PutResult(key, etag, True)

    def get(self, key: str) -> tuple[bytes, ObjectInfo]:
        check_key(key)
        self._enter("get", key)
        obj = self.objects.get(key)
        if obj is None:
            raise ObjectNotFound(key)
        return obj.data, self._info(key, obj, with_metadata=True)

    def head(self, key: str) -> ObjectInfo | None:
        check_key(key)
        self._enter("head", key)
        obj = self.objects.get(key)
        return None if obj is None else self._info(key, obj, with_metadata=True)

    def delete(self, key: str) -> None:
        check_key(key)
        self._enter("delete", key)
        self.objects.pop(key, None)

    def list(self, prefix: str, *, start_after: str | None = None, page_size: int = 1000) -> Iterator[ObjectInfo]:
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be 1..1000")
        self._enter("list", prefix)
        keys = [k for k in sorted(self.objects) if k.startswith(prefix) and (start_after is None or k > start_after)]
        for k in keys:  # a snapshot, like pages already fetched
            obj = self.objects.get(k)
            if obj is not None:
                yield self._info(k, obj, with_metadata=False)


def instance_answer(instance_id: str, *, status: str = "Finished", call_log_url: str | None = None,
                    request_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A DescribeAIAgentInstance answer: `{"RequestId", "Instance": {"Status", "CallLogUrl", ...}}`.

    `fields` are further Instance members by their ICE names (UserData, SessionId, CallInfo, ...).
    """
    inst: dict[str, Any] = {"Status": status, "CallLogUrl": call_log_url or "", **fields}
    return {"RequestId": request_id or f"req-{instance_id}", "Instance": inst}


class FakeIce:
    """ICE with configured DescribeAIAgentInstance answers (or AppErrors); records calls.

    An unknown instance raises `shared.errors.NotFound`, as `shared.clients.retry.map_error`
    maps ICE's not-found answer.
    """

    def __init__(self) -> None:
        self.instances: dict[str, dict[str, Any] | AppError] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def set_instance(self, instance_id: str, *, status: str = "Finished", call_log_url: str | None = None,
                     **fields: Any) -> dict[str, Any]:
        """Configure (or replace) what DescribeAIAgentInstance answers for `instance_id`."""
        answer = instance_answer(instance_id, status=status, call_log_url=call_log_url, **fields)
        self.instances[instance_id] = answer
        return answer

    def fail(self, instance_id: str, error: AppError) -> None:
        """Make DescribeAIAgentInstance of `instance_id` raise `error`."""
        self.instances[instance_id] = error

    def count(self, action: str = "DescribeAIAgentInstance") -> int:
        return sum(1 for a, _ in self.calls if a == action)

    # -- the IceApi port --

    def describe_ai_agent_instance(self, instance_id: str, *, region: str | None = None,
                                   deadline: float | None = None) -> dict[str, Any]:
        return self.call("DescribeAIAgentInstance", {"InstanceId": instance_id}, region=region, deadline=deadline)

    def generate_message_chat_token(self, *, ai_agent_id: str, user_id: str, role: str | None = None,
                                    expire: int | None = None, region: str | None = None) -> dict[str, Any]:
        return self.call("GenerateMessageChatToken",
                         {"AIAgentId": ai_agent_id, "UserId": user_id, "Role": role, "Expire": expire}, region=region)

    def generate_ai_agent_call(self, *, ai_agent_id: str, user_id: str | None = None, expire: int | None = None,
                               user_data: str | None = None, session_id: str | None = None,
                               agent_config: Any = None, template_config: Any = None,
                               region: str | None = None) -> dict[str, Any]:
        return self.call("GenerateAIAgentCall", {
            "AIAgentId": ai_agent_id, "UserId": user_id, "Expire": expire, "UserData": user_data,
            "SessionId": session_id, "AgentConfig": agent_config, "TemplateConfig": template_config,
        }, region=region)

    def call(self, action: str, params: Mapping[str, Any], *, region: str | None = None,
             deadline: float | None = None) -> dict[str, Any]:
        self.calls.append((action, {**params, "_region": region, "_deadline": deadline}))
        if action == "DescribeAIAgentInstance":
            found = self.instances.get(str(params.get("InstanceId")))
            if found is None:
                raise NotFound("ICE: the AI agent instance does not exist", error_code="InstanceNotFound")
            if isinstance(found, AppError):
                raise found
            return json.loads(json.dumps(found))  # a fresh copy, as if parsed from the wire
        if action == "GenerateMessageChatToken":
            return {"RequestId": "req-token", "Token": "fake-token", "AppId": "fake-app",
                    "UserId": params.get("UserId"), "Nonce": "n", "Role": params.get("Role"), "TimeStamp": 0}
        if action == "GenerateAIAgentCall":
            return {"RequestId": "req-call", "InstanceId": "fake-instance", "ChannelId": "fake-channel",
                    "AIAgentUserId": "fake-agent-user", "UserId": params.get("UserId"), "Token": "fake-token"}
        raise NotFound(f"ICE: the fake has no action {action}", error_code="InvalidAction.NotFound")


def ccai_answer(text: str = '{"summary": "ok"}', *, input_tokens: int | None = 10, output_tokens: int | None = 5,
                request_id: str | None = "ccai-req-1", attempts: int = 1, upstream_ms: float = 12.5,
                events: int = 0, finish_reason: str = "stop") -> Answer:
    """An `Answer` shaped like AnalyzeConversation's (token counts sent as strings, as CCAI does)."""
    def tokens(n: int | None) -> str | None:
        return None if n is None else str(n)

    total = None if input_tokens is None or output_tokens is None else input_tokens + output_tokens
    body = {"requestId": request_id, "success": True, "errorCode": None, "text": text, "finishReason": finish_reason,
            "inputTokens": tokens(input_tokens), "outputTokens": tokens(output_tokens), "totalTokens": tokens(total)}
    return Answer(body, request_id, attempts, upstream_ms, events)


class FakeCcai:
    """AnalyzeConversation answering from a queue of `Answer`s / `CcaiFailure`s, in order.

    When the queue is empty, each request is answered by `ccai_answer` with a fresh
    request id and input tokens equal to the characters of the request's sentences.
    Records every body (`bodies`) and deadline (`deadlines`).
    """

    def __init__(self, *script: Answer | CcaiFailure) -> None:
        self.script: deque[Answer | CcaiFailure] = deque(script)
        self.bodies: list[dict[str, Any]] = []
        self.deadlines: list[float | None] = []

    def then(self, *items: Answer | CcaiFailure) -> FakeCcai:
        self.script.extend(items)
        return self

    @property
    def count(self) -> int:
        return len(self.bodies)

    def analyze(self, body: dict[str, Any], *, deadline: float | None = None) -> Answer:
        self.bodies.append(json.loads(json.dumps(body)))
        self.deadlines.append(deadline)
        if self.script:
            item = self.script.popleft()
            if isinstance(item, CcaiFailure):
                raise item
            return item
        n = len(self.bodies)
        chars = sum(len(s.get("text", "")) for s in body.get("dialogue", {}).get("sentences", []))
        return ccai_answer(f'{{"summary": "answer {n}"}}', input_tokens=chars, output_tokens=n,
                           request_id=f"ccai-req-{n}")


def failure(code: str = "CCAI.Throttling.Qps", *, retryable: bool = True, status: int | None = 429,
            message: str | None = None, request_id: str | None = "ccai-failed-1", attempts: int = 1) -> CcaiFailure:
    """A `CcaiFailure` as `shared.clients.ccai` raises it."""
    return CcaiFailure(message or f"CCAI refused the analysis: {code}: test", code=code, status=status,
                       retryable=retryable, request_id=request_id, attempts=attempts)


def _ports(store: MemoryStore, ice: FakeIce, ccai: FakeCcai) -> tuple[Store, IceApi, CcaiApi]:
    """Never called: mypy checks here that each fake satisfies its port."""
    return store, ice, ccai
