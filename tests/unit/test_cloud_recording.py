"""When a call the client API starts is recorded (the agent policy's `recording`), what
StartRtcCloudRecording is asked, and what the call's record says when it cannot start."""
import base64
import json

import pytest

from shared.api import cloud_recording
from shared.archive import layout
from shared.clients import live
from shared.errors import UpstreamError
from shared.settings import RecordingSettings, load
from tests.fakes import MemoryStore

TOKEN = base64.b64encode(json.dumps({"appid": "artc-app-1", "channelid": "ch"}).encode()).decode().rstrip("=")
ANSWER = {"InstanceId": "inst-1", "ChannelId": "ch-1", "AIAgentUserId": "agent-u", "UserId": "rtc-u", "Token": TOKEN}
SETTINGS = {"RECORDING_NOTIFY_KEY": "key0123456789abcdef", "RECORDING_CALLBACK_URL": "https://api.example.com/cb"}


@pytest.mark.parametrize("mode, workflow, expected", [
    ("off", "VisionChat", (False, False)), ("video", "VoiceChat", (False, True)), ("video", "VisionChat", (True, True)),
    ("video", None, (True, True)), ("audio", "VoiceChat", (True, False)), ("audio", "AvatarChat3D", (True, True)),
    ("audio", None, (True, False)),
])
def test_which_calls_are_recorded_and_with_video(mode, workflow, expected):
    assert cloud_recording.wanted(mode, workflow) == expected


def test_the_artc_app_comes_from_ice_s_join_token():
    assert cloud_recording.app_id_of(TOKEN) == "artc-app-1"
    assert cloud_recording.app_id_of("not base64 json") is None and cloud_recording.app_id_of(None) is None


class FakeLive:
    def __init__(self, fail=None):
        self.fail, self.started, self.stopped = fail, [], []

    def start_rtc_cloud_recording(self, **kw):
        if self.fail:
            raise self.fail
        self.started.append(kw)
        return {"TaskId": "task-9", "RequestId": "r"}

    def stop_rtc_cloud_recording(self, task_id, deadline=None):
        self.stopped.append(task_id)
        return {}


def start(monkeypatch, fake, env=SETTINGS, store=None):
    monkeypatch.setattr(live, "get_client", lambda: fake)
    store = store or MemoryStore()
    record = cloud_recording.start(store, answer=ANSWER, user_id="u", ai_agent_id="a", video=True,
                                   settings=load(RecordingSettings, env), bucket="archive-b", region="cn-beijing")
    return store, record


def test_a_started_recording_and_its_records(monkeypatch):
    fake = FakeLive()
    store, record = start(monkeypatch, fake)
    kw = fake.started[0]
    assert (kw["app_id"], kw["channel_id"], kw["user_ids"], kw["video"]) == ("artc-app-1", "ch-1", ["rtc-u", "agent-u"],
                                                                             True)
    assert kw["oss_endpoint"] == "oss-cn-beijing.aliyuncs.com" and kw["bucket"] == "archive-b"
    assert kw["path_prefix"].startswith("recordings/dt=") and kw["path_prefix"].endswith("/inst-1/")
    assert kw["notify_url"] == "https://api.example.com/cb" and kw["notify_key"] == "key0123456789abcdef"
    assert record["status"] == "started" and record["task_id"] == "task-9"
    task = json.loads(store.get(layout.recording_task_key("task-9"))[0])
    assert task["instance_id"] == "inst-1" and json.loads(store.get(layout.recording_call_key("inst-1"))[0]) == record


@pytest.mark.parametrize("env, fail, reason", [
    ({}, None, "RECORDING_CALLBACK_URL and RECORDING_NOTIFY_KEY must be set"),
    (SETTINGS, UpstreamError("no", error_code="Live.ServiceUnavailable"),
     "StartRtcCloudRecording failed: Live.ServiceUnavailable"),
])
def test_a_recording_that_cannot_start_never_fails_the_call_and_says_why(monkeypatch, env, fail, reason):
    store, record = start(monkeypatch, FakeLive(fail), env=env)
    assert (record["status"], record["reason"]) == ("not_started", reason)
    assert json.loads(store.get(layout.recording_call_key("inst-1"))[0])["reason"] == reason


def test_a_task_whose_record_cannot_be_stored_is_stopped_not_lost(monkeypatch):
    class Refusing(MemoryStore):
        def put(self, key, data, **kw):
            if key.startswith(layout.RECORDING_TASKS + "tasks/"):
                raise OSError("store down")
            return super().put(key, data, **kw)

    fake = FakeLive()
    _, record = start(monkeypatch, fake, store=Refusing())
    assert fake.stopped == ["task-9"] and record["status"] == "not_started" and "was stopped" in record["reason"]
