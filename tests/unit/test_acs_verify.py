import pytest

from devkit.sims.acs_verify import SignatureError, Verifier
from shared.clients import acs3 as acs


def signed(query=None, body=b"", secret="sk", date=None, token=None, nonce=None):
    query = query or {"InstanceId": "a b*~"}
    headers = acs.sign_request(method="POST", host="ice.local", path="/", query=query, body=body,
                               action="DescribeAIAgentInstance", version="2020-11-09", access_key_id="ak",
                               access_key_secret=secret, date=date, security_token=token, nonce=nonce)
    return query, headers


def raw(query):
    # what the official SDK puts on the wire: '+' for spaces
    from urllib.parse import urlencode

    return urlencode(query)


def test_accepts_good_request_with_plus_or_percent_encoding():
    v = Verifier({"ak": "sk"})
    q, h = signed()
    assert v.verify("POST", "/", raw(q), h, b"") == "ak"
    q, h = signed()
    assert v.verify("POST", "/", acs.canonical_query(q), h, b"") == "ak"


@pytest.mark.parametrize("mutate, code", [
    # the signature's last hex digit changed (always a change, whatever it was)
    (lambda q, h: (q, {**h, "Authorization": h["Authorization"][:-1] + ("1" if h["Authorization"][-1] == "0"
                                                                          else "0")}), "SignatureDoesNotMatch"),
    (lambda q, h: ({**q, "InstanceId": "other"}, h), "SignatureDoesNotMatch"),
    (lambda q, h: (q, {k: v for k, v in h.items() if k != "x-acs-date"}), "MissingParameter"),
    (lambda q, h: (q, {k: v for k, v in h.items() if k != "Authorization"}), "MissingAuthorization"),
])
def test_refusals(mutate, code):
    v = Verifier({"ak": "sk"})
    q, h = mutate(*signed())
    with pytest.raises(SignatureError) as exc:
        v.verify("POST", "/", raw(q), h, b"")
    assert exc.value.code == code


def test_wrong_key_unknown_key_skew_and_nonce_reuse():
    v = Verifier({"ak": "sk"})
    q, h = signed(secret="other")
    with pytest.raises(SignatureError, match="signature"):
        v.verify("POST", "/", raw(q), h, b"")
    with pytest.raises(SignatureError) as exc:
        Verifier({"ak2": "sk"}).verify("POST", "/", raw(q), h, b"")
    assert exc.value.code == "InvalidAccessKeyId.NotFound"
    q, h = signed(date=acs.acs_date(0))
    with pytest.raises(SignatureError) as exc:
        v.verify("POST", "/", raw(q), h, b"")
    assert exc.value.code == "InvalidTimeStamp.Expired"
    q, h = signed(nonce="n1")
    v.verify("POST", "/", raw(q), h, b"")
    with pytest.raises(SignatureError) as exc:
        v.verify("POST", "/", raw(q), h, b"")
    assert exc.value.code == "SignatureNonceUsed"


def test_body_hash_and_sts_token():
    v = Verifier({"ak": "sk"}, sts_tokens={"ak": "tok"})
    q, h = signed(body=b'{"a":1}', token="tok")
    assert v.verify("POST", "/", raw(q), h, b'{"a":1}') == "ak"
    q, h = signed(body=b'{"a":1}', token="tok")
    with pytest.raises(SignatureError):
        v.verify("POST", "/", raw(q), h, b'{"a":2}')
    q, h = signed(token="wrong")
    with pytest.raises(SignatureError) as exc:
        v.verify("POST", "/", raw(q), h, b"")
    assert exc.value.code == "InvalidSecurityToken.Mismatch"
