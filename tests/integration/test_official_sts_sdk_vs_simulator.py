"""The official STS SDK (alibabacloud_sts20150401) and our STS client send the same
AssumeRole: the SDK's signed request verifies in our simulator (whose check is our own
canonicalization), our signer reproduces the SDK's Authorization, and the request our
client builds for the same arguments, date and nonce has the SDK's query and headers."""
import json
from urllib.parse import parse_qsl

import pytest

from devkit.sims.sts import StsSimulator
from shared.clients import acs3 as acs
from shared.clients import sts
from shared.clients.rpc import param_value
from shared.settings import CloudCredentials, StsSettings, load

ROLE = "acs:ram::1234567890123456:role/aicall-client-upload"


def policy_for(bucket_path: str) -> dict:
    return {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:PutObject", "oss:GetObject"],
                                           "Resource": [f"acs:oss:*:*:{bucket_path}/*"]}]}


# (session name, duration, policy): plain, odd characters in the policy, none, the longest name.
CASES = [
    ("alice", 900, policy_for("bucket/client-uploads/alice")),
    ("u.1@x_y-z", 3600, policy_for("bucket/client-uploads/用户 ünï*~+=&%20")),
    ("bob", 1800, None),
    ("s" * 64, 900, json.dumps(policy_for("bucket/p"), indent=2)),
]


@pytest.fixture(scope="module", params=[None, "sts-token-abc/+=="])
def sim(request):
    token = request.param
    s = StsSimulator({"ak-sdk": "sk-sdk"}, sts_tokens={"ak-sdk": token} if token else None).start()
    yield s, token
    s.stop()


def creds(token):
    values = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak-sdk", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk-sdk"}
    if token:
        values["ALIBABA_CLOUD_SECURITY_TOKEN"] = token
    return load(CloudCredentials, values)


def sdk(endpoint, token, secret="sk-sdk"):
    from alibabacloud_sts20150401.client import Client
    from alibabacloud_tea_openapi import models as am

    return Client(am.Config(access_key_id="ak-sdk", access_key_secret=secret, security_token=token,
                            endpoint=endpoint.split("//")[1], protocol="http"))


def ours(endpoint, token):
    return sts.StsClient(load(StsSettings, {"STS_ENDPOINT": endpoint, "STS_MAX_RETRIES": "0"}), creds(token))


def sdk_request(session, duration, policy):
    from alibabacloud_sts20150401 import models as m

    text = policy if isinstance(policy, str) or policy is None else param_value(policy)
    return m.AssumeRoleRequest(role_arn=ROLE, role_session_name=session, duration_seconds=duration, policy=text)


@pytest.mark.parametrize("session, duration, policy", CASES)
def test_sdk_and_our_client_both_verify_and_send_the_same_params(sim, session, duration, policy):
    s, token = sim
    s.reset()
    resp = sdk(s.endpoint, token).assume_role(sdk_request(session, duration, policy))
    body = resp.body
    assert body.credentials.access_key_id.startswith("STS.") and body.credentials.expiration.endswith("Z")
    assert body.assumed_role_user.arn == f"{ROLE}/{session}" and body.request_id
    got = ours(s.endpoint, token).assume_role(role_arn=ROLE, session_name=session, duration_seconds=duration,
                                             policy=policy)
    assert got.access_key_id.startswith("STS.") and got.access_key_id != body.credentials.access_key_id
    (sdk_action, sdk_params), (our_action, our_params) = s.calls
    assert sdk_action == our_action == "AssumeRole"
    assert sdk_params == our_params
    want = None if policy is None else policy if isinstance(policy, dict) else json.loads(policy)
    assert s.policy_for(got.access_key_id) == s.policy_for(body.credentials.access_key_id) == want


@pytest.mark.parametrize("session, duration, policy", CASES)
def test_same_request_and_same_authorization_as_the_sdk(sim, verified_requests, session, duration, policy):
    s, token = sim
    sdk(s.endpoint, token).assume_role(sdk_request(session, duration, policy))
    method, path, raw_query, headers, body = verified_requests[-1]
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    # 1. Our signer over the SDK's own signed header set, nonce and date: the SDK's Authorization.
    names = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    ours_auth = acs.authorization(method=method, path=path, query=params, headers={n: headers[n] for n in names},
                                  body=body, access_key_id="ak-sdk", access_key_secret="sk-sdk")
    assert ours_auth == headers["authorization"]
    # 2. What our client builds from the same arguments (not from the SDK's query), date and nonce.
    ours_params = sts.assume_role_params(role_arn=ROLE, session_name=session, duration_seconds=duration,
                                         policy=policy)
    prepared = sts.prepare("AssumeRole", ours_params, endpoint=s.endpoint, credentials=creds(token),
                           date=headers["x-acs-date"], nonce=headers["x-acs-signature-nonce"])
    assert (prepared.method, prepared.path, prepared.body) == (method, path, body)
    assert prepared.query == params
    assert acs.canonical_query(prepared.query) == acs.canonical_query(params)
    assert prepared.headers["x-acs-content-sha256"] == headers["x-acs-content-sha256"] == acs.sha256_hex(body)
    for h in ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "host"):
        assert prepared.headers[h] == headers[h]
    assert prepared.headers["x-acs-version"] == "2015-04-01"
    assert prepared.headers.get("x-acs-security-token") == headers.get("x-acs-security-token")
    # 3. Our own signature over our header set verifies with the same server check.
    from devkit.sims.acs_verify import Verifier

    qs = prepared.url.split("?", 1)[1]
    verifier = Verifier({"ak-sdk": "sk-sdk"}, {"ak-sdk": token} if token else None)
    assert verifier.verify("POST", "/", qs, prepared.headers, b"") == "ak-sdk"


def test_the_sdk_reads_the_simulators_answer_like_ours(sim):
    s, token = sim
    body = sdk(s.endpoint, token).assume_role(sdk_request("carol", 900, None)).body
    c = body.credentials
    assert sts.parse_expiration(c.expiration) == pytest.approx(s.issued[c.access_key_id].expires_at)
    assert (c.access_key_secret, c.security_token) == (s.issued[c.access_key_id].access_key_secret,
                                                       s.issued[c.access_key_id].security_token)
    assert body.assumed_role_user.assumed_role_id.endswith(":carol")


def test_wrong_secret_is_refused(sim):
    s, token = sim
    with pytest.raises(Exception) as exc:
        sdk(s.endpoint, token, secret="nope").assume_role(sdk_request("alice", 900, None))
    assert getattr(exc.value, "code", "") == "SignatureDoesNotMatch"


@pytest.mark.parametrize("duration, policy, code", [
    (3601, None, "InvalidParameter.DurationSeconds"),
    (899, None, "InvalidParameter.DurationSeconds"),
    (900, "not json", "InvalidParameter.PolicyGrammar"),
    (900, json.dumps({"Version": "1", "Statement": [{"Effect": "Allow", "Resource": ["x" * 2048]}]}),
     "InvalidParameter.PolicyGrammar"),
])
def test_sts_refusals_reach_the_sdk_with_their_codes(sim, duration, policy, code):
    from alibabacloud_sts20150401 import models as m

    s, token = sim
    with pytest.raises(Exception) as exc:
        sdk(s.endpoint, token).assume_role(m.AssumeRoleRequest(role_arn=ROLE, role_session_name="alice",
                                                               duration_seconds=duration, policy=policy))
    assert getattr(exc.value, "code", "") == code
    assert getattr(exc.value, "status_code", None) == 400
