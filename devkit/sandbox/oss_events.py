"""OSS trigger events as Function Compute delivers them, for the sandbox, the CLI and tests.

The shipped side only parses these (`shared.oss_trigger.parse`); building them is
development tooling (the sandbox's trigger emulation, `aiagent smoke`, benchmarks).
"""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote


def build(bucket: str, key: str, *, size: int, etag: str, region: str = "cn-shanghai",
          event_name: str = "ObjectCreated:PutObject", account: str = "1234567890123456",
          event_time: str | None = None) -> dict[str, Any]:
    """One object-created event (docs/protocols.md#function-compute-runtime): the key
    URL-encoded, the ETag upper-case, as OSS sends them."""
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
