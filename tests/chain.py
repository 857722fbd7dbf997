"""Fixtures for the callback -> archive -> analysis chain: ICE simulator, env, payloads."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.support import sample

AK, SK = "chain-test-ak", "chain-test-sk-0123456789"
CALLBACK_TOKEN = "chain-callback-token-0123456789"
# The chain's payloads carry fixed 2025 times (`callback()`, `call_events()`), so its env
# widens the callbacks' event-time window to the largest age allowed (10 years: enough
# until 2035). Tests of the window itself load the function with the defaults
# (tests/integration/test_ingest_callback.py); payloads may also use times near now.
WIDE_EVENT_WINDOW = {"CALLBACK_MAX_EVENT_AGE_SECONDS": str(3650 * 86400)}


@pytest.fixture(scope="module")
def ice_sim():
    from devkit.sims.ice import IceSimulator

    sim = IceSimulator({AK: SK}).start()
    yield sim
    sim.stop()


@pytest.fixture
def chain_env(monkeypatch, oss_env, ice_sim):
    """Env for the chain's functions: moto OSS (oss_env), the ICE simulator, callback token."""
    from shared.clients import ice

    ice_sim.reset()
    env = {
        "STAGE": "dev", "ICE_ENDPOINT": ice_sim.endpoint, "ALIBABA_CLOUD_ACCESS_KEY_ID": AK,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SK, "CALLBACK_TOKEN": CALLBACK_TOKEN,
        "CALL_LOG_ALLOW_INSECURE": "true", "ICE_MAX_RETRIES": "1", **WIDE_EVENT_WINDOW,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ice.reset_client()
    yield env
    ice.reset_client()


WORKSPACE, APP = "chain-ws", "chain-app"


@pytest.fixture(scope="module")
def ccai_sim():
    from devkit.sims.ccai import CcaiSimulator

    sim = CcaiSimulator({AK: SK}, workspace_id=WORKSPACE, app_id=APP).start()
    yield sim
    sim.stop()


@pytest.fixture
def analysis_env(monkeypatch, chain_env, ccai_sim):
    """chain_env plus CCAI pointed at the simulator (fresh faults, calls and client)."""
    from shared.analysis import profile as profiles
    from shared.clients import ccai

    ccai_sim.reset()
    ccai_sim.stream_mode, ccai_sim.max_chars, ccai_sim.chunk_chars, ccai_sim.event_delay = "delta", None, 16, 0.0
    env = {"CCAI_ENDPOINT": ccai_sim.endpoint, "CCAI_WORKSPACE_ID": WORKSPACE, "CCAI_APP_ID": APP,
           "CCAI_MAX_RETRIES": "3"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ccai.reset_client()
    profiles.load_profile.cache_clear()
    yield {**chain_env, **env}
    ccai.reset_client()


@pytest.fixture
def verified_requests(monkeypatch):
    """Every request a simulator verifies (ICE, CCAI): (method, path, raw query, headers, body)."""
    import devkit.sims.acs_verify as av

    seen = []
    original = av.Verifier.verify

    def spy(self, method, path, raw_query, headers, body, now=None):
        seen.append((method, path, raw_query, {k.lower(): v for k, v in headers.items()}, body))
        return original(self, method, path, raw_query, headers, body, now)

    monkeypatch.setattr(av.Verifier, "verify", spy)
    return seen


def trigger(fn, key: str, ctx=None):
    """Invoke a triggered function with the OSS event of the stored object `key`."""
    from devkit.sandbox import oss_events
    from shared.clients import object_store
    from tests.support import Ctx

    store = object_store.get_store()
    info = store.head(key)
    event = oss_events.build(store.bucket, key, size=info.size, etag=info.etag)
    return fn(json.dumps(event).encode(), ctx or Ctx(name="triggered"))


def callback(instance_id: str, event: str, ts: datetime | str | None = None, **fields) -> dict:
    """An ICE callback payload (built on the real sample)."""
    body = copy.deepcopy(sample("ice_agent_callback_agent_start.json"))
    body.update({"instanceId": instance_id, "event": event, "code": 1000, "message": event})
    if ts is None:
        ts = datetime(2025, 8, 14, 2, 0, 0, tzinfo=timezone.utc)
    body["timestamp"] = ts if isinstance(ts, str) else ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    body.update(fields)
    return body


def call_events(instance_id: str, turns: int = 4, start: datetime | None = None) -> list[dict]:
    """A whole call's callbacks: agent_start, chat_record x turns, audio records, agent_stop."""
    start = start or datetime(2025, 8, 14, 2, 0, 0, tzinfo=timezone.utc)
    out = [callback(instance_id, "agent_start", start)]
    for i in range(turns):
        role = "agent" if i % 2 == 0 else "user"
        out.append(callback(instance_id, "chat_record", start + timedelta(seconds=2 + 3 * i),
                            data={"role": role, "text": f"turn {i} from the {role}"},
                            extendData={"sentenceId": i}))
    out.append(callback(instance_id, "audio_record", start + timedelta(seconds=1),
                        data={"role": "agent", "url": f"https://bucket.oss-cn-shanghai.aliyuncs.com/rec/{instance_id}/1.wav"}))
    out.append(callback(instance_id, "agent_stop", start + timedelta(seconds=3 * turns + 5)))
    return out


def raw(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False)
