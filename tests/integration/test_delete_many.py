"""ObjectStore.delete_many (DeleteObjects, 1,000 keys a request, what the compaction deletes its
applied updates with) against moto's S3 server and the sandbox's embedded store, over HTTP."""
import pytest

from devkit.sandbox.local_oss import LocalOssServer
from shared.clients import object_store
from shared.clients.object_store import ObjectStore
from shared.settings import OssSettings, load

KEYS = [f"warehouse/updates/dt=2026-12-01/del-many/{i:04d}-<&>中.json" for i in range(1203)]


@pytest.fixture(params=["moto", "embedded"])
def store(request, tmp_path):
    if request.param == "moto":
        request.getfixturevalue("oss_env")
        yield object_store.get_store()
        return
    srv = LocalOssServer(tmp_path, "del-many", "dm-ak", "dm-sk-0123456789")
    srv.start()
    st = ObjectStore(load(OssSettings, {"ARCHIVE_BUCKET": "del-many", "OSS_ENDPOINT": srv.endpoint,
                                        "OSS_ACCESS_KEY_ID": "dm-ak", "OSS_ACCESS_KEY_SECRET": "dm-sk-0123456789"}))
    yield st
    st.close()
    srv.stop()


def test_many_objects_go_in_requests_of_a_thousand(store):
    keep = "warehouse/updates/dt=2026-12-01/del-many-other/keep.json"
    for key in [*KEYS, keep]:
        store.put(key, b"{}")
    assert store.delete_many(KEYS + ["warehouse/updates/dt=2026-12-01/del-many/never-existed.json"]) == []
    assert [o.key for o in store.list("warehouse/updates/dt=2026-12-01/del-many")] == [keep]
    assert store.delete_many([]) == []
    with pytest.raises(ValueError):
        store.delete_many(["../outside"])
