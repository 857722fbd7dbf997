"""Live API simulator: ARTC cloud recording (development tooling, never shipped in a function).

Same plumbing as the ICE and STS simulators (`devkit.sims.ice.RpcSimulator`): every request's
ACS3 signature is verified (`keys`, `sts_tokens`), the version must be 2016-11-01, API faults
are injected with `inject(...)`, `calls` records every verified request.

- `StartRtcCloudRecording` checks its parameters as the service documents them (MissingParameter
  / InvalidParameter naming the parameter; the exact codes and messages of the real service are
  not published), creates a RUNNING task and answers `{RequestId, TaskId}` (a UUID). Then the
  callbacks TaskCreated, TaskStarting and TaskRunning go to its NotifyUrl.
- `StopRtcCloudRecording` answers `{RequestId}` at once (status STOPPING, callback TaskStopping);
  then the recording is "uploaded": one small valid MP4 (`minimal_mp4`) per output file put into
  `store` at `<FilePathPrefix...>/<TaskId>/<name>.mp4`, name `{AppId}_{ChannelId}_{StartTime}`
  (mixed) or `{AppId}_{ChannelId}_{UserId}_{StartTime}` (single-stream) unless FileNamePattern
  says otherwise, StartTime `2026-12-01-20:00:01` (UTC here; the service's zone is not
  documented); RecordFileUploaded (only when NotifyFileUploadedFormat lists MP4, as the service
  does) and TaskStopped follow, and the status becomes STOPPED. Stopping a stopped task answers
  success and changes nothing; an unknown TaskId answers 404 InvalidTaskId.NotFound (a guess).
- `DescribeRtcCloudRecordingFiles` answers `TaskInfo{TaskId, Status, RecordFileList{Mp4FileList,
  Mp3FileList, HlsFileList}}`, the lists holding the files' object keys.

Callbacks are POSTed as Live sends them: JSON `{appId, channelId, taskId, eventType,
callbackTs (ms), payload (a JSON string)}`, with `ALI-LIVE-TIMESTAMP` (seconds) and
`ALI-LIVE-SIGNATURE` = md5_hex(timestamp + "|" + NotifyAuthKey) when the task has a key; one
resend when the receiver answers >= 500, times out or cannot be reached. RecordFileUploaded's
payload `{fileFormat, fileName (the object key), duration (s)}` is this project's guess (the
spec's sample); the other events carry `{}`. A background thread delivers them in order
(`auto_deliver=False`: the test calls `deliver_pending()`); `drain()` waits for it.

Fault knobs (attributes, changeable at any time): `lose_callbacks` (a probability, drawn from
`random.Random(seed)`, or a set of event types never sent), `delay_callbacks_s` (before each
callback), `callback_timeout_s`, `retry_delay_s`, `fail_uploads` (no file, no RecordFileUploaded,
the task still stops), `recorded_seconds` (the files' duration; default the task's real age),
`empty_channels` ({(AppId, ChannelId)}: Start refuses them, the channel has no users), and
`idle_out(task_id)` / `recover(task_id)` for the service's own stop after MaxIdleTime and its
recovery. `callbacks` records every callback with its attempts and outcome.
"""
from __future__ import annotations

import json
import queue
import random
import re
import struct
import threading
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from devkit.sims.ice import RpcSimulator

VERSION = "2016-11-01"
EVENTS = ("TaskCreated", "TaskStarting", "TaskRunning", "TaskRecovering", "TaskStopping", "TaskStopped",
          "RecordFileUploaded")
STATUSES = ("RUNNING", "RECOVERING", "STOPPING", "STOPPED")
FORMATS = ("MP4", "MP3", "HLS")
MAX_SUBSCRIBED_USERS = 17
AUDIO_SAMPLE_RATES = (8000, 16000, 32000, 44100, 48000)  # the documented example is 32000; the list is a guess
_NOTIFY_KEY = re.compile(r"[A-Za-z0-9]{16,64}")
_AAC_RATE_INDEX = {96000: 0, 88200: 1, 64000: 2, 48000: 3, 44100: 4, 32000: 5, 24000: 6, 22050: 7, 16000: 8,
                   12000: 9, 11025: 10, 8000: 11}
_STOP = object()


# --- a small valid MP4 --------------------------------------------------------------

def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, bytes([version]), flags.to_bytes(3, "big"), *parts)


def _descriptor(tag: int, payload: bytes) -> bytes:
    """An MPEG-4 descriptor (ISO/IEC 14496-1) of under 128 bytes: tag, one-byte size, payload."""
    return bytes([tag, len(payload)]) + payload


_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def minimal_mp4(duration_s: float, *, sample_rate: int = 32000, channels: int = 1) -> bytes:
    """A valid ISO BMFF file (`ftyp` + `moov`) of `duration_s` seconds: one AAC-LC audio
    track (`mp4a` with its `esds`) whose sample tables are empty. Under 1 KB; players and
    ffprobe read its duration; it holds no media data."""
    if sample_rate not in _AAC_RATE_INDEX or sample_rate > 64000:  # the entry holds rate << 16 in 32 bits
        sample_rate = 32000
    channels = channels if channels in (1, 2) else 1
    movie_scale = 1000
    movie_duration = max(0, round(duration_s * movie_scale))
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"mp41")
    mvhd = _full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, movie_scale, movie_duration),
                     struct.pack(">IH", 0x00010000, 0x0100), bytes(10), _MATRIX, bytes(24), struct.pack(">I", 2))
    tkhd = _full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, movie_duration), bytes(8),
                     struct.pack(">hhHH", 0, 0, 0x0100, 0), _MATRIX, struct.pack(">II", 0, 0))
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIII", 0, 0, sample_rate, max(0, round(duration_s * sample_rate))),
                     struct.pack(">HH", 0x55C4, 0))  # language "und"
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), b"soun", bytes(12), b"SoundHandler\x00")
    smhd = _full_box(b"smhd", 0, 0, bytes(4))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    audio_config = (2 << 11) | (_AAC_RATE_INDEX[sample_rate] << 7) | (channels << 3)  # AAC-LC AudioSpecificConfig
    decoder_config = _descriptor(4, bytes([0x40, 0x15]) + bytes(3) + struct.pack(">II", 0, 0)
                                 + _descriptor(5, struct.pack(">H", audio_config)))
    esds = _full_box(b"esds", 0, 0, _descriptor(3, struct.pack(">HB", 1, 0) + decoder_config + _descriptor(6, b"\x02")))
    mp4a = _box(b"mp4a", bytes(6), struct.pack(">H", 1), bytes(8), struct.pack(">HHHH", channels, 16, 0, 0),
                struct.pack(">I", sample_rate << 16), esds)
    stbl = _box(b"stbl", _full_box(b"stsd", 0, 0, struct.pack(">I", 1), mp4a),
                _full_box(b"stts", 0, 0, struct.pack(">I", 0)), _full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
                _full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)), _full_box(b"stco", 0, 0, struct.pack(">I", 0)))
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, _box(b"minf", smhd, dinf, stbl)))
    return ftyp + _box(b"moov", mvhd, trak)


# --- state --------------------------------------------------------------------------

@dataclass
class Task:
    """One recording task, as the simulator keeps it."""

    task_id: str
    app_id: str
    channel_id: str
    params: dict[str, str]  # the StartRtcCloudRecording parameters as received
    subscribe: list[dict]
    record: dict
    storage: dict
    transcode: dict | None
    notify_url: str | None
    notify_key: str | None
    notify_formats: list[str]
    max_idle_seconds: int
    started: float = field(default_factory=time.time)
    status: str = "RUNNING"
    stopped: float | None = None
    files: list[str] = field(default_factory=list)  # object keys written


@dataclass
class SentCallback:
    """One callback: its body, the headers of its last attempt, every attempt's HTTP status
    (or "timeout" / "error"), and its outcome: delivered (2xx), refused (another status
    under 500: not resent), failed (no success after the resend), lost (a fault knob)."""

    task_id: str
    event_type: str
    url: str
    body: dict
    headers: dict[str, str] = field(default_factory=dict)
    attempts: list[int | str] = field(default_factory=list)
    outcome: str = "pending"
    answer: str = ""


@dataclass
class _Message:
    task: Task
    event_type: str
    payload: dict
    callback_ts: int  # ms, when the event happened


def _fail(code: str, message: str, status: int = 400) -> tuple[int, dict]:
    return status, {"Code": code, "Message": message}


def _invalid(name: str, why: str) -> tuple[int, dict]:
    return _fail("InvalidParameter", f"The parameter {name} is invalid: {why}.")


def _int(value: Any) -> int | None:
    """A JSON integer (not a bool, not a float with a fraction), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _fraction(value: Any) -> float | None:
    """A layout coordinate: a number or its text, within [0, 1]."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 1.0 else None


def _in_range(obj: Mapping, name: str, label: str, low: int, high: int, *, required: bool = False,
              choices: Collection[int] | None = None) -> tuple[int, dict] | None:
    if name not in obj:
        return _fail("MissingParameter", f"The input parameter {label}.{name} that is mandatory for processing "
                                         "this request is not supplied.") if required else None
    value = _int(obj[name])
    if value is None or not low <= value <= high or (choices is not None and value not in choices):
        allowed = ", ".join(map(str, choices)) if choices is not None else f"{low}-{high}"
        return _invalid(f"{label}.{name}", f"must be one of {allowed}" if choices is not None else f"must be {allowed}")
    return None


class LiveSimulator(RpcSimulator):
    """`start()` serves on 127.0.0.1:port; `.endpoint` is what LIVE_ENDPOINT should be.
    `store`: where recordings are written (anything with `put(key, data, content_type=...)`;
    with a `bucket` attribute, Start refuses another OSSBucket); without one, `files` keeps them."""

    VERSION = VERSION
    HOST_ID = "live.sim"

    def __init__(self, keys: dict[str, str], host: str = "127.0.0.1", port: int = 0,
                 sts_tokens: dict[str, str] | None = None, *, store: Any = None, auto_deliver: bool = True,
                 lose_callbacks: float | Collection[str] | None = None, seed: int | None = None,
                 delay_callbacks_s: float = 0.0, callback_timeout_s: float = 5.0, retry_delay_s: float = 0.0) -> None:
        super().__init__(keys, host, port, sts_tokens)
        self.store = store
        self.auto_deliver = auto_deliver
        self.lose_callbacks = lose_callbacks
        self.delay_callbacks_s = delay_callbacks_s
        self.callback_timeout_s = callback_timeout_s
        self.retry_delay_s = retry_delay_s
        self.fail_uploads = False
        self.recorded_seconds: float | None = None
        self.empty_channels: set[tuple[str, str]] = set()
        self.tasks: dict[str, Task] = {}
        self.callbacks: list[SentCallback] = []
        self.files: dict[str, bytes] = {}
        self._random = random.Random(seed)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._worker: threading.Thread | None = None
        self._http: Any = None

    # --- control API ------------------------------------------------------------------
    def stop(self) -> None:
        super().stop()
        if self._worker is not None:
            self._queue.put(_STOP)
            self._worker.join(timeout=10)
            self._worker = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued callback and upload is done; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def deliver_pending(self) -> int:
        """With `auto_deliver=False`: process the queue in the caller's thread; how many items."""
        done = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return done
            if item is not _STOP:
                self._process(item)
                done += 1

    def events(self, task_id: str | None = None, outcome: str | None = "delivered") -> list[str]:
        """The event types sent (for one task, with one outcome; None: any)."""
        with self._lock:
            return [c.event_type for c in self.callbacks
                    if task_id in (None, c.task_id) and outcome in (None, c.outcome)]

    def idle_out(self, task_id: str) -> None:
        """The service stops the task itself (MaxIdleTime passed without a publisher)."""
        task = self.tasks[task_id]
        if task.status != "STOPPED":
            self._begin_stop(task)

    def recover(self, task_id: str) -> None:
        """The task hits a fault and recovers: TaskRecovering, then TaskRunning."""
        task = self.tasks[task_id]
        with self._lock:
            task.status = "RECOVERING"
        self._enqueue(self._message(task, "TaskRecovering"))
        self._enqueue(("status", task, "RUNNING"))
        self._enqueue(self._message(task, "TaskRunning"))

    # --- queue ------------------------------------------------------------------------
    def _message(self, task: Task, event_type: str, payload: dict | None = None) -> _Message:
        return _Message(task, event_type, payload or {}, int(time.time() * 1000))

    def _enqueue(self, item: Any) -> None:
        with self._idle:
            self._pending += 1
            if self.auto_deliver and self._worker is None:
                self._worker = threading.Thread(target=self._work, name="live-sim-callbacks", daemon=True)
                self._worker.start()
        self._queue.put(item)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self._process(item)
            except Exception:  # keep delivering the rest: one bad item must not stall drain()
                import traceback

                traceback.print_exc()

    def _process(self, item: Any) -> None:
        try:
            if isinstance(item, _Message):
                self._send(item)
            elif item[0] == "finish":
                self._finish(item[1])
            elif item[0] == "status":
                with self._lock:
                    item[1].status = item[2]
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _lost(self, event_type: str) -> bool:
        knob = self.lose_callbacks
        if knob is None:
            return False
        if isinstance(knob, (int, float)) and not isinstance(knob, bool):
            return self._random.random() < float(knob)
        return event_type in knob  # type: ignore[operator]

    def _send(self, msg: _Message) -> None:
        task = msg.task
        if not task.notify_url:
            return
        body = {"appId": task.app_id, "channelId": task.channel_id, "taskId": task.task_id,
                "eventType": msg.event_type, "callbackTs": msg.callback_ts,
                "payload": json.dumps(msg.payload, ensure_ascii=False, separators=(",", ":"))}
        record = SentCallback(task.task_id, msg.event_type, task.notify_url, body)
        with self._lock:
            self.callbacks.append(record)
        if self._lost(msg.event_type):
            record.outcome = "lost"
            return
        if self.delay_callbacks_s > 0:
            time.sleep(self.delay_callbacks_s)
        import hashlib

        import httpx

        if self._http is None:
            self._http = httpx.Client(trust_env=False)
        data = json.dumps(body, ensure_ascii=False).encode()
        for attempt in range(2):  # one resend on >= 500, a timeout or no connection
            headers = {"Content-Type": "application/json"}
            if task.notify_key:
                stamp = str(int(time.time()))
                headers["ALI-LIVE-TIMESTAMP"] = stamp
                headers["ALI-LIVE-SIGNATURE"] = hashlib.md5(f"{stamp}|{task.notify_key}".encode()).hexdigest()
            record.headers = headers
            status: int | str
            try:
                resp = self._http.post(task.notify_url, content=data, headers=headers,
                                       timeout=self.callback_timeout_s)
                status, record.answer = resp.status_code, resp.text[:500]
            except httpx.TimeoutException:
                status = "timeout"
            except Exception:  # no connection, a bad URL...: the receiver got nothing
                status = "error"
            record.attempts.append(status)
            if isinstance(status, int) and status < 500:
                record.outcome = "delivered" if 200 <= status < 300 else "refused"
                return
            if attempt == 0 and self.retry_delay_s > 0:
                time.sleep(self.retry_delay_s)
        record.outcome = "failed"

    # --- the recording's end ----------------------------------------------------------
    def _begin_stop(self, task: Task) -> None:
        with self._lock:
            task.status = "STOPPING"
            task.stopped = time.time()
        self._enqueue(self._message(task, "TaskStopping"))
        self._enqueue(("finish", task))

    def _file_names(self, task: Task, info: Mapping) -> list[str]:
        start = time.strftime("%Y-%m-%d-%H:%M:%S", time.gmtime(task.started))
        mixed = task.record.get("RecordMode") == 1
        pattern = info.get("FileNamePattern") or ("{AppId}_{ChannelId}_{StartTime}" if mixed
                                                 else "{AppId}_{ChannelId}_{UserId}_{StartTime}")
        users = [""] if mixed else [s["UserId"] for s in task.subscribe]
        names = []
        for user in users:
            name = pattern
            for var, value in (("AppId", task.app_id), ("ChannelId", task.channel_id), ("UserId", user),
                               ("StartTime", start), ("TaskId", task.task_id)):
                name = name.replace("{" + var + "}", value)
            names.append(name)
        return names

    def _finish(self, task: Task) -> None:
        """Upload the files (MP4 only), RecordFileUploaded per file, TaskStopped."""
        end = task.stopped or time.time()
        duration = self.recorded_seconds
        if duration is None:
            duration = round(max(0.0, end - task.started), 3)
        transcode = task.transcode or {}
        uploaded: list[str] = []
        for info in task.storage.get("FileInfo") or []:
            if info.get("Format") != "MP4" or self.fail_uploads:
                continue
            prefix = list(info.get("FilePathPrefix") or [])
            for name in self._file_names(task, info):
                key = "/".join([*prefix, task.task_id, f"{name}.mp4"])
                data = minimal_mp4(duration, sample_rate=_int(transcode.get("AudioSampleRate")) or 32000,
                                   channels=_int(transcode.get("AudioChannels")) or 1)
                if self.store is not None and not self._upload(key, data):
                    continue  # the upload failed for good: no file, no RecordFileUploaded
                with self._lock:
                    self.files[key] = data
                    task.files.append(key)
                uploaded.append(key)
        for key in uploaded:
            if "MP4" in task.notify_formats:
                self._send(self._message(task, "RecordFileUploaded",
                                         {"fileFormat": "MP4", "fileName": key, "duration": duration}))
        with self._lock:
            task.status = "STOPPED"
        self._send(self._message(task, "TaskStopped"))

    def _upload(self, key: str, data: bytes, attempts: int = 20) -> bool:
        """Put the file, retried with backoff (at most ~8 s) like the service retries its uploads to OSS."""
        for attempt in range(attempts):
            try:
                self.store.put(key, data, content_type="video/mp4")
                return True
            except Exception:  # noqa: BLE001 - the bucket refused or failed: try again
                time.sleep(min(0.05 * 2 ** attempt, 0.5))
        return False

    # --- actions ----------------------------------------------------------------------
    def _json_object(self, p: dict[str, str], name: str, required: bool = True) -> tuple[Any, tuple[int, dict] | None]:
        if required:
            miss = self._missing(p, name)
            if miss:
                return None, miss
        value, err = self._json_param(p, name)
        if err:
            return None, err
        if value is not None and not isinstance(value, dict):
            return None, _invalid(name, "must be a JSON object")
        return value, None

    def _check_start(self, p: dict[str, str]) -> tuple[dict[str, Any], tuple[int, dict] | None]:
        """The parsed parameters, or the service's refusal."""
        out: dict[str, Any] = {}
        miss = self._missing(p, "AppId", "ChannelId", "SubscribeParams", "RecordParams", "StorageParams")
        if miss:
            return out, miss
        for name in ("SubscribeParams", "RecordParams", "StorageParams", "MixTranscodeParams", "MixLayoutParams"):
            value, err = self._json_object(p, name, required=name in ("SubscribeParams", "RecordParams",
                                                                      "StorageParams"))
            if err:
                return out, err
            out[name] = value
        users = out["SubscribeParams"].get("SubscribeUserIdList")
        if not isinstance(users, list) or not users:
            return out, _fail("MissingParameter", "The input parameter SubscribeParams.SubscribeUserIdList that is "
                                                  "mandatory for processing this request is not supplied.")
        if len(users) > MAX_SUBSCRIBED_USERS:
            return out, _invalid("SubscribeParams.SubscribeUserIdList", f"at most {MAX_SUBSCRIBED_USERS} users")
        for entry in users:
            if not isinstance(entry, dict) or not isinstance(entry.get("UserId"), str) or not entry["UserId"]:
                return out, _invalid("SubscribeParams.SubscribeUserIdList.UserId", "must be a non-empty string")
            err = (_in_range(entry, "StreamType", "SubscribeUserIdList", 0, 2)
                   or _in_range(entry, "SourceType", "SubscribeUserIdList", 0, 1))
            if err:
                return out, err
        if len({e["UserId"] for e in users}) != len(users):
            return out, _invalid("SubscribeParams.SubscribeUserIdList", "a UserId is repeated")
        record = out["RecordParams"]
        err = (_in_range(record, "RecordMode", "RecordParams", 0, 1, required=True)
               or _in_range(record, "StreamType", "RecordParams", 0, 2)
               or _in_range(record, "MaxFileDuration", "RecordParams", 180, 7200))
        if err:
            return out, err
        storage = out["StorageParams"]
        err = _in_range(storage, "StorageType", "StorageParams", 0, 1, required=True)
        if err:
            return out, err
        if storage["StorageType"] != 1:
            return out, _invalid("StorageParams.StorageType", "only OSS (1) is simulated")
        oss = storage.get("OSSParams")
        if not isinstance(oss, dict) or not oss.get("OSSBucket") or not oss.get("OSSEndpoint"):
            return out, _fail("MissingParameter", "The input parameter StorageParams.OSSParams (OSSBucket, "
                                                  "OSSEndpoint) that is mandatory for processing this request is "
                                                  "not supplied.")
        bucket = getattr(self.store, "bucket", None)
        if bucket is not None and oss["OSSBucket"] != bucket:
            return out, _invalid("StorageParams.OSSParams.OSSBucket", "the bucket does not exist or does not belong "
                                                                      "to the account")
        files = storage.get("FileInfo")
        if not isinstance(files, list) or not files:
            return out, _fail("MissingParameter", "The input parameter StorageParams.FileInfo that is mandatory for "
                                                  "processing this request is not supplied.")
        for info in files:
            if not isinstance(info, dict) or info.get("Format") not in FORMATS:
                return out, _invalid("StorageParams.FileInfo.Format", "must be one of " + ", ".join(FORMATS))
            prefix = info.get("FilePathPrefix", [])
            if not isinstance(prefix, list) or not all(isinstance(x, str) and x and "/" not in x for x in prefix):
                return out, _invalid("StorageParams.FileInfo.FilePathPrefix", "must be a list of folder names")
        if record["RecordMode"] == 1:
            transcode = out["MixTranscodeParams"]
            if transcode is None:
                return out, _fail("MissingParameter", "The input parameter MixTranscodeParams that is mandatory "
                                                      "for processing this request is not supplied.")
            err = (_in_range(transcode, "AudioBitrate", "MixTranscodeParams", 8, 500, required=True)
                   or _in_range(transcode, "AudioChannels", "MixTranscodeParams", 1, 2, required=True)
                   or _in_range(transcode, "AudioSampleRate", "MixTranscodeParams", 8000, 48000, required=True,
                                choices=AUDIO_SAMPLE_RATES)
                   or _in_range(transcode, "VideoWidth", "MixTranscodeParams", 0, 1920)
                   or _in_range(transcode, "VideoHeight", "MixTranscodeParams", 0, 1920)
                   or _in_range(transcode, "VideoFramerate", "MixTranscodeParams", 1, 60)
                   or _in_range(transcode, "VideoBitrate", "MixTranscodeParams", 1, 10000)
                   or _in_range(transcode, "VideoGop", "MixTranscodeParams", 1, 60))
            if err:
                return out, err
            if record.get("StreamType", 0) != 1:  # output with video: a layout is required
                panes = (out["MixLayoutParams"] or {}).get("UserPanes")
                if not isinstance(panes, list) or not panes:
                    return out, _fail("MissingParameter", "The input parameter MixLayoutParams.UserPanes that is "
                                                          "mandatory for processing this request is not supplied.")
                for pane in panes:
                    if not isinstance(pane, dict) or any(_fraction(pane.get(k, 0)) is None
                                                         for k in ("X", "Y", "Width", "Height")):
                        return out, _invalid("MixLayoutParams.UserPanes", "X, Y, Width and Height must be in [0, 1]")
        key = p.get("NotifyAuthKey")
        if key is not None and key != "" and not _NOTIFY_KEY.fullmatch(key):
            return out, _invalid("NotifyAuthKey", "must be 16-64 letters and digits")
        url = p.get("NotifyUrl")
        if url and (len(url) > 2048 or not url.startswith(("http://", "https://"))):
            return out, _invalid("NotifyUrl", "must be an http(s) URL of at most 2048 characters")
        idle = p.get("MaxIdleTime", "300")
        if not idle.isdigit() or not 10 <= int(idle) <= 14400:
            return out, _invalid("MaxIdleTime", "must be 10-14400")
        out["MaxIdleTime"] = int(idle)
        # A list travels flattened (NotifyFileUploadedFormat.1=MP4), never as JSON text.
        indexed: list[tuple[int, str]] = []
        for name, value in p.items():
            head, _, index = name.rpartition(".")
            if name == "NotifyFileUploadedFormat" or (head == "NotifyFileUploadedFormat" and not index.isdigit()):
                return out, _invalid("NotifyFileUploadedFormat", "send a list as NotifyFileUploadedFormat.N")
            if head == "NotifyFileUploadedFormat":
                indexed.append((int(index), value))
        formats = [value for _, value in sorted(indexed)]
        if any(f not in FORMATS for f in formats):
            return out, _invalid("NotifyFileUploadedFormat", "must list formats among " + ", ".join(FORMATS))
        out["NotifyFileUploadedFormat"] = formats
        if (p["AppId"], p["ChannelId"]) in self.empty_channels:
            return out, _invalid("ChannelId", "the channel has no users; start recording after a user has joined")
        return out, None

    def _do_StartRtcCloudRecording(self, p: dict[str, str]) -> tuple[int, dict]:
        parsed, err = self._check_start(p)
        if err:
            return err
        task = Task(task_id=str(uuid.uuid4()), app_id=p["AppId"], channel_id=p["ChannelId"], params=dict(p),
                    subscribe=parsed["SubscribeParams"]["SubscribeUserIdList"], record=parsed["RecordParams"],
                    storage=parsed["StorageParams"], transcode=parsed["MixTranscodeParams"],
                    notify_url=p.get("NotifyUrl") or None, notify_key=p.get("NotifyAuthKey") or None,
                    notify_formats=parsed["NotifyFileUploadedFormat"], max_idle_seconds=parsed["MaxIdleTime"])
        with self._lock:
            self.tasks[task.task_id] = task
        for event in ("TaskCreated", "TaskStarting", "TaskRunning"):
            self._enqueue(self._message(task, event))
        return 200, {"TaskId": task.task_id}

    def _task(self, p: dict[str, str]) -> tuple[Task | None, tuple[int, dict] | None]:
        miss = self._missing(p, "TaskId")
        if miss:
            return None, miss
        task = self.tasks.get(p["TaskId"])
        if task is None:
            return None, _fail("InvalidTaskId.NotFound", "The specified task does not exist.", 404)
        return task, None

    def _do_StopRtcCloudRecording(self, p: dict[str, str]) -> tuple[int, dict]:
        task, err = self._task(p)
        if err:
            return err
        assert task is not None
        if task.status not in ("STOPPING", "STOPPED"):
            self._begin_stop(task)
        return 200, {}

    def _do_DescribeRtcCloudRecordingFiles(self, p: dict[str, str]) -> tuple[int, dict]:
        task, err = self._task(p)
        if err:
            return err
        assert task is not None
        with self._lock:
            mp4 = [k for k in task.files if k.endswith(".mp4")]
            return 200, {"TaskInfo": {"TaskId": task.task_id, "Status": task.status,
                                      "RecordFileList": {"Mp4FileList": mp4, "Mp3FileList": [], "HlsFileList": []}}}
