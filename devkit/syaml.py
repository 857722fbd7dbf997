"""Read `s.yaml` (Serverless Devs 3, fc3): the one source of truth for which
functions exist, their handlers, triggers and API paths.

Resolves the small subset of Serverless Devs expressions the project uses:
`${env('NAME')}`, `${env('NAME', 'default')}`, `${vars.a.b}`, and
`${resources.<name>.props.<key>}`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
S_YAML = REPO / "s.yaml"
_EXPR = re.compile(r"\$\{([^}]+)\}")
_ENV = re.compile(r"""^env\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*(?:,\s*['"]([^'"]*)['"]\s*)?\)$""")


@dataclass(frozen=True)
class HttpRoute:
    path: str
    methods: tuple[str, ...]


@dataclass(frozen=True)
class OssTrigger:
    name: str
    events: tuple[str, ...]
    prefix: str
    suffix: str


@dataclass(frozen=True)
class TimerTrigger:
    name: str
    cron: str
    payload: str = ""


@dataclass
class FunctionSpec:
    """One fc3 resource as the sandbox and the tests need it."""

    key: str  # resource key == folder under functions/
    function_name: str
    handler: str
    code: str
    memory_mb: int
    timeout_s: int
    env: dict[str, Any] = field(default_factory=dict)
    routes: list[HttpRoute] = field(default_factory=list)
    oss_triggers: list[OssTrigger] = field(default_factory=list)
    timer_triggers: list[TimerTrigger] = field(default_factory=list)
    async_config: dict[str, Any] = field(default_factory=dict)
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def source_dir(self) -> Path:
        return REPO / "functions" / Path(self.code).name

    @property
    def handler_file(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.source_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_attr(self) -> str:
        return self.handler.rpartition(".")[2]


def _lookup(root: Mapping[str, Any], dotted: str) -> Any:
    node: Any = root
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def resolve(value: Any, doc: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """Resolve `${...}` expressions in `value` (recursively for lists and maps)."""
    if isinstance(value, Mapping):
        return {k: resolve(v, doc, env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, doc, env) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def one(expr: str) -> Any:
        expr = expr.strip()
        m = _ENV.match(expr)
        if m:
            return env.get(m.group(1), m.group(2) if m.group(2) is not None else "")
        if expr.startswith("vars."):
            return resolve(_lookup(doc.get("vars", {}), expr[5:]), doc, env)
        if expr.startswith("resources."):
            return resolve(_lookup(doc.get("resources", {}), expr[10:]), doc, env)
        raise ValueError(f"s.yaml: unsupported expression ${{{expr}}}")

    whole = _EXPR.fullmatch(value)
    if whole:
        return one(whole.group(1))
    return _EXPR.sub(lambda m: str(one(m.group(1))), value)


def load_document(path: Path = S_YAML) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def functions(path: Path = S_YAML, env: Mapping[str, str] | None = None) -> dict[str, FunctionSpec]:
    """Every fc3 function in s.yaml, with its HTTP routes (from fc3-domain) and OSS triggers."""
    doc = load_document(path)
    env = os.environ if env is None else env
    out: dict[str, FunctionSpec] = {}
    by_name: dict[str, str] = {}
    for key, res in (doc.get("resources") or {}).items():
        if res.get("component") != "fc3":
            continue
        props = resolve(res.get("props") or {}, doc, env)
        spec = FunctionSpec(
            key=key,
            function_name=props["functionName"],
            handler=props["handler"],
            code=props["code"],
            memory_mb=int(props.get("memorySize", 128)),
            timeout_s=int(props.get("timeout", 3)),
            env=dict(props.get("environmentVariables") or {}),
            async_config=dict(props.get("asyncInvokeConfig") or {}),
            props=props,
        )
        for trig in props.get("triggers") or []:
            if trig.get("triggerType") == "oss":
                cfg = trig.get("triggerConfig") or {}
                key_filter = ((cfg.get("filter") or {}).get("key") or {})
                spec.oss_triggers.append(OssTrigger(
                    name=trig.get("triggerName", "oss"),
                    events=tuple(cfg.get("events") or ()),
                    prefix=key_filter.get("prefix", "") or "",
                    suffix=key_filter.get("suffix", "") or "",
                ))
            elif trig.get("triggerType") == "timer":
                cfg = trig.get("triggerConfig") or {}
                spec.timer_triggers.append(TimerTrigger(name=trig.get("triggerName", "timer"),
                                                        cron=str(cfg.get("cronExpression", "")),
                                                        payload=str(cfg.get("payload") or "")))
        out[key] = spec
        by_name[spec.function_name] = key
    for res in (doc.get("resources") or {}).values():
        if res.get("component") != "fc3-domain":
            continue
        props = resolve(res.get("props") or {}, doc, env)
        for route in ((props.get("routeConfig") or {}).get("routes") or []):
            key = by_name.get(route.get("functionName"))
            if key is None:
                raise ValueError(f"s.yaml: route {route.get('path')} names unknown function "
                                 f"{route.get('functionName')}")
            out[key].routes.append(HttpRoute(route["path"], tuple(route.get("methods") or ("POST",))))
    return out
