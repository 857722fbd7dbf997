"""FC OSS-trigger events (SPEC 8, samples/fc_oss_trigger_event.json) -> typed records."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True)
class ObjectCreated:
    """One object-created notification."""

    event_name: str
    bucket: str
    key: str
    size: int
    etag: str
    region: str
    event_time: str


class InvalidOssEvent(ValueError):
    """The event is not an OSS trigger event (nothing to retry: it never will be)."""


def parse(event: bytes | str | dict) -> list[ObjectCreated]:
    """Every record of an OSS trigger event; the object key URL-decoded."""
    if isinstance(event, (bytes, bytearray, str)):
        try:
            event = json.loads(event)
        except ValueError:
            raise InvalidOssEvent("event is not JSON") from None
    records = event.get("events") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        raise InvalidOssEvent("event has no `events` list")
    out = []
    for i, rec in enumerate(records):
        try:
            oss: dict[str, Any] = rec["oss"]
            obj = oss["object"]
            out.append(ObjectCreated(
                event_name=str(rec.get("eventName", "")),
                bucket=str(oss["bucket"]["name"]),
                key=unquote(str(obj["key"])),
                size=int(obj.get("size") or 0),
                etag=str(obj.get("eTag") or "").strip('"'),
                region=str(rec.get("region", "")),
                event_time=str(rec.get("eventTime", "")),
            ))
        except (KeyError, TypeError, ValueError):
            raise InvalidOssEvent(f"events[{i}] is not an OSS object record") from None
    return out


def build(bucket: str, key: str, *, size: int, etag: str, region: str = "cn-shanghai",
          event_name: str = "ObjectCreated:PutObject", account: str = "1234567890123456",
          event_time: str | None = None) -> dict[str, Any]:
    """An OSS trigger event as FC delivers it (the sandbox emits these; tests use them)."""
    import time
    from urllib.parse import quote

    return {"events": [{
        "eventName": event_name,
        "eventSource": "acs:oss",
        "eventTime": event_time or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "eventVersion": "1.0",
        "oss": {
            "bucket": {"arn": f"acs:oss:{region}:{account}:{bucket}", "name": bucket, "ownerIdentity": account},
            "object": {"deltaSize": size, "eTag": etag.upper(), "key": quote(key, safe="/"), "size": size},
            "ossSchemaVersion": "1.0",
            "ruleId": "sandbox",
        },
        "region": region,
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"requestId": "sandbox"},
        "userIdentity": {"principalId": account},
    }]}
