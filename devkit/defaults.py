"""Embedded development defaults: `aiagent dev` starts with no configuration at all.

These values are public and only good on a laptop. A variable already set in the
environment always wins. Deployed stages never see them (s.yaml does not use them),
and refuse them if they do: `shared/settings/__init__.py` keeps the SHA-256 of DEV_TOKEN,
DEV_JWT_SECRET, DEV_CALLBACK_TOKEN and DEV_RECORDING_NOTIFY_KEY (`is_dev_secret`); change one here and
tests/unit/test_dev_secrets.py asks you to update its fingerprint there.
"""
from __future__ import annotations

import os

DEV_TOKEN = "dev-client-token-change-me"
DEV_JWT_SECRET = "dev-only-jwt-secret-0123456789abcdef-not-for-prod"
DEV_CALLBACK_TOKEN = "dev-callback-token-change-me"
# The sandbox's own /_sandbox/ endpoints (object listing and content, upstream endpoints):
# a token of their own, so holding the callback token (ICE's) does not open them.
DEV_SANDBOX_TOKEN = "dev-sandbox-token-change-me"
DEV_BUCKET = "aicall-archive-dev"
# ARTC cloud recording's NotifyAuthKey (16-64 letters and digits): signs the recording callbacks.
DEV_RECORDING_NOTIFY_KEY = "devRecordingNotifyKey0123456789"

DEV_ENV: dict[str, str] = {
    "STAGE": "dev",
    "AUTH_MODE": "static",
    "AUTH_STATIC_TOKENS": DEV_TOKEN,
    "AUTH_JWT_SECRET": DEV_JWT_SECRET,
    "LIVE_MIC_APP_ID": "dev-artc-app-id",
    "LIVE_MIC_APP_KEY": "dev-artc-app-key-not-secret",
    "CALLBACK_TOKEN": DEV_CALLBACK_TOKEN,
    "SANDBOX_TOKEN": DEV_SANDBOX_TOKEN,
    "ARCHIVE_BUCKET": DEV_BUCKET,
    "RECORDING_NOTIFY_KEY": DEV_RECORDING_NOTIFY_KEY,
}


def apply(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Fill unset (or empty) variables with the development defaults; return what was filled."""
    env = os.environ if environ is None else environ
    filled = {}
    for name, value in DEV_ENV.items():
        if not env.get(name):
            env[name] = value
            filled[name] = value
    return filled
