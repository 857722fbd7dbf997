"""ARTC authentication tokens (docs/protocols.md#client-api): the algorithm of Alibaba's ARTC token doc.

token = sha256_hex(app_id + app_key + channel_id + user_id + nonce + str(timestamp))
rtc_auth_token = base64(compact JSON in the official key order).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence

DEFAULT_GSLB = ("https://gw.rtn.aliyuncs.com",)


def new_channel_id() -> str:
    """A fresh channel id: a random (version 4) UUID as 32 lowercase hex characters."""
    # os.urandom instead of the uuid module: same result, without importing `platform`.
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def signature(app_id: str, app_key: str, channel_id: str, user_id: str, nonce: str, timestamp: int) -> str:
    """The `token` field: lowercase hex SHA-256 of the concatenated fields."""
    raw = f"{app_id}{app_key}{channel_id}{user_id}{nonce}{timestamp}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def build(
    *,
    app_id: str,
    app_key: str,
    channel_id: str,
    user_id: str,
    timestamp: int,
    nonce: str = "",
    gslb: Sequence[str] = DEFAULT_GSLB,
) -> str:
    """The base64 `rtc_auth_token` for one user in one channel, valid until `timestamp`."""
    # Key order and compact separators are what the official server emits.
    doc = {
        "gslb": list(gslb),
        "appid": app_id,
        "userid": user_id,
        "nonce": nonce,
        "channelid": channel_id,
        "timestamp": int(timestamp),
        "token": signature(app_id, app_key, channel_id, user_id, nonce, int(timestamp)),
    }
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def parse(rtc_auth_token: str) -> dict:
    """Decode an `rtc_auth_token` back into its JSON fields (for tests and tooling)."""
    return json.loads(base64.b64decode(rtc_auth_token, validate=True))
