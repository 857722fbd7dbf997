import base64
import json

import pytest

from shared.errors import BadRequest, PayloadTooLarge
from shared.http import Headers, cors_headers, parse_event, response
from tests.support import http_event, sample


def test_fc_http_trigger_sample_parses():
    req = parse_event(json.dumps(sample("fc_http_trigger_event.json")).encode(), max_body=65536)
    assert req.method == "POST" and req.path == "/api/v2/aiagent/getRtcAuthToken"
    assert req.headers.get("authorization") == "Bearer <client token>"
    assert req.headers.get("CONTENT-TYPE") == "application/json"
    assert req.json() == {"user_id": "user_001", "channel_id": ""}
    assert req.request_id == "1-64f6cd87-15fc9a9b-2a8f8c4e6d3c"


def test_api_gateway_format_parses():
    event = {"path": "/api/v2/aiagent/getRtcAuthToken", "httpMethod": "post", "headers": {"X-A": "1"},
             "queryParameters": {"q": "v"}, "pathParameters": {}, "isBase64Encoded": True,
             "body": base64.b64encode(b'{"user_id":"u"}').decode()}
    req = parse_event(json.dumps(event), max_body=65536)
    assert (req.method, req.path, req.query, req.json()) == ("POST", "/api/v2/aiagent/getRtcAuthToken",
                                                              {"q": "v"}, {"user_id": "u"})


def test_base64_body_and_bad_base64():
    req = parse_event(http_event({"a": 1}, base64_body=True), max_body=65536)
    assert req.json() == {"a": 1}
    event = json.loads(http_event({"a": 1}))
    event["isBase64Encoded"] = True
    event["body"] = "***not base64***"
    with pytest.raises(BadRequest, match="base64"):
        parse_event(json.dumps(event), max_body=65536)


@pytest.mark.parametrize("b64", [False, True])
def test_body_limit(b64):
    ok = http_event(raw_body="x" * 1024, base64_body=b64)
    assert len(parse_event(ok, max_body=1024).body) == 1024
    with pytest.raises(PayloadTooLarge):
        parse_event(http_event(raw_body="x" * 1025, base64_body=b64), max_body=1024)


@pytest.mark.parametrize("event", [b"not json", b"[1,2]", b'{"body": 5}', b'{"requestContext": "x", "body": 1}'])
def test_malformed_events_are_bad_requests(event):
    with pytest.raises(BadRequest):
        parse_event(event, max_body=65536)


def test_headers_lists_are_comma_joined():
    assert Headers({"X-A": ["1", "2"]}).get("x-a") == "1,2"


def test_cors():
    assert cors_headers("https://a.example", ("*",)) == {"Access-Control-Allow-Origin": "*"}
    assert cors_headers("https://a.example", ("https://a.example",))["Access-Control-Allow-Origin"] == "https://a.example"
    assert "Access-Control-Allow-Origin" not in cors_headers("https://evil.example", ("https://a.example",))


def test_response_is_compact_utf8_json():
    r = response(200, {"code": 200, "t": "你好"})
    assert r["body"] == '{"code":200,"t":"你好"}' and r["isBase64Encoded"] is False
