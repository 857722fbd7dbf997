"""Upstream error -> AppServer status: whose fault is it? And the ICE client's retry bounds."""
import json

import httpx
import pytest

from shared.clients import retry
from shared.clients.ice import IceClient
from shared.errors import BadRequest, NotFound, Throttled, UpstreamError, UpstreamTimeout
from shared.settings import CloudCredentials, IceSettings, load


@pytest.mark.parametrize("status, code, want_cls, want_status", [
    (400, "InvalidParameter", BadRequest, 400),
    (400, "MissingParameter", BadRequest, 400),
    (404, "InvalidInstanceId.NotFound", NotFound, 404),
    (400, "Forbidden.AIAgentInstanceNotExist", NotFound, 404),
    (429, "Throttling", Throttled, 429),
    (400, "Throttling.User", Throttled, 429),
    (403, "Forbidden.RAM", UpstreamError, 502),
    (400, "SignatureDoesNotMatch", UpstreamError, 502),
    (404, "InvalidAccessKeyId.NotFound", UpstreamError, 502),
    (400, "InvalidSecurityToken.Expired", UpstreamError, 502),
    (500, "InternalError", UpstreamError, 502),
    (503, "ServiceUnavailable", UpstreamError, 502),
])
def test_mapping(status, code, want_cls, want_status):
    err = retry.map_error("ICE", status, code, "upstream says", "RID-1", {})
    assert isinstance(err, want_cls) and err.status == want_status
    assert err.body()["error_code"] == code and err.body()["request_id"] == "RID-1"
    assert err.status != 403


def test_auth_failures_do_not_echo_upstream_detail():
    err = retry.map_error("ICE", 400, "SignatureDoesNotMatch",
                             "server string to sign is: ACS3-HMAC-SHA256\nabc Signature=deadbeef", "R", {})
    assert "deadbeef" not in err.message and "string to sign" not in err.message


def test_retry_after_is_milliseconds_and_becomes_a_header():
    assert retry.retry_after_seconds({"x-acs-retry-after": "1500"}) == 1.5
    assert retry.retry_after_seconds({"x-acs-retry-after": "0"}) is None
    assert retry.retry_after_seconds({"x-acs-retry-after": "soon"}) is None
    err = retry.map_error("ICE", 400, "Throttling.User", "", "R", {"x-acs-retry-after": "2500"})
    assert isinstance(err, Throttled) and err.headers["Retry-After"] == "2"


def client(handler, retries=2, read_timeout=5.0):
    settings = load(IceSettings, {"ICE_ENDPOINT": "http://ice.test", "ICE_MAX_RETRIES": str(retries),
                                  "ICE_READ_TIMEOUT_SECONDS": str(read_timeout)})
    creds = load(CloudCredentials, {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk"})
    return IceClient(settings, creds, http=httpx.Client(transport=httpx.MockTransport(handler)))


def responder(status, code, headers=None, calls=None):
    def handle(request):
        calls.append(request)
        return httpx.Response(status, headers=headers or {}, json={"Code": code, "Message": "m", "RequestId": "R"})
    return handle


@pytest.mark.parametrize("status, code, headers, attempts, exc", [
    (500, "InternalError", None, 3, UpstreamError),
    (503, "ServiceUnavailable", None, 3, UpstreamError),
    (429, "Throttling", {"x-acs-retry-after": "10"}, 3, Throttled),
    (400, "InvalidParameter", None, 1, BadRequest),
    (403, "Forbidden.RAM", None, 1, UpstreamError),
    (404, "InvalidInstanceId.NotFound", None, 1, NotFound),
])
def test_retries_only_5xx_and_throttling_and_are_bounded(status, code, headers, attempts, exc):
    calls = []
    with pytest.raises(exc):
        client(responder(status, code, headers, calls)).describe_ai_agent_instance("i1")
    assert len(calls) == attempts
    # every attempt is freshly signed (a reused nonce would be refused)
    assert len({r.headers["x-acs-signature-nonce"] for r in calls}) == attempts


def test_timeout_is_504_after_retries():
    calls = []

    def slow(request):
        calls.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(UpstreamTimeout) as exc:
        client(slow, retries=1).describe_ai_agent_instance("i1")
    assert exc.value.status == 504 and len(calls) == 2


def test_success_and_omitted_params():
    seen = []

    def ok(request):
        seen.append(request)
        return httpx.Response(200, json={"RequestId": "R", "Token": "t"})

    out = client(ok).generate_message_chat_token(ai_agent_id="a", user_id="u")
    assert out["Token"] == "t"
    q = dict(httpx.QueryParams(seen[0].url.query))
    assert q == {"AIAgentId": "a", "UserId": "u"}  # None never travels as "None"/"null"
    assert seen[0].headers["x-acs-action"] == "GenerateMessageChatToken"
    assert json.loads(json.dumps(dict(seen[0].headers)))["authorization"].startswith("ACS3-HMAC-SHA256 ")


def test_secrets_in_ice_answers_are_removed_at_any_depth_and_in_json_strings():
    from shared.api.answers import instance_response, without_secrets

    nested = {"AuthToken": "s1", "VoiceChat": {"authtoken": "s2", "ChannelId": "c"}, "List": [{"AuthToken": "s3"}]}
    assert without_secrets(nested) == {"VoiceChat": {"ChannelId": "c"}, "List": [{}]}
    assert json.loads(without_secrets(json.dumps(nested))) == {"VoiceChat": {"ChannelId": "c"}, "List": [{}]}
    assert without_secrets("not json") == "not json" and without_secrets(None) is None
    out = instance_response({"Instance": {"RuntimeConfig": json.dumps(nested), "Status": "Executing"}})
    assert "s1" not in json.dumps(out) and "s2" not in json.dumps(out) and "s3" not in json.dumps(out)
