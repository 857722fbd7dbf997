"""shared.clients.object_store against moto's S3 server through devkit.sims.faulty_proxy: connection
resets (before an answer, in the middle of one) and answers slower than the read
timeout, with the settings' defaults (read timeout 2 s, OSS_MAX_ELAPSED_SECONDS 2.5 s);
then ingest_callback's answer while they persist, and after they clear.

The store addresses loopback endpoints path-style (`http://127.0.0.1:<proxy port>/<bucket>/<key>`),
so the proxy only relays bytes: the signed Host header is the proxy's, which moto accepts.
Every check reads the result back from moto directly, not through the proxy."""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid

import pytest

from devkit.sandbox.observed_store import ObservedStore
from devkit.sims.faulty_proxy import FaultyProxy
from shared.archive import layout
from shared.clients import object_store
from shared.clients.object_store import ObjectStore
from shared.errors import StorageError
from shared.settings import OssSettings, load, reset_cache
from tests.chain import CALLBACK_TOKEN, SK, callback, raw
from tests.oss_server import ACCESS_KEY_SECRET
from tests.support import call, http_event, load_function

MARGIN = 0.35  # seconds allowed beyond a time budget (scheduling, the last request's own timeout floor)
SLOW = 3.0  # longer than the default OSS read timeout (2 s)


@pytest.fixture(scope="module")
def proxy(moto_oss):
    p = FaultyProxy(moto_oss.endpoint).start()
    yield p
    p.stop()


@pytest.fixture
def store(monkeypatch, oss_env, proxy):
    """The process-wide store (`get_store()`, settings defaults) pointed at the proxy."""
    proxy.reset()
    monkeypatch.setenv("OSS_ENDPOINT", proxy.endpoint)
    reset_cache()
    object_store.reset_store()
    s = object_store.get_store()
    assert s.endpoint == proxy.endpoint and s.addressing == "path"
    assert (s.read_timeout, s.max_elapsed, s.max_retries) == (2.0, 2.5, 2)  # the defaults under test
    yield ObservedStore(s)  # the shipped store; the wrapper only reports its writes (`writes`)
    proxy.reset()
    object_store.reset_store()


@pytest.fixture
def direct(moto_oss):
    """A store talking to moto without the proxy, to see what was really stored."""
    s = ObjectStore(load(OssSettings, moto_oss.env()))
    yield s
    s.close()


@pytest.fixture
def prefix():
    return f"faults-{uuid.uuid4().hex[:10]}/"


@pytest.fixture
def writes(store):
    """(key, created) of every write that created an object (devkit's ObservedStore)."""
    seen: list[tuple[str, bool]] = []

    def listener(bucket, key, result, size):
        seen.append((key, result.created))

    store.add_listener(listener)
    yield seen


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def to(store: ObjectStore, key: str, method: str, proxy: FaultyProxy) -> list[tuple[str | None, bool]]:
    """(fault, forwarded) of each `method` request for `key` the proxy handled, in order."""
    path = store.path_for(key)
    return [(s.fault, s.forwarded) for s in proxy.served(lambda s: s.method == method and s.target == path)]


# --- a. a reset before the answer: retried, stored once ----------------------------------

@pytest.mark.parametrize("if_absent", [False, True])
def test_reset_on_put_is_retried_and_stored_once(store, proxy, direct, prefix, writes, if_absent):
    key = prefix + "reset-put.json"
    data = json.dumps({"n": list(range(2000))}).encode()  # ~10 KB: a body the proxy reads whole, then resets
    proxy.inject("reset", times=1, method="PUT")
    result = store.put(key, data, if_absent=if_absent)
    assert proxy.settle()
    assert (result.key, result.etag, result.created) == (key, md5(data), True)
    assert to(store, key, "PUT", proxy) == [("reset", False), (None, True)]
    assert proxy.stats()["reset"] == 1
    assert writes == [(key, True)]
    got, info = direct.get(key)
    assert got == data and info.etag == md5(data)
    assert [o.key for o in direct.list(prefix)] == [key]


def test_put_whose_answer_was_cut_is_still_created_once(store, proxy, direct, prefix, writes):
    """The first PUT reached moto (stored), only its answer was lost: the retry finds the
    object (412), and the HEAD's ETag being ours makes it `created`, not a duplicate."""
    key = prefix + "cut-put.json"
    data = b'{"event": "agent_stop", "pad": "' + b"p" * 5000 + b'"}'
    proxy.inject("reset_mid_response", times=1, method="PUT")
    result = store.put(key, data, if_absent=True)
    assert proxy.settle()
    assert (result.etag, result.created) == (md5(data), True)
    assert to(store, key, "PUT", proxy) == [("reset_mid_response", True), (None, True)]
    assert to(store, key, "HEAD", proxy) == [(None, True)]
    assert writes == [(key, True)]
    assert direct.get(key)[0] == data and [o.key for o in direct.list(prefix)] == [key]
    # Someone else's content under the key stays theirs: not created, nothing notified.
    other = store.put(key, b"other", if_absent=True)
    assert (other.created, other.etag) == (False, md5(data)) and writes == [(key, True)]


# --- b. a reset in the middle of a GET's answer: retried, full bytes -------------------

@pytest.mark.parametrize("after_bytes", [20, 4096], ids=["in-status-line", "in-body"])
def test_reset_mid_response_on_get_returns_the_full_bytes(store, proxy, direct, prefix, after_bytes):
    key = prefix + "big.bin"
    data = os.urandom(256 * 1024)
    direct.put(key, data, content_type="application/octet-stream")
    proxy.inject("reset_mid_response", times=1, method="GET", after_bytes=after_bytes)
    got, info = store.get(key)
    assert proxy.settle()
    assert got == data and (info.size, info.etag) == (len(data), md5(data))
    assert to(store, key, "GET", proxy) == [("reset_mid_response", True), (None, True)]
    assert proxy.stats()["reset_mid_response"] == 1


def test_two_resets_in_a_row_still_succeed_on_the_third_attempt(store, proxy, direct, prefix):
    key = prefix + "twice.json"
    direct.put(key, b'{"twice": true}')
    proxy.inject("reset", times=1, method="GET")
    proxy.inject("reset_mid_response", times=1, method="GET", after_bytes=200)
    assert store.get(key)[0] == b'{"twice": true}'
    assert to(store, key, "GET", proxy) == [("reset", False), ("reset_mid_response", True), (None, True)]


# --- c. persistent resets: StorageError within the budget, nothing half-written ------------

def test_persistent_resets_on_put_end_in_storage_error_and_nothing_is_stored(store, proxy, direct, prefix, writes):
    key = prefix + "never.json"
    data = b'{"pad": "' + b"z" * 50_000 + b'"}'
    proxy.inject("reset", times=None)
    start = time.monotonic()
    with pytest.raises(StorageError) as err:
        store.put(key, data, if_absent=True)
    elapsed = time.monotonic() - start
    assert proxy.settle()
    print(f"\npersistent reset on PUT: StorageError after {elapsed:.3f}s ({err.value.message})")
    assert elapsed < store.max_elapsed + MARGIN
    assert err.value.status == 503 and err.value.error_code == "StorageUnavailable"
    assert "3 attempts" in err.value.message and "ReadError" in err.value.message
    assert to(store, key, "PUT", proxy) == [("reset", False)] * 3
    assert proxy.stats()["forwarded"] == 0
    assert writes == []
    proxy.clear()
    assert store.head(key) is None and direct.head(key) is None
    assert list(direct.list(prefix)) == []


def test_persistent_cut_answers_leave_the_object_whole(store, proxy, direct, prefix):
    """Every PUT reached moto but every answer was cut: StorageError, and what is stored is
    the whole object (a PUT is atomic), never a part of it."""
    key = prefix + "whole.bin"
    data = os.urandom(100_000)
    proxy.inject("reset_mid_response", times=None, method="PUT", after_bytes=12)
    start = time.monotonic()
    with pytest.raises(StorageError, match="3 attempts"):
        store.put(key, data)
    elapsed = time.monotonic() - start
    assert proxy.settle()
    print(f"\npersistent reset_mid_response on PUT: StorageError after {elapsed:.3f}s")
    assert elapsed < store.max_elapsed + MARGIN
    assert to(store, key, "PUT", proxy) == [("reset_mid_response", True)] * 3
    info = direct.head(key)
    assert (info.size, info.etag) == (len(data), md5(data))


def test_many_allowed_retries_are_still_stopped_by_max_elapsed(moto_oss, proxy, prefix):
    proxy.reset()
    budget = 1.0
    s = ObjectStore(load(OssSettings, {**moto_oss.env(), "OSS_ENDPOINT": proxy.endpoint}),
                    max_retries=100, max_elapsed=budget)
    try:
        proxy.inject("reset", times=None)
        start = time.monotonic()
        with pytest.raises(StorageError) as err:
            s.get(prefix + "x.json")
        elapsed = time.monotonic() - start
        assert proxy.settle()
        print(f"\npersistent reset, 100 retries allowed, budget {budget}s: StorageError after {elapsed:.3f}s, "
              f"{proxy.stats()['reset']} resets")
        assert elapsed <= budget + MARGIN
        # Backoff before the 4th attempt is at most 0.1 + 0.2 + 0.4 s: the budget, not the
        # attempt count, is what stopped it.
        assert proxy.stats()["reset"] >= 4
        assert f"{proxy.stats()['reset']} attempts" in err.value.message
    finally:
        s.close()
        proxy.reset()


# --- d. answers slower than the read timeout -------------------------------------------------

def test_slow_answer_is_abandoned_at_the_read_timeout_and_retried(store, proxy, direct, prefix):
    key = prefix + "slow.json"
    direct.put(key, b'{"slow": 1}')
    proxy.inject("slow", times=1, delay=SLOW, method="GET")
    start = time.monotonic()
    got, _ = store.get(key)
    elapsed = time.monotonic() - start
    assert proxy.settle()
    print(f"\none slow GET ({SLOW}s): answered after {elapsed:.3f}s")
    assert got == b'{"slow": 1}'
    assert store.read_timeout <= elapsed < store.max_elapsed + MARGIN  # waited the read timeout, not the delay
    assert to(store, key, "GET", proxy) == [("slow", False), (None, True)]
    assert proxy.stats()["abandoned"] == 1


def test_slow_answer_to_a_put_that_was_stored_is_created_once(store, proxy, direct, prefix, writes):
    key = prefix + "slow-put.json"
    data = b'{"held": "answer"}'
    proxy.inject("slow_response", times=1, delay=SLOW, method="PUT")
    start = time.monotonic()
    result = store.put(key, data, if_absent=True)
    elapsed = time.monotonic() - start
    assert proxy.settle()
    assert (result.created, result.etag) == (True, md5(data))
    assert store.read_timeout <= elapsed < store.max_elapsed + MARGIN
    assert to(store, key, "PUT", proxy) == [("slow_response", True), (None, True)]
    assert proxy.stats()["abandoned"] == 1
    assert writes == [(key, True)]
    assert direct.get(key)[0] == data and [o.key for o in direct.list(prefix)] == [key]


def test_persistent_slowness_ends_in_storage_error_within_the_budget(store, proxy, direct, prefix):
    key = prefix + "slow-never.json"
    proxy.inject("slow", times=None, delay=SLOW)
    start = time.monotonic()
    with pytest.raises(StorageError) as err:
        store.put(key, b'{"never": true}', if_absent=True)
    elapsed = time.monotonic() - start
    assert proxy.settle()
    print(f"\npersistent slow ({SLOW}s) PUT: StorageError after {elapsed:.3f}s ({err.value.message})")
    assert store.read_timeout <= elapsed < store.max_elapsed + MARGIN
    assert "ReadTimeout" in err.value.message
    served = to(store, key, "PUT", proxy)
    assert 2 <= len(served) <= 3 and set(served) == {("slow", False)}
    assert proxy.stats()["abandoned"] == len(served) and proxy.stats()["forwarded"] == 0
    proxy.clear()
    assert direct.head(key) is None


# --- e. ingest_callback through its real handler ---------------------------------------------

PATH = "/api/v2/aiagent/callback"


@pytest.fixture
def ingest(monkeypatch, chain_env, proxy):
    proxy.reset()
    handler = load_function("ingest_callback", monkeypatch, {"OSS_ENDPOINT": proxy.endpoint})
    object_store.reset_store()
    yield handler
    proxy.reset()
    object_store.reset_store()


def post(handler, body: str):
    return call(handler, http_event(raw_body=body, path=PATH, headers={"Authorization": f"Bearer {CALLBACK_TOKEN}"}))


def stored(direct: ObjectStore, instance_id: str) -> list[str]:
    return [o.key for o in direct.list(layout.CALLBACKS) if f"/{instance_id}/" in o.key]


def test_callback_is_503_while_oss_resets_then_accepted_once(ingest, proxy, direct):
    inst = f"inst-reset-{uuid.uuid4().hex[:8]}"
    body = raw(callback(inst, "agent_stop"))
    proxy.inject("reset", times=None)
    start = time.monotonic()
    status, headers, out = post(ingest, body)
    elapsed = time.monotonic() - start
    assert proxy.settle()
    print(f"\ncallback with persistent OSS resets: {status} after {elapsed:.3f}s")
    assert status == 503, out
    assert out["code"] == 503 and isinstance(out["message"], str) and out["message"]
    assert out["error_code"] == "StorageUnavailable"
    assert headers.get("Content-Type", "").startswith("application/json")
    text = json.dumps(out)
    assert "Traceback" not in text and SK not in text and ACCESS_KEY_SECRET not in text and CALLBACK_TOKEN not in text
    assert elapsed < 3.0  # inside ICE's callback deadline, so ICE sees the 503 and retries
    assert proxy.stats()["reset"] == 3 and proxy.stats()["forwarded"] == 0
    assert stored(direct, inst) == []

    proxy.clear()  # the fault clears; ICE delivers the same callback again
    status, _, out = post(ingest, body)
    assert (status, out["code"], out["duplicate"]) == (200, 200, False), out
    assert stored(direct, inst) == [out["key"]]
    assert direct.get(out["key"])[0] == body.encode()
    status, _, again = post(ingest, body)  # and once more: still one object
    assert (status, again["duplicate"], again["key"]) == (200, True, out["key"])
    assert stored(direct, inst) == [out["key"]]


def test_callback_whose_put_answer_was_cut_is_accepted_once(ingest, proxy, direct):
    inst = f"inst-cut-{uuid.uuid4().hex[:8]}"
    body = raw(callback(inst, "chat_record", data={"role": "user", "text": "hello"}))
    proxy.inject("reset_mid_response", times=1, method="PUT")
    status, _, out = post(ingest, body)
    assert proxy.settle()
    assert (status, out["duplicate"]) == (200, False), out
    assert [(s.fault, s.forwarded) for s in proxy.served(lambda s: s.method == "PUT")] == \
        [("reset_mid_response", True), (None, True)]
    assert stored(direct, inst) == [out["key"]] and direct.get(out["key"])[0] == body.encode()


# --- an answer that keeps trickling in is cut off at the budget ----------------------------

def test_trickling_answer_is_cut_off_within_the_budget(store, proxy, direct, prefix):
    key = prefix + "trickle.json"
    direct.put(key, b"t" * 256)
    # moto's answer (~650 bytes with headers) in 96-byte pieces, one every 0.5 s: ~3.5 s in all.
    proxy.inject("trickle", times=None, delay=0.5, chunk_bytes=96, method="GET")
    start = time.monotonic()
    try:
        outcome = f"answered: {len(store.get(key)[0])} bytes"
    except StorageError as exc:
        outcome = f"StorageError ({exc.message})"
    elapsed = time.monotonic() - start
    print(f"\ntrickling GET (96 B / 0.5 s): {outcome} after {elapsed:.3f}s, budget {store.max_elapsed}s")
    assert proxy.stats()["trickle"] >= 1
    assert elapsed < store.max_elapsed + MARGIN
    assert outcome.startswith("StorageError"), outcome
