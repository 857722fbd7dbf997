"""ARTC cloud recording through the Live API (product live, RPC style, version 2016-11-01),
signed with ACS3 like ICE and STS (docs/protocols.md#signing-alibaba-cloud-requests); the
call loop is `shared.clients.rpc`.

`POST https://live.aliyuncs.com/?<params>` (or LIVE_ENDPOINT) with an empty body, 50 QPS
per account. Three actions:

- `StartRtcCloudRecording`: one mixed-stream (RecordMode 1) MP4 recording of a channel,
  stored in OSS (StorageType 1) under `<FilePathPrefix...>/<TaskId>/<pattern>.mp4`. The
  channel must already have users. Answer `{RequestId, TaskId}`.
- `StopRtcCloudRecording(TaskId)`: answer `{RequestId}`; the file is uploaded afterwards.
- `DescribeRtcCloudRecordingFiles(TaskId)`: `{RequestId, TaskInfo{TaskId, Status
  (RUNNING | RECOVERING | STOPPING | STOPPED), RecordFileList{Mp4FileList[], Mp3FileList[],
  HlsFileList[]}}}`; only tasks of the last 3 days.

How the parameters travel (as the official SDK alibabacloud_live20161101 sends them, and
tests/integration/test_official_live_sdk_vs_simulator.py proves): SubscribeParams,
RecordParams, StorageParams, MixTranscodeParams and MixLayoutParams as compact JSON in the
query, keys in the SDK's (alphabetical) order; NotifyFileUploadedFormat (a list of formats)
flattened as `NotifyFileUploadedFormat.1=MP4`; the rest as plain values.

Encodings (the SDK models' documentation): a subscription's StreamType is 0 audio and video,
1 audio only, 2 video only, and its SourceType 0 the camera, 1 the screen share (SourceType
counts only when the subscription is not audio-only, "StreamType != 1"); RecordParams.StreamType,
"the media type of the output", is taken to use the same values (its list is not published in
the SDK). An audio-only mixed recording is RecordParams.StreamType 1 with audio-only
subscriptions, MixTranscodeParams with the audio fields only (VideoWidth/VideoHeight default
to 0) and no MixLayoutParams (required only "when the output is not audio-only").

Retries: Stop and Describe retry like every RPC call here (5xx, timeouts, throttling).
Start is sent once: a retry after a timeout or a 5xx could start a second task recording the
same channel (billed twice, a second file); its caller decides, knowing a TaskId may exist.

Recording callbacks (POST JSON `{appId, channelId, taskId, eventType, callbackTs, payload}`)
carry `ALI-LIVE-TIMESTAMP` (seconds) and `ALI-LIVE-SIGNATURE` = md5_hex(timestamp + "|" +
NotifyAuthKey) when a NotifyAuthKey was given: `callback_signature` computes it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.clients import retry, rpc
from shared.clients.acs3 import Prepared
from shared.errors import UpstreamError
from shared.settings import CloudCredentials, LiveSettings, load

VERSION = "2016-11-01"
SERVICE = "Live"
START = "StartRtcCloudRecording"
STOP = "StopRtcCloudRecording"
DESCRIBE = "DescribeRtcCloudRecordingFiles"

RECORD_MODE_MIXED = 1
STREAM_AUDIO_VIDEO, STREAM_AUDIO, STREAM_VIDEO = 0, 1, 2
SOURCE_CAMERA = 0
STORAGE_OSS = 1
FORMAT = "MP4"
MAX_FILE_SECONDS = 7200  # RecordParams.MaxFileDuration: 180-7200, longer recordings are split
MIN_IDLE_SECONDS, MAX_IDLE_SECONDS = 10, 14400
MAX_SUBSCRIBED_USERS = 17  # SubscribeUserIdList holds at most 17 entries
MAX_NOTIFY_URL_CHARS = 2048

# Mixed output (MixTranscodeParams; ranges of the SDK model: audio bitrate 8-500 kbps, video
# 0-1920 px, 1-60 fps, 1-10000 kbps, GOP 1-60 frames). A voice call: mono; 32 kHz is the
# documented example rate. Video: 1280x720 at 15 fps, an I-frame every 2 s.
AUDIO_TRANSCODE: dict[str, Any] = {"AudioSampleRate": 32000, "AudioChannels": 1, "AudioBitrate": 64}
VIDEO_WIDTH, VIDEO_HEIGHT = 1280, 720
VIDEO_TRANSCODE: dict[str, Any] = {"VideoWidth": VIDEO_WIDTH, "VideoHeight": VIDEO_HEIGHT, "VideoFramerate": 15,
                                   "VideoBitrate": 1500, "VideoGop": 30, "VideoCodec": "H.264"}

# Patterns as text: `re` compiles (and caches) them on first use, not at import.
_NOTIFY_KEY = r"[A-Za-z0-9]{16,64}"
# OSS bucket names: 3-63 lower-case letters, digits and hyphens, starting and ending alphanumeric.
_BUCKET = r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"{_LABEL}(?:\.{_LABEL})+"
_CONTROL = r"[\x00-\x1f\x7f]"


def prepare(action: str, params: Mapping[str, Any], *, endpoint: str, credentials: CloudCredentials,
            date: str | None = None, nonce: str | None = None) -> Prepared:
    """Build and sign one Live call. Unset (None) parameters are omitted."""
    return rpc.prepare(action, params, version=VERSION, endpoint=endpoint, credentials=credentials,
                       date=date, nonce=nonce)


def callback_signature(timestamp: str, notify_key: str) -> str:
    """ALI-LIVE-SIGNATURE of a recording callback: md5_hex(ALI-LIVE-TIMESTAMP + "|" + NotifyAuthKey)."""
    import hashlib

    return hashlib.md5(f"{timestamp}|{notify_key}".encode()).hexdigest()


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: must be a non-empty string")
    if re.search(_CONTROL, value):
        raise ValueError(f"{name}: must not contain control characters")
    return value


def _user_ids(user_ids: Any) -> list[str]:
    if isinstance(user_ids, str) or not isinstance(user_ids, Sequence) or not user_ids:
        raise ValueError("user_ids: must be a non-empty list of ARTC user ids")
    if len(user_ids) > MAX_SUBSCRIBED_USERS:
        raise ValueError(f"user_ids: at most {MAX_SUBSCRIBED_USERS} users can be subscribed")
    out = [_text("user_ids", u) for u in user_ids]
    if len(set(out)) != len(out):
        raise ValueError("user_ids: must not repeat a user")
    return out


def _path_prefix(path_prefix: Any) -> list[str]:
    """FilePathPrefix: one element per folder level (`a/b` -> ["a", "b"])."""
    if isinstance(path_prefix, str):
        parts = path_prefix.removesuffix("/").split("/")
    elif isinstance(path_prefix, Sequence):
        parts = list(path_prefix)
    else:
        raise ValueError("path_prefix: must be a folder path such as recordings/2026-12-01 (or its list of folders)")
    if not parts or any(not isinstance(p, str) or not p or "/" in p or p in (".", "..") or re.search(_CONTROL, p)
                        for p in parts):
        raise ValueError("path_prefix: must be folder names without empty, '.' or '..' levels "
                         "(no leading '/', no '//')")
    return parts


def _number(value: float) -> str:
    """A layout fraction as the SDK model types it (a string, 6 decimals at most): "0.5", "0.25", "0"."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def layout(user_ids: Sequence[str]) -> dict[str, Any]:
    """MixLayoutParams: the users' camera video in a grid of equal 16:9 panes, in order,
    left to right then top to bottom (two users: side by side, centred vertically).
    Coordinates are fractions of the output (X, Y, Width, Height in [0, 1])."""
    n = len(user_ids)
    cols = 1
    while cols * cols < n:
        cols += 1
    rows = -(-n // cols)  # rows <= cols: a cell is never wider than 16:9, so a pane is as wide as its cell
    side = 1 / cols  # a 16:9 pane as wide as a cell of the 16:9 output is 1/cols of its height too
    panes = []
    for i, user_id in enumerate(user_ids):
        row, col = divmod(i, cols)
        x = col / cols
        y = row / rows + (1 / rows - side) / 2
        panes.append({"UserId": user_id, "SourceType": SOURCE_CAMERA, "X": _number(x), "Y": _number(y),
                      "Width": _number(side), "Height": _number(side), "ZOrder": 0})
    return {"UserPanes": panes}


def _ordered(value: Any) -> Any:
    """A JSON value with every object's keys in the official SDK's order (its models' `to_map`:
    alphabetical), so the query, and so its signature, is byte for byte the SDK's."""
    if isinstance(value, dict):
        return {k: _ordered(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def start_params(*, app_id: str, channel_id: str, user_ids: Sequence[str], bucket: str, oss_endpoint: str,
                 path_prefix: str | Sequence[str], notify_url: str | None, notify_key: str | None,
                 max_idle_seconds: int, video: bool) -> dict[str, Any]:
    """The StartRtcCloudRecording query parameters (JSON objects as dicts, `rpc.param_value`
    encodes them), validated: ValueError naming the argument that is wrong.

    One mixed MP4 of `user_ids` (in that order) into `bucket` under `path_prefix`; with
    `video`, audio and camera video in a 1280x720 grid (`layout`), else audio only."""
    _text("app_id", app_id)
    _text("channel_id", channel_id)
    users = _user_ids(user_ids)
    if not isinstance(bucket, str) or not re.fullmatch(_BUCKET, bucket):
        raise ValueError("bucket: must be an OSS bucket name (3-63 lower-case letters, digits, hyphens)")
    if not isinstance(oss_endpoint, str) or not re.fullmatch(_HOST, oss_endpoint):
        raise ValueError("oss_endpoint: must be a host name such as oss-cn-shanghai.aliyuncs.com "
                         "(no scheme, no path)")
    prefix = _path_prefix(path_prefix)
    if notify_url is not None:
        if not isinstance(notify_url, str) or not notify_url.startswith(("https://", "http://")) \
                or len(notify_url) > MAX_NOTIFY_URL_CHARS or re.search(_CONTROL, notify_url) or " " in notify_url:
            raise ValueError(f"notify_url: must be an http(s) URL of at most {MAX_NOTIFY_URL_CHARS} characters")
    if notify_key is not None:
        if not isinstance(notify_key, str) or not re.fullmatch(_NOTIFY_KEY, notify_key):
            raise ValueError("notify_key: must be 16-64 letters and digits (Live's NotifyAuthKey)")
        if notify_url is None:
            raise ValueError("notify_key: signs the callbacks of notify_url, which is not set")
    if isinstance(max_idle_seconds, bool) or not isinstance(max_idle_seconds, int) \
            or not MIN_IDLE_SECONDS <= max_idle_seconds <= MAX_IDLE_SECONDS:
        raise ValueError(f"max_idle_seconds: must be an integer from {MIN_IDLE_SECONDS} to {MAX_IDLE_SECONDS}")
    if not isinstance(video, bool):
        raise ValueError("video: must be True (audio and video) or False (audio only)")

    stream = STREAM_AUDIO_VIDEO if video else STREAM_AUDIO
    subscribe = [{"UserId": u, "StreamType": stream, **({"SourceType": SOURCE_CAMERA} if video else {})}
                 for u in users]
    params: dict[str, Any] = {
        "AppId": app_id,
        "ChannelId": channel_id,
        "SubscribeParams": {"SubscribeUserIdList": subscribe},
        "RecordParams": {"RecordMode": RECORD_MODE_MIXED, "StreamType": stream, "MaxFileDuration": MAX_FILE_SECONDS},
        "StorageParams": {"StorageType": STORAGE_OSS,
                          "OSSParams": {"OSSEndpoint": oss_endpoint, "OSSBucket": bucket},
                          "FileInfo": [{"Format": FORMAT, "FilePathPrefix": prefix}]},
        "MixTranscodeParams": {**AUDIO_TRANSCODE, **(VIDEO_TRANSCODE if video else {})},
        "MixLayoutParams": layout(users) if video else None,
        "NotifyUrl": notify_url,
        "NotifyAuthKey": notify_key,
        "MaxIdleTime": max_idle_seconds,
    }
    if notify_url is not None:
        # RecordFileUploaded is only sent for the formats listed here (flattened, as the SDK sends lists).
        params["NotifyFileUploadedFormat.1"] = FORMAT
    return {k: _ordered(v) for k, v in params.items() if v is not None}


def _task_id(task_id: Any) -> str:
    if not isinstance(task_id, str) or not task_id.strip():
        raise ValueError("task_id: must be the TaskId StartRtcCloudRecording answered")
    return task_id


def _invalid(action: str, payload: Mapping[str, Any], why: str) -> UpstreamError:
    request_id = payload.get("RequestId")
    return UpstreamError(f"{SERVICE} answered {action} without {why}", error_code=f"{SERVICE}.InvalidResponse",
                         request_id=request_id if isinstance(request_id, str) else None, status=502)


class LiveClient:
    """Calls the Live API's cloud-recording actions with the server's own credentials."""

    def __init__(self, settings: LiveSettings, credentials: CloudCredentials, http: Any = None) -> None:
        self.settings = settings
        self.credentials = credentials
        self._http = http or retry.http_client(settings.LIVE_CONNECT_TIMEOUT_SECONDS,
                                               settings.LIVE_READ_TIMEOUT_SECONDS)
        self._rpc = rpc.RpcClient(SERVICE, VERSION, credentials, self._http, settings.LIVE_MAX_RETRIES)
        self._rpc_once = rpc.RpcClient(SERVICE, VERSION, credentials, self._http, 0)  # not idempotent: Start

    def call(self, action: str, params: Mapping[str, Any], *, deadline: float | None = None) -> dict[str, Any]:
        """One Live action with bounded retries (5xx, timeouts, throttling only)."""
        return self._rpc.call(action, params, endpoint=self.settings.endpoint, deadline=deadline)

    def start_rtc_cloud_recording(self, *, app_id: str, channel_id: str, user_ids: Sequence[str], bucket: str,
                                  oss_endpoint: str, path_prefix: str | Sequence[str], notify_url: str | None,
                                  notify_key: str | None, max_idle_seconds: int, video: bool,
                                  deadline: float | None = None) -> dict[str, Any]:
        """Start a mixed MP4 recording of the channel (see `start_params`): `{TaskId, RequestId}`.
        ValueError for invalid arguments (nothing is sent); an AppError for Live's refusals
        (sent once, never retried); UpstreamError Live.InvalidResponse without a TaskId."""
        params = start_params(app_id=app_id, channel_id=channel_id, user_ids=user_ids, bucket=bucket,
                              oss_endpoint=oss_endpoint, path_prefix=path_prefix, notify_url=notify_url,
                              notify_key=notify_key, max_idle_seconds=max_idle_seconds, video=video)
        payload = self._rpc_once.call(START, params, endpoint=self.settings.endpoint, deadline=deadline)
        task_id = payload.get("TaskId")
        if not isinstance(task_id, str) or not task_id:
            raise _invalid(START, payload, "a TaskId")
        return payload

    def stop_rtc_cloud_recording(self, task_id: str, deadline: float | None = None) -> dict[str, Any]:
        """Stop a task: `{RequestId}`. The file is uploaded (RecordFileUploaded) after this answer."""
        return self.call(STOP, {"TaskId": _task_id(task_id)}, deadline=deadline)

    def describe_rtc_cloud_recording_files(self, task_id: str, deadline: float | None = None) -> dict[str, Any]:
        """A task's status and files: `{RequestId, TaskInfo{TaskId, Status, RecordFileList{Mp4FileList,
        Mp3FileList, HlsFileList}}}` (tasks of the last 3 days); UpstreamError Live.InvalidResponse
        without a TaskInfo object."""
        payload = self.call(DESCRIBE, {"TaskId": _task_id(task_id)}, deadline=deadline)
        if not isinstance(payload.get("TaskInfo"), Mapping):
            raise _invalid(DESCRIBE, payload, "a TaskInfo")
        return payload


_client: LiveClient | None = None


def get_client() -> LiveClient:
    """The process-wide client (settings and credentials parsed once, one connection pool)."""
    global _client
    if _client is None:
        _client = LiveClient(load(LiveSettings), load(CloudCredentials))
    return _client


def reset_client() -> None:
    """Forget the cached client (tests and the sandbox change settings)."""
    global _client
    _client = None
