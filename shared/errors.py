"""One error model for every entry point, mapped to HTTP status codes in one place.

Raise one of these anywhere below a handler; `shared.http` turns it into the JSON
body `{"code", "message", "error_code", "request_id"?}` with `status` as HTTP status.
"""
from __future__ import annotations


class AppError(Exception):
    """Base of every error a client may see. Its message must never hold a secret."""

    status: int = 500
    error_code: str = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        error_code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        if status is not None:
            self.status = status
        self.request_id = request_id
        self.headers = headers or {}

    def body(self) -> dict:
        """The JSON body of this error as the client kits expect it."""
        out: dict = {"code": self.status, "message": self.message, "error_code": self.error_code}
        if self.request_id:
            out["request_id"] = self.request_id
        return out


class BadRequest(AppError):
    """The caller's input is malformed or invalid (names the field)."""

    status = 400
    error_code = "InvalidParameter"


class Unauthorized(AppError):
    """Server-to-server caller (ICE callbacks) presented no or a wrong token."""

    status = 401
    error_code = "Unauthorized"


class Forbidden(AppError):
    """Client authorization failed. The client kits read 403 as 'log in again'."""

    status = 403
    error_code = "Forbidden"


class NotFound(AppError):
    status = 404
    error_code = "NotFound"


class MethodNotAllowed(AppError):
    status = 405
    error_code = "MethodNotAllowed"


class PayloadTooLarge(AppError):
    status = 413
    error_code = "PayloadTooLarge"


class UnsupportedMediaType(AppError):
    status = 415
    error_code = "UnsupportedMediaType"


class Throttled(AppError):
    status = 429
    error_code = "Throttling"


class ConfigurationError(AppError):
    """A setting is missing or invalid; the message names the variable, never its value."""

    status = 500
    error_code = "ConfigurationError"


class UpstreamError(AppError):
    """An upstream service (ICE, CCAI, OSS) failed; status tells whose fault it is."""

    status = 502
    error_code = "UpstreamError"


class UpstreamTimeout(UpstreamError):
    status = 504
    error_code = "UpstreamTimeout"


class StorageError(AppError):
    """The object store could not durably take or give an object (so callers retry)."""

    status = 503
    error_code = "StorageUnavailable"
