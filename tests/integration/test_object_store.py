"""shared.clients.object_store against moto's S3 server and the sandbox's LocalOssServer over
real HTTP, plus request-level checks (signing, addressing, retries) through
httpx.MockTransport."""
from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from datetime import datetime, timezone

import httpx
import pytest

from devkit.sandbox.local_oss import LocalOssServer
from devkit.sandbox.observed_store import ObservedStore
from shared.clients import object_store
from shared.clients.object_store import ObjectNotFound, ObjectStore, PutResult
from shared.errors import StorageError
from shared.settings import OssSettings, load
from tests.support import free_port

AK, SK, TOKEN = "local-test-access-key", "local-test-secret-0123456789abcdef", "sts-token-0123456789abcdef"
LOCAL_BUCKET = "aicall-local-archive"


def settings(**env: str) -> OssSettings:
    base = {"ARCHIVE_BUCKET": "aicall-archive-dev", "OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": SK}
    return load(OssSettings, {**base, **env})


class Recorder:
    """An httpx MockTransport handler that records requests and answers from a script."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else (self.answers[0] if self.answers else 200)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(answer, headers={"ETag": '"abc"'})


def mock_store(recorder: Recorder, **env: str) -> ObjectStore:
    kwargs = {k: env.pop(k) for k in list(env) if k in ("dialect", "addressing", "max_retries", "max_elapsed")}
    return ObjectStore(settings(**env), client=httpx.Client(transport=httpx.MockTransport(recorder)),
                       backoff_base=0.001, **kwargs)


# --- the two real servers ---------------------------------------------------------------

@pytest.fixture(scope="module")
def local_oss(tmp_path_factory):
    server = LocalOssServer(tmp_path_factory.mktemp("oss"), LOCAL_BUCKET, AK, SK).start()
    yield server
    server.stop()


@pytest.fixture(params=["moto", "local"])
def store(request, monkeypatch):
    """A store on moto (via oss_env) or on the sandbox's LocalOssServer, with a fresh prefix."""
    if request.param == "moto":
        request.getfixturevalue("oss_env")
    else:
        server = request.getfixturevalue("local_oss")
        for name, value in {"ARCHIVE_BUCKET": LOCAL_BUCKET, "OSS_ENDPOINT": server.endpoint,
                            "OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": SK}.items():
            monkeypatch.setenv(name, value)
        from shared.settings import reset_cache

        reset_cache()
        object_store.reset_store()
    s = object_store.get_store()
    s.test_prefix = f"t-{uuid.uuid4().hex[:10]}/"  # type: ignore[attr-defined]
    yield s
    object_store.reset_store()


def test_put_get_head_delete(store):
    key = store.test_prefix + "a.json"
    data = b'{"hello": "world"}'
    result = store.put(key, data)
    md5 = hashlib.md5(data).hexdigest()
    assert result == PutResult(key, md5, True)
    got, info = store.get(key)
    assert got == data and (info.key, info.size, info.etag) == (key, len(data), md5)
    assert info.last_modified and info.last_modified.endswith("Z")
    head = store.head(key)
    assert (head.size, head.etag) == (len(data), md5)
    store.put(key, b"[]")  # plain put overwrites
    assert store.get(key)[0] == b"[]"
    store.delete(key)
    assert store.head(key) is None
    with pytest.raises(ObjectNotFound) as err:
        store.get(key)
    assert isinstance(err.value, KeyError) and key in str(err.value)
    store.delete(key)  # deleting a missing key is fine


@pytest.mark.parametrize("name", ["with space.json", "ünïcødé/中文 键.json", "plus+tilde~star*.json",
                                  "percent%20literal.json", "quote'\"&<>.json", "dt=2025-08-14/x=y;z,@!$(1).json",
                                  "a//double.json", "emoji-😀.json", ".tmp-looks-like-a-temp-file", "...",
                                  "x" * 200 + "/" + "y" * 200])
def test_unusual_keys_round_trip_and_list(store, name):
    key = store.test_prefix + name
    store.put(key, name.encode())
    assert store.get(key)[0] == name.encode()
    assert [o.key for o in store.list(store.test_prefix)] == [key]
    assert store.head(key).size == len(name.encode())


def test_metadata_round_trips(store):
    key = store.test_prefix + "meta.json"
    store.put(key, b"{}", metadata={"event": "agent_stop", "instance-id": "inst-1", "Mixed_Case": "v"})
    _, info = store.get(key)
    assert info.metadata == {"event": "agent_stop", "instance-id": "inst-1", "mixed_case": "v"}
    assert store.head(key).metadata == info.metadata


@pytest.mark.parametrize("metadata", [{"bad name": "x"}, {"ok": "non-ascii é"}, {"ok": "line\nbreak"}, {"": "x"}])
def test_bad_metadata_is_refused_before_sending(store, metadata):
    with pytest.raises(ValueError, match="metadata"):
        store.put(store.test_prefix + "m.json", b"{}", metadata=metadata)


def test_if_absent_keeps_the_first_object(store):
    key = store.test_prefix + "once.json"
    first = store.put(key, b"first", if_absent=True)
    second = store.put(key, b"second", if_absent=True)
    assert first.created is True and second.created is False
    assert second.etag == first.etag == hashlib.md5(b"first").hexdigest()
    assert store.get(key)[0] == b"first"


def test_list_paginates_in_key_order_with_start_after(store):
    keys = [f"{store.test_prefix}k/{i:02d}.json" for i in range(7)]
    for k in reversed(keys):
        store.put(k, b"x")
    store.put(store.test_prefix + "other/1.json", b"y")
    assert [o.key for o in store.list(store.test_prefix + "k/", page_size=2)] == keys
    assert [o.key for o in store.list(store.test_prefix + "k/", page_size=3, start_after=keys[2])] == keys[3:]
    infos = list(store.list(store.test_prefix + "k/0"))
    assert [i.key for i in infos] == keys and all(i.size == 1 and i.etag for i in infos)
    assert list(store.list(store.test_prefix + "nothing/")) == []
    with pytest.raises(ValueError):
        list(store.list(store.test_prefix, page_size=0))


def test_observed_store_reports_each_real_write_once(store):
    # The sandbox emulates OSS triggers by wrapping the shipped store (devkit), not by a hook in it.
    seen = []

    def listener(bucket, key, result, size):
        seen.append((bucket, key, result.created, size))

    def broken(*args):
        raise RuntimeError("listener bug")

    observed = ObservedStore(store, [listener, broken])
    k1, k2 = store.test_prefix + "l1.json", store.test_prefix + "l2.json"
    observed.put(k1, b"abc", if_absent=True)
    observed.put(k1, b"abc", if_absent=True)  # skipped: no event
    observed.put(k2, b"defg")
    observed.put(k2, b"defg")  # a plain overwrite is a write (OSS fires a trigger too)
    observed.remove_listener(listener)
    observed.put(store.test_prefix + "l3.json", b"x")  # after removal: not seen
    assert seen == [(store.bucket, k1, True, 3), (store.bucket, k2, True, 4), (store.bucket, k2, True, 4)]
    observed.remove_listener(listener)  # removing twice is harmless
    assert observed.get(k2)[0] == b"defg" and observed.head(k1).size == 3
    assert [o.key for o in observed.list(store.test_prefix + "l")] == [k1, k2, store.test_prefix + "l3.json"]


def test_observed_store_becomes_the_process_store(store):
    from devkit.sandbox.observed_store import observe_process_store

    object_store.use_store(store)
    seen = []
    observed = observe_process_store([lambda b, k, r, n: seen.append(k)])
    assert object_store.get_store() is observed and observe_process_store() is observed  # wraps once
    object_store.get_store().put(store.test_prefix + "p.json", b"{}")
    assert seen == [store.test_prefix + "p.json"]
    object_store.reset_store()
    assert not isinstance(object_store.get_store(), ObservedStore)


def test_keys_that_http_would_rewrite_are_refused(store):
    for key in ("", "/abs", "a/../b", "a/./b", "..", "x" * 1025, "nul\x00"):
        with pytest.raises(ValueError):
            store.put(key, b"x")


def test_get_store_is_cached_and_reset(store):
    assert object_store.get_store() is store
    object_store.reset_store()
    assert object_store.get_store() is not store


# --- signing ------------------------------------------------------------------------------

def test_signature_matches_botocore_for_the_same_request():
    from unittest import mock

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    s = ObjectStore(settings(OSS_ENDPOINT="http://127.0.0.1:9000", OSS_REGION="cn-shanghai",
                             OSS_SECURITY_TOKEN=TOKEN))
    now = datetime(2025, 8, 14, 2, 3, 4, tzinfo=timezone.utc)
    key = "callbacks/dt=2025-08-14/ü b+c~/x.json"
    put_body = b'{"a": 1}'
    for method, k, query, body, extra in [
        ("PUT", key, {}, put_body, {"content-type": "application/json", "x-amz-meta-event": "agent_stop",
                                "if-none-match": "*"}),
        ("GET", None, {"list-type": "2", "prefix": "callbacks/dt=2025-08-14/ü b", "max-keys": "2",
                       "encoding-type": "url", "continuation-token": "a+b/c=="}, b"", {}),
        ("HEAD", key, {}, b"", {}),
    ]:
        qs = object_store.canonical_query(query)
        ours = s.sign(method, s.path_for(k), qs, dict(extra), hashlib.sha256(body).hexdigest(), now=now.timestamp())
        request = AWSRequest(method=method, url=s.url_for(k, qs), data=body,
                             headers={n: v for n, v in ours.items()
                                      if n not in ("authorization", "x-amz-date", "x-amz-security-token",
                                                   "x-amz-content-sha256")})
        with mock.patch("botocore.auth.get_current_datetime", return_value=now.replace(tzinfo=None)):
            S3SigV4Auth(Credentials(AK, SK, TOKEN), "s3", "cn-shanghai").add_auth(request)
        assert ours["authorization"] == request.headers["Authorization"]
        assert "x-amz-security-token" in ours["authorization"]


def test_requests_carry_sts_token_hashed_payload_and_no_chunking():
    rec = Recorder(200)
    s = mock_store(rec, OSS_ENDPOINT="http://127.0.0.1:9000", OSS_SECURITY_TOKEN=TOKEN)
    s.put("k/ü.json", b'{"x":1}', metadata={"event": "agent_stop"})
    [req] = rec.requests
    h = req.headers
    assert h["x-amz-security-token"] == TOKEN
    assert h["x-amz-content-sha256"] == hashlib.sha256(b'{"x":1}').hexdigest()
    assert h["content-md5"] == base64.b64encode(hashlib.md5(b'{"x":1}').digest()).decode()
    assert h["content-length"] == "7" and "transfer-encoding" not in h and "content-encoding" not in h
    assert not any(n.startswith("x-amz-checksum") or n == "x-amz-trailer" for n in h)
    signed = h["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "x-amz-meta-event",
            "content-type", "content-md5"} <= set(signed)
    assert f"Credential={AK}/" in h["authorization"] and "/cn-shanghai/s3/aws4_request" in h["authorization"]
    assert req.url.raw_path == b"/aicall-archive-dev/k/%C3%BC.json"


def test_alibaba_cloud_credentials_are_the_fallback():
    rec = Recorder(200)
    st = ObjectStore(load(OssSettings, {"ARCHIVE_BUCKET": "aicall-archive-dev",
                                        "ALIBABA_CLOUD_ACCESS_KEY_ID": "role-ak",
                                        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "role-secret-0123456789",
                                        "ALIBABA_CLOUD_SECURITY_TOKEN": "role-token-0123456789"}),
                     client=httpx.Client(transport=httpx.MockTransport(rec)))
    st.head("x")
    assert rec.requests[0].headers["x-amz-security-token"] == "role-token-0123456789"
    assert "Credential=role-ak/" in rec.requests[0].headers["authorization"]


# --- addressing and dialects ---------------------------------------------------------------

@pytest.mark.parametrize("endpoint, url, dialect", [
    (None, "https://aicall-archive-dev.s3.oss-cn-shanghai-internal.aliyuncs.com/a/b%20c.json", "oss"),
    ("https://s3.oss-cn-hangzhou.aliyuncs.com", "https://aicall-archive-dev.s3.oss-cn-hangzhou.aliyuncs.com/a/b%20c.json", "oss"),
    ("https://aicall-archive-dev.s3.oss-cn-shanghai.aliyuncs.com",
     "https://aicall-archive-dev.s3.oss-cn-shanghai.aliyuncs.com/a/b%20c.json", "oss"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000/aicall-archive-dev/a/b%20c.json", "s3"),
    ("http://localhost:5000", "http://localhost:5000/aicall-archive-dev/a/b%20c.json", "s3"),
    ("http://[::1]:5000", "http://[::1]:5000/aicall-archive-dev/a/b%20c.json", "s3"),
    ("http://10.0.0.5", "http://10.0.0.5/aicall-archive-dev/a/b%20c.json", "s3"),
    ("https://s3.us-east-1.amazonaws.com", "https://aicall-archive-dev.s3.us-east-1.amazonaws.com/a/b%20c.json", "s3"),
    ("http://minio:9000", "http://minio:9000/aicall-archive-dev/a/b%20c.json", "s3"),
])
def test_url_building(endpoint, url, dialect):
    env = {"OSS_ENDPOINT": endpoint} if endpoint else {}
    s = ObjectStore(settings(**env))
    assert s.url_for("a/b c.json") == url and s.dialect == dialect
    s.close()


def test_default_endpoint_is_the_internal_one_of_the_region():
    s = ObjectStore(settings(OSS_REGION="ap-southeast-1"))
    assert s.host == "aicall-archive-dev.s3.oss-ap-southeast-1-internal.aliyuncs.com" and s.addressing == "virtual"
    assert s.url_for(None) == "https://aicall-archive-dev.s3.oss-ap-southeast-1-internal.aliyuncs.com/"
    s.close()


def test_bad_endpoint_is_a_configuration_error():
    from shared.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        ObjectStore(settings(OSS_ENDPOINT="https://s3.oss-cn-shanghai.aliyuncs.com/some/path"))


def test_oss_dialect_uses_forbid_overwrite_and_reads_409_as_exists():
    exists = httpx.Response(409, content=b"<Error><Code>FileAlreadyExists</Code><Message>exists</Message></Error>")
    head = httpx.Response(200, headers={"ETag": '"ABCDEF"', "Content-Length": "5",
                                        "Last-Modified": "Thu, 14 Aug 2025 02:00:00 GMT"})
    rec = Recorder(exists, head)
    s = mock_store(rec)  # default endpoint: OSS
    result = s.put("callbacks/x.json", b"hello", if_absent=True)
    assert result == PutResult("callbacks/x.json", "ABCDEF", False)
    put, head_req = rec.requests
    assert put.headers["x-oss-forbid-overwrite"] == "true" and "if-none-match" not in put.headers
    assert put.url.host == "aicall-archive-dev.s3.oss-cn-shanghai-internal.aliyuncs.com"
    assert put.url.raw_path == b"/callbacks/x.json" and head_req.method == "HEAD"
    assert "x-oss-forbid-overwrite" in put.headers["authorization"]


def test_s3_dialect_uses_if_none_match():
    rec = Recorder(httpx.Response(412), httpx.Response(200, headers={"ETag": '"e"', "Content-Length": "1"}))
    s = mock_store(rec, OSS_ENDPOINT="http://127.0.0.1:9000")
    assert s.put("x.json", b"1", if_absent=True).created is False
    assert rec.requests[0].headers["if-none-match"] == "*" and "x-oss-forbid-overwrite" not in rec.requests[0].headers


def test_oss_409_for_another_reason_is_an_error():
    rec = Recorder(httpx.Response(409, content=b"<Error><Code>BucketNotEmpty</Code></Error>"))
    with pytest.raises(StorageError, match="BucketNotEmpty"):
        mock_store(rec).put("x.json", b"1", if_absent=True)


def test_retried_put_that_already_landed_counts_as_created():
    # Attempt 1 times out after sending (it may have written); attempt 2 finds the object
    # with our content: that is our write, so created=True and listeners hear of it.
    data = b'{"v": 1}'
    md5 = hashlib.md5(data).hexdigest()
    rec = Recorder(httpx.ReadTimeout("slow"), httpx.Response(412),
                   httpx.Response(200, headers={"ETag": f'"{md5}"', "Content-Length": str(len(data))}))
    seen = []
    observed = ObservedStore(mock_store(rec, OSS_ENDPOINT="http://127.0.0.1:9000"), [lambda b, k, r, n: seen.append(k)])
    result = observed.put("x.json", data, if_absent=True)
    assert result == PutResult("x.json", md5, True) and seen == ["x.json"]


# --- failures ------------------------------------------------------------------------------

def _assert_no_secret(text: str) -> None:
    for secret in (SK, TOKEN, AK, "Signature=", "Credential="):
        assert secret not in text, text


def test_5xx_is_retried_twice_then_storage_error():
    rec = Recorder(httpx.Response(503, content=b"<Error><Code>SlowDown</Code></Error>"))
    s = mock_store(rec, OSS_ENDPOINT="http://127.0.0.1:9000", OSS_SECURITY_TOKEN=TOKEN)
    with pytest.raises(StorageError) as err:
        s.put("x.json", b"1")
    assert len(rec.requests) == 3 and err.value.status == 503 and "SlowDown" in err.value.message
    _assert_no_secret(str(err.value) + json.dumps(err.value.body()))
    # each attempt is signed afresh (its own x-amz-date / signature)
    assert all("authorization" in r.headers for r in rec.requests)


def test_transient_failures_then_success():
    rec = Recorder(httpx.Response(500), httpx.ConnectError("refused"), httpx.Response(200, headers={"ETag": '"e"'}))
    assert mock_store(rec, OSS_ENDPOINT="http://127.0.0.1:9000").put("x.json", b"1").etag == "e"
    assert len(rec.requests) == 3


@pytest.mark.parametrize("status", [400, 403, 501])
def test_refusals_are_not_retried_and_leak_nothing(status):
    body = (f"<Error><Code>SignatureDoesNotMatch</Code><Message>mismatch</Message><AWSAccessKeyId>{AK}"
            f"</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20250814T000000Z</StringToSign>"
            f"<SignatureProvided>deadbeef</SignatureProvided></Error>").encode()
    rec = Recorder(httpx.Response(status, content=body))
    with pytest.raises(StorageError) as err:
        mock_store(rec, OSS_ENDPOINT="http://127.0.0.1:9000", OSS_SECURITY_TOKEN=TOKEN).get("x.json")
    assert len(rec.requests) == 1 and err.value.status == 503
    assert "SignatureDoesNotMatch" in err.value.message
    _assert_no_secret(str(err.value))
    assert "deadbeef" not in str(err.value) and "StringToSign" not in str(err.value)


def test_missing_bucket_is_an_error_not_a_missing_object():
    rec = Recorder(httpx.Response(404, content=b"<Error><Code>NoSuchBucket</Code></Error>"))
    with pytest.raises(StorageError, match="NoSuchBucket"):
        mock_store(rec, OSS_ENDPOINT="http://127.0.0.1:9000").get("x.json")


def test_server_down_is_a_bounded_storage_error_without_secrets():
    s = ObjectStore(settings(OSS_ENDPOINT=f"http://127.0.0.1:{free_port()}", OSS_SECURITY_TOKEN=TOKEN))
    start = time.monotonic()
    with pytest.raises(StorageError) as err:
        s.put("callbacks/x.json", b"{}", if_absent=True)
    assert time.monotonic() - start < 3
    assert err.value.status == 503 and "3 attempts" in err.value.message and "ConnectError" in err.value.message
    _assert_no_secret(str(err.value) + repr(err.value.__cause__) + repr(err.value.__context__))
    assert err.value.__cause__ is None
    s.close()


def test_total_time_is_bounded():
    def slow(request):
        time.sleep(0.1)
        return httpx.Response(503)

    s = ObjectStore(settings(OSS_ENDPOINT="http://127.0.0.1:9000"),
                    client=httpx.Client(transport=httpx.MockTransport(slow)), max_elapsed=0.15, backoff_base=0.001)
    start = time.monotonic()
    with pytest.raises(StorageError):
        s.get("x")
    assert time.monotonic() - start < 0.4


# --- LocalOssServer specifics ---------------------------------------------------------------

def _local_store(server: LocalOssServer, **env: str) -> ObjectStore:
    return ObjectStore(load(OssSettings, {"ARCHIVE_BUCKET": server.bucket, "OSS_ENDPOINT": server.endpoint,
                                          "OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": SK, **env}),
                       backoff_base=0.01)


def test_local_server_persists_across_restart(tmp_path):
    server = LocalOssServer(tmp_path, LOCAL_BUCKET, AK, SK).start()
    s = _local_store(server)
    s.put("callbacks/dt=2025-08-14/i/a.json", b'{"a":1}', metadata={"event": "agent_stop"})
    s.put("call-logs/dt=2025-08-14/i.json", b'{"b":2}')
    s.put("gone.json", b"x")
    s.delete("gone.json")
    s.close()
    server.stop()
    assert (tmp_path / LOCAL_BUCKET / "callbacks" / "dt=2025-08-14" / "i" / "a.json").read_bytes() == b'{"a":1}'

    again = LocalOssServer(tmp_path, LOCAL_BUCKET, AK, SK).start()
    s = _local_store(again)
    try:
        data, info = s.get("callbacks/dt=2025-08-14/i/a.json")
        assert data == b'{"a":1}' and info.metadata == {"event": "agent_stop"}
        assert [o.key for o in s.list("")] == ["call-logs/dt=2025-08-14/i.json", "callbacks/dt=2025-08-14/i/a.json"]
        assert s.put("call-logs/dt=2025-08-14/i.json", b"other", if_absent=True).created is False
        assert s.head("gone.json") is None
    finally:
        s.close()
        again.stop()
    assert not list(tmp_path.rglob(".tmp-*"))


def test_local_server_recovers_from_a_crash_between_data_and_metadata(tmp_path):
    server = LocalOssServer(tmp_path, LOCAL_BUCKET, AK, SK).start()
    s = _local_store(server)
    try:
        s.put("x.json", b"old", metadata={"m": "1"})
        (tmp_path / LOCAL_BUCKET / "x.json").write_bytes(b"newer")  # data moved, metadata not
        data, info = s.get("x.json")
        assert data == b"newer" and info.etag == hashlib.md5(b"newer").hexdigest() and info.size == 5
        assert [o.etag for o in s.list("x")] == [info.etag]
    finally:
        s.close()
        server.stop()


def test_local_server_checks_signatures_and_keys(local_oss):
    good = _local_store(local_oss)
    good.put("sig/ok.json", b"1")
    wrong_secret = ObjectStore(load(OssSettings, {"ARCHIVE_BUCKET": LOCAL_BUCKET, "OSS_ENDPOINT": local_oss.endpoint,
                                                  "OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": "not-the-secret"}))
    wrong_key = ObjectStore(load(OssSettings, {"ARCHIVE_BUCKET": LOCAL_BUCKET, "OSS_ENDPOINT": local_oss.endpoint,
                                               "OSS_ACCESS_KEY_ID": "someone-else", "OSS_ACCESS_KEY_SECRET": SK}))
    wrong_bucket = ObjectStore(load(OssSettings, {"ARCHIVE_BUCKET": "not-this-bucket", "OSS_ENDPOINT": local_oss.endpoint,
                                                  "OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": SK}))
    for st, code in ((wrong_secret, "SignatureDoesNotMatch"), (wrong_key, "InvalidAccessKeyId"),
                     (wrong_bucket, "NoSuchBucket")):
        with pytest.raises(StorageError, match=code) as err:
            st.get("sig/ok.json")
        assert "not-the-secret" not in str(err.value)
        st.close()
    unsigned = httpx.get(f"{local_oss.endpoint}/{LOCAL_BUCKET}/sig/ok.json", trust_env=False)
    assert unsigned.status_code == 403 and b"<Code>AccessDenied</Code>" in unsigned.content
    good.close()


def test_local_server_requires_the_configured_sts_token(tmp_path):
    server = LocalOssServer(tmp_path, LOCAL_BUCKET, AK, SK, security_token=TOKEN).start()
    try:
        with_token = _local_store(server, OSS_SECURITY_TOKEN=TOKEN)
        assert with_token.put("t.json", b"1").created
        without = _local_store(server)
        with pytest.raises(StorageError, match="InvalidToken"):
            without.get("t.json")
        with_token.close(), without.close()
    finally:
        server.stop()


def test_local_server_forbid_overwrite_and_injected_faults(local_oss):
    oss_style = ObjectStore(load(OssSettings, {"ARCHIVE_BUCKET": LOCAL_BUCKET, "OSS_ENDPOINT": local_oss.endpoint,
                                               "OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": SK}),
                            dialect="oss", backoff_base=0.001)
    try:
        assert oss_style.put("fo/x.json", b"1", if_absent=True).created is True
        assert oss_style.put("fo/x.json", b"2", if_absent=True).created is False
        assert oss_style.get("fo/x.json")[0] == b"1"
        assert list(local_oss.requests)[-3][2] == 409  # FileAlreadyExists, as OSS answers
        local_oss.inject_fault(503, "SlowDown", times=2)
        assert oss_style.get("fo/x.json")[0] == b"1"
        assert [r[2] for r in list(local_oss.requests)[-3:]] == [503, 503, 200]
    finally:
        oss_style.close()


def test_boto3_interoperates_with_the_local_server(local_oss):
    """A second, independent SigV4 client (botocore) is accepted, and reads our objects."""
    import boto3
    from botocore.config import Config

    ours = _local_store(local_oss)
    ours.put("boto/ours.json", b'{"from": "ours"}', metadata={"event": "agent_stop"})
    client = boto3.client("s3", endpoint_url=local_oss.endpoint, aws_access_key_id=AK, aws_secret_access_key=SK,
                          region_name="cn-shanghai",
                          config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                        response_checksum_validation="when_required"))
    got = client.get_object(Bucket=LOCAL_BUCKET, Key="boto/ours.json")
    assert got["Body"].read() == b'{"from": "ours"}' and got["Metadata"] == {"event": "agent_stop"}
    client.put_object(Bucket=LOCAL_BUCKET, Key="boto/theirs ü.json", Body=b"[]")
    assert ours.get("boto/theirs ü.json")[0] == b"[]"
    listed = client.list_objects_v2(Bucket=LOCAL_BUCKET, Prefix="boto/", MaxKeys=1)
    assert listed["IsTruncated"] and listed["Contents"][0]["Key"] == "boto/ours.json"
    rest = client.list_objects_v2(Bucket=LOCAL_BUCKET, Prefix="boto/", ContinuationToken=listed["NextContinuationToken"])
    assert [c["Key"] for c in rest["Contents"]] == ["boto/theirs ü.json"]
    ours.close()
