"""HTTP for Function Compute: trigger event -> Request, answer -> FC response dict.

Accepts the FC 3.0 HTTP-trigger event (`rawPath`, `requestContext.http`) and the API
Gateway event (`path`, `httpMethod`, `pathParameters`). `endpoint()` wraps a function
so that every HTTP function handles CORS, methods, body limits, authorization, JSON
and errors the same way, in this one place.
"""
from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from shared.errors import (
    AppError,
    BadRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from shared.log import logger, start_request
from shared.settings import EnvSettings, HttpSettings, load, load_at_cold_start
from shared.validation import BindsUser

JSON_TYPE = "application/json; charset=utf-8"
MAX_EVENT_BYTES = 8 * 1024 * 1024


class Headers(dict):
    """Header map with case-insensitive lookup (keys stored lower-cased)."""

    def __init__(self, raw: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        for key, value in (raw or {}).items():
            if isinstance(value, list):  # API Gateway multi-value form
                value = ",".join(str(v) for v in value)
            self[str(key).lower()] = str(value)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class Request:
    """One HTTP request, independent of the trigger format that carried it."""

    __slots__ = ("method", "path", "headers", "query", "body", "source_ip", "request_id", "_json")

    def __init__(self, method: str, path: str, headers: Headers, query: dict[str, str], body: bytes,
                 source_ip: str = "", request_id: str = "", _json: Any = None) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.query = query
        self.body = body
        self.source_ip = source_ip
        self.request_id = request_id
        self._json = _json  # the parsed body, once `json()` has read it (kept out of the repr)

    def __repr__(self) -> str:
        return (f"Request(method={self.method!r}, path={self.path!r}, headers={self.headers!r}, "
                f"query={self.query!r}, body={self.body!r}, source_ip={self.source_ip!r}, "
                f"request_id={self.request_id!r})")

    def json(self) -> Any:
        """The body decoded as JSON; BadRequest if it is not JSON."""
        if self._json is None:
            if not self.body.strip():
                raise BadRequest("body: must be a JSON object (body is empty)", error_code="InvalidBody")
            try:
                parsed = json.loads(self.body, parse_constant=_NotJson)
            except (ValueError, UnicodeDecodeError) as exc:
                raise BadRequest(f"body: not valid JSON ({_json_reason(exc)})", error_code="InvalidBody") from None
            problem = _first_non_json_value(parsed)
            if problem is not None:
                raise BadRequest(problem, error_code="InvalidBody")
            self._json = parsed
        return self._json


class _NotJson:
    """What Python's decoder would turn NaN, Infinity and -Infinity into (JSON has none)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _first_non_json_value(value: Any) -> str | None:
    """`where: what` for the first value that JSON cannot carry on to an upstream: NaN or
    Infinity (and numbers too large for a float), or text with a lone surrogate (a `\\ud800`
    escape: valid JSON syntax, but not text any encoder can write)."""
    todo: list[tuple[str, Any]] = [("", value)]
    while todo:
        where, item = todo.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                path = f"{where}.{key}" if where else str(key)
                if _has_lone_surrogate(key):
                    return f"{where or 'body'}: a key is not valid text (lone surrogate)"
                todo.append((path, sub))
        elif isinstance(item, list):
            todo.extend((f"{where}[{i}]", sub) for i, sub in enumerate(item))
        elif isinstance(item, _NotJson):
            return f"{where or 'body'}: {item.name} is not a JSON number"
        elif isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            return f"{where or 'body'}: number out of range"
        elif isinstance(item, str) and _has_lone_surrogate(item):
            return f"{where or 'body'}: not valid text (lone surrogate)"
    return None


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    return "recursion too deep" if isinstance(exc, RecursionError) else type(exc).__name__


def parse_event(event: bytes | str | Mapping[str, Any], *, max_body: int) -> Request:
    """Decode an FC HTTP-trigger or API Gateway event; 413 if the body is over `max_body`."""
    if isinstance(event, (bytes, bytearray, str)):
        if len(event) > MAX_EVENT_BYTES:
            raise PayloadTooLarge(f"request too large (limit {max_body} bytes)")
        try:
            event = json.loads(event)
        except ValueError:
            raise BadRequest("event: not a JSON HTTP trigger event", error_code="InvalidEvent") from None
    if not isinstance(event, Mapping):
        raise BadRequest("event: not a JSON HTTP trigger event", error_code="InvalidEvent")
    ctx = event.get("requestContext")
    ctx = ctx if isinstance(ctx, Mapping) else {}
    http = ctx.get("http")
    http = http if isinstance(http, Mapping) else {}
    method = event.get("httpMethod") or http.get("method") or ""
    path = event.get("rawPath") or event.get("path") or http.get("path") or "/"
    if not isinstance(method, str) or not isinstance(path, str):
        raise BadRequest("event: method and path must be strings", error_code="InvalidEvent")
    headers = Headers(event.get("headers") if isinstance(event.get("headers"), Mapping) else None)
    query = event.get("queryParameters") or event.get("queryStringParameters") or {}
    raw_body = event.get("body") or ""
    if not isinstance(raw_body, str):
        raise BadRequest("event: body must be a string", error_code="InvalidEvent")
    # Reject on the encoded size first, so a huge body is never decoded.
    if len(raw_body) > (max_body * 4 // 3 + 4 if event.get("isBase64Encoded") else max_body * 4):
        raise PayloadTooLarge(f"body: larger than {max_body} bytes")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("body: isBase64Encoded is set but the body is not base64",
                             error_code="InvalidBody") from None
    else:
        body = raw_body.encode("utf-8", "surrogatepass")
    if len(body) > max_body:
        raise PayloadTooLarge(f"body: larger than {max_body} bytes")
    return Request(
        method=method.upper(),
        path=path,
        headers=headers,
        query={str(k): str(v) for k, v in query.items()} if isinstance(query, Mapping) else {},
        body=body,
        source_ip=str(http.get("sourceIp", "")),
        request_id=str(ctx.get("requestId", "")),
    )


def response(status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An FC HTTP response dict with a compact JSON body."""
    out_headers = {"Content-Type": JSON_TYPE} if body is not None else {}
    out_headers.update(headers or {})
    return {
        "statusCode": status,
        "headers": out_headers,
        "isBase64Encoded": False,
        "body": "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    }


class RawResponse:
    """What an endpoint returns to answer with other than JSON (a file): sent as it is."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(self, body: bytes, content_type: str, headers: dict[str, str] | None = None,
                 status: int = 200) -> None:
        self.body = body
        self.content_type = content_type
        self.headers: dict[str, str] = {} if headers is None else headers
        self.status = status

    def __repr__(self) -> str:
        return (f"RawResponse(body={self.body!r}, content_type={self.content_type!r}, "
                f"headers={self.headers!r}, status={self.status!r})")

    def to_fc(self, extra: Mapping[str, str]) -> dict[str, Any]:
        textual = self.content_type.startswith(("text/", "application/json", "application/x-ndjson",
                                                "application/javascript"))
        try:
            text, b64 = (self.body.decode("utf-8"), False) if textual else ("", True)
        except UnicodeDecodeError:
            text, b64 = "", True
        return {"statusCode": self.status, "headers": {"Content-Type": self.content_type, **extra, **self.headers},
                "isBase64Encoded": b64, "body": base64.b64encode(self.body).decode("ascii") if b64 else text}


def cors_headers(request_origin: str | None, allowed: tuple[str, ...]) -> dict[str, str]:
    """CORS response headers for `request_origin` given the allowed origins."""
    if "*" in allowed:
        return {"Access-Control-Allow-Origin": "*"}
    if request_origin and request_origin in allowed:
        return {"Access-Control-Allow-Origin": request_origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


def _context_request_id(context: Any) -> str:
    return str(getattr(context, "request_id", "") or "")


def _function_name(context: Any) -> str | None:
    fn = getattr(context, "function", None)
    return getattr(fn, "name", None) if fn is not None else None


Authorizer = Callable[[Request, Any], Any]
# Body fields worth an audit line: what a request acted on (ids and region, never content).
AUDIT_FIELDS = ("ai_agent_id", "ai_agent_instance_id", "region", "channel_id")


def endpoint(
    *,
    authorize: Authorizer,
    body: type | None = None,
    methods: tuple[str, ...] = ("POST",),
    settings: tuple[type[EnvSettings], ...],
    require_json_content_type: bool = False,
    cors: bool = True,
    check: Callable[[], None] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[[Any, Any], dict[str, Any]]]:
    """Make `fn(data, principal, request)` an FC HTTP handler `handler(event, context)`.

    Order: CORS preflight -> method -> body size -> authorize (403/401) -> JSON and
    model validation (400) -> the request's user binding (`ApiRequest.bound_user`,
    403 when it is not the token's subject) -> `fn`.
    `settings` declares every settings group the function needs; exactly one of them is
    an `HttpSettings` (body limit, CORS, authorization). Each is loaded once here, at cold
    start; a configuration error is logged then and answered as a 500 JSON error on every
    invocation. The groups are kept on the handler (`handler.settings_groups`) for tools.
    `check`: more cold-start validation (e.g. the agent policy); a ConfigurationError it
    raises is kept and answered the same way.
    `require_json_content_type`: anything but `Content-Type: application/json` is a 415
    (a browser cannot send that cross-site without a preflight). `cors=False`: no CORS
    headers and no preflight (endpoints no browser may call, such as ICE's callback).
    `headers`: added to every answer (e.g. `Cache-Control: no-store` where answers carry
    personal data). `fn` may return a `RawResponse` to answer with a file rather than JSON.
    Every request is logged once, with the caller (token subject), source IP, and the
    audited fields of the body (AUDIT_FIELDS) — never a token or a secret.
    """
    http_groups = [g for g in settings if issubclass(g, HttpSettings)]
    if len(http_groups) != 1:
        raise TypeError("endpoint(settings=...): declare exactly one HttpSettings group")

    def wrap(fn: Callable[..., Any]) -> Callable[[Any, Any], dict[str, Any]]:
        config_error = load_at_cold_start(settings, check)
        core: Any = None if config_error is not None else load(http_groups[0])
        if getattr(core, "AUTH_MODE", None) == "none":
            logger.warning("client authorization is disabled (AUTH_MODE=none)")
        allow = ", ".join((*methods, "OPTIONS"))

        def handler(event: Any, context: Any) -> dict[str, Any]:
            started = time.perf_counter()
            start_request(_context_request_id(context), _function_name(context))
            cors_out: dict[str, str] = {"Access-Control-Allow-Origin": "*"} if cors else {}
            always = dict(headers or {})
            outcome: dict[str, Any] = {"status": 500}
            try:
                if config_error is not None:
                    raise config_error
                req = parse_event(event, max_body=core.max_body)
                outcome["source_ip"] = req.source_ip
                if cors:
                    cors_out = cors_headers(req.headers.get("origin"), core.CORS_ALLOW_ORIGINS)
                if cors and req.method == "OPTIONS":
                    outcome["status"] = 204
                    return response(204, None, {
                        **cors_out,
                        "Access-Control-Allow-Methods": allow,
                        "Access-Control-Allow-Headers": "authorization, content-type",
                        "Access-Control-Max-Age": "86400",
                    })
                if req.method not in methods:
                    raise MethodNotAllowed(f"method {req.method[:16]} not allowed; use {' or '.join(methods)}",
                                           headers={"Allow": allow})
                if require_json_content_type:
                    ctype = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
                    if ctype != "application/json":
                        raise UnsupportedMediaType("content-type: must be application/json")
                principal = authorize(req, core)
                if getattr(principal, "subject", None):
                    outcome["user"] = principal.subject
                data = req
                if body is not None:
                    from shared.validation import parse_body

                    data = parse_body(body, req.json())
                    outcome.update({name: getattr(data, name) for name in AUDIT_FIELDS
                                    if isinstance(getattr(data, name, None), str)})
                    bound: str | None = data.bound_user() if isinstance(data, BindsUser) else None
                    if bound is not None:
                        principal.require_user(bound)
                result = fn(data, principal, req)
                if isinstance(result, RawResponse):
                    outcome["status"] = result.status
                    return result.to_fc({**cors_out, **always})
                outcome["status"] = 200
                return response(200, {"code": 200, **result}, {**cors_out, **always})
            except AppError as exc:
                outcome.update(status=exc.status, error_code=exc.error_code, reason=exc.message)
                return response(exc.status, exc.body(), {**cors_out, **always, **exc.headers})
            except RecursionError:
                outcome.update(status=400, error_code="InvalidBody")
                return response(400, BadRequest("body: JSON nested too deeply", error_code="InvalidBody").body(),
                                cors_out)
            except Exception:
                logger.exception("unhandled error")
                return response(500, {"code": 500, "message": "internal error", "error_code": "InternalError"},
                                cors_out)
            finally:
                outcome["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
                logger.info("request done", extra=outcome)

        handler.__wrapped__ = fn  # type: ignore[attr-defined]
        handler.config_error = config_error  # type: ignore[attr-defined]  # read by the sandbox
        handler.settings_groups = settings  # type: ignore[attr-defined]  # read by the deploy checks
        return handler

    return wrap
