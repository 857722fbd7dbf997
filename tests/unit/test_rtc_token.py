import base64
import json
import re

from shared.api import rtc_token
from tests.support import sample

VECTORS = sample("vectors.json")["artc_token"]


def test_public_vector_reproduces_exactly():
    for v in VECTORS:
        assert rtc_token.signature(v["app_id"], v["app_key"], v["channel_id"], v["user_id"], v["nonce"],
                                   v["timestamp"]) == v["token"]
        token = rtc_token.build(app_id=v["app_id"], app_key=v["app_key"], channel_id=v["channel_id"],
                                user_id=v["user_id"], nonce=v["nonce"], timestamp=v["timestamp"])
        assert token == v["rtc_auth_token"]
        assert base64.b64decode(token).decode() == v["json_compact_in_official_key_order"]


def test_token_starts_like_the_docs_and_keeps_key_order():
    token = rtc_token.build(app_id="a", app_key="k", channel_id="c", user_id="u", timestamp=1)
    assert token.startswith("eyJnc2xiIjp")
    assert list(rtc_token.parse(token)) == ["gslb", "appid", "userid", "nonce", "channelid", "timestamp", "token"]


def test_any_field_changes_the_signature():
    base = dict(app_id="a", app_key="k", channel_id="c", user_id="u", nonce="", timestamp=10)
    ref = rtc_token.signature(**base)
    for field in base:
        changed = dict(base)
        changed[field] = changed[field] + 1 if isinstance(changed[field], int) else changed[field] + "x"
        assert rtc_token.signature(**changed) != ref, field


def test_new_channel_id_is_32_lowercase_hex_and_unique():
    ids = {rtc_token.new_channel_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_custom_gslb_list_is_emitted():
    token = rtc_token.build(app_id="a", app_key="k", channel_id="c", user_id="u", timestamp=1,
                            gslb=["https://x.example", "https://y.example"])
    assert json.loads(base64.b64decode(token))["gslb"] == ["https://x.example", "https://y.example"]


def test_channel_id_is_a_version_4_uuid():
    import uuid

    for _ in range(50):
        u = uuid.UUID(hex=rtc_token.new_channel_id())
        assert u.version == 4 and u.variant == uuid.RFC_4122
