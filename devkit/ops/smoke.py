"""`aiagent smoke --stage S`: after a deploy, check every function of that stage.

HTTP functions are called at their URL (API_BASE_URL, or http://<API_DOMAIN>) with
requests that prove the function is up, configured and authorised without side
effects; triggered functions are invoked synchronously through the FC 3.0 SDK
(`alibabacloud_fc20230330`, tooling only) with a synthetic OSS event they must skip.
Prints pass/fail per function; exit status 1 if any failed.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devkit import syaml


@dataclass
class Check:
    function: str
    ok: bool
    detail: str


def _expect(status: int, body: Any, want: int, code_field: str | None = None) -> tuple[bool, str]:
    ok = status == want and isinstance(body, dict) and body.get("code") == want
    return ok, f"HTTP {status} (want {want}) {json.dumps(body, ensure_ascii=False)[:160]}"


def _expect_any(status: int, body: Any, wants: tuple[int, ...]) -> tuple[bool, str]:
    ok = status in wants and isinstance(body, dict) and body.get("code") == status
    return ok, f"HTTP {status} (want {' or '.join(map(str, wants))}) {json.dumps(body, ensure_ascii=False)[:160]}"


def _expect_page(r: Any) -> tuple[bool, str]:
    ok = r.status_code == 200 and r.headers.get("content-type", "").startswith("text/html") \
        and "content-security-policy" in r.headers
    return ok, f"HTTP {r.status_code} (want 200, HTML with a CSP) {r.headers.get('content-type', '')}"


def http_checks(base_url: str, jwt_secret: str | None) -> dict[str, Callable[[Any], tuple[bool, str]]]:
    """Per HTTP function: a request and what a healthy deployment answers."""
    from devkit.tokens import mint_token

    token = mint_token("smoke_user", jwt_secret, 300) if jwt_secret else None
    auth = {"Authorization": f"Bearer {token}"} if token else {}

    admin = {"Authorization": f"Bearer {mint_token('smoke_admin', jwt_secret, 300, role='admin')}"} \
        if jwt_secret else {}

    def get(client: Any, path: str, headers: dict) -> tuple[int, Any]:
        r = client.get(base_url.rstrip("/") + path, headers=headers)
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, r.text[:200]

    def post(client: Any, path: str, body: Any, headers: dict) -> tuple[int, Any]:
        r = client.post(base_url.rstrip("/") + path, json=body, headers=headers)
        try:
            return r.status_code, r.json()
        except ValueError:
            return r.status_code, r.text[:200]

    return {
        # A real token proves the ARTC app settings and the JWT secret.
        "/api/v2/aiagent/getRtcAuthToken": lambda c: _expect(*post(c, "/api/v2/aiagent/getRtcAuthToken",
                                                                  {"user_id": "smoke_user"}, auth), 200),
        # Authorised but invalid: the function is up and its settings load; no ICE side effect.
        "/api/v2/aiagent/generateMessageChatToken": lambda c: _expect(*post(
            c, "/api/v2/aiagent/generateMessageChatToken", {"user_id": "smoke_user"}, auth), 400),
        # An instance nobody owns is a 404 from the ownership check: it read state/owners/ (a 503
        # would mean the role's OSS permissions are wrong).
        "/api/v2/aiagent/describeAIAgentInstance": lambda c: _expect(*post(
            c, "/api/v2/aiagent/describeAIAgentInstance",
            {"user_id": "smoke_user", "ai_agent_instance_id": "smoke-no-such-instance"}, auth), 404),
        "/api/v2/aiagent/generateAIAgentCall": lambda c: _expect(*post(
            c, "/api/v2/aiagent/generateAIAgentCall", {"user_id": "smoke_user"}, auth), 400),
        # The agent policy loads (an agent not in it: 404 AgentNotFound; dev without a policy: 200).
        "/api/v2/aiagent/describeAIAgent": lambda c: _expect_any(*post(
            c, "/api/v2/aiagent/describeAIAgent", {"user_id": "smoke_user", "ai_agent_id": "smoke-no-such-agent"},
            auth), (404, 200)),
        "/api/v2/aiagent/startAIAgentOutboundCall": lambda c: _expect(*post(
            c, "/api/v2/aiagent/startAIAgentOutboundCall", {"user_id": "smoke_user"}, auth), 400),
        # Real temporary credentials prove STS, CLIENT_UPLOAD_ROLE_ARN and the role's trust.
        "/api/v2/aiagent/getOssConfig": lambda c: _expect(*post(
            c, "/api/v2/aiagent/getOssConfig", {"user_id": "smoke_user"}, auth), 200),
        "/api/v2/aiagent/setAIAgentVoiceprint": lambda c: _expect(*post(
            c, "/api/v2/aiagent/setAIAgentVoiceprint", {"user_id": "smoke_user"}, auth), 400),
        "/api/v2/aiagent/clearAIAgentVoiceprint": lambda c: _expect(*post(
            c, "/api/v2/aiagent/clearAIAgentVoiceprint", {"user_id": "smoke_user"}, auth), 400),
        # Admins only: an ordinary token is refused before anything is read (403).
        "/api/v2/archive/erase": lambda c: _expect(*post(
            c, "/api/v2/archive/erase", {"instance_ids": ["smoke-no-such-instance"], "dry_run": True}, auth), 403),
        # An admin token reads the call index: DuckDB, the index's day files and the role's reads.
        "/api/v2/archive/calls": lambda c: _expect(*get(c, "/api/v2/archive/calls", admin), 200),
        # The console's page is served (its data needs an admin token in the browser).
        "/console/*": lambda c: _expect_page(c.get(base_url.rstrip("/") + "/console/")),
        # Unsigned: Live's signature is checked before anything is stored (and the key is configured).
        "/api/v2/aiagent/recordingCallback": lambda c: _expect(*post(c, "/api/v2/aiagent/recordingCallback", {}, {}),
                                                               401),
        # Without the callback token nothing may be stored.
        "/api/v2/aiagent/callback": lambda c: _expect(*post(c, "/api/v2/aiagent/callback", {}, {}), 401),
    }


def invoke_triggered(spec: syaml.FunctionSpec, bucket: str, region: str) -> tuple[bool, str]:
    """Invoke a triggered function with an OSS event for a key it must skip."""
    from alibabacloud_fc20230330 import models as fc_models
    from alibabacloud_fc20230330.client import Client
    from alibabacloud_tea_openapi import models as api_models

    from devkit.sandbox import oss_events

    account = os.environ["ACCOUNT_ID"]
    client = Client(api_models.Config(access_key_id=os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
                                      access_key_secret=os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
                                      endpoint=f"{account}.{region}.fc.aliyuncs.com"))
    trig = spec.oss_triggers[0]
    key = f"{trig.prefix}dt=2000-01-01/smoke/smoke-not-a-real-object{trig.suffix}"
    event = json.dumps(oss_events.build(bucket, key, size=0, etag="0" * 32, region=region)).encode()
    resp = client.invoke_function_with_options(
        spec.function_name, fc_models.InvokeFunctionRequest(body=event),
        fc_models.InvokeFunctionHeaders(x_fc_invocation_type="Sync", x_fc_log_type="None"),
        __import__("alibabacloud_tea_util.models", fromlist=["RuntimeOptions"]).RuntimeOptions())
    status = resp.status_code
    body = resp.body.read() if hasattr(resp.body, "read") else resp.body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return status == 200 and "error" not in text.lower()[:200], f"invoke HTTP {status}: {text[:160]}"


def run(stage: str, base_url: str | None = None, out: Callable[[str], None] = print) -> int:
    import httpx

    env = {**os.environ, "STAGE": stage}
    specs = syaml.functions(env=env)
    domain = next((r for r in [os.environ.get("API_DOMAIN")] if r and r != "auto"), None)
    base = base_url or os.environ.get("API_BASE_URL") or (f"https://{domain}" if domain else None)
    checks: list[Check] = []
    routes = {r.path: key for key, s in specs.items() for r in s.routes}
    probes = http_checks(base or "", os.environ.get("AUTH_JWT_SECRET"))
    by_function: dict[str, list[str]] = {}
    for path, key in sorted(routes.items()):
        by_function.setdefault(key, []).append(path)
    with httpx.Client(timeout=15) as client:
        for key, paths in sorted(by_function.items()):  # one probe per function (of its first probed route)
            if base is None:
                checks.append(Check(key, False, "no API_BASE_URL or API_DOMAIN to call"))
                continue
            probe = next((probes[p] for p in paths if p in probes), None)
            if probe is None:
                checks.append(Check(key, False, f"no smoke probe for {', '.join(paths)}"))
                continue
            try:
                ok, detail = probe(client)
            except httpx.HTTPError as exc:
                ok, detail = False, f"{type(exc).__name__}"
            checks.append(Check(key, ok, detail))
    for key, spec in specs.items():
        if spec.oss_triggers:
            try:
                ok, detail = invoke_triggered(spec, env.get("ARCHIVE_BUCKET", ""), env.get("REGION", "cn-shanghai"))
            except Exception as exc:  # report, don't crash: the table is the output
                ok, detail = False, f"{type(exc).__name__}: {str(exc)[:160]}"
            checks.append(Check(key, ok, detail))
    out(f"smoke test of stage {stage}" + (f" at {base}" if base else ""))
    for c in checks:
        out(f"  {'PASS' if c.ok else 'FAIL'}  {c.function:30} {c.detail}")
    failed = [c for c in checks if not c.ok]
    out(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
