import base64
import hashlib
import hmac
import json
import time

import pytest

from devkit.tokens import mint_token
from shared import jwt_hs256
from shared.auth import Principal, authorize_client, bearer_value
from shared.errors import Forbidden
from shared.http import Headers, Request
from shared.settings import CoreSettings, load

SECRET = "s" * 40


def req(auth: str | None) -> Request:
    headers = Headers({"Authorization": auth} if auth is not None else {})
    return Request("POST", "/x", headers, {}, b"{}")


def test_roundtrip_and_claims():
    token = jwt_hs256.encode({"sub": "alice", "exp": 2000}, SECRET)
    assert jwt_hs256.decode(token, SECRET, now=1000) == {"sub": "alice", "exp": 2000}


@pytest.mark.parametrize("mutate, reason", [
    (lambda t: t + "x", "token signature invalid"),
    (lambda t: t.rsplit(".", 1)[0] + ".", "token signature invalid"),
    (lambda t: "a.b", "malformed token"),
    (lambda t: "!!!.###.$$$", "malformed token"),
    (lambda t: "x" * 5000, "malformed token"),
])
def test_tampered_tokens_are_refused(mutate, reason):
    token = jwt_hs256.encode({"sub": "alice", "exp": 2000}, SECRET)
    with pytest.raises(jwt_hs256.InvalidToken, match=reason):
        jwt_hs256.decode(mutate(token), SECRET, now=1000)


def test_alg_none_and_other_algorithms_refused():
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    for alg in ("none", "HS512", "RS256"):
        forged = f"{b64({'alg': alg})}.{b64({'sub': 'alice', 'exp': 9e9})}."
        with pytest.raises(jwt_hs256.InvalidToken, match="algorithm"):
            jwt_hs256.decode(forged, SECRET, now=1000)


def test_exp_required_and_enforced_with_leeway():
    no_exp = jwt_hs256.encode({"sub": "a"}, SECRET)
    with pytest.raises(jwt_hs256.InvalidToken, match="exp"):
        jwt_hs256.decode(no_exp, SECRET, now=1)
    t = jwt_hs256.encode({"sub": "a", "exp": 100}, SECRET)
    assert jwt_hs256.decode(t, SECRET, now=120, leeway=30)["sub"] == "a"
    with pytest.raises(jwt_hs256.InvalidToken, match="expired"):
        jwt_hs256.decode(t, SECRET, now=131, leeway=30)


def test_wrong_secret_refused():
    t = jwt_hs256.encode({"sub": "a", "exp": 9e9}, SECRET)
    with pytest.raises(jwt_hs256.InvalidToken, match="signature"):
        jwt_hs256.decode(t, "t" * 40)


def test_bearer_value_forms():
    assert bearer_value("Bearer abc") == "abc"
    assert bearer_value("bearer   abc ") == "abc"
    assert bearer_value("abc") == "abc"
    assert bearer_value("Bearer ") is None
    assert bearer_value(None) is None


def test_jwt_mode_principal_and_user_binding():
    s = load(CoreSettings, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET})
    p = authorize_client(req(f"Bearer {mint_token('alice', SECRET)}"), s)
    assert p == Principal("jwt", "alice")
    p.require_user("alice")
    with pytest.raises(Forbidden):
        p.require_user("bob")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "garbage.garbage.garbage"])
def test_jwt_mode_refuses_missing_and_garbled(header):
    s = load(CoreSettings, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET})
    with pytest.raises(Forbidden) as exc:
        authorize_client(req(header), s)
    assert exc.value.status == 403


def test_jwt_without_sub_refused():
    s = load(CoreSettings, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET})
    with pytest.raises(Forbidden, match="subject"):
        authorize_client(req(jwt_hs256.encode({"exp": int(time.time()) + 600}, SECRET)), s)


def test_static_mode_accepts_any_listed_token_only():
    s = load(CoreSettings, {"AUTH_MODE": "static", "AUTH_STATIC_TOKENS": "tok-one-123, tok-two-456"})
    assert authorize_client(req("tok-two-456"), s).subject is None
    assert authorize_client(req("Bearer tok-one-123"), s).mode == "static"
    for bad in ("tok-one-12", "tok-one-1234", "tok-two-456 ", "x"):
        with pytest.raises(Forbidden):
            authorize_client(req(f"Bearer {bad}x" if bad.endswith(" ") else bad), s)


def test_none_mode_lets_everyone_in():
    s = load(CoreSettings, {"AUTH_MODE": "none"})
    assert authorize_client(req(None), s) == Principal("none")


# --- Strict decoding (security review): each check with a correctly *signed* token, so the
# --- check itself refuses it, not the signature.

NOW = 1_700_000_000
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(header: object = None, claims: object = None, *, raw_header: bytes | None = None,
           raw_claims: bytes | None = None, secret: str = SECRET) -> str:
    """A token signed with `secret` whose header/payload are exactly what the test says."""
    h = raw_header if raw_header is not None else json.dumps(
        {"alg": "HS256", "typ": "JWT"} if header is None else header).encode()
    c = raw_claims if raw_claims is not None else json.dumps(
        {"sub": "alice", "exp": NOW + 600} if claims is None else claims).encode()
    signing = f"{b64(h)}.{b64(c)}"
    return f"{signing}.{b64(hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest())}"


def decode(token: str, **kw):
    return jwt_hs256.decode(token, SECRET, now=NOW, **kw)


def test_signed_helper_gives_an_accepted_token():
    assert decode(signed())["sub"] == "alice"


@pytest.mark.parametrize("raw, reason", [
    (b'{"sub":"a","exp":true}', "exp claim is not an integer"),
    (b'{"sub":"a","exp":"1700000600"}', "exp claim is not an integer"),
    (b'{"sub":"a","exp":1700000600.0}', "exp claim is not an integer"),
    (b'{"sub":"a","exp":1700000600.5}', "exp claim is not an integer"),
    (b'{"sub":"a","exp":null}', "exp claim is not an integer"),
    (b'{"sub":"a","exp":[1700000600]}', "exp claim is not an integer"),
    (b'{"sub":"a","exp":1e400}', "exp claim is not an integer"),  # parses as float inf
    (b'{"sub":"a","exp":-1e400}', "exp claim is not an integer"),
    (b'{"sub":"a","exp":NaN}', r"malformed token \(payload is not JSON\)"),
    (b'{"sub":"a","exp":Infinity}', r"malformed token \(payload is not JSON\)"),
    (b'{"sub":"a"}', "no exp claim"),
])
def test_exp_must_be_a_finite_integer(raw, reason):
    with pytest.raises(jwt_hs256.InvalidToken, match=reason):
        decode(signed(raw_claims=raw))


def test_exp_too_far_ahead_is_refused():
    ten_years = signed(claims={"sub": "a", "exp": NOW + 10 * 365 * 86400})
    with pytest.raises(jwt_hs256.InvalidToken, match="lifetime too long") as exc:
        decode(ten_years, leeway=30)
    assert not isinstance(exc.value, jwt_hs256.TokenExpired)
    # the bound is max_ttl + leeway after now, inclusive
    assert decode(signed(claims={"sub": "a", "exp": NOW + 86400 + 30}), leeway=30)
    with pytest.raises(jwt_hs256.InvalidToken, match="lifetime too long"):
        decode(signed(claims={"sub": "a", "exp": NOW + 86400 + 31}), leeway=30)
    assert decode(signed(claims={"sub": "a", "exp": NOW + 600}), max_ttl=600)
    with pytest.raises(jwt_hs256.InvalidToken, match="600 seconds"):
        decode(signed(claims={"sub": "a", "exp": NOW + 601}), max_ttl=600)
    huge = signed(raw_claims=b'{"sub":"a","exp":' + b"9" * 400 + b"}")
    with pytest.raises(jwt_hs256.InvalidToken, match="lifetime too long"):
        decode(huge)


def test_expired_is_its_own_error_code():
    with pytest.raises(jwt_hs256.TokenExpired) as exc:
        decode(signed(claims={"sub": "a", "exp": NOW - 31}), leeway=30)
    assert exc.value.error_code == "TokenExpired" and str(exc.value) == "token expired"


@pytest.mark.parametrize("claims, reason", [
    ({"nbf": "0"}, "nbf claim is not a number"),
    ({"nbf": True}, "nbf claim is not a number"),
    ({"nbf": None}, "nbf claim is not a number"),
    ({"iat": "now"}, "iat claim is not a number"),
    ({"iat": False}, "iat claim is not a number"),
    ({"iat": [NOW]}, "iat claim is not a number"),
])
def test_nbf_and_iat_must_be_numbers(claims, reason):
    with pytest.raises(jwt_hs256.InvalidToken, match=reason):
        decode(signed(claims={"sub": "a", "exp": NOW + 600, **claims}))
    with pytest.raises(jwt_hs256.InvalidToken, match=reason.split()[0] + " claim is not a number"):
        name = next(iter(claims))
        decode(signed(raw_claims=b'{"sub":"a","exp":1700000600,"%s":1e400}' % name.encode()))


def test_numeric_nbf_and_iat_are_accepted_and_nbf_honoured_with_leeway():
    assert decode(signed(claims={"sub": "a", "exp": NOW + 600, "iat": NOW - 1.5, "nbf": NOW + 30}), leeway=30)
    with pytest.raises(jwt_hs256.InvalidToken, match="not yet valid"):
        decode(signed(claims={"sub": "a", "exp": NOW + 600, "nbf": NOW + 31}), leeway=30)
    with pytest.raises(jwt_hs256.InvalidToken, match="not yet valid"):
        decode(signed(claims={"sub": "a", "exp": NOW + 600, "nbf": NOW + 0.5}))


@pytest.mark.parametrize("header, reason", [
    ({"alg": "HS256", "crit": ["exp"]}, "crit"),
    ({"alg": "HS256", "crit": []}, "crit"),
    ({"alg": "hs256"}, "algorithm"),
    ({"alg": "HS256 "}, "algorithm"),
    ({"alg": ["HS256"]}, "algorithm"),
    ({"typ": "JWT"}, "algorithm"),
    ({"alg": "HS256", "typ": "JWS"}, "typ must be JWT"),
    ({"alg": "HS256", "typ": "at+jwt"}, "typ must be JWT"),
    ({"alg": "HS256", "typ": 1}, "typ must be JWT"),
    ({"alg": "HS256", "typ": None}, "typ must be JWT"),
])
def test_header_must_be_exactly_hs256_jwt_without_crit(header, reason):
    with pytest.raises(jwt_hs256.InvalidToken, match=reason):
        decode(signed(header))


@pytest.mark.parametrize("header", [{"alg": "HS256"}, {"alg": "HS256", "typ": "JWT"}, {"alg": "HS256", "typ": "jwt"},
                                    {"alg": "HS256", "typ": "JWT", "kid": "k1"}])
def test_header_forms_that_are_accepted(header):
    assert decode(signed(header))["sub"] == "alice"


@pytest.mark.parametrize("aud, ok", [
    ("api", True), (["other", "api"], True), (["api"], True),
    ("other", False), ([], False), (["other"], False), ("API", False),
    (None, False), ([1, "api"], False), ({"api": True}, False), (7, False),
])
def test_audience_enforced_when_set(aud, ok):
    claims = {"sub": "a", "exp": NOW + 600} if aud is None else {"sub": "a", "exp": NOW + 600, "aud": aud}
    token = signed(claims=claims)
    if ok:
        assert decode(token, audience="api")["sub"] == "a"
    else:
        with pytest.raises(jwt_hs256.InvalidToken, match="aud"):
            decode(token, audience="api")
    assert decode(token)["sub"] == "a"  # no audience configured: not checked


@pytest.mark.parametrize("iss, ok", [("https://login.example", True), ("https://evil.example", False),
                                     (None, False), (["https://login.example"], False), (1, False)])
def test_issuer_enforced_when_set(iss, ok):
    claims = {"sub": "a", "exp": NOW + 600} if iss is None else {"sub": "a", "exp": NOW + 600, "iss": iss}
    token = signed(claims=claims)
    if ok:
        assert decode(token, issuer="https://login.example")["sub"] == "a"
    else:
        with pytest.raises(jwt_hs256.InvalidToken, match="iss"):
            decode(token, issuer="https://login.example")
    assert decode(token)["sub"] == "a"


def test_each_segment_has_exactly_one_spelling():
    token = signed()
    head, body, sig = token.split(".")
    assert decode(token)
    # 32 signature bytes = 43 characters; the last one carries 4 bits + 2 that must be zero.
    last = _B64.index(sig[-1])
    for other in _B64:
        if other == sig[-1]:
            continue
        alt = f"{head}.{body}.{sig[:-1]}{other}"
        with pytest.raises(jwt_hs256.InvalidToken) as exc:
            decode(alt)
        if _B64.index(other) >> 2 == last >> 2:  # decodes to the same bytes: the old decoder accepted it
            assert base64.urlsafe_b64decode(sig[:-1] + other + "=") == base64.urlsafe_b64decode(sig + "=")
            assert "not canonical base64url" in str(exc.value)


@pytest.mark.parametrize("mutate, where", [
    (lambda h, b, s: f"{h}=.{b}.{s}", "header is not base64url"),
    (lambda h, b, s: f"{h}.{b}==.{s}", "payload is not base64url"),
    (lambda h, b, s: f"{h}.{b}.{s}=", "signature is not base64url"),
    (lambda h, b, s: f"{h}.{b}.{s.replace(s[5], '+')}", "signature is not base64url"),
    (lambda h, b, s: f"{h}.{b}.{s[:20]}/{s[21:]}", "signature is not base64url"),
    (lambda h, b, s: f"{h}.{b}.{s[:20]} {s[21:]}", "signature is not base64url"),
    (lambda h, b, s: f"{h}.{b}.{s[:20]}\u00e9{s[21:]}", "signature is not base64url"),
    (lambda h, b, s: f"{h}.{b}.{s}AA", "signature is not base64url"),  # 45 chars: impossible length
    (lambda h, b, s: f".{b}.{s}", "header is not base64url"),
    (lambda h, b, s: f"{h}..{s}", "payload is not base64url"),
    (lambda h, b, s: f"{h}.{b}.", "signature invalid"),
    (lambda h, b, s: f"{h}.{b}.{s}.", "three dot-separated parts"),
])
def test_base64url_is_strict(mutate, where):
    token = signed()
    with pytest.raises(jwt_hs256.InvalidToken, match=where):
        decode(mutate(*token.split(".")))


def test_non_canonical_payload_and_header_spellings_are_refused_even_when_signed():
    # "eyJ" ... a 1-byte-remainder segment: a trailing character with stray low bits.
    raw = json.dumps({"sub": "alice", "exp": NOW + 600}).encode()
    assert len(raw) % 3 != 0
    canon = b64(raw)
    bumped = canon[:-1] + _B64[_B64.index(canon[-1]) | 1]
    assert bumped != canon and base64.urlsafe_b64decode(bumped + "=" * (-len(bumped) % 4)) == raw
    head = b64(json.dumps({"alg": "HS256"}).encode())
    signing = f"{head}.{bumped}"
    token = f"{signing}.{b64(hmac.new(SECRET.encode(), signing.encode(), hashlib.sha256).digest())}"
    with pytest.raises(jwt_hs256.InvalidToken, match="payload is not canonical base64url"):
        decode(token)


@pytest.mark.parametrize("kw, reason", [
    ({"raw_header": b'["HS256"]'}, "header is not a JSON object"),
    ({"raw_header": b'"HS256"'}, "header is not a JSON object"),
    ({"raw_header": b'{"alg":"none","alg":"HS256"}'}, "header has a duplicate member"),
    ({"raw_header": b'{"alg":"HS256"'}, "header is not JSON"),
    ({"raw_header": '{"alg":"HS256"}'.encode("utf-16")}, "header is not JSON"),
    ({"raw_header": b'\xef\xbb\xbf{"alg":"HS256"}'}, "header is not JSON"),  # BOM
    ({"raw_claims": b'[{"sub":"alice"}]'}, "payload is not a JSON object"),
    ({"raw_claims": b"1700000600"}, "payload is not a JSON object"),
    ({"raw_claims": b'{"sub":"bob","sub":"alice","exp":1700000600}'}, "payload has a duplicate member"),
    ({"raw_claims": b'{"sub":"a","exp":1700000600,"x":{"k":1,"k":2}}'}, "payload has a duplicate member"),
    ({"raw_claims": b'{"sub":"\xff","exp":1700000600}'}, "payload is not JSON"),
    ({"raw_claims": b"[" * 3000}, "payload is not JSON"),
])
def test_header_and_payload_are_json_objects_without_duplicates(kw, reason):
    with pytest.raises(jwt_hs256.InvalidToken, match=reason):
        decode(signed(**kw))


def test_encode_refuses_non_json_numbers():
    with pytest.raises(ValueError):
        jwt_hs256.encode({"sub": "a", "exp": float("nan")}, SECRET)


def core(**env: str) -> CoreSettings:
    return load(CoreSettings, {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET, **env})


def test_authorize_maps_every_refusal_to_403_with_the_kits_codes_and_never_echoes_the_token():
    now = int(time.time())
    cases = [
        (signed(claims={"sub": "alice", "exp": now - 3600}), "TokenExpired", "expired"),
        (signed(claims={"sub": "alice", "exp": now + 10 * 365 * 86400}), "InvalidToken", "lifetime too long"),
        (signed(claims={"sub": "alice", "exp": str(now + 600)}), "InvalidToken", "exp"),
        (signed({"alg": "HS256", "crit": ["b64"]}, {"sub": "alice", "exp": now + 600}), "InvalidToken", "crit"),
        (signed(raw_claims=b'{"sub":"bob","sub":"alice","exp":%d}' % (now + 600)), "InvalidToken", "duplicate"),
        (signed(claims={"sub": "alice", "exp": now + 600, "nbf": now + 3600}), "InvalidToken", "not yet valid"),
        (signed(claims={"sub": "alice", "exp": now + 600}) + "=", "InvalidToken", "base64url"),
    ]
    s = core()
    for token, code, reason in cases:
        with pytest.raises(Forbidden) as exc:
            authorize_client(req(f"Bearer {token}"), s)
        assert exc.value.status == 403 and exc.value.error_code == code and reason in exc.value.message
        for segment in token.split("."):
            assert segment.rstrip("=") not in exc.value.message


def test_authorize_uses_max_ttl_audience_and_issuer_settings():
    now = int(time.time())
    s = core(AUTH_JWT_MAX_TTL_SECONDS="600", AUTH_JWT_AUDIENCE="aicall", AUTH_JWT_ISSUER="https://login.example")
    good = mint_token("alice", SECRET, 300, audience="aicall", issuer="https://login.example")
    assert authorize_client(req(good), s) == Principal("jwt", "alice")
    for token, reason in [
        (mint_token("alice", SECRET, 3600, audience="aicall", issuer="https://login.example"), "lifetime"),
        (mint_token("alice", SECRET, 300, issuer="https://login.example"), "no aud claim"),
        (mint_token("alice", SECRET, 300, audience="other", issuer="https://login.example"), "audience"),
        (mint_token("alice", SECRET, 300, audience="aicall"), "no iss claim"),
        (mint_token("alice", SECRET, 300, audience="aicall", issuer="https://evil.example"), "issuer"),
    ]:
        with pytest.raises(Forbidden, match=reason) as exc:
            authorize_client(req(token), s)
        assert exc.value.error_code == "InvalidToken"
    assert jwt_hs256.decode(good, SECRET, now=now)["aud"] == "aicall"


def test_mint_token_takes_audience_and_issuer_from_the_environment(monkeypatch):
    monkeypatch.setenv("AUTH_JWT_AUDIENCE", "aicall")
    monkeypatch.setenv("AUTH_JWT_ISSUER", "https://login.example")
    claims = jwt_hs256.decode(mint_token("alice", SECRET), SECRET)
    assert claims["aud"] == "aicall" and claims["iss"] == "https://login.example"
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
