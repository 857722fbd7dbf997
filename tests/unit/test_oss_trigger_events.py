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


def _object(**fields):
    obj = {"key": "k", "size": 1, "eTag": "e", **fields}
    return json.dumps({"events": [{"oss": {"bucket": {"name": "b"}, "object": obj}}]})


@pytest.mark.parametrize("event", [
    b"[" * 100_000,  # RecursionError inside json.loads
    _object(size="Infinity").replace('"Infinity"', "Infinity"),  # int(inf): OverflowError
    _object(size="NaN").replace('"NaN"', "NaN"),
    _object(size=[1]),
    json.dumps({"events": [{"oss": {"bucket": {"name": "b"}, "object": "not an object"}}]}),
    json.dumps({"events": [{"oss": {"bucket": {"name": "b"}, "object": ["key"]}}]}),
    json.dumps({"events": [{"oss": {"bucket": "b", "object": {"key": "k"}}}]}),
])
def test_malformed_beyond_json_shape(event):
    with pytest.raises(oss_trigger.InvalidOssEvent):
        oss_trigger.parse(event)


class _Ctx:
    request_id = "r"
    function = None


def test_a_record_asking_for_a_retry_does_not_keep_the_next_records_from_running():
    """FC retries the whole event: if the first record raised before the second ran, the
    second would get fewer attempts (none at all once FC's retries ran out)."""
    seen = []

    @oss_trigger.oss_triggered(settings=())
    def handler(record, context):
        seen.append(record.key)
        if record.key == "first":
            raise RuntimeError("not yet")
        return None

    event = {"events": oss_events.build("b", "first", size=1, etag="e")["events"]
             + oss_events.build("b", "second", size=1, etag="e")["events"]}
    with pytest.raises(RuntimeError, match="not yet"):
        handler(json.dumps(event).encode(), _Ctx())
    assert seen == ["first", "second"]
