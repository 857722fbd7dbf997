from shared.clients import acs3 as acs
from tests.support import sample

VECTORS = sample("vectors.json")["acs3_hmac_sha256"]


def test_public_vector():
    for v in VECTORS:
        canonical, signed = acs.canonical_request(v["method"], v["path"], v["query"], v["headers"], v["body"].encode())
        assert acs.sha256_hex(canonical.encode()) == v["hashed_canonical_request"]
        auth = acs.authorization(method=v["method"], path=v["path"], query=v["query"], headers=v["headers"],
                                 body=v["body"].encode(), access_key_id=v["access_key_id"],
                                 access_key_secret=v["access_key_secret"])
        assert auth == v["authorization"]


def test_sign_request_reproduces_vector_from_parts():
    v = VECTORS[0]
    h = v["headers"]
    headers = acs.sign_request(method="POST", host=h["host"], path="/", query=v["query"], body=b"",
                               action=h["x-acs-action"], version=h["x-acs-version"],
                               access_key_id=v["access_key_id"], access_key_secret=v["access_key_secret"],
                               date=h["x-acs-date"], nonce=h["x-acs-signature-nonce"])
    assert headers["Authorization"] == v["authorization"]


def test_rfc3986_query_encoding():
    assert acs.canonical_query({"b": "a b*c~d/é", "a": "1"}) == "a=1&b=a%20b%2Ac~d%2F%C3%A9"


def test_sts_token_is_signed():
    headers = acs.sign_request(method="POST", host="h", path="/", query={}, body=b"", action="A", version="V",
                               access_key_id="ak", access_key_secret="sk", security_token="sts")
    assert "x-acs-security-token" in headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
