"""Client uploads (voiceprint recordings): temporary OSS credentials scoped to the caller's own
prefix (getOssConfig), and the check that a voiceprint's audio lies there (setAIAgentVoiceprint).

Each user uploads under `<CLIENT_UPLOAD_PREFIX><user_id>/` of CLIENT_UPLOAD_BUCKET. getOssConfig
assumes CLIENT_UPLOAD_ROLE_ARN through STS with an inline policy that allows only
`oss:PutObject` and `oss:GetObject` (a presigned GET made with STS credentials works only if they
may read) on that prefix; the effective rights are the intersection with the role's own.
Credentials are cached per user and warm instance until REFRESH_MARGIN_SECONDS before they
expire (STS allows 100 AssumeRole calls per second per account). They are never logged.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import shared.archive.layout as layout
from shared.errors import BadRequest, ConfigurationError
from shared.settings import ClientUploadSettings, load

# Served credentials stay valid at least this long (the kits upload, then presign a GET).
REFRESH_MARGIN_SECONDS = 300
# STAGE=dev without CLIENT_UPLOAD_ROLE_ARN: a placeholder the sandbox's STS simulator accepts.
DEV_ROLE_ARN = "acs:ram::1000000000000000:role/aicall-dev-client-upload"


def check_at_cold_start() -> None:
    """getOssConfig's cold start: CLIENT_UPLOAD_ROLE_ARN is set (outside STAGE=dev, which uses a
    placeholder the sandbox's STS accepts), and CLIENT_UPLOAD_PREFIX does not overlap the
    archive's prefixes in the same bucket (the archive's triggers listen there; clients write here)."""
    settings = load(ClientUploadSettings)
    if settings.CLIENT_UPLOAD_ROLE_ARN is None and settings.STAGE != "dev":
        raise ConfigurationError(f"configuration invalid: CLIENT_UPLOAD_ROLE_ARN: is required when "
                                 f"STAGE={settings.STAGE} (the RAM role upload credentials are assumed from)")
    prefix = settings.CLIENT_UPLOAD_PREFIX
    if settings.bucket == settings.ARCHIVE_BUCKET and any(
            prefix.startswith(p) or p.startswith(prefix) for p in layout.ALL_PREFIXES):
        raise ConfigurationError(f"configuration invalid: CLIENT_UPLOAD_PREFIX: must not overlap the archive's "
                                 f"prefixes ({', '.join(layout.ALL_PREFIXES)}) in the archive bucket")


def base_path(settings: ClientUploadSettings, user_id: str) -> str:
    """`<prefix><user_id>` (no trailing slash: the kits upload to `{base_path}/{file}`)."""
    return f"{settings.CLIENT_UPLOAD_PREFIX}{user_id}"


def policy_document(bucket: str, path: str) -> dict[str, Any]:
    """The inline STS policy: put and get on the caller's prefix only."""
    return {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:PutObject", "oss:GetObject"],
                                           "Resource": [f"acs:oss:*:*:{bucket}/{path}/*"]}]}


def session_name(user_id: str) -> str:
    """RoleSessionName (2-64 of A-Za-z0-9.@_-): names the user in ActionTrail."""
    return f"aicall-{user_id}"[:64]


_cache: dict[str, Any] = {}
_lock = threading.Lock()


def credentials_for(user_id: str, settings: ClientUploadSettings, sts: Any, *, now: float | None = None) -> Any:
    """Temporary credentials for `user_id`'s prefix, from the cache while they last."""
    now = time.time() if now is None else now
    with _lock:
        cached = _cache.get(user_id)
    if cached is not None and cached.expires_at - now > REFRESH_MARGIN_SECONDS:
        return cached
    bucket = settings.bucket
    assert bucket is not None  # ClientUploadSettings guarantees it
    fresh = sts.assume_role(role_arn=settings.CLIENT_UPLOAD_ROLE_ARN or DEV_ROLE_ARN,
                            session_name=session_name(user_id), duration_seconds=settings.CLIENT_UPLOAD_TTL_SECONDS,
                            policy=policy_document(bucket, base_path(settings, user_id)))
    with _lock:
        _cache[user_id] = fresh
    return fresh


def reset_cache() -> None:
    with _lock:
        _cache.clear()


def oss_config_response(user_id: str, settings: ClientUploadSettings, creds: Any) -> dict[str, Any]:
    """getOssConfig's answer, as the kits read it (`region` in the `oss-<region>` form)."""
    return {"region": f"oss-{settings.OSS_REGION}", "bucket": settings.bucket,
            "access_key_id": creds.access_key_id, "access_key_secret": creds.access_key_secret,
            "sts_token": creds.security_token, "base_path": base_path(settings, user_id),
            "expiration": creds.expiration}


# --- setAIAgentVoiceprint's input ----------------------------------------------------------------

def voiceprint_input(value: dict | str, user_id: str, settings: ClientUploadSettings) -> dict[str, Any]:
    """The `input` of setAIAgentVoiceprint (an object or a JSON string), checked: `Type` "oss",
    `Format` "wav", and `Data` naming an object under the caller's own upload prefix, as
    `oss://<bucket>/<key>` or `https://<bucket>.oss-<region>.aliyuncs.com/<key>[?signature]`."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BadRequest("input: must be a JSON object or a string holding one",
                             error_code="InvalidParameter") from None
    if not isinstance(value, dict):
        raise BadRequest("input: must be a JSON object or a string holding one", error_code="InvalidParameter")
    if value.get("Type", "oss") != "oss":
        raise BadRequest("input.Type: must be \"oss\"", error_code="InvalidParameter")
    if value.get("Format", "wav") != "wav":
        raise BadRequest("input.Format: must be \"wav\" (ICE takes WAV only)", error_code="InvalidParameter")
    data = value.get("Data")
    if not isinstance(data, str) or not data or len(data) > 4096:
        raise BadRequest("input.Data: must be the URL of the uploaded recording", error_code="InvalidParameter")
    key = _upload_key(data, settings)
    prefix = base_path(settings, user_id) + "/"
    if key is None or not key.startswith(prefix) or len(key) == len(prefix):
        raise BadRequest(f"input.Data: must name an object you uploaded under {prefix} in bucket "
                         f"{settings.bucket} (oss:// or https://<bucket>.oss-<region>.aliyuncs.com/)",
                         error_code="InvalidVoiceprintInput")
    return {**value, "Type": "oss", "Format": "wav"}


def _upload_key(data: str, settings: ClientUploadSettings) -> str | None:
    """The object key `data` names in the upload bucket, or None if it names anything else."""
    bucket = settings.bucket
    if data.startswith("oss://"):
        name, sep, raw_key = data[len("oss://"):].partition("/")
        if name != bucket or not sep or "?" in raw_key or "#" in raw_key:
            return None
    else:
        try:
            parts = urlsplit(data)
            port = parts.port
        except ValueError:
            return None
        host = f"{bucket}.oss-{settings.OSS_REGION}.aliyuncs.com"
        if (parts.scheme != "https" or parts.hostname != host or parts.netloc.lower() != host or port is not None
                or parts.fragment):
            return None
        raw_key = parts.path[1:]
    key = unquote(raw_key)
    segments = key.split("/")
    if any(seg in ("", ".", "..") for seg in segments) or any(ord(c) < 32 or c in "\\\x7f" for c in key):
        return None
    return key
