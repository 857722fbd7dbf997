"""The CallLogUrl guard: only https to allowed hosts, redirects re-checked, size capped."""
import json

import httpx
import pytest

from shared.clients.safe_fetch import FetchFailed, Refused, check_url, fetch_json

HOSTS = ("*.aliyuncs.com",)
GOOD = "https://bucket.oss-cn-shanghai.aliyuncs.com/calllog/abc.json?Expires=1&Signature=x"


def test_good_url_passes():
    assert check_url(GOOD, HOSTS) == GOOD


@pytest.mark.parametrize("url, why", [
    ("http://bucket.oss-cn-shanghai.aliyuncs.com/x", "only https"),
    ("ftp://bucket.oss-cn-shanghai.aliyuncs.com/x", "only https"),
    ("https://evil.example.com/x", "CALL_LOG_ALLOWED_HOSTS"),
    ("https://aliyuncs.com.evil.example/x", "CALL_LOG_ALLOWED_HOSTS"),
    ("https://evilaliyuncs.com/x", "CALL_LOG_ALLOWED_HOSTS"),
    ("https://user:pw@bucket.oss-cn-shanghai.aliyuncs.com/x", "userinfo"),
    ("https://bucket.oss-cn-shanghai.aliyuncs.com@evil.example/x", "userinfo"),
    ("https://127.0.0.1/x", "IP literal"),
    ("https://[::1]/x", "IP literal"),
    ("https://169.254.169.254/latest/meta-data", "IP literal"),
    ("https://2130706433/x", "CALL_LOG_ALLOWED_HOSTS"),
    ("https://bucket.oss-cn-shanghai.aliyuncs.com:8443/x", "port"),
    ("https:///x", "no host"),
    ("not a url", "no host"),
])
def test_refused(url, why):
    with pytest.raises(Refused, match=why):
        check_url(url, HOSTS)


def test_loopback_http_only_when_insecure_dev_allowed():
    with pytest.raises(Refused):
        check_url("http://127.0.0.1:9/x", HOSTS)
    assert check_url("http://127.0.0.1:9/x", HOSTS, allow_insecure=True)
    with pytest.raises(Refused, match="IP literal"):  # insecure dev mode still refuses non-loopback IPs
        check_url("http://10.1.2.3/x", HOSTS, allow_insecure=True)


def transport(routes):
    def handler(request: httpx.Request) -> httpx.Response:
        return routes[str(request.url)](request)
    return httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)


def test_redirect_to_other_host_is_refused():
    client = transport({GOOD: lambda r: httpx.Response(302, headers={"location": "https://evil.example.com/x"})})
    with pytest.raises(Refused, match="CALL_LOG_ALLOWED_HOSTS"):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)


def test_redirect_within_allowed_hosts_is_followed():
    other = "https://b2.oss-cn-shanghai.aliyuncs.com/y.json"
    client = transport({GOOD: lambda r: httpx.Response(302, headers={"location": other}),
                        other: lambda r: httpx.Response(200, json={"dialog": []})})
    assert fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client) == {"dialog": []}


def test_redirect_loop_is_bounded():
    client = transport({GOOD: lambda r: httpx.Response(302, headers={"location": GOOD})})
    with pytest.raises(Refused, match="redirected more than"):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)


def test_size_cap_declared_and_streamed():
    big = json.dumps({"x": "y" * 5000}).encode()
    client = transport({GOOD: lambda r: httpx.Response(200, content=big)})
    with pytest.raises(Refused, match="limit"):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)

    def chunked(_):
        return httpx.Response(200, content=iter([b"[" + b"1," * 700, b"1]"]))  # no content-length
    client = transport({GOOD: chunked})
    with pytest.raises(Refused, match="limit"):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)


def test_not_json_refused_and_http_errors_are_transient():
    client = transport({GOOD: lambda r: httpx.Response(200, content=b"<html>")})
    with pytest.raises(Refused, match="not JSON"):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)
    client = transport({GOOD: lambda r: httpx.Response(403, content=b"expired")})
    with pytest.raises(FetchFailed, match="403"):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)


def test_messages_never_echo_the_signed_query():
    with pytest.raises(Refused) as exc:
        check_url("https://evil.example.com/x?Signature=SECRET123", HOSTS)
    assert "SECRET123" not in str(exc.value)


def _httpx_errors() -> list[type[BaseException]]:
    """Every exception class httpx exports (its whole hierarchy, enumerated, not listed by hand)."""
    import inspect

    return sorted((c for c in vars(httpx).values() if inspect.isclass(c) and issubclass(c, Exception)),
                  key=lambda c: c.__name__)


def make_error(cls: type[BaseException]) -> BaseException:
    request = httpx.Request("GET", GOOD)
    for attempt in (lambda: cls("boom", request=request, response=httpx.Response(500, request=request)),
                    lambda: cls("boom", request=request), lambda: cls("boom"), lambda: cls()):
        try:
            return attempt()
        except TypeError:
            continue
    raise AssertionError(f"cannot build {cls}")


def test_every_httpx_error_class_is_enumerated():
    names = {c.__name__ for c in _httpx_errors()}
    assert {"HTTPError", "DecodingError", "InvalidURL", "UnsupportedProtocol", "StreamConsumed", "ReadTimeout",
            "RemoteProtocolError", "TooManyRedirects", "CookieConflict", "HTTPStatusError"} <= names


@pytest.mark.parametrize("cls", _httpx_errors(), ids=lambda c: c.__name__)
def test_every_httpx_error_while_fetching_is_refused_failed_or_left_to_the_workflow(cls):
    """The fetch path maps httpx's errors to Refused (retrying cannot help) or FetchFailed
    (it may); only StreamError/CookieConflict (programming errors, not the server's doing)
    propagate, and the archive step counts those as unexpected (test_archive_call_log.py)."""
    exc = make_error(cls)

    def raising(request: httpx.Request) -> httpx.Response:
        raise exc

    client = httpx.Client(transport=httpx.MockTransport(raising))
    with pytest.raises(Exception) as caught:
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)
    if issubclass(cls, (httpx.StreamError, httpx.CookieConflict)):
        assert caught.type is cls
    elif issubclass(cls, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.DecodingError,
                          httpx.TooManyRedirects)):
        assert caught.type is Refused
    else:
        assert caught.type is FetchFailed
    assert "Signature" not in str(caught.value)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_malformed_compressed_body_is_refused(encoding):
    client = transport({GOOD: lambda r: httpx.Response(200, headers={"content-encoding": encoding},
                                                        content=b"this is not compressed at all")})
    with pytest.raises(Refused, match="could not be decoded"):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)


def test_deeply_nested_json_is_refused_not_a_recursion_error():
    client = transport({GOOD: lambda r: httpx.Response(200, content=b"[" * 100_000)})
    with pytest.raises(Refused, match="not JSON"):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=200_000, timeout=1, http=client)


def test_redirect_to_an_unparseable_location_is_refused():
    client = transport({GOOD: lambda r: httpx.Response(302, headers={"location": "https://[oops/x"})})
    with pytest.raises(Refused):
        fetch_json(GOOD, allowed_hosts=HOSTS, max_bytes=1000, timeout=1, http=client)
