"""POST /api/v2/archive/erase through the real handler on moto's OSS: admins only; a dry run lists
and deletes nothing; an erasure deletes every object of the call and writes a receipt; bad input
is a 400 naming the field."""
import json

import pytest

from devkit.tokens import mint_token
from shared.archive import layout
from shared.clients import object_store
from tests.support import call, http_event, load_function

SECRET = "erase-fn-jwt-secret-" + "x" * 32
PATH = "/api/v2/archive/erase"
DT = "2024-01-31"


@pytest.fixture
def fn(monkeypatch, oss_env):
    return load_function("erase_archive", monkeypatch, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET})


def post(handler, body, **claims):
    return call(handler, http_event(body, path=PATH, token=mint_token("ops", SECRET, **claims)))


def seed_call(instance_id):
    store = object_store.get_store()
    keys = [layout.callback_key(instance_id, "agent_stop", f"{DT}T01:00:00Z", {"n": 1}),
            layout.call_log_key(DT, instance_id), layout.analysis_key(DT, instance_id, "default"),
            layout.owner_key(instance_id)]
    for k in keys:
        store.put(k, json.dumps({"instance_id": instance_id, "user_id": "someone"}).encode())
    return keys


def test_only_admins_may_erase(fn):
    status, _, out = post(fn, {"instance_ids": ["x1"]})
    assert (status, out["error_code"]) == (403, "AdminRoleRequired")


@pytest.mark.parametrize("body, field", [
    ({}, "instance_ids"), ({"instance_ids": ["a"], "user_id": "u"}, "instance_ids"),
    ({"instance_ids": []}, "instance_ids"), ({"instance_ids": ["bad id"]}, "instance_ids"),
    ({"user_id": "u", "since": "2024-02-30"}, "since"), ({"user_id": "u", "since": "2024-02-02", "until": "2024-02-01"},
                                                        "until"),
])
def test_bad_requests_name_the_field(fn, body, field):
    status, _, out = post(fn, body, role="admin")
    assert status == 400 and out["message"].startswith(field), out


def test_dry_run_then_erasure_of_a_call(fn):
    keys = seed_call("erase-api-1")
    other = seed_call("erase-api-10")  # an id that starts with the other one's: untouched
    store = object_store.get_store()
    body = {"instance_ids": ["erase-api-1"], "since": DT, "until": DT}
    status, _, dry = post(fn, {**body, "dry_run": True}, role="admin")
    assert status == 200 and dry["total"] == 4 and all(store.head(k) for k in keys)
    status, _, done = post(fn, body, role="admin")
    assert status == 200 and done["total"] == 4 and done["calls"] == ["erase-api-1"]
    assert not any(store.head(k) for k in keys) and all(store.head(k) for k in other)
    receipt = json.loads(store.get(done["receipt"])[0])
    assert receipt["deleted"] == {"analyses": 1, "call_logs": 1, "callbacks": 1, "owner_records": 1}
    assert store.head(layout.erased_key("erase-api-1")) is not None
    # The call index: an `erased` update drops the call's row at the next compaction.
    updates = [i.key for i in store.list(f"{layout.INDEX_UPDATES}dt={DT}/erase-api-1/")]
    assert len(updates) == 1 and "-erased-" in updates[0] and receipt["index_rows"] == 1
    assert post(fn, body, role="admin")[2]["total"] == 0  # again: nothing left
