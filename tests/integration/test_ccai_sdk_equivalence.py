"""Our AnalyzeConversation request is the official SDK's (alibabacloud_contactcenterai20240603)
for the same input: same method, path, body bytes, content hash and signed headers,
and our signer gives the SDK's Authorization for the same nonce and date. Both are
verified_requests where the CCAI simulator verifies them (the simulator's check is our
canonicalization, so the SDK verifying there also proves we agree on the signed form)."""
import json

import pytest

from devkit.sims.ccai import CcaiSimulator
from shared.analysis import dialog
from shared.analysis import profile as profiles
from shared.clients import acs3 as acs
from shared.clients import ccai
from shared.settings import CcaiSettings, CloudCredentials, load

AK, SK = "ak-ccai-sdk", "sk-ccai-sdk"
TEXTS = ["plain", "with space", "star*tilde~slash/", "中文 ünïcödé \"quoted\" \\ back", "x" * 4000, "a+b=c&d %20",
         "line\nbreak\ttab", "emoji 😀 and \u2028 separator"]


@pytest.fixture(scope="module", params=[None, "sts-token-ccai/+=="])
def sim(request):
    token = request.param
    s = CcaiSimulator({AK: SK}, workspace_id="ws-1", app_id="app_2",
                      sts_tokens={AK: token} if token else None).start()
    yield s, token
    s.stop()


def credentials(token):
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": AK, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK}
    if token:
        env["ALIBABA_CLOUD_SECURITY_TOKEN"] = token
    return load(CloudCredentials, env)


def sdk_client(endpoint, token):
    from alibabacloud_contactcenterai20240603.client import Client
    from alibabacloud_tea_openapi import models as am

    return Client(am.Config(access_key_id=AK, access_key_secret=SK, security_token=token,
                            endpoint=endpoint.split("//")[1], protocol="http"))


def sdk_request(body):
    """The typed SDK request a developer would build by hand for `body` (keyword arguments,
    so no defaults are added)."""
    from alibabacloud_contactcenterai20240603 import models as m

    d = body["dialogue"]
    kw = {"dialogue": m.AnalyzeConversationRequestDialogue(
        session_id=d["sessionId"],
        sentences=[m.AnalyzeConversationRequestDialogueSentences(role=s["role"], text=s["text"]) for s in d["sentences"]]),
        "result_types": body["resultTypes"], "stream": body["stream"], "model_code": body.get("modelCode"),
        "scene_name": body.get("sceneName")}
    if body.get("fields"):
        kw["fields"] = [m.AnalyzeConversationRequestFields(
            code=f["code"], name=f["name"], desc=f.get("desc"),
            enum_values=[m.AnalyzeConversationRequestFieldsEnumValues(enum_value=e["enumValue"], desc=e.get("desc"))
                         for e in f["enumValues"]] if f.get("enumValues") else None) for f in body["fields"]]
    if body.get("serviceInspection"):
        si = body["serviceInspection"]
        kw["service_inspection"] = m.AnalyzeConversationRequestServiceInspection(
            scene_introduction=si["sceneIntroduction"], inspection_introduction=si["inspectionIntroduction"],
            inspection_contents=[m.AnalyzeConversationRequestServiceInspectionInspectionContents(
                title=c["title"], content=c["content"]) for c in si["inspectionContents"]])
    return m.AnalyzeConversationRequest(**kw)


def body_for(text, stream=False):
    profile = profiles.load_profile("default")
    raw_turns = [{"begin": 2.0, "role": "user", "text": text}, {"begin": 1.0, "role": "agent", "text": "你好 " + text}]
    return dialog.request_body(profile, dialog.sentences(raw_turns), "session " + text[:20], stream)


@pytest.mark.parametrize("text", TEXTS)
def test_same_request_and_same_authorization_as_the_sdk(sim, verified_requests, text):
    s, token = sim
    body = body_for(text)
    answer = sdk_client(s.endpoint, token).analyze_conversation("ws-1", "app_2", sdk_request(body))
    assert answer.status_code == 200 and answer.body.success is True
    method, path, raw_query, headers, sent = verified_requests[-1]
    # 1. Our signer over the SDK's own signed header set, nonce and date: the SDK's Authorization.
    names = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    ours_auth = acs.authorization(method=method, path=path, query={}, headers={n: headers[n] for n in names},
                                  body=sent, access_key_id=AK, access_key_secret=SK)
    assert ours_auth == headers["authorization"]
    # 2. The request our client builds for the same input, date and nonce: the same bytes.
    prepared = ccai.prepare(body, endpoint=s.endpoint, workspace_id="ws-1", app_id="app_2",
                            credentials=credentials(token), date=headers["x-acs-date"],
                            nonce=headers["x-acs-signature-nonce"])
    assert (prepared.method, prepared.path, raw_query) == (method, path, "")
    assert prepared.body == sent
    assert json.loads(sent) == body
    for h in ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256", "host",
              "content-type", "accept"):
        assert prepared.headers[h] == headers[h], h
    assert prepared.headers.get("x-acs-security-token") == headers.get("x-acs-security-token")
    # 3. Over the same header set the SDK signs, our Authorization is the SDK's.
    same = {n: (prepared.headers[n] if n in prepared.headers else headers[n]) for n in names}
    assert acs.authorization(method="POST", path=prepared.path, query={}, headers=same, body=prepared.body,
                             access_key_id=AK, access_key_secret=SK) == headers["authorization"]


def test_our_client_is_verified_and_answered_like_the_sdk(sim, verified_requests):
    s, token = sim
    body = body_for("hello")
    sdk_answer = sdk_client(s.endpoint, token).analyze_conversation("ws-1", "app_2", sdk_request(body)).body.to_map()
    settings = load(CcaiSettings, {"CCAI_ENDPOINT": s.endpoint, "CCAI_WORKSPACE_ID": "ws-1", "CCAI_APP_ID": "app_2"})
    ours = ccai.CcaiClient(settings, credentials(token)).analyze(body)
    assert ours.body["text"] == sdk_answer["text"]
    assert {k: v for k, v in ours.body.items() if k != "requestId"} == \
        {k: v for k, v in sdk_answer.items() if k != "requestId"}
    assert verified_requests[-1][4] == verified_requests[-2][4]  # the same body bytes on the wire


def test_sdk_model_from_map_only_adds_empty_lists(sim, verified_requests):
    """Building the SDK request from a dict adds [] for list fields it knows; nothing else differs."""
    from alibabacloud_contactcenterai20240603 import models as m

    s, token = sim
    body = body_for("from map")
    sdk_client(s.endpoint, token).analyze_conversation("ws-1", "app_2", m.AnalyzeConversationRequest().from_map(body))
    sdk_body = json.loads(verified_requests[-1][4])

    def strip_empty(v):
        if isinstance(v, dict):
            return {k: strip_empty(x) for k, x in v.items() if x != []}
        if isinstance(v, list):
            return [strip_empty(x) for x in v]
        return v

    assert strip_empty(sdk_body) == strip_empty(body) and set(sdk_body) - set(body) <= {"categoryTags", "examples", "userProfiles", "timeConstraintList"}


def test_the_simulator_refuses_a_wrong_secret_from_the_sdk(sim):
    from alibabacloud_contactcenterai20240603.client import Client
    from alibabacloud_tea_openapi import models as am

    s, token = sim
    bad = Client(am.Config(access_key_id=AK, access_key_secret="wrong", security_token=token,
                           endpoint=s.endpoint.split("//")[1], protocol="http"))
    with pytest.raises(Exception) as exc:
        bad.analyze_conversation("ws-1", "app_2", sdk_request(body_for("x")))
    assert getattr(exc.value, "code", "") == "SignatureDoesNotMatch"
