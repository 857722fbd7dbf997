"""The archive bucket over the S3 protocol (docs/protocols.md#archive-chain): a small signed client on httpx.

Why not boto3: its import and client creation cost far more cold-start time than
this module (`python -m devkit.bench.object_store` measures both), and the few
calls the archive needs (PUT, GET, HEAD, DELETE, ListObjectsV2) are simple.

What OSS's S3-compatible endpoint needs, and this client does:
- AWS Signature V4 (`AWS4-HMAC-SHA256`) with the payload's sha256 in
  `x-amz-content-sha256`; bodies are sent whole (never `aws-chunked`) and no
  `x-amz-checksum-*` headers are added (OSS refuses the defaults of boto3 >= 1.36).
- The credential scope's region is the bare region id, e.g. `cn-shanghai` (OSS's V4
  docs: "the region ID ... does not include oss-", and Alibaba's AWS SDK for Java 1.x
  sample signs for `cn-hangzhou` against `https://s3.oss-cn-hangzhou.aliyuncs.com`);
  the service is `s3`. That is `OssSettings.OSS_REGION`.
- STS credentials: the session token goes in `x-amz-security-token` (signed).
- Virtual-hosted-style addressing (`https://<bucket>.s3.oss-<region>-internal.aliyuncs.com/<key>`);
  path-style (`http://127.0.0.1:port/<bucket>/<key>`) for loopback/IP endpoints such as
  moto's server or the sandbox's `devkit.sandbox.local_oss`.
- Write-if-absent: OSS answers `If-None-Match: *` with 501 but honours its own
  `x-oss-forbid-overwrite: true` (409 FileAlreadyExists when the object exists); other
  S3-compatible servers get `If-None-Match: *` (412 when it exists). moto >= 5.0.x
  honours `If-None-Match: *` on PutObject, so no HEAD-then-PUT fallback is needed.

Retries: connection errors, timeouts, 408/429 and 5xx (not 501) are retried twice
with jittered backoff inside a bounded total time; then `StorageError` (503).
Refusals (403, signature errors, ...) raise `StorageError` at once. No error message
ever holds a credential or a signature.

Import cost: standard library only at import time; httpx is imported when the
first store is constructed, settings (pydantic) only in `get_store()`.
"""
from __future__ import annotations

import base64
import builtins
import hashlib
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote_plus, urlsplit

from shared import lazyre
from shared.clients.retry import backoff, cut_off_at
from shared.clients.sigv4 import (
    ALGORITHM,
    EMPTY_SHA256,
    SERVICE,
    amz_date,
    canonical_query,
    canonical_request,
    signature,
    signing_key,
    string_to_sign,
    uri_encode,
)
from shared.errors import ConfigurationError, StorageError

if TYPE_CHECKING:  # pragma: no cover
    import httpx

    from shared.ports import Store
    from shared.settings import OssSettings

MAX_KEY_BYTES = 1024
DEFAULT_MAX_RETRIES = 2
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 507, 509})
_META_NAME = lazyre.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_IPV4 = lazyre.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


# --- public types -------------------------------------------------------------------

class ObjectInfo(NamedTuple):
    """What the store knows about one object. `etag` has no quotes; `last_modified` is
    UTC ISO-8601 (`2025-08-14T02:00:00Z`) when known; `metadata` (x-amz-meta-*, names
    lower-case) is filled by `get` and `head`, not by `list`."""

    key: str
    size: int
    etag: str
    last_modified: str | None = None
    metadata: Mapping[str, str] | None = None  # not compared or hashed (see __eq__)

    # Equal when key, size, ETag and time are: with or without metadata (`list` vs `head`).
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectInfo) or other.__class__ is not self.__class__:
            return NotImplemented
        return self[:4] == other[:4]

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return hash(self[:4])


class PutResult(NamedTuple):
    """The outcome of a put: `created` is False when `if_absent` found an existing object
    (then `etag` is that object's)."""

    key: str
    etag: str
    created: bool


class ObjectNotFound(KeyError):
    """No object under that key (a KeyError, so lookups can treat it as one)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no such object: {self.key[:300]!r}"


# --- keys -------------------------------------------------------------------------

def encode_key(key: str) -> str:
    """An object key as it appears in the request path: UTF-8 percent-encoded, `/` kept."""
    return uri_encode(key, keep_slash=True)


def check_key(key: str) -> str:
    """`key` if it is usable as an object key here, else ValueError (empty, over 1024
    UTF-8 bytes, a leading `/`, `.`/`..` segments that HTTP clients collapse, or NUL)."""
    if not isinstance(key, str) or not key:
        raise ValueError("object key must be a non-empty string")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/") or "\x00" in key or any(seg in (".", "..") for seg in key.split("/")):
        raise ValueError("object key must not start with '/', contain NUL or '.'/'..' segments")
    return key


# --- helpers ------------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}


def _iso_time(value: str | None) -> str | None:
    """Last-Modified (RFC 7231 `Sun, 01 Oct 2023 12:00:00 GMT` or ISO-8601) as `YYYY-MM-DDTHH:MM:SSZ`."""
    if not value:
        return None
    m = re.fullmatch(r"\s*(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|\+00:?00)\s*", value)
    if m:
        return "{}-{}-{}T{}:{}:{}Z".format(*m.groups())
    m = re.fullmatch(r"\s*(?:\w{3},\s*)?(\d{1,2})\s+(\w{3})\s+(\d{4})\s+(\d{2}):(\d{2}):(\d{2})\s+(?:GMT|UTC)\s*",
                     value)
    if m and m.group(2) in _MONTHS:
        day, mon, year, hh, mm, ss = m.groups()
        return f"{year}-{_MONTHS[mon]:02d}-{int(day):02d}T{hh}:{mm}:{ss}Z"
    return value


def _etag(value: str | None) -> str:
    return (value or "").strip().strip('"')


def _xml_fields(body: bytes) -> dict[str, str]:
    """Top-level child elements of an S3 error document (no namespaces)."""
    out: dict[str, str] = {}
    if not body or b"<" not in body:
        return out
    try:
        import xml.etree.ElementTree as ET

        root = ET.fromstring(body)
    except Exception:
        return out
    for child in root:
        out[child.tag.rsplit("}", 1)[-1]] = (child.text or "").strip()
    return out


def _is_ip_or_local(host: str) -> bool:
    return host == "localhost" or ":" in host or bool(_IPV4.fullmatch(host))


# --- the client ---------------------------------------------------------------------

class ObjectStore:
    """A bucket over the S3 protocol. One instance (and one httpx connection pool) per
    warm function instance: use `get_store()`."""

    def __init__(self, settings: OssSettings, *, client: httpx.Client | None = None,
                 addressing: str = "auto", dialect: str = "auto", max_retries: int = DEFAULT_MAX_RETRIES,
                 max_elapsed: float | None = None, backoff_base: float = 0.1) -> None:
        import httpx  # deferred: importing this module stays cheap for code that only needs the types

        self._httpx = httpx
        self.bucket: str = settings.ARCHIVE_BUCKET
        self.region: str = settings.OSS_REGION
        self.endpoint: str = settings.endpoint
        self._ak, self._sk, self._token = settings.credentials()
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("OSS_ENDPOINT must be an http(s) URL with a host")
        if parts.path not in ("", "/") or parts.query or parts.username or parts.password:
            raise ConfigurationError("OSS_ENDPOINT must be scheme://host[:port] only (no path, query or user)")
        self.scheme = parts.scheme
        host = parts.hostname.lower()
        port = parts.port
        default_port = 443 if parts.scheme == "https" else 80
        oss_host = host == "aliyuncs.com" or host.endswith(".aliyuncs.com")
        self.dialect = ("oss" if oss_host else "s3") if dialect == "auto" else dialect
        if self.dialect not in ("oss", "s3"):
            raise ValueError("dialect must be auto, oss or s3")
        if addressing == "auto":
            addressing = "path" if _is_ip_or_local(host) or not (oss_host or host.endswith(".amazonaws.com")) \
                else "virtual"
        if addressing not in ("virtual", "path"):
            raise ValueError("addressing must be auto, virtual or path")
        self.addressing = addressing
        hostname = f"[{host}]" if ":" in host else host
        if addressing == "virtual" and not host.startswith(self.bucket + "."):
            hostname = f"{self.bucket}.{hostname}"
        # The Host header exactly as httpx would send it (signed, so it must match).
        self.host = hostname if port in (None, default_port) else f"{hostname}:{port}"
        self._base_path = f"/{self.bucket}/" if addressing == "path" else "/"
        self.max_retries = max(0, int(max_retries))
        self.connect_timeout = float(getattr(settings, "OSS_CONNECT_TIMEOUT_SECONDS", 2.0))
        self.read_timeout = float(getattr(settings, "OSS_READ_TIMEOUT_SECONDS", 10.0))
        self.max_elapsed = float(max_elapsed) if max_elapsed is not None else self.connect_timeout + self.read_timeout
        self.backoff_base = backoff_base
        self._signing_keys: dict[str, bytes] = {}
        self._owns_client = client is None
        from shared.clients.transport import Transport

        self._client = client if client is not None else httpx.Client(
            timeout=httpx.Timeout(self.read_timeout, connect=self.connect_timeout),
            transport=Transport(max_idle_per_origin=20, keepalive_expiry=5.0),  # httpx's own pool defaults
            trust_env=False,  # no proxies or .netrc credentials from the environment
            follow_redirects=False,
        )

    # -- plumbing --

    def path_for(self, key: str | None = None) -> str:
        """The canonical (encoded) request path of `key`, or of the bucket when None."""
        if key is None:
            return f"/{self.bucket}" if self.addressing == "path" else "/"
        return self._base_path + encode_key(key)

    def url_for(self, key: str | None = None, query: str = "") -> str:
        """The request URL of `key` (or of the bucket when None) with a canonical query."""
        return f"{self.scheme}://{self.host}{self.path_for(key)}" + (f"?{query}" if query else "")

    def _key_for_day(self, datestamp: str) -> bytes:
        k = self._signing_keys.get(datestamp)
        if k is None:
            self._signing_keys = {datestamp: signing_key(self._sk, datestamp, self.region)}
            k = self._signing_keys[datestamp]
        return k

    def sign(self, method: str, path: str, query: str, headers: dict[str, str], payload_hash: str,
             now: float | None = None) -> dict[str, str]:
        """Add x-amz-date, x-amz-content-sha256, x-amz-security-token and Authorization to
        `headers` (lower-case names; every header in it is signed) and return it."""
        stamp = amz_date(now)
        headers["host"] = self.host
        headers["x-amz-date"] = stamp
        headers["x-amz-content-sha256"] = payload_hash
        if self._token:
            headers["x-amz-security-token"] = self._token
        scope = f"{stamp[:8]}/{self.region}/{SERVICE}/aws4_request"
        signed = sorted(headers)
        canon = canonical_request(method, path, query, headers, signed, payload_hash)
        sig = signature(self._key_for_day(stamp[:8]), string_to_sign(stamp, scope, canon))
        headers["authorization"] = (f"{ALGORITHM} Credential={self._ak}/{scope}, "
                                    f"SignedHeaders={';'.join(signed)}, Signature={sig}")
        return headers

    def presign_get(self, key: str, expires: int = 900, now: float | None = None) -> str:
        """A URL that GETs `key` without credentials for `expires` seconds (SigV4 query
        authentication, which OSS's S3-compatible endpoint accepts like S3): for a browser's
        <audio> element. Carries the session token when the credentials are temporary."""
        if not 1 <= expires <= 7 * 86400:
            raise ValueError("expires must be 1 second to 7 days")
        stamp = amz_date(now)
        scope = f"{stamp[:8]}/{self.region}/{SERVICE}/aws4_request"
        params = {"X-Amz-Algorithm": ALGORITHM, "X-Amz-Credential": f"{self._ak}/{scope}", "X-Amz-Date": stamp,
                  "X-Amz-Expires": str(int(expires)), "X-Amz-SignedHeaders": "host"}
        if self._token:
            params["X-Amz-Security-Token"] = self._token
        path = self.path_for(check_key(key))
        query = canonical_query(params)
        canon = canonical_request("GET", path, query, {"host": self.host}, ["host"], "UNSIGNED-PAYLOAD")
        sig = signature(self._key_for_day(stamp[:8]), string_to_sign(stamp, scope, canon))
        return self.url_for(key, f"{query}&X-Amz-Signature={sig}")

    def _request(self, method: str, key: str | None, *, query: Mapping[str, str] | None = None,
                 body: bytes = b"", headers: Mapping[str, str] | None = None, op: str) -> tuple[Any, bool]:
        """Send one signed request with bounded retries; (response, ambiguous) where
        `ambiguous` tells that an earlier attempt may have reached the server."""
        httpx = self._httpx
        path = self.path_for(key)
        qs = canonical_query(query or {})
        payload_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        url = self.url_for(key, qs)
        content = body if method in ("PUT", "POST") else None
        what = f"{op} of {key[:200]!r}" if key else op
        start = time.monotonic()
        deadline = start + self.max_elapsed
        ambiguous = False
        attempts = 0
        failure = ""
        while True:
            attempts += 1
            remaining = max(0.05, deadline - time.monotonic())
            hdrs = {k.lower(): v for k, v in (headers or {}).items()}
            self.sign(method, path, qs, hdrs, payload_hash)
            hdrs["accept-encoding"] = "identity"  # bytes exactly as stored
            timeout = httpx.Timeout(min(self.read_timeout, remaining), connect=min(self.connect_timeout, remaining))
            try:
                request = self._client.build_request(method, url, headers=hdrs, content=content, timeout=timeout)
                response = self._client.send(request, stream=True)
                try:
                    # A trickling answer must not outlive OSS_MAX_ELAPSED_SECONDS.
                    with cut_off_at(response, deadline):
                        response.read()
                except BaseException:
                    response.close()
                    raise
            except httpx.TransportError as exc:
                # Only class names: httpx messages and requests may carry URLs and headers.
                failure = f"{type(exc).__name__} talking to {self.host}"
                if not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                    ambiguous = True
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return response, ambiguous
                ambiguous = ambiguous or response.status_code >= 500
                fields = _xml_fields(response.content)
                failure = f"HTTP {response.status_code} {fields.get('Code', '')}".strip()
                response.close()
            if attempts > self.max_retries:
                break
            delay = backoff(attempts - 1, base=self.backoff_base, cap=1.0)
            if time.monotonic() + delay >= deadline:
                break
            time.sleep(delay)
        elapsed = time.monotonic() - start
        raise StorageError(f"object store unavailable for {what}: {failure} "
                           f"({attempts} attempt{'s' if attempts > 1 else ''} in {elapsed:.1f}s)")

    def _refused(self, response: Any, what: str) -> StorageError:
        fields = _xml_fields(response.content)
        code = fields.get("Code") or f"HTTP{response.status_code}"
        request_id = fields.get("RequestId") or response.headers.get("x-amz-request-id") \
            or response.headers.get("x-oss-request-id")
        message = fields.get("Message", "")[:200]
        # Never echo anything credential-like the server might have put in its message.
        if any(s and s in message for s in (self._ak, self._sk, self._token)) or "Signature" in message \
                or "Credential" in message:
            message = ""
        hint = " (check the credentials, the bucket name and its policy)" if response.status_code in (401, 403) else ""
        text = f"object store refused {what}: HTTP {response.status_code} {code}{hint}"
        if message:
            text += f": {message}"
        return StorageError(text, request_id=request_id)

    @staticmethod
    def _metadata(headers: Mapping[str, str]) -> dict[str, str]:
        out = {}
        for name, value in headers.items():
            low = name.lower()
            for prefix in ("x-amz-meta-", "x-oss-meta-"):
                if low.startswith(prefix):
                    out[low[len(prefix):]] = value
        return out

    def _info(self, key: str, response: Any, size: int | None = None) -> ObjectInfo:
        h = response.headers
        if size is None:
            size = int(h.get("content-length") or 0)
        return ObjectInfo(key, size, _etag(h.get("etag")), _iso_time(h.get("last-modified")), self._metadata(h))

    # -- API --

    def put(self, key: str, data: bytes, *, content_type: str = "application/json", if_absent: bool = False,
            metadata: dict[str, str] | None = None) -> PutResult:
        """Store `data` under `key`. With `if_absent`, an existing object is left as it is
        and the result says `created=False`. Raises StorageError when it cannot be stored."""
        check_key(key)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("data must be bytes")
        data = bytes(data)
        md5 = hashlib.md5(data)
        headers = {"content-type": content_type, "content-md5": base64.b64encode(md5.digest()).decode()}
        for name, value in (metadata or {}).items():
            if not isinstance(name, str) or not _META_NAME.fullmatch(name):
                raise ValueError(f"metadata name {str(name)[:40]!r} must be letters, digits, '-' or '_'")
            if not isinstance(value, str) or not value.isascii() or not value.isprintable() or len(value) > 1024:
                raise ValueError(f"metadata {name!r} must be printable ASCII of at most 1024 characters")
            headers[f"x-amz-meta-{name.lower()}"] = value
        if if_absent:
            if self.dialect == "oss":
                headers["x-oss-forbid-overwrite"] = "true"
            else:
                headers["if-none-match"] = "*"
        response, ambiguous = self._request("PUT", key, body=data, headers=headers, op="put")
        status = response.status_code
        if 200 <= status < 300:
            return PutResult(key, _etag(response.headers.get("etag")) or md5.hexdigest(), True)
        if if_absent and (status == 412 or (status == 409 and _xml_fields(response.content).get("Code")
                                            in ("FileAlreadyExists", "ObjectAlreadyExists", None))):
            existing = self.head(key)
            etag = existing.etag if existing else ""
            # A retried put whose first attempt did reach the server finds its own object.
            created = ambiguous and existing is not None and etag.lower() == md5.hexdigest()
            return PutResult(key, etag, created)
        raise self._refused(response, f"put of {key[:200]!r}")

    def get(self, key: str) -> tuple[bytes, ObjectInfo]:
        """(bytes, info) of the object under `key`; ObjectNotFound when there is none."""
        check_key(key)
        response, _ = self._request("GET", key, op="get")
        if response.status_code == 200:
            data = response.content
            return data, self._info(key, response, len(data))
        if response.status_code == 404 and _xml_fields(response.content).get("Code", "NoSuchKey") == "NoSuchKey":
            raise ObjectNotFound(key)
        raise self._refused(response, f"get of {key[:200]!r}")

    def head(self, key: str) -> ObjectInfo | None:
        """Info about the object under `key`, or None when there is none."""
        check_key(key)
        response, _ = self._request("HEAD", key, op="head")
        if response.status_code == 200:
            return self._info(key, response)
        if response.status_code == 404:
            return None
        raise self._refused(response, f"head of {key[:200]!r}")

    def list(self, prefix: str, *, start_after: str | None = None, page_size: int = 1000) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix` (after `start_after`), in key order.
        ListObjectsV2, `page_size` keys per request, following continuation tokens."""
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be 1..1000")
        import xml.etree.ElementTree as ET

        token: str | None = None
        while True:
            query = {"list-type": "2", "prefix": prefix, "max-keys": str(page_size), "encoding-type": "url"}
            if token:
                query["continuation-token"] = token
            elif start_after:
                query["start-after"] = start_after
            response, _ = self._request("GET", None, query=query, op=f"list of {prefix[:200]!r}")
            if response.status_code != 200:
                raise self._refused(response, f"list of {prefix[:200]!r}")
            try:
                root = ET.fromstring(response.content)
            except ET.ParseError:
                raise StorageError(f"object store answered the list of {prefix[:200]!r} with invalid XML") from None
            top = {el.tag.rsplit("}", 1)[-1]: el for el in root}
            encoded = (top["EncodingType"].text or "").strip().lower() == "url" if "EncodingType" in top else False
            for el in root:
                if el.tag.rsplit("}", 1)[-1] != "Contents":
                    continue
                f = {c.tag.rsplit("}", 1)[-1]: (c.text or "") for c in el}
                key = unquote_plus(f.get("Key", "")) if encoded else f.get("Key", "")
                yield ObjectInfo(key, int(f.get("Size") or 0), _etag(f.get("ETag")), _iso_time(f.get("LastModified")))
            truncated = "IsTruncated" in top and (top["IsTruncated"].text or "").strip().lower() == "true"
            token = (top["NextContinuationToken"].text or "").strip() if "NextContinuationToken" in top else None
            if not truncated or not token:
                return

    def delete(self, key: str) -> None:
        """Remove the object under `key` (no error when there is none)."""
        check_key(key)
        response, _ = self._request("DELETE", key, op="delete")
        if response.status_code in (200, 204, 404):
            return
        raise self._refused(response, f"delete of {key[:200]!r}")

    def delete_many(self, keys: builtins.list[str]) -> builtins.list[str]:
        """Remove many objects, 1,000 per request (DeleteObjects, quiet mode); the keys the store
        reported it could not delete (an empty list when all went)."""
        import xml.etree.ElementTree as ET
        from xml.sax.saxutils import escape

        failed: builtins.list[str] = []
        for i in range(0, len(keys), 1000):
            chunk = [check_key(k) for k in keys[i:i + 1000]]
            body = ("<Delete><Quiet>true</Quiet>" + "".join(f"<Object><Key>{escape(k)}</Key></Object>" for k in chunk)
                    + "</Delete>").encode()
            headers = {"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode(),
                       "content-type": "application/xml"}
            response, _ = self._request("POST", None, query={"delete": ""}, body=body, headers=headers,
                                        op="delete of many objects")
            if response.status_code != 200:
                raise self._refused(response, f"delete of {len(chunk)} objects")
            try:
                root = ET.fromstring(response.content or b"<DeleteResult/>")
            except ET.ParseError:
                raise StorageError("the store answered DeleteObjects with something that is not XML") from None
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            failed += [e.findtext(f"{ns}Key") or "" for e in root.findall(f"{ns}Error")]
        return failed

    def close(self) -> None:
        """Close the connection pool (when this store created it)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ObjectStore(bucket={self.bucket!r}, endpoint={self.endpoint!r}, dialect={self.dialect!r})"


_store: Store | None = None
_store_lock = threading.Lock()


def get_store() -> Store:
    """The process-wide store from `load(OssSettings)` (one connection pool per warm instance)."""
    global _store
    store = _store
    if store is not None:
        return store
    with _store_lock:
        if _store is None:
            from shared.settings import OssSettings, load

            settings = load(OssSettings)
            _store = ObjectStore(settings, max_elapsed=settings.OSS_MAX_ELAPSED_SECONDS)
        return _store


def use_store(store: Store) -> None:
    """Make `store` the process-wide store until `reset_store()`: the sandbox's observed
    wrapper, or a test's fake. Production code never calls this."""
    global _store
    with _store_lock:
        _store = store


def reset_store() -> None:
    """Forget (and close) the process-wide store; the next `get_store()` re-reads settings."""
    global _store
    with _store_lock:
        store, _store = _store, None
    close = getattr(store, "close", None)  # fakes and wrappers may hold no connections
    if close is not None:
        close()
