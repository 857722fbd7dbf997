"""OSS stand-in for tests: moto's S3 server over real HTTP on a loopback port.

Its fixtures are registered for every test by `tests/conftest.py` (`pytest_plugins`):
`moto_oss` (session) is the running server and its bucket; `oss_env` points the
OssSettings environment variables at it and resets the cached settings and store.
The server is shared by the whole session: tests use keys of their own.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

BUCKET = "aicall-test-archive"
ACCESS_KEY_ID = "moto-test-access-key"
ACCESS_KEY_SECRET = "moto-test-secret-0123456789abcdef"


@dataclass
class MotoOss:
    """A running moto S3 server with one bucket."""

    endpoint: str
    bucket: str
    access_key_id: str
    access_key_secret: str
    server: Any = None

    def env(self) -> dict[str, str]:
        """The environment variables that point OssSettings at this server."""
        return {"ARCHIVE_BUCKET": self.bucket, "OSS_ENDPOINT": self.endpoint,
                "OSS_ACCESS_KEY_ID": self.access_key_id, "OSS_ACCESS_KEY_SECRET": self.access_key_secret}


def _create_bucket(oss: MotoOss) -> None:
    """CreateBucket with a signed request of our own (no boto3: it costs import time)."""
    import hashlib

    import httpx

    from shared.clients.object_store import ObjectStore
    from shared.settings import OssSettings, load

    store = ObjectStore(load(OssSettings, oss.env()))
    # moto reads the region from the credential scope and wants it as LocationConstraint.
    body = (f'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<LocationConstraint>{store.region}</LocationConstraint></CreateBucketConfiguration>").encode()
    try:
        headers = store.sign("PUT", store.path_for(None), "", {}, hashlib.sha256(body).hexdigest())
        response = httpx.put(store.url_for(None), headers=headers, content=body, trust_env=False)
        # moto's backends are per process: a second server in one session sees the bucket.
        assert response.status_code == 200 or b"BucketAlreadyOwnedByYou" in response.content, response.text
    finally:
        store.close()


_running: MotoOss | None = None


def _start() -> MotoOss:
    """The process's one moto server (started on first use, stopped at exit)."""
    global _running
    if _running is None:
        import atexit

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        atexit.register(server.stop)
        host, port = server.get_host_and_port()
        oss = MotoOss(f"http://{host}:{port}", BUCKET, ACCESS_KEY_ID, ACCESS_KEY_SECRET, server)
        _create_bucket(oss)
        _running = oss
    return _running


@pytest.fixture(scope="session")
def moto_oss():
    """moto's S3 server on a free loopback port, with the test bucket created.

    Every module that imports this fixture gets its own session-scoped instance (pytest
    registers imported fixtures per module), so they all share one server through `_start()`.
    """
    yield _start()


@pytest.fixture
def oss_env(monkeypatch, moto_oss):
    """OSS settings pointed at moto (ARCHIVE_BUCKET, OSS_ENDPOINT, OSS_ACCESS_KEY_*)."""
    from shared.clients import object_store
    from shared.settings import reset_cache

    for name, value in moto_oss.env().items():
        monkeypatch.setenv(name, value)
    reset_cache()
    object_store.reset_store()
    yield moto_oss
    object_store.reset_store()
