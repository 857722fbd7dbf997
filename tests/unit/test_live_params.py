"""`shared.clients.live.start_params`: the StartRtcCloudRecording parameters, their shapes
(audio-only and video mixed recordings) and the validation of every argument."""
import hashlib
import json

import pytest

from shared.clients import live
from shared.clients.rpc import param_value

USERS = ["user-1", "agent_9"]


def args(**over):
    base = dict(app_id="a0b1c2d3", channel_id="70f22d5784194938a7e387052f2b3208", user_ids=USERS,
                bucket="aicall-archive", oss_endpoint="oss-cn-shanghai.aliyuncs.com",
                path_prefix="recordings/dt=2026-12-01/u1", notify_url="https://api.example.com/callbacks/live?x=1",
                notify_key="abcDEF0123456789", max_idle_seconds=300, video=False)
    base.update(over)
    return base


def wire(params):
    """What travels: every value as `rpc.prepare` encodes it, JSON values parsed back."""
    out = {}
    for k, v in params.items():
        text = param_value(v)
        out[k] = json.loads(text) if text[:1] in "{[" else text
    return out


def test_audio_only_mixed_recording():
    p = live.start_params(**args())
    assert wire(p) == {
        "AppId": "a0b1c2d3",
        "ChannelId": "70f22d5784194938a7e387052f2b3208",
        "SubscribeParams": {"SubscribeUserIdList": [{"UserId": "user-1", "StreamType": 1},
                                                    {"UserId": "agent_9", "StreamType": 1}]},
        "RecordParams": {"RecordMode": 1, "StreamType": 1, "MaxFileDuration": 7200},
        "StorageParams": {"StorageType": 1,
                          "OSSParams": {"OSSEndpoint": "oss-cn-shanghai.aliyuncs.com", "OSSBucket": "aicall-archive"},
                          "FileInfo": [{"Format": "MP4", "FilePathPrefix": ["recordings", "dt=2026-12-01", "u1"]}]},
        "MixTranscodeParams": {"AudioSampleRate": 32000, "AudioChannels": 1, "AudioBitrate": 64},
        "NotifyUrl": "https://api.example.com/callbacks/live?x=1",
        "NotifyAuthKey": "abcDEF0123456789",
        "MaxIdleTime": "300",
        "NotifyFileUploadedFormat.1": "MP4",
    }
    assert "MixLayoutParams" not in p  # required only when the output has video


def test_video_mixed_recording_side_by_side():
    p = wire(live.start_params(**args(video=True)))
    assert p["SubscribeParams"]["SubscribeUserIdList"] == [
        {"UserId": "user-1", "StreamType": 0, "SourceType": 0}, {"UserId": "agent_9", "StreamType": 0, "SourceType": 0}]
    assert p["RecordParams"] == {"RecordMode": 1, "StreamType": 0, "MaxFileDuration": 7200}
    assert p["MixTranscodeParams"] == {"AudioSampleRate": 32000, "AudioChannels": 1, "AudioBitrate": 64,
                                       "VideoWidth": 1280, "VideoHeight": 720, "VideoFramerate": 15,
                                       "VideoBitrate": 1500, "VideoGop": 30, "VideoCodec": "H.264"}
    assert p["MixLayoutParams"] == {"UserPanes": [
        {"UserId": "user-1", "SourceType": 0, "X": "0", "Y": "0.25", "Width": "0.5", "Height": "0.5", "ZOrder": 0},
        {"UserId": "agent_9", "SourceType": 0, "X": "0.5", "Y": "0.25", "Width": "0.5", "Height": "0.5", "ZOrder": 0},
    ]}


def test_json_values_are_compact_and_keep_unicode():
    p = live.start_params(**args(user_ids=["用户 1"], path_prefix=["录音", "a b"]))
    text = param_value(p["SubscribeParams"])
    assert text == '{"SubscribeUserIdList":[{"StreamType":1,"UserId":"用户 1"}]}'  # keys as the SDK orders them
    assert json.loads(param_value(p["StorageParams"]))["FileInfo"][0]["FilePathPrefix"] == ["录音", "a b"]


def test_without_notify_url_nothing_about_callbacks_is_sent():
    p = live.start_params(**args(notify_url=None, notify_key=None))
    assert not any(k.startswith("Notify") for k in p)


def test_a_url_without_a_key_is_unsigned():
    p = live.start_params(**args(notify_key=None))
    assert "NotifyAuthKey" not in p and p["NotifyFileUploadedFormat.1"] == "MP4"


@pytest.mark.parametrize("prefix, folders", [
    ("recordings", ["recordings"]),
    ("recordings/dt=2026-12-01/", ["recordings", "dt=2026-12-01"]),
    (["a", "b c", "用户"], ["a", "b c", "用户"]),
    (("x",), ["x"]),
])
def test_path_prefix_becomes_one_folder_per_level(prefix, folders):
    p = live.start_params(**args(path_prefix=prefix))
    assert p["StorageParams"]["FileInfo"][0]["FilePathPrefix"] == folders


@pytest.mark.parametrize("n", range(1, live.MAX_SUBSCRIBED_USERS + 1))
def test_layout_panes_fit_the_output_and_never_overlap(n):
    panes = live.layout([f"u{i}" for i in range(n)])["UserPanes"]
    assert [p["UserId"] for p in panes] == [f"u{i}" for i in range(n)]
    boxes = []
    for pane in panes:
        x, y, w, h = (float(pane[k]) for k in ("X", "Y", "Width", "Height"))
        assert all(isinstance(pane[k], str) for k in ("X", "Y", "Width", "Height"))  # the SDK model types them so
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 1 + 1e-6 and y + h <= 1 + 1e-6
        assert w * live.VIDEO_WIDTH == pytest.approx(h * live.VIDEO_HEIGHT * 16 / 9, rel=1e-4)  # 16:9 panes
        boxes.append((x, y, w, h))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap_w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
            overlap_h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
            assert overlap_w <= 1e-6 or overlap_h <= 1e-6


def test_one_user_fills_the_picture():
    assert live.layout(["u"])["UserPanes"] == [
        {"UserId": "u", "SourceType": 0, "X": "0", "Y": "0", "Width": "1", "Height": "1", "ZOrder": 0}]


@pytest.mark.parametrize("over, field", [
    ({"app_id": ""}, "app_id"),
    ({"app_id": None}, "app_id"),
    ({"channel_id": "  "}, "channel_id"),
    ({"channel_id": "a\nb"}, "channel_id"),
    ({"user_ids": []}, "user_ids"),
    ({"user_ids": "user-1"}, "user_ids"),
    ({"user_ids": ["a", ""]}, "user_ids"),
    ({"user_ids": ["a", "a"]}, "user_ids"),
    ({"user_ids": [f"u{i}" for i in range(18)]}, "user_ids"),
    ({"user_ids": ["a", 1]}, "user_ids"),
    ({"bucket": "Upper"}, "bucket"),
    ({"bucket": "ab"}, "bucket"),
    ({"bucket": "-abc"}, "bucket"),
    ({"oss_endpoint": "https://oss-cn-shanghai.aliyuncs.com"}, "oss_endpoint"),
    ({"oss_endpoint": "oss-cn-shanghai.aliyuncs.com/x"}, "oss_endpoint"),
    ({"oss_endpoint": "localhost"}, "oss_endpoint"),
    ({"path_prefix": ""}, "path_prefix"),
    ({"path_prefix": "/recordings"}, "path_prefix"),
    ({"path_prefix": "a//b"}, "path_prefix"),
    ({"path_prefix": "a/../b"}, "path_prefix"),
    ({"path_prefix": ["a/b"]}, "path_prefix"),
    ({"path_prefix": []}, "path_prefix"),
    ({"path_prefix": None}, "path_prefix"),
    ({"notify_url": "ftp://x"}, "notify_url"),
    ({"notify_url": "https://x/" + "a" * 2048}, "notify_url"),
    ({"notify_url": "https://x/a b"}, "notify_url"),
    ({"notify_key": "short"}, "notify_key"),
    ({"notify_key": "a" * 65}, "notify_key"),
    ({"notify_key": "abcdefgh-12345678"}, "notify_key"),
    ({"notify_url": None}, "notify_key"),  # a key signs callbacks that would never be sent
    ({"max_idle_seconds": 9}, "max_idle_seconds"),
    ({"max_idle_seconds": 14401}, "max_idle_seconds"),
    ({"max_idle_seconds": True}, "max_idle_seconds"),
    ({"max_idle_seconds": 300.0}, "max_idle_seconds"),
    ({"video": "yes"}, "video"),
])
def test_invalid_arguments_name_the_argument(over, field):
    with pytest.raises(ValueError) as exc:
        live.start_params(**args(**over))
    assert str(exc.value).startswith(f"{field}:")


@pytest.mark.parametrize("seconds", [10, 300, 14400])
def test_idle_bounds_are_inclusive(seconds):
    assert live.start_params(**args(max_idle_seconds=seconds))["MaxIdleTime"] == seconds


@pytest.mark.parametrize("key", ["a" * 16, "Z9" * 32])
def test_notify_key_bounds(key):
    assert live.start_params(**args(notify_key=key))["NotifyAuthKey"] == key


def test_callback_signature_is_md5_of_timestamp_bar_key():
    assert live.callback_signature("1748417138", "mytestkeymytestkey") == \
        hashlib.md5(b"1748417138|mytestkeymytestkey").hexdigest()


@pytest.mark.parametrize("call", [
    lambda c: c.stop_rtc_cloud_recording(""),
    lambda c: c.describe_rtc_cloud_recording_files(None),
    lambda c: c.start_rtc_cloud_recording(**args(max_idle_seconds=1)),
])
def test_invalid_calls_send_nothing(call):
    from shared.settings import CloudCredentials, LiveSettings, load

    class NoHttp:
        def post(self, *a, **k):
            raise AssertionError("nothing may be sent")

    client = live.LiveClient(load(LiveSettings, {}), load(CloudCredentials, {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk"}), http=NoHttp())
    with pytest.raises(ValueError):
        call(client)


def test_default_endpoint_and_version():
    from shared.settings import CloudCredentials, LiveSettings, load

    creds = load(CloudCredentials, {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk"})
    assert load(LiveSettings, {}).endpoint == "https://live.aliyuncs.com"
    req = live.prepare(live.STOP, {"TaskId": "t"}, endpoint="https://live.aliyuncs.com", credentials=creds)
    assert req.headers["x-acs-version"] == "2016-11-01" and req.headers["x-acs-action"] == "StopRtcCloudRecording"
    assert req.url == "https://live.aliyuncs.com/?TaskId=t"


def test_get_client_is_cached_until_reset(monkeypatch):
    from shared.settings import reset_cache

    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "ak")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sk")
    monkeypatch.setenv("LIVE_ENDPOINT", "http://127.0.0.1:9001/")
    reset_cache()
    live.reset_client()
    try:
        client = live.get_client()
        assert live.get_client() is client and client.settings.endpoint == "http://127.0.0.1:9001"
        live.reset_client()
        assert live.get_client() is not client
    finally:
        live.reset_client()
