"""The seams between the workflows and the outside world, as `typing.Protocol` ports.

Workflows (`shared.archive.workflow`, `shared.analysis.workflow`) and the functions
depend on these shapes, not on the clients that implement them: `shared.clients.*`
in production, the sandbox's wrappers in development, in-memory fakes in the unit
tests (`tests/fakes.py`). Nothing here does I/O; importing it costs nothing at cold
start (annotations only, see docs/architecture.md#layers).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from shared.clients.ccai import Answer
    from shared.clients.object_store import ObjectInfo, PutResult


class Store(Protocol):
    """One bucket: write-if-absent puts, reads, listings in key order.

    `get` raises `shared.clients.object_store.ObjectNotFound` for a missing key;
    every other failure is a `shared.errors.StorageError`.
    """

    bucket: str

    def put(self, key: str, data: bytes, *, content_type: str = ..., if_absent: bool = ...,
            metadata: dict[str, str] | None = ...) -> PutResult: ...

    def get(self, key: str) -> tuple[bytes, ObjectInfo]: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def list(self, prefix: str, *, start_after: str | None = ..., page_size: int = ...) -> Iterator[ObjectInfo]: ...

    def delete(self, key: str) -> None: ...


class IceApi(Protocol):
    """The ICE actions the functions and workflows call (answers are ICE's JSON bodies)."""

    def describe_ai_agent_instance(self, instance_id: str, *, region: str | None = ...,
                                   deadline: float | None = ...) -> dict[str, Any]: ...

    def generate_message_chat_token(self, *, ai_agent_id: str, user_id: str, role: str | None = ...,
                                    expire: int | None = ..., region: str | None = ...) -> dict[str, Any]: ...

    def generate_ai_agent_call(self, *, ai_agent_id: str, user_id: str | None = ..., expire: int | None = ...,
                               user_data: str | None = ..., session_id: str | None = ...,
                               agent_config: Any = ..., template_config: Any = ...,
                               region: str | None = ...) -> dict[str, Any]: ...

    def call(self, action: str, params: Mapping[str, Any], *, region: str | None = ...,
             deadline: float | None = ...) -> dict[str, Any]: ...


class CcaiApi(Protocol):
    """CCAI AnalyzeConversation: one request body in, one assembled answer out.

    Raises `shared.clients.ccai.CcaiFailure` (with `retryable`) when CCAI refuses or fails.
    """

    def analyze(self, body: dict[str, Any], *, deadline: float | None = ...) -> Answer: ...

