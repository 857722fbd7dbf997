"""ARTC cloud recording: the official Live SDK (alibabacloud_live20161101) and our client
(`shared.clients.live`) send StartRtcCloudRecording, StopRtcCloudRecording and
DescribeRtcCloudRecordingFiles for the same inputs; the simulator verifies both signatures
and receives the same parameters (JSON values compared parsed, and the Start query is even
byte for byte the SDK's: same Authorization). Then the simulator itself: refusals, the MP4 it
writes into a real S3-compatible store (moto over HTTP), the signed callbacks a local HTTP
receiver gets, and its faults (lost, delayed, resent callbacks; API failures)."""
import hashlib
import json
import re
import socket
import struct
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import pytest

pytest.importorskip("alibabacloud_live20161101",
                    reason="the official Live SDK is not installed (pip install alibabacloud_live20161101)")

from devkit.httpserver import QuickHandler, serve_in_thread, shutdown  # noqa: E402
from devkit.sims.live import LiveSimulator  # noqa: E402
from shared.clients import acs3 as acs  # noqa: E402
from shared.clients import live  # noqa: E402
from shared.errors import AppError, BadRequest, NotFound, Throttled, UpstreamError  # noqa: E402
from shared.settings import CloudCredentials, LiveSettings, load  # noqa: E402

JSON_PARAMS = ("SubscribeParams", "RecordParams", "StorageParams", "MixTranscodeParams", "MixLayoutParams")
KEY = "abcDEF0123456789abcdXYZ"
ENDPOINT = "oss-cn-shanghai.aliyuncs.com"

CASES: list[dict[str, Any]] = [
    dict(app_id="a0b1c2d3", channel_id="70f22d5784194938a7e387052f2b3208", user_ids=["user-1", "AGENT_70f22d57"],
         bucket="aicall-archive", path_prefix="recordings/dt=2026-12-01/u1", notify_url="https://api.example.com/cb",
         notify_key=KEY, max_idle_seconds=300, video=False),
    dict(app_id="a0b1c2d3", channel_id="70f22d5784194938a7e387052f2b3208", user_ids=["user-1", "AGENT_70f22d57"],
         bucket="aicall-archive", path_prefix="recordings/dt=2026-12-01/u1", notify_url="https://api.example.com/cb",
         notify_key=KEY, max_idle_seconds=600, video=True),
    dict(app_id="app*~+", channel_id="chan 用户&=", user_ids=["solo 1*~"], bucket="b-1", path_prefix=["录音", "a b+c"],
         notify_url="http://127.0.0.1:9/cb?a=b+c&d=%20e", notify_key=None, max_idle_seconds=10, video=True),
    dict(app_id="a", channel_id="c", user_ids=[f"u{i}" for i in range(5)], bucket="abc", path_prefix="p",
         notify_url=None, notify_key=None, max_idle_seconds=14400, video=False),
]
# The grid the SDK request is written with, independently of `live.layout`.
PANES = {1: [("0", "0", "1", "1")], 2: [("0", "0.25", "0.5", "0.5"), ("0.5", "0.25", "0.5", "0.5")]}


# --- fixtures and helpers -----------------------------------------------------------

@pytest.fixture(scope="module", params=[None, "sts-token-abc/+=="])
def sim(request):
    token = request.param
    # Its callbacks go nowhere (every one "lost": no connection to the example URLs); uploads happen.
    s = LiveSimulator({"ak-sdk": "sk-sdk"}, sts_tokens={"ak-sdk": token} if token else None,
                      auto_deliver=False, lose_callbacks=1.0).start()
    yield s, token
    s.stop()


def creds(token=None):
    values = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak-sdk", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk-sdk"}
    if token:
        values["ALIBABA_CLOUD_SECURITY_TOKEN"] = token
    return load(CloudCredentials, values)


def sdk(endpoint, token=None, secret="sk-sdk"):
    from alibabacloud_live20161101.client import Client
    from alibabacloud_tea_openapi import models as am

    return Client(am.Config(access_key_id="ak-sdk", access_key_secret=secret, security_token=token,
                            endpoint=endpoint.split("//")[1], protocol="http"))


def ours(endpoint, token=None, retries=0):
    return live.LiveClient(load(LiveSettings, {"LIVE_ENDPOINT": endpoint, "LIVE_MAX_RETRIES": str(retries)}),
                           creds(token))


def folders(prefix):
    return prefix.removesuffix("/").split("/") if isinstance(prefix, str) else list(prefix)


def sdk_start_request(c, *, upload_format=True):
    """The documented request, written with the SDK's models (not with `live.start_params`)."""
    from alibabacloud_live20161101 import models as m

    stream = 0 if c["video"] else 1
    subscribe = [m.StartRtcCloudRecordingRequestSubscribeParamsSubscribeUserIdList(
        user_id=u, stream_type=stream, source_type=0 if c["video"] else None) for u in c["user_ids"]]
    transcode = m.StartRtcCloudRecordingRequestMixTranscodeParams(audio_sample_rate=32000, audio_channels=1,
                                                                  audio_bitrate=64)
    layout = None
    if c["video"]:
        transcode = m.StartRtcCloudRecordingRequestMixTranscodeParams(
            audio_sample_rate=32000, audio_channels=1, audio_bitrate=64, video_width=1280, video_height=720,
            video_framerate=15, video_bitrate=1500, video_gop=30, video_codec="H.264")
        layout = m.StartRtcCloudRecordingRequestMixLayoutParams(user_panes=[
            m.StartRtcCloudRecordingRequestMixLayoutParamsUserPanes(user_id=u, source_type=0, x=x, y=y, width=w,
                                                                    height=h, zorder=0)
            for u, (x, y, w, h) in zip(c["user_ids"], PANES[len(c["user_ids"])])])
    return m.StartRtcCloudRecordingRequest(
        app_id=c["app_id"], channel_id=c["channel_id"],
        subscribe_params=m.StartRtcCloudRecordingRequestSubscribeParams(subscribe_user_id_list=subscribe),
        record_params=m.StartRtcCloudRecordingRequestRecordParams(record_mode=1, stream_type=stream,
                                                                  max_file_duration=7200),
        storage_params=m.StartRtcCloudRecordingRequestStorageParams(
            storage_type=1,
            ossparams=m.StartRtcCloudRecordingRequestStorageParamsOSSParams(ossbucket=c["bucket"],
                                                                            ossendpoint=ENDPOINT),
            file_info=[m.StartRtcCloudRecordingRequestStorageParamsFileInfo(
                format="MP4", file_path_prefix=folders(c["path_prefix"]))]),
        mix_transcode_params=transcode, mix_layout_params=layout,
        notify_url=c["notify_url"], notify_auth_key=c["notify_key"],
        notify_file_uploaded_format=["MP4"] if c["notify_url"] and upload_format else None,
        max_idle_time=c["max_idle_seconds"])


def start_ours(client, c, **over):
    return client.start_rtc_cloud_recording(**{**c, "oss_endpoint": ENDPOINT, **over})


def parsed(params):
    return {k: json.loads(v) if k in JSON_PARAMS else v for k, v in params.items()}


def sdk_code(call):
    with pytest.raises(Exception) as exc:
        call()
    return getattr(exc.value, "code", None), getattr(exc.value, "status_code", None)


# --- the SDK and our client -----------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=["audio", "video", "odd-characters", "five-audio-no-callbacks"])
def test_start_from_the_sdk_and_from_us_verify_with_the_same_params(sim, case):
    if case["video"] and len(case["user_ids"]) not in PANES:
        pytest.skip("no hand-written grid for this many users")
    s, token = sim
    s.reset()
    resp = sdk(s.endpoint, token).start_rtc_cloud_recording(sdk_start_request(case))
    assert resp.status_code == 200 and resp.body.task_id in s.tasks and resp.body.request_id
    out = start_ours(ours(s.endpoint, token), case)
    assert out["TaskId"] in s.tasks and out["TaskId"] != resp.body.task_id and out["RequestId"]
    (sdk_action, sdk_params), (our_action, our_params) = s.calls
    assert sdk_action == our_action == "StartRtcCloudRecording"
    assert parsed(sdk_params) == parsed(our_params)
    assert sdk_params == our_params  # the same JSON text too: keys in the SDK's order
    assert ("MixLayoutParams" in our_params) is case["video"]
    if case["notify_url"]:
        assert our_params["NotifyFileUploadedFormat.1"] == "MP4"


@pytest.mark.parametrize("case", CASES[:3], ids=["audio", "video", "odd-characters"])
def test_start_request_and_authorization_are_the_sdks(sim, verified_requests, case):
    s, token = sim
    sdk(s.endpoint, token).start_rtc_cloud_recording(sdk_start_request(case))
    method, path, raw_query, headers, body = verified_requests[-1]
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    # What our client builds from the same inputs, with the SDK's date and nonce.
    ours_params = live.start_params(**{**case, "oss_endpoint": ENDPOINT})
    prepared = live.prepare(live.START, ours_params, endpoint=s.endpoint, credentials=creds(token),
                            date=headers["x-acs-date"], nonce=headers["x-acs-signature-nonce"])
    assert (prepared.method, prepared.path, prepared.body) == (method, path, body)
    assert prepared.query == params
    for h in ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "host"):
        assert prepared.headers[h] == headers[h]
    assert prepared.headers.get("x-acs-security-token") == headers.get("x-acs-security-token")
    # Our signer over the SDK's own signed header set gives the SDK's Authorization.
    names = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert acs.authorization(method=method, path=path, query=params, headers={n: headers[n] for n in names},
                             body=body, access_key_id="ak-sdk", access_key_secret="sk-sdk") == headers["authorization"]


def test_stop_and_describe_send_the_same_params_and_read_the_same_answer(sim):
    from alibabacloud_live20161101 import models as m

    s, token = sim
    task_id = start_ours(ours(s.endpoint, token), CASES[0])["TaskId"]
    s.reset()
    client = sdk(s.endpoint, token)
    assert client.describe_rtc_cloud_recording_files(
        m.DescribeRtcCloudRecordingFilesRequest(task_id=task_id)).body.task_info.status == "RUNNING"
    assert ours(s.endpoint, token).describe_rtc_cloud_recording_files(task_id)["TaskInfo"]["Status"] == "RUNNING"
    assert client.stop_rtc_cloud_recording(m.StopRtcCloudRecordingRequest(task_id=task_id)).body.request_id
    assert ours(s.endpoint, token).stop_rtc_cloud_recording(task_id)["RequestId"]  # stopping twice: no error
    (a1, p1), (a2, p2), (a3, p3), (a4, p4) = s.calls
    assert (a1, a2, a3, a4) == ("DescribeRtcCloudRecordingFiles", "DescribeRtcCloudRecordingFiles",
                                "StopRtcCloudRecording", "StopRtcCloudRecording")
    assert p1 == p2 == p3 == p4 == {"TaskId": task_id}
    s.deliver_pending()  # the upload (no store: kept in `files`)
    info = client.describe_rtc_cloud_recording_files(m.DescribeRtcCloudRecordingFilesRequest(task_id=task_id)).body
    mine = ours(s.endpoint, token).describe_rtc_cloud_recording_files(task_id)["TaskInfo"]
    assert info.task_info.status == mine["Status"] == "STOPPED" and info.task_info.task_id == task_id
    assert info.task_info.record_file_list.mp_4file_list == mine["RecordFileList"]["Mp4FileList"] == s.tasks[
        task_id].files
    assert len(s.tasks[task_id].files) == 1  # stopped twice, uploaded once


def test_a_wrong_secret_is_refused_for_both(sim):
    s, token = sim
    code, status = sdk_code(lambda: sdk(s.endpoint, token, secret="nope").start_rtc_cloud_recording(
        sdk_start_request(CASES[0])))
    assert (code, status) == ("SignatureDoesNotMatch", 400)
    bad = live.LiveClient(load(LiveSettings, {"LIVE_ENDPOINT": s.endpoint, "LIVE_MAX_RETRIES": "0"}), load(
        CloudCredentials, {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak-sdk", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "nope",
                           **({"ALIBABA_CLOUD_SECURITY_TOKEN": token} if token else {})}))
    with pytest.raises(UpstreamError) as exc:
        bad.describe_rtc_cloud_recording_files("t")
    assert exc.value.error_code == "SignatureDoesNotMatch" and exc.value.status == 502


def test_another_version_is_refused(sim):
    import httpx

    from shared.clients import rpc

    s, token = sim
    req = rpc.prepare("StopRtcCloudRecording", {"TaskId": "t"}, version="2020-11-09", endpoint=s.endpoint,
                      credentials=creds(token))
    resp = httpx.post(req.url, headers=req.headers, content=req.body, trust_env=False)
    assert resp.status_code == 400 and resp.json()["Code"] == "InvalidVersion"


def test_sdk_gets_the_services_refusals(sim):
    from alibabacloud_live20161101 import models as m

    s, token = sim
    client = sdk(s.endpoint, token)

    def req(**over):
        r = sdk_start_request(CASES[1])
        for k, v in over.items():
            setattr(r, k, v)
        return r

    pane = m.StartRtcCloudRecordingRequestMixLayoutParamsUserPanes(user_id="u", x="2", y="0", width="1", height="1")
    bad_transcode = m.StartRtcCloudRecordingRequestMixTranscodeParams(audio_sample_rate=32000, audio_channels=3,
                                                                      audio_bitrate=64)
    cases = [
        (req(mix_transcode_params=None), "MissingParameter"),  # required in mixed mode
        (req(mix_layout_params=None), "MissingParameter"),  # required when the output has video
        (req(mix_layout_params=m.StartRtcCloudRecordingRequestMixLayoutParams(user_panes=[pane])), "InvalidParameter"),
        (req(notify_auth_key="short"), "InvalidParameter"),
        (req(max_idle_time=5), "InvalidParameter"),
        (req(mix_transcode_params=bad_transcode), "InvalidParameter"),
        (req(app_id=None), "MissingParameter"),
        (req(subscribe_params=m.StartRtcCloudRecordingRequestSubscribeParams(subscribe_user_id_list=[])),
         "MissingParameter"),
    ]
    before = len(s.tasks)
    for request, code in cases:
        assert sdk_code(lambda r=request: client.start_rtc_cloud_recording(r)) == (code, 400)
    assert len(s.tasks) == before
    assert sdk_code(lambda: client.stop_rtc_cloud_recording(m.StopRtcCloudRecordingRequest(task_id="nope"))) == (
        "InvalidTaskId.NotFound", 404)
    with pytest.raises(NotFound):
        ours(s.endpoint, token).stop_rtc_cloud_recording("nope")


def test_a_list_sent_as_json_text_is_refused(sim):
    s, token = sim
    params = {**live.start_params(**{**CASES[0], "oss_endpoint": ENDPOINT}), "NotifyFileUploadedFormat": ["MP4"]}
    params.pop("NotifyFileUploadedFormat.1")
    with pytest.raises(BadRequest) as exc:
        ours(s.endpoint, token).call(live.START, params)
    assert exc.value.error_code == "InvalidParameter"


# --- the simulator over real HTTP: store, callbacks, faults --------------------------

class Receiver:
    """A tiny recording-callback endpoint: keeps every request; answers 200
    {"Code":0,"Msg":"Success"} unless `script` says otherwise (a status, or ("sleep", s))."""

    def __init__(self):
        self.got: list[tuple[float, dict[str, str], dict]] = []  # (arrival monotonic, headers lower-cased, body)
        self.script: list[Any] = []
        self.always: int | None = None  # a status answered to every request
        self.lock = threading.Lock()
        rec = self

        class Handler(QuickHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with rec.lock:
                    rec.got.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
                    action = rec.script.pop(0) if rec.script else rec.always
                if isinstance(action, tuple):
                    time.sleep(action[1])
                    action = None
                self.send_json(action or 200, {"Code": 0, "Msg": "Success"})

        self.server = serve_in_thread(Handler, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/live?src=sim"

    def events(self):
        with self.lock:
            return [b["eventType"] for _, _, b in self.got]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    shutdown(r.server)


@pytest.fixture
def running():
    """Simulators started by a test, stopped after it."""
    sims = []

    def make(**kw):
        s = LiveSimulator({"ak-sdk": "sk-sdk"}, **kw).start()
        sims.append(s)
        return s

    yield make
    for s in sims:
        s.stop()


def case_for(receiver, bucket="aicall-archive", **over):
    return {**CASES[1], "bucket": bucket, "notify_url": receiver.url,
            "path_prefix": f"recordings/test-live/{uuid.uuid4().hex[:8]}", **over}


def boxes(data):
    """ISO BMFF boxes of `data`: [(type, payload)], checking that the sizes tile it exactly."""
    out, i = [], 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        assert size >= 8 and i + size <= len(data), "box overruns its parent"
        out.append((kind.decode(), data[i + 8:i + size]))
        i += size
    assert i == len(data)
    return out


def child(payload, kind):
    return next(p for k, p in boxes(payload) if k == kind)


def test_stop_uploads_an_mp4_to_the_store_and_every_callback_is_signed(oss_env, receiver, running):
    from shared.clients import object_store

    store = object_store.get_store()
    s = running(store=store)
    client = ours(s.endpoint)
    c = case_for(receiver, bucket=oss_env.bucket, notify_key=KEY)
    before = time.time()
    task_id = start_ours(client, c)["TaskId"]
    assert s.drain()
    assert receiver.events() == ["TaskCreated", "TaskStarting", "TaskRunning"]
    assert client.describe_rtc_cloud_recording_files(task_id)["TaskInfo"]["RecordFileList"]["Mp4FileList"] == []
    s.recorded_seconds = 64.2
    client.stop_rtc_cloud_recording(task_id)
    assert s.drain()
    assert receiver.events() == ["TaskCreated", "TaskStarting", "TaskRunning", "TaskStopping", "RecordFileUploaded",
                                 "TaskStopped"]
    last_ts = 0
    for _, headers, body in receiver.got:
        stamp = headers["ali-live-timestamp"]
        assert headers["ali-live-signature"] == hashlib.md5(f"{stamp}|{KEY}".encode()).hexdigest()
        assert live.callback_signature(stamp, KEY) == headers["ali-live-signature"]
        assert before - 5 <= int(stamp) <= time.time() + 5
        assert headers["content-type"].startswith("application/json")
        assert set(body) == {"appId", "channelId", "taskId", "eventType", "callbackTs", "payload"}
        assert (body["appId"], body["channelId"], body["taskId"]) == (c["app_id"], c["channel_id"], task_id)
        assert isinstance(body["payload"], str) and isinstance(json.loads(body["payload"]), dict)
        assert body["callbackTs"] >= last_ts and abs(body["callbackTs"] / 1000 - time.time()) < 60
        last_ts = body["callbackTs"]
    uploaded = json.loads(receiver.got[4][2]["payload"])
    key = uploaded["fileName"]
    assert uploaded == {"fileFormat": "MP4", "fileName": key, "duration": 64.2}
    assert re.fullmatch(re.escape(f"{c['path_prefix']}/{task_id}/{c['app_id']}_{c['channel_id']}_")
                        + r"\d{4}-\d{2}-\d{2}-\d{2}:\d{2}:\d{2}\.mp4", key)
    # The object, read back over HTTP from the S3-compatible store: a small valid MP4.
    data, info = store.get(key)
    assert info.size == len(data) < 2048
    top = boxes(data)
    assert [k for k, _ in top] == ["ftyp", "moov"] and top[0][1][:4] == b"isom"
    moov = top[1][1]
    mvhd = child(moov, "mvhd")
    timescale, duration = struct.unpack(">II", mvhd[12:20])
    assert duration / timescale == pytest.approx(64.2)
    mdia = child(child(moov, "trak"), "mdia")
    assert child(mdia, "hdlr")[8:12] == b"soun"
    stsd = child(child(child(mdia, "minf"), "stbl"), "stsd")
    assert stsd[8:12] and boxes(stsd[8:])[0][0] == "mp4a"
    described = client.describe_rtc_cloud_recording_files(task_id)["TaskInfo"]
    assert described == {"TaskId": task_id, "Status": "STOPPED",
                         "RecordFileList": {"Mp4FileList": [key], "Mp3FileList": [], "HlsFileList": []}}
    assert [cb.outcome for cb in s.callbacks] == ["delivered"] * 6
    assert all(cb.attempts == [200] for cb in s.callbacks)


def test_start_refuses_a_bucket_the_store_is_not(oss_env, receiver, running):
    from shared.clients import object_store

    s = running(store=object_store.get_store())
    with pytest.raises(BadRequest):
        start_ours(ours(s.endpoint), case_for(receiver, bucket="another-bucket"))
    assert not s.tasks


def test_without_a_key_callbacks_are_unsigned_and_without_upload_format_no_file_event(receiver, running):
    s = running()
    c = case_for(receiver, notify_key=None)
    req = sdk_start_request(c, upload_format=False)
    task_id = sdk(s.endpoint).start_rtc_cloud_recording(req).body.task_id
    ours(s.endpoint).stop_rtc_cloud_recording(task_id)
    assert s.drain()
    assert receiver.events() == ["TaskCreated", "TaskStarting", "TaskRunning", "TaskStopping", "TaskStopped"]
    assert all("ali-live-signature" not in h and "ali-live-timestamp" not in h for _, h, _ in receiver.got)
    assert len(s.tasks[task_id].files) == 1  # the file exists; only its callback was not asked for


def test_lost_callbacks_by_event_type(receiver, running):
    s = running(lose_callbacks={"TaskStarting", "RecordFileUploaded"})
    client = ours(s.endpoint)
    task_id = start_ours(client, case_for(receiver))["TaskId"]
    client.stop_rtc_cloud_recording(task_id)
    assert s.drain()
    assert receiver.events() == ["TaskCreated", "TaskRunning", "TaskStopping", "TaskStopped"]
    assert s.events(task_id, "lost") == ["TaskStarting", "RecordFileUploaded"]
    assert s.tasks[task_id].files  # the file was uploaded all the same


def test_lost_callbacks_by_probability_are_reproducible(receiver, running):
    outcomes = []
    for _ in range(2):
        receiver.got.clear()
        s = running(lose_callbacks=0.5, seed=7)
        client = ours(s.endpoint)
        for _ in range(3):
            client.stop_rtc_cloud_recording(start_ours(client, case_for(receiver))["TaskId"])
        assert s.drain()
        sent = [cb.event_type for cb in s.callbacks if cb.outcome == "delivered"]
        assert sorted(receiver.events()) == sorted(sent)
        outcomes.append([cb.outcome for cb in s.callbacks])
    assert outcomes[0] == outcomes[1]  # same seed, same losses
    assert "lost" in outcomes[0] and "delivered" in outcomes[0]
    s = running(lose_callbacks=1.0)
    start_ours(ours(s.endpoint), case_for(receiver))
    assert s.drain() and {cb.outcome for cb in s.callbacks} == {"lost"}


def test_delayed_callbacks(receiver, running):
    s = running(delay_callbacks_s=0.3)
    started = time.monotonic()
    start_ours(ours(s.endpoint), case_for(receiver))
    assert s.drain()
    arrivals = [t for t, _, _ in receiver.got]
    assert len(arrivals) == 3 and arrivals[0] - started >= 0.3 and arrivals[2] - started >= 0.9


def test_a_callback_is_resent_once_after_a_5xx_or_a_timeout(receiver, running):
    s = running(callback_timeout_s=0.3)
    # TaskCreated: 503 then 200; TaskStarting: no answer in time, then 500; TaskRunning: 200.
    receiver.script = [503, 200, ("sleep", 0.8), 500]
    start_ours(ours(s.endpoint), case_for(receiver))
    assert s.drain()
    assert [(cb.event_type, cb.attempts, cb.outcome) for cb in s.callbacks] == [
        ("TaskCreated", [503, 200], "delivered"), ("TaskStarting", ["timeout", 500], "failed"),
        ("TaskRunning", [200], "delivered")]
    assert receiver.events() == ["TaskCreated", "TaskCreated", "TaskStarting", "TaskStarting", "TaskRunning"]
    first, again = receiver.got[0][2], receiver.got[1][2]
    assert first == again  # the same message resent (same callbackTs)


def test_a_refusal_under_500_is_not_resent(receiver, running):
    s = running()
    receiver.always = 404
    start_ours(ours(s.endpoint), case_for(receiver))
    assert s.drain()
    assert [(cb.attempts, cb.outcome) for cb in s.callbacks] == [([404], "refused")] * 3
    assert len(receiver.got) == 3


def test_an_unreachable_receiver_gets_one_resend(running):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    s = running()
    start_ours(ours(s.endpoint), {**CASES[0], "notify_url": f"http://127.0.0.1:{port}/cb"})
    assert s.drain()
    assert [(cb.attempts, cb.outcome) for cb in s.callbacks] == [(["error", "error"], "failed")] * 3


def test_api_faults_start_is_sent_once_describe_retries(receiver, running):
    s = running()
    client = ours(s.endpoint, retries=2)
    s.inject(status=503, code="ServiceUnavailable", action="StartRtcCloudRecording")
    with pytest.raises(UpstreamError) as exc:
        start_ours(client, case_for(receiver))
    assert exc.value.error_code == "ServiceUnavailable" and s.count("StartRtcCloudRecording") == 1 and not s.tasks
    s.inject(status=400, code="Throttling.User", action="StartRtcCloudRecording", retry_after_ms=1000)
    with pytest.raises(Throttled):
        start_ours(client, case_for(receiver))
    task_id = start_ours(client, case_for(receiver))["TaskId"]
    s.inject(status=500, code="InternalError", action="DescribeRtcCloudRecordingFiles")
    assert client.describe_rtc_cloud_recording_files(task_id)["TaskInfo"]["Status"] == "RUNNING"
    assert s.count("DescribeRtcCloudRecordingFiles") == 2


def test_a_start_that_times_out_is_not_retried(receiver, running):
    s = running()
    client = live.LiveClient(load(LiveSettings, {"LIVE_ENDPOINT": s.endpoint, "LIVE_MAX_RETRIES": "2",
                                                 "LIVE_READ_TIMEOUT_SECONDS": "0.3"}), creds())
    s.inject(status=200, delay=0.8, action="StartRtcCloudRecording")  # a pure stall: the task is created late
    with pytest.raises(AppError) as exc:
        start_ours(client, case_for(receiver))
    assert exc.value.status == 504
    time.sleep(0.7)
    assert s.count("StartRtcCloudRecording") == 1 and len(s.tasks) == 1  # one task, which the caller must expect


def test_failed_upload_idle_stop_recovery_and_an_empty_channel(receiver, running):
    s = running()
    client = ours(s.endpoint)
    s.fail_uploads = True
    task_id = start_ours(client, case_for(receiver))["TaskId"]
    client.stop_rtc_cloud_recording(task_id)
    assert s.drain()
    assert s.events(task_id) == ["TaskCreated", "TaskStarting", "TaskRunning", "TaskStopping", "TaskStopped"]
    assert client.describe_rtc_cloud_recording_files(task_id)["TaskInfo"]["RecordFileList"]["Mp4FileList"] == []

    s.fail_uploads = False
    task_id = start_ours(client, case_for(receiver))["TaskId"]
    s.recover(task_id)
    s.idle_out(task_id)  # MaxIdleTime passed without a publisher: the service stops it itself
    assert s.drain()
    assert s.events(task_id) == ["TaskCreated", "TaskStarting", "TaskRunning", "TaskRecovering", "TaskRunning",
                                 "TaskStopping", "RecordFileUploaded", "TaskStopped"]
    assert s.tasks[task_id].status == "STOPPED" and len(s.tasks[task_id].files) == 1

    c = case_for(receiver)
    s.empty_channels.add((c["app_id"], c["channel_id"]))
    with pytest.raises(BadRequest):
        start_ours(client, c)


def test_manual_delivery(receiver, running):
    s = running(auto_deliver=False)
    client = ours(s.endpoint)
    task_id = start_ours(client, case_for(receiver))["TaskId"]
    client.stop_rtc_cloud_recording(task_id)
    assert receiver.got == [] and s.tasks[task_id].status == "STOPPING"
    assert s.deliver_pending() == 5  # three events, TaskStopping, the upload (RecordFileUploaded, TaskStopped)
    assert receiver.events() == ["TaskCreated", "TaskStarting", "TaskRunning", "TaskStopping", "RecordFileUploaded",
                                 "TaskStopped"]
    assert s.tasks[task_id].status == "STOPPED"
