"""Structured JSON logs through Powertools' Logger, with redaction.

One module-level `logger` per process. The FC request id is the correlation id.
Nothing secret reaches a log line: values of sensitive keys are masked, token and
signature shapes are masked wherever they appear, and every configured secret value
(registered by `shared.settings`) is replaced by `***` in the final line.
"""
from __future__ import annotations

import os
import re
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.logger import Logger

from shared import lazyre

MASK = "***"

_SENSITIVE_KEY = lazyre.compile(
    r"authorization|secret|password|passwd|signature|credential|cookie|token$|"
    r"access_?key|app_?key|api_?key|app_?sign|private_?key|security_?token",
    re.IGNORECASE,
)
# Shapes of secrets inside free text: bearer values, JWT/base64-JSON tokens, ACS3 parts.
_SENSITIVE_TEXT = [
    (lazyre.compile(r"(?i)\b(bearer)\s+[^\s\"',;\\]+"), r"\1 " + MASK),
    (lazyre.compile(r"eyJ[A-Za-z0-9_\-+/=]{8,}(?:\.[A-Za-z0-9_\-+/=]*){0,2}"), MASK),
    (lazyre.compile(r"(?i)(signature=)[0-9a-f]+"), r"\1" + MASK),
    (lazyre.compile(r"(?i)(credential=)[^,\s\"\\]+"), r"\1" + MASK),
    (lazyre.compile(r"(?i)(security-token[\"':= ]+)[^\s\"',;\\]+"), r"\1" + MASK),
]
# One cheap scan tells whether any of the patterns above can match at all.
_ANY_SHAPE = lazyre.compile(r"(?i)bearer|eyJ|signature=|credential=|security-token")
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value in every future log line (ignored if trivially short)."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact_text(text: str) -> str:
    """Mask known secret values and secret-shaped substrings in `text`."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if _ANY_SHAPE.search(text):
        for pattern, repl in _SENSITIVE_TEXT:
            text = pattern.sub(repl, text)
    return text


def redact(value: Any, *, text: bool = True, _depth: int = 0) -> Any:
    """A copy of `value` with values of sensitive keys masked (and, if `text`, secret
    shapes scrubbed from every string)."""
    if _depth > 20:
        return MASK
    if isinstance(value, dict):
        return {
            k: (MASK if isinstance(k, str) and _SENSITIVE_KEY.search(k) and v not in (None, "", 0)
                else redact(v, text=text, _depth=_depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v, text=text, _depth=_depth + 1) for v in value]
    if text and isinstance(value, str):
        return redact_text(value)
    return value


class _RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict) -> str:  # type: ignore[override]
        # Structure first (masks by key), then the whole line (catches secrets that
        # ended up inside messages, exception text or reprs).
        return redact_text(super().serialize(redact(log, text=False)))


logger = Logger(
    service=os.environ.get("POWERTOOLS_SERVICE_NAME", "aicall-appserver"),
    level=os.environ.get("LOG_LEVEL", "INFO").upper(),
    logger_formatter=_RedactingFormatter(),
)
# FC's python runtime puts its own (unredacted) handler on the root logger: never
# let our records reach it, or every line would be printed twice, once unmasked.
logger._logger.propagate = False


def start_request(request_id: str | None, function_name: str | None = None) -> None:
    """Bind this invocation's correlation id (the FC request id) to every log line."""
    logger.set_correlation_id(request_id)
    if function_name:
        logger.append_keys(function=function_name)
