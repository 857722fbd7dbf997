"""Presigned GET URLs (SigV4 query authentication: the console's audio and video players) against
the sandbox's embedded store, which verifies them like OSS: the object without credentials, and
a 403 for a tampered, expired or other-method URL."""
import time

import httpx
import pytest

from devkit.sandbox.local_oss import LocalOssServer
from shared.clients.object_store import ObjectStore
from shared.settings import OssSettings, load


@pytest.fixture
def store(tmp_path):
    srv = LocalOssServer(tmp_path, "presign-test", "presign-ak", "presign-sk-0123456789")
    srv.start()
    st = ObjectStore(load(OssSettings, {"ARCHIVE_BUCKET": "presign-test", "OSS_ENDPOINT": srv.endpoint,
                                        "OSS_ACCESS_KEY_ID": "presign-ak",
                                        "OSS_ACCESS_KEY_SECRET": "presign-sk-0123456789"}))
    yield st
    st.close()
    srv.stop()


@pytest.mark.parametrize("key", ["recordings/a/sentence_1_user.wav",
                                 "recordings/dt=2026-12-01/i/t/app_ch_2026-12-01-12:21:56.mp4", "recordings/中文 名.wav"])
def test_a_presigned_url_reads_the_object_and_nothing_else(store, key):
    store.put(key, b"RIFF....WAVE", content_type="audio/wav")
    url = store.presign_get(key, 60)
    assert httpx.get(url).content == b"RIFF....WAVE"
    assert "X-Amz-Credential=presign-ak%2F" in url and "presign-sk" not in url
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert httpx.get(tampered).status_code == 403
    assert httpx.put(url, content=b"x").status_code == 403  # GET only
    other = store.presign_get(key + ".other", 60)
    assert httpx.get(other).status_code == 404


def test_an_expired_url_is_refused(store):
    store.put("recordings/x.wav", b"RIFF")
    url = store.presign_get("recordings/x.wav", 1)
    time.sleep(2.1)
    assert httpx.get(url).status_code == 403
    with pytest.raises(ValueError):
        store.presign_get("recordings/x.wav", 0)
