"""An FC 3.0-like invocation context and the loader that imports a function's handler."""
from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from devkit.syaml import FunctionSpec


@dataclass(frozen=True)
class FunctionMeta:
    name: str
    handler: str
    memory: int
    timeout: int
    initializer: str | None = None
    initialization_timeout: int | None = None


@dataclass(frozen=True)
class Credentials:
    access_key_id: str = ""
    access_key_secret: str = ""
    security_token: str = ""


@dataclass(frozen=True)
class FCContext:
    """What FC passes as `context`: request id, function, region, account, credentials."""

    request_id: str
    function: FunctionMeta
    region: str = "cn-shanghai"
    account_id: str = "1234567890123456"
    credentials: Credentials = field(default_factory=Credentials)
    retry_count: int = 0

    @classmethod
    def for_function(cls, spec: FunctionSpec, request_id: str | None = None, retry_count: int = 0) -> FCContext:
        return cls(
            request_id=request_id or f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:12]}",
            function=FunctionMeta(spec.function_name, spec.handler, spec.memory_mb, spec.timeout_s),
            region=os.environ.get("ICE_REGION", "cn-shanghai"),
            credentials=Credentials(
                os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
                os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
                os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", ""),
            ),
            retry_count=retry_count,
        )


def load_module(spec: FunctionSpec, *, fresh: bool = False) -> ModuleType:
    """Import a function's handler module from functions/<key>/ (a cold start when fresh)."""
    name = f"aicall_fn_{spec.key}"
    if not fresh and name in sys.modules:
        return sys.modules[name]
    loader = importlib.util.spec_from_file_location(name, spec.handler_file)
    if loader is None or loader.loader is None:
        raise ImportError(f"cannot load {spec.handler_file}")
    module = importlib.util.module_from_spec(loader)
    sys.modules[name] = module
    loader.loader.exec_module(module)
    return module


def load_handler(spec: FunctionSpec, *, fresh: bool = False) -> Callable[[Any, Any], Any]:
    """The `handler(event, context)` callable named by the function's `handler` setting."""
    return getattr(load_module(spec, fresh=fresh), spec.handler_attr)
