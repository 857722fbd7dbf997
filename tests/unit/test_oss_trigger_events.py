import json

import pytest

from devkit.sandbox import oss_events
from shared import oss_trigger
from tests.support import sample


def test_sample_event_parses():
    [rec] = oss_trigger.parse(json.dumps(sample("fc_oss_trigger_event.json")).encode())
    assert rec.bucket == "aiagent-archive-dev" and rec.key == "call-logs/dt=2025-08-14/b9566xxxx3c5eb2.json"
    assert rec.size == 2539 and rec.event_name == "ObjectCreated:PutObject" and rec.region == "cn-shanghai"


def test_build_roundtrips_and_unquotes_keys():
    key = "callbacks/dt=2025-08-14/i 1/20250814T020000Z-ab-agent_stop.json"
    [rec] = oss_trigger.parse(oss_events.build("b", key, size=3, etag="abc"))
    assert rec.key == key and rec.etag == "ABC"
    assert " " not in oss_events.build("b", key, size=3, etag="e")["events"][0]["oss"]["object"]["key"]


@pytest.mark.parametrize("event", [b"nope", b"{}", b'{"events": []}', b'{"events": [{"oss": {}}]}', b"[]"])
def test_malformed(event):
    with pytest.raises(oss_trigger.InvalidOssEvent):
        oss_trigger.parse(event)
