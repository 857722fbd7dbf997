"""Our STS client (shared.clients.sts) against the STS simulator, every request's ACS3
signature checked: the answer parsed, arguments validated before anything is sent,
throttling retried within bounds, refusals mapped, and no credential in a log line or repr."""
import json
import time

import httpx
import pytest

from devkit.sims.sts import StsSimulator
from shared.clients import sts
from shared.errors import BadRequest, NotFound, Throttled, UpstreamError, UpstreamTimeout
from shared.settings import CloudCredentials, StsSettings, load

AK, SK = "sts-client-ak", "sts-client-sk-0123456789"
ROLE = "acs:ram::1234567890123456:role/aicall-client-upload"
POLICY = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:PutObject", "oss:GetObject"],
                                         "Resource": ["acs:oss:*:*:bucket/client-uploads/alice/*"]}]}


@pytest.fixture(scope="module")
def sim():
    s = StsSimulator({AK: SK}).start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _fresh(sim):
    sim.reset()
    yield
    sts.reset_client()


def client(sim, retries=2, **env):
    settings = load(StsSettings, {"STS_ENDPOINT": sim.endpoint, "STS_MAX_RETRIES": str(retries), **env})
    return sts.StsClient(settings, load(CloudCredentials, {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
                                                          "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK}))


def assume(c, **kw):
    args = {"role_arn": ROLE, "session_name": "alice", "duration_seconds": 900, "policy": POLICY, **kw}
    return c.assume_role(**args)


def test_success_is_parsed_and_scoped(sim):
    before = time.time()
    got = assume(client(sim))
    issued = sim.issued[got.access_key_id]
    assert got.access_key_id.startswith("STS.")
    assert (got.access_key_secret, got.security_token, got.expiration) == (
        issued.access_key_secret, issued.security_token, issued.expiration)
    assert got.expiration.endswith("Z") and got.expires_at == issued.expires_at
    assert before + 900 - 2 <= got.expires_at <= time.time() + 900 + 1
    assert sim.policy_for(got.access_key_id) == POLICY
    ((action, params),) = sim.calls
    assert action == "AssumeRole"
    assert params == {"RoleArn": ROLE, "RoleSessionName": "alice", "DurationSeconds": "900",
                      "Policy": json.dumps(POLICY, separators=(",", ":"))}


def test_every_call_issues_fresh_credentials_and_no_policy_means_the_roles_rights(sim):
    c = client(sim)
    a, b = assume(c, policy=None), assume(c, policy=None, session_name="bob")
    assert a.access_key_id != b.access_key_id and a.access_key_secret != b.access_key_secret
    assert sim.policy_for(a.access_key_id) is None and "Policy" not in sim.calls[0][1]
    with pytest.raises(KeyError):
        sim.policy_for("STS.never-issued")


def test_a_policy_string_travels_as_given(sim):
    text = json.dumps(POLICY, indent=1)
    got = assume(client(sim), policy=text)
    assert sim.calls[0][1]["Policy"] == text and sim.policy_for(got.access_key_id) == POLICY


@pytest.mark.parametrize("name", ["ab", "x" * 64, "u.1@a_b-c", "A-Z.0@9_"])
def test_valid_session_names(sim, name):
    assert assume(client(sim), session_name=name).access_key_id


@pytest.mark.parametrize("kw", [
    {"session_name": "a"}, {"session_name": "x" * 65}, {"session_name": "has space"}, {"session_name": "用户"},
    {"session_name": "a/b"}, {"session_name": ""}, {"session_name": "a*b"},
    {"duration_seconds": 899}, {"duration_seconds": 43201}, {"duration_seconds": True}, {"duration_seconds": "900"},
    {"policy": "not json"}, {"policy": "[1, 2]"}, {"policy": ["x"]},
    {"policy": {"Version": "1", "Statement": [{"Resource": ["x" * 2048]}]}},
    {"role_arn": ""},
])
def test_invalid_arguments_are_refused_before_anything_is_sent(sim, kw):
    with pytest.raises(ValueError):
        assume(client(sim), **kw)
    assert sim.count() == 0


def test_policy_length_limit_is_2048_characters(sim):
    pad = 2048 - len(json.dumps({"Version": "1", "Statement": [{"Resource": [""]}]}, separators=(",", ":")))
    at_limit = {"Version": "1", "Statement": [{"Resource": ["x" * pad]}]}
    assert len(json.dumps(at_limit, separators=(",", ":"))) == 2048
    got = assume(client(sim), policy=at_limit)
    assert sim.policy_for(got.access_key_id) == at_limit
    at_limit["Statement"][0]["Resource"][0] += "x"
    with pytest.raises(ValueError, match="2048"):
        assume(client(sim), policy=at_limit)


def test_throttling_is_retried_then_succeeds(sim):
    sim.inject(status=400, code="Throttling.Api", message="Request was denied due to api flow control.",
               times=2, action="AssumeRole", retry_after_ms=20)
    got = assume(client(sim, retries=2))
    assert got.access_key_id.startswith("STS.") and sim.count("AssumeRole") == 3
    assert len({p["RoleSessionName"] for _, p in sim.calls}) == 1


def test_throttling_beyond_the_retries_is_429(sim):
    sim.inject(status=400, code="Throttling.Api", times=5, retry_after_ms=1000)
    with pytest.raises(Throttled) as exc:
        assume(client(sim, retries=1))
    assert exc.value.status == 429 and exc.value.error_code == "Throttling.Api"
    assert exc.value.headers == {"Retry-After": "1"} and exc.value.request_id
    assert sim.count() == 2


def test_a_deadline_stops_the_retries(sim):
    sim.inject(status=400, code="Throttling.Api", times=5, retry_after_ms=1500)
    started = time.monotonic()
    with pytest.raises(Throttled):
        assume(client(sim, retries=5), deadline=time.monotonic() + 0.5)
    assert sim.count() == 1 and time.monotonic() - started < 0.5


def test_5xx_is_retried(sim):
    sim.inject(status=503, code="ServiceUnavailable", times=1)
    assert assume(client(sim)).access_key_id and sim.count() == 2


def test_timeouts_are_retried_then_504(sim):
    sim.inject(status=200, delay=0.4, times=2)  # a pure delay
    with pytest.raises(UpstreamTimeout) as exc:
        assume(client(sim, retries=1, STS_READ_TIMEOUT_SECONDS="0.1"))
    assert exc.value.status == 504 and exc.value.error_code == "STS.Timeout" and sim.count() == 2


@pytest.mark.parametrize("kw, code", [
    # Our client allows up to 43200 s (a role's longest session); a role chain caps it at 3600.
    ({"duration_seconds": 3601}, "InvalidParameter.DurationSeconds"),
    ({"role_arn": "acs:ram::123:user/alice"}, "InvalidParameter.RoleArn"),
    ({"policy": {"Statement": []}}, "InvalidParameter.PolicyGrammar"),
])
def test_4xx_is_not_retried_and_keeps_code_and_request_id(sim, kw, code):
    with pytest.raises(BadRequest) as exc:
        assume(client(sim), **kw)
    assert exc.value.status == 400 and exc.value.error_code == code and exc.value.request_id
    assert sim.count() == 1


@pytest.mark.parametrize("status, code, cls, want", [
    (403, "NoPermission", UpstreamError, 502),
    (404, "EntityNotExist.Role", NotFound, 404),
    (400, "InvalidSecurityToken.Expired", UpstreamError, 502),
])
def test_refusals_are_mapped_once(sim, status, code, cls, want):
    sim.inject(status=status, code=code, times=3)
    with pytest.raises(cls) as exc:
        assume(client(sim))
    assert exc.value.status == want and exc.value.error_code == code and sim.count() == 1


def test_our_wrong_secret_is_a_server_misconfiguration(sim):
    settings = load(StsSettings, {"STS_ENDPOINT": sim.endpoint})
    bad = sts.StsClient(settings, load(CloudCredentials, {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
                                                          "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "wrong-secret"}))
    with pytest.raises(UpstreamError) as exc:
        assume(bad)
    assert exc.value.status == 502 and exc.value.error_code == "SignatureDoesNotMatch"


def test_security_token_travels_and_is_checked():
    s = StsSimulator({AK: SK}, sts_tokens={AK: "caller-token-123456"}).start()
    try:
        settings = load(StsSettings, {"STS_ENDPOINT": s.endpoint, "STS_MAX_RETRIES": "0"})
        good = {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK,
                "ALIBABA_CLOUD_SECURITY_TOKEN": "caller-token-123456"}
        assert assume(sts.StsClient(settings, load(CloudCredentials, good))).access_key_id
        with pytest.raises(UpstreamError) as exc:
            assume(sts.StsClient(settings, load(CloudCredentials, {**good, "ALIBABA_CLOUD_SECURITY_TOKEN": "other"})))
        assert exc.value.error_code == "InvalidSecurityToken.Mismatch"
    finally:
        s.stop()


def mock_client(answer, status=200):
    def handle(request):
        return httpx.Response(status, json=answer)

    settings = load(StsSettings, {"STS_ENDPOINT": "http://sts.test", "STS_MAX_RETRIES": "2"})
    creds = load(CloudCredentials, {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK})
    return sts.StsClient(settings, creds, http=httpx.Client(transport=httpx.MockTransport(handle)))


FULL = {"AccessKeyId": "STS.abc", "AccessKeySecret": "partial-secret-value", "SecurityToken": "CAISpartialtoken",
        "Expiration": "2026-12-01T12:52:19Z"}


@pytest.mark.parametrize("answer", [
    {"RequestId": "R-1"},
    {"RequestId": "R-1", "Credentials": None},
    {"RequestId": "R-1", "Credentials": "x"},
    {"RequestId": "R-1", "Credentials": {k: v for k, v in FULL.items() if k != "SecurityToken"}},
    {"RequestId": "R-1", "Credentials": {**FULL, "AccessKeySecret": ""}},
    {"RequestId": "R-1", "Credentials": {**FULL, "Expiration": "tomorrow"}},
])
def test_an_incomplete_answer_is_sts_invalid_response(answer):
    with pytest.raises(UpstreamError) as exc:
        assume(mock_client(answer))
    err = exc.value
    assert err.status == 502 and err.error_code == "STS.InvalidResponse" and err.request_id == "R-1"
    assert "partial-secret-value" not in json.dumps(err.body()) and "CAISpartialtoken" not in json.dumps(err.body())


def test_the_documented_sample_answer_parses():
    sample = {"RequestId": "6894B13B-6D71-4EF5-88FA-F32781734A7F",
              "AssumedRoleUser": {"Arn": "acs:ram::123456789012****:role/aicall-client-upload/alice",
                                  "AssumedRoleId": "34458433936495****:alice"},
              "Credentials": {"SecurityToken": "CAIS8AF1q6Ft5B2yfSjIr5bkHs3G****",
                              "AccessKeyId": "STS.NUgYrLnoC37mZZCNnAbez****",
                              "AccessKeySecret": "CDUDfCzB5n2jd8bkLaPrVBNoeYwu4sj1H5ZL5Ej9****",
                              "Expiration": "2026-12-01T12:52:19Z"}}
    got = assume(mock_client(sample))
    assert got.expiration == "2026-12-01T12:52:19Z" and got.expires_at == 1796129539.0
    assert got.access_key_id == "STS.NUgYrLnoC37mZZCNnAbez****"


def test_no_credential_reaches_a_log_line_or_a_repr(sim, logs):
    from shared.log import logger

    old = logger.log_level
    logger.setLevel("DEBUG")
    try:
        sim.inject(status=400, code="Throttling.Api", times=1, retry_after_ms=10)
        got = assume(client(sim))
        sim.inject(status=400, code="InvalidParameter.PolicyGrammar", message=f"echo {SK}", times=1)
        with pytest.raises(BadRequest) as exc:
            assume(client(sim))
    finally:
        logger.setLevel(old)
    text = logs.getvalue()
    assert "sts call failed" in text and "sts call" in text  # the logging did happen
    for secret in (got.access_key_secret, got.security_token, SK):
        assert secret not in text
        assert secret not in repr(got) and secret not in str(got)
        assert secret not in json.dumps(exc.value.body())
    assert got.access_key_id in repr(got) and got.expiration in repr(got)


def test_get_client_is_cached_and_reset(monkeypatch, sim):
    monkeypatch.setenv("STS_ENDPOINT", sim.endpoint)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SK)
    c = sts.get_client()
    assert sts.get_client() is c and c.settings.endpoint == sim.endpoint
    assert assume(c).access_key_id
    sts.reset_client()
    assert sts.get_client() is not c


def test_default_endpoint_is_the_public_sts():
    assert load(StsSettings, {}).endpoint == "https://sts.aliyuncs.com"
