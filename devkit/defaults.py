"""Embedded development defaults: `aiagent dev` starts with no configuration at all.

These values are public and only good on a laptop. A variable already set in the
environment always wins. Deployed stages never see them (s.yaml does not use them).
"""
from __future__ import annotations

import os

DEV_TOKEN = "dev-client-token-change-me"
DEV_JWT_SECRET = "dev-only-jwt-secret-0123456789abcdef-not-for-prod"
DEV_CALLBACK_TOKEN = "dev-callback-token-change-me"
DEV_BUCKET = "aicall-archive-dev"

DEV_ENV: dict[str, str] = {
    "STAGE": "dev",
    "AUTH_MODE": "static",
    "AUTH_STATIC_TOKENS": DEV_TOKEN,
    "AUTH_JWT_SECRET": DEV_JWT_SECRET,
    "LIVE_MIC_APP_ID": "dev-artc-app-id",
    "LIVE_MIC_APP_KEY": "dev-artc-app-key-not-secret",
    "CALLBACK_TOKEN": DEV_CALLBACK_TOKEN,
    "ARCHIVE_BUCKET": DEV_BUCKET,
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
