"""ICE OpenAPI (RPC style, version 2020-11-09) over httpx, signed with ACS3
(docs/protocols.md#signing-alibaba-cloud-requests).

`POST https://ice.{region}.aliyuncs.com/?<params>` with an empty body. One httpx
client (connection pool) per warm instance; bounded retries on 5xx, timeouts and
throttling only; errors mapped by `shared.clients.retry.map_error`.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from shared.clients import acs3 as acs
from shared.clients import retry
from shared.clients.acs3 import Prepared
from shared.errors import BadRequest, UpstreamError
from shared.log import logger
from shared.settings import CloudCredentials, IceSettings, load

VERSION = "2020-11-09"
SERVICE = "ICE"


def param_value(value: Any) -> str:
    """How one RPC parameter travels: JSON for objects/lists, lowercase booleans, str otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def endpoint_for(settings: IceSettings, region: str | None) -> str:
    """ICE_ENDPOINT if set (simulator, private endpoint), else https://ice.{region}.aliyuncs.com."""
    region = region or settings.ICE_REGION
    if region not in settings.regions:
        raise BadRequest(f"region: must be one of {', '.join(settings.regions)}", error_code="InvalidRegion")
    return settings.ICE_ENDPOINT or f"https://ice.{region}.aliyuncs.com"


def prepare(action: str, params: Mapping[str, Any], *, endpoint: str, credentials: CloudCredentials,
            date: str | None = None, nonce: str | None = None) -> Prepared:
    """Build and sign one ICE call. Unset (None) parameters are omitted, never sent as "null"."""
    query = {k: param_value(v) for k, v in params.items() if v is not None}
    parts = urlsplit(endpoint)
    host = parts.netloc
    token = credentials.ALIBABA_CLOUD_SECURITY_TOKEN
    headers = acs.sign_request(
        method="POST", host=host, path="/", query=query, body=b"", action=action, version=VERSION,
        access_key_id=credentials.ALIBABA_CLOUD_ACCESS_KEY_ID,
        access_key_secret=credentials.ALIBABA_CLOUD_ACCESS_KEY_SECRET.get_secret_value(),
        security_token=token.get_secret_value() if token else None, date=date, nonce=nonce,
    )
    qs = acs.canonical_query(query)
    url = f"{parts.scheme}://{host}/" + (f"?{qs}" if qs else "")
    return Prepared("POST", url, host, "/", query, headers, b"")


class IceClient:
    """Calls ICE actions and returns their JSON bodies (dict) or raises an AppError."""

    def __init__(self, settings: IceSettings, credentials: CloudCredentials, http: Any = None) -> None:
        self.settings = settings
        self.credentials = credentials
        self._http = http or retry.http_client(settings.ICE_CONNECT_TIMEOUT_SECONDS, settings.ICE_READ_TIMEOUT_SECONDS)

    def call(self, action: str, params: Mapping[str, Any], *, region: str | None = None,
             deadline: float | None = None) -> dict[str, Any]:
        """One ICE action with bounded retries (5xx, timeouts, throttling only)."""
        import httpx

        endpoint = endpoint_for(self.settings, region)
        attempts = self.settings.ICE_MAX_RETRIES + 1
        for attempt in range(attempts):
            req = prepare(action, params, endpoint=endpoint, credentials=self.credentials)
            started = time.perf_counter()
            try:
                resp = self._http.post(req.url, headers=req.headers, content=req.body)
            except httpx.TimeoutException:
                error: Exception = retry.timeout_error(SERVICE)
                wait = retry.backoff(attempt)
                status = 504
            except httpx.TransportError:
                error = UpstreamError(f"{SERVICE} could not be reached", error_code=f"{SERVICE}.Unreachable")
                wait = retry.backoff(attempt)
                status = 502
            else:
                status = resp.status_code
                try:
                    payload = resp.json()
                except ValueError:
                    payload = None
                if 200 <= status < 300 and isinstance(payload, dict):
                    logger.debug("ice call", extra={"action": action, "status": status, "attempt": attempt + 1,
                                                    "ms": round((time.perf_counter() - started) * 1000, 1)})
                    return payload
                code, message, request_id = retry.error_fields(payload)
                if 200 <= status < 300:
                    code, message = f"{SERVICE}.InvalidResponse", "response is not a JSON object"
                    status = 502
                error = retry.map_error(SERVICE, status, code, message, request_id, resp.headers)
                retryable = status >= 500 or retry.is_throttling(status, code, resp.headers)
                if not retryable:
                    raise error
                wait = retry.retry_after_seconds(resp.headers) or retry.backoff(attempt)
            logger.warning("ice call failed", extra={"action": action, "status": status, "attempt": attempt + 1,
                                                     "error_code": getattr(error, "error_code", None)})
            if attempt + 1 >= attempts or not retry.sleep_within(min(wait, 2.0), deadline):
                raise error
        raise AssertionError("unreachable")

    def generate_message_chat_token(self, *, ai_agent_id: str, user_id: str, role: str | None = None,
                                    expire: int | None = None, region: str | None = None) -> dict[str, Any]:
        return self.call("GenerateMessageChatToken",
                         {"AIAgentId": ai_agent_id, "UserId": user_id, "Role": role, "Expire": expire}, region=region)

    def describe_ai_agent_instance(self, instance_id: str, *, region: str | None = None,
                                   deadline: float | None = None) -> dict[str, Any]:
        return self.call("DescribeAIAgentInstance", {"InstanceId": instance_id}, region=region, deadline=deadline)

    def generate_ai_agent_call(self, *, ai_agent_id: str, user_id: str | None = None, expire: int | None = None,
                               user_data: str | None = None, session_id: str | None = None,
                               agent_config: Any = None, template_config: Any = None,
                               region: str | None = None) -> dict[str, Any]:
        return self.call("GenerateAIAgentCall", {
            "AIAgentId": ai_agent_id, "UserId": user_id, "Expire": expire, "UserData": user_data,
            "SessionId": session_id, "AgentConfig": agent_config, "TemplateConfig": template_config,
        }, region=region)


_client: IceClient | None = None


def get_client() -> IceClient:
    """The process-wide client (settings and credentials parsed once, one connection pool)."""
    global _client
    if _client is None:
        _client = IceClient(load(IceSettings), load(CloudCredentials))
    return _client


def reset_client() -> None:
    """Forget the cached client (tests and the sandbox change settings)."""
    global _client
    _client = None
