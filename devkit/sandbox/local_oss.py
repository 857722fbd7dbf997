"""The sandbox's embedded object store: a small S3-compatible HTTP server on a folder.

Development only. It implements exactly what `shared.clients.object_store` uses, path-style:
PutObject (with `If-None-Match: *` -> 412, and OSS's `x-oss-forbid-overwrite: true`
-> 409 FileAlreadyExists), GetObject, HeadObject, DeleteObject, ListObjectsV2
(prefix, start-after, continuation-token, max-keys, encoding-type=url). ETags are the
quoted MD5 hex, Last-Modified is kept, x-amz-meta-* round-trips, errors are S3 XML.

Every request must carry a valid AWS Signature V4 for the configured access key
(the signature is verified, as OSS would), and like OSS it refuses `aws-chunked`
bodies and `x-amz-checksum-*`/trailer headers, so a client that works here does not
trip over those on OSS.

Storage: `<root>/<bucket>/<key>` holds each object's bytes (browsable: open
`.sandbox/oss/<bucket>/callbacks/...` in an editor), `<root>/.meta/<bucket>/<key>.json`
its ETag, content type, metadata and time. Writes go to a temp file and are moved
into place with os.replace (os.link for create-if-absent), so a crash never leaves a
half-written object; a metadata file that does not belong to the data beside it (a
crash between the two moves) is ignored and the ETag recomputed. Data survives a
restart with the same root. Limitation: a key cannot also be a "directory" of other
keys (`a` and `a/b`); the archive layout never does that (such a put gets 409).
"""
from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import os
import tempfile
import threading
import time
import uuid
from collections import deque
from email.utils import formatdate
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

from devkit.httpserver import QuickHandler, Server
from shared.clients import sigv4 as s3

MAX_BODY = 64 * 1024 * 1024
MAX_CLOCK_SKEW = 15 * 60
_SEG_SAFE = " -_.~=+,@()!$&;'"  # kept as-is in file names; everything else is %XX


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _segment(seg: str) -> str:
    if seg == "":
        return "%_"  # never produced by quote(): '%' itself always becomes %25
    if seg in (".", "..") or seg.startswith(".tmp-"):  # no traversal; never mistaken for a temp file
        return "%2E" + quote(seg[1:], safe=_SEG_SAFE)
    return quote(seg, safe=_SEG_SAFE)


def _unsegment(name: str) -> str:
    return "" if name == "%_" else unquote(name)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


class _Store:
    """Objects of one bucket in a folder."""

    def __init__(self, root: Path, bucket: str, fsync: bool = False) -> None:
        self.fsync = fsync  # rename alone survives a process crash; fsync also a power loss
        self.data = root / bucket
        self.meta = root / ".meta" / bucket
        self.data.mkdir(parents=True, exist_ok=True)
        self.meta.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def _rel(self, key: str) -> Path:
        parts = [_segment(s) for s in key.split("/")]
        if any(len(p.encode()) > 240 for p in parts):
            raise S3Error(400, "KeyTooLongError", "a key segment is too long for the sandbox's file system")
        return Path(*parts)

    def paths(self, key: str) -> tuple[Path, Path]:
        rel = self._rel(key)
        return self.data / rel, self.meta / rel.parent / (rel.name + ".json")

    def _load_meta(self, data_path: Path, meta_path: Path) -> tuple[dict, os.stat_result] | None:
        try:
            st = data_path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not data_path.is_file():
            return None
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("mtime_ns") == st.st_mtime_ns and meta.get("size") == st.st_size:
                return meta, st
        except (OSError, ValueError):
            pass
        # Metadata missing or stale (crash between the two moves): what the data says.
        md5 = hashlib.md5(data_path.read_bytes()).hexdigest()
        return {"etag": md5, "size": st.st_size, "content_type": "application/octet-stream", "metadata": {},
                "last_modified": st.st_mtime}, st

    def head(self, key: str) -> dict | None:
        data_path, meta_path = self.paths(key)
        found = self._load_meta(data_path, meta_path)
        return found[0] if found else None

    def read(self, key: str) -> tuple[bytes, dict] | None:
        data_path, meta_path = self.paths(key)
        for _ in range(3):  # a concurrent overwrite may swap the file between stat and read
            found = self._load_meta(data_path, meta_path)
            if not found:
                return None
            meta, st = found
            try:
                data = data_path.read_bytes()
            except FileNotFoundError:
                return None
            if len(data) == meta["size"]:
                return data, meta
        return data, {**meta, "size": len(data), "etag": hashlib.md5(data).hexdigest()}

    def write(self, key: str, data: bytes, content_type: str, metadata: dict[str, str], if_absent: bool) -> dict | None:
        """Store atomically; None when `if_absent` and the key exists."""
        data_path, meta_path = self.paths(key)
        with self.lock:
            try:
                data_path.parent.mkdir(parents=True, exist_ok=True)
                meta_path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise S3Error(409, "ObjectPathConflict", "the sandbox store cannot hold a key that is also a "
                                                         "prefix of other keys (a and a/b)") from None
            if data_path.is_dir():
                raise S3Error(409, "ObjectPathConflict", "the sandbox store cannot hold a key that is also a "
                                                         "prefix of other keys (a and a/b)")
            if if_absent and data_path.exists():
                return None
            tmp = mtmp = None
            try:
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=data_path.parent)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    if self.fsync:
                        fh.flush()
                        os.fsync(fh.fileno())
                st = os.stat(tmp)
                meta = {"etag": hashlib.md5(data).hexdigest(), "size": len(data), "content_type": content_type,
                        "metadata": metadata, "last_modified": time.time(), "mtime_ns": st.st_mtime_ns}
                mfd, mtmp = tempfile.mkstemp(prefix=".tmp-", dir=meta_path.parent)
                with os.fdopen(mfd, "w", encoding="utf-8") as fh:
                    json.dump(meta, fh)
                if if_absent:
                    try:
                        os.link(tmp, data_path)  # atomic create-if-absent, even across processes
                    except FileExistsError:
                        return None
                    except OSError:  # no hard links on this file system: the lock still serialises us
                        os.replace(tmp, data_path)
                else:
                    os.replace(tmp, data_path)
                os.replace(mtmp, meta_path)
                return meta
            finally:
                for leftover in (tmp, mtmp):
                    if leftover:
                        try:
                            os.unlink(leftover)
                        except FileNotFoundError:
                            pass

    def delete(self, key: str) -> None:
        data_path, meta_path = self.paths(key)
        with self.lock:
            for p in (data_path, meta_path):
                try:
                    p.unlink()
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    pass
            for base, p in ((self.data, data_path.parent), (self.meta, meta_path.parent)):
                while p != base and base in p.parents:
                    try:
                        p.rmdir()
                    except OSError:
                        break
                    p = p.parent

    def keys(self, prefix: str) -> list[str]:
        """Every key starting with `prefix`, in S3 (UTF-8 byte) order."""
        head, _, _ = prefix.rpartition("/")
        start = self.data
        base_parts: list[str] = []
        if head:
            base_parts = head.split("/")
            start = self.data / self._rel(head)
        if not start.is_dir():
            return []
        out = []
        for dirpath, _dirnames, filenames in os.walk(start):
            rel = Path(dirpath).relative_to(start)
            parts = base_parts + [_unsegment(p) for p in rel.parts]
            for name in filenames:
                if name.startswith(".tmp-"):
                    continue
                key = "/".join(parts + [_unsegment(name)])
                if key.startswith(prefix):
                    out.append(key)
        out.sort(key=lambda k: k.encode("utf-8"))
        return out


class LocalOssServer:
    """`LocalOssServer(root, bucket, ak, sk).start()`; point OSS_ENDPOINT at `.endpoint`."""

    def __init__(self, root: Path, bucket: str, access_key_id: str, access_key_secret: str,
                 host: str = "127.0.0.1", port: int = 0, *, security_token: str | None = None,
                 verify_signatures: bool = True, fsync: bool = False) -> None:
        self.root = Path(root)
        self.bucket = bucket
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.security_token = security_token  # when set, requests must carry exactly this token
        self.verify_signatures = verify_signatures
        self.host = host
        self.port = port
        self.store = _Store(self.root, bucket, fsync=fsync)
        self.requests: deque[tuple[str, str, int]] = deque(maxlen=1000)  # (method, path, status): recent, for tests
        self._faults: list[list[Any]] = []  # [status, code, times]
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """`http://host:port` once started."""
        assert self._server is not None, "start() first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> LocalOssServer:
        """Listen and serve on a background thread."""
        server = Server((self.host, self.port), _handler(self))
        self._server = server
        self.port = server.server_address[1]  # a restart keeps the same port
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="local-oss", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (the data stays in `root`)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def inject_fault(self, status: int = 503, code: str = "ServiceUnavailable", times: int = 1) -> None:
        """Answer the next `times` requests with `status` (tests of retries)."""
        with self._lock:
            self._faults.append([status, code, times])

    def _take_fault(self) -> tuple[int, str] | None:
        with self._lock:
            while self._faults:
                fault = self._faults[0]
                if fault[2] <= 0:
                    self._faults.pop(0)
                    continue
                fault[2] -= 1
                return fault[0], fault[1]
        return None

    # -- request verification --

    def verify(self, method: str, raw_path: str, query: list[tuple[str, str]], headers: dict[str, str],
               body: bytes) -> None:
        """Check the request's SigV4 Authorization like S3/OSS; S3Error when it is wrong."""
        auth = headers.get("authorization", "")
        if not auth and any(k == "X-Amz-Signature" for k, _ in query):
            return self.verify_presigned(method, raw_path, query, headers)
        if not auth.startswith(s3.ALGORITHM + " "):
            raise S3Error(403, "AccessDenied", "requests must be signed with AWS4-HMAC-SHA256")
        fields: dict[str, str] = {}
        for part in auth[len(s3.ALGORITHM) + 1:].split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        cred, signed = fields.get("Credential", ""), fields.get("SignedHeaders", "")
        provided = fields.get("Signature", "")
        scope_parts = cred.split("/")
        if len(scope_parts) != 5 or scope_parts[3] != "s3" or scope_parts[4] != "aws4_request":
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "the Credential of the Authorization header is malformed")
        if scope_parts[0] != self.access_key_id:
            raise S3Error(403, "InvalidAccessKeyId", "the access key id is not known to this store")
        stamp = headers.get("x-amz-date", "")
        try:
            when = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise S3Error(403, "AccessDenied", "x-amz-date is missing or malformed") from None
        if abs(time.time() - when) > MAX_CLOCK_SKEW:
            raise S3Error(403, "RequestTimeTooSkewed", "the request time is too far from the server time")
        if scope_parts[1] != stamp[:8]:
            raise S3Error(403, "SignatureDoesNotMatch", "the credential scope date is not the x-amz-date day")
        names = signed.split(";") if signed else []
        if "host" not in names or any(n not in headers for n in names):
            raise S3Error(403, "AccessDenied", "host and every listed header must be signed and present")
        if self.security_token is not None and headers.get("x-amz-security-token") != self.security_token:
            raise S3Error(403, "InvalidToken", "the security token is missing or wrong")
        if "x-amz-security-token" in headers and "x-amz-security-token" not in names:
            raise S3Error(403, "AccessDenied", "x-amz-security-token must be signed")
        payload_hash = headers.get("x-amz-content-sha256", "")
        if payload_hash.startswith("STREAMING-") or "aws-chunked" in headers.get("content-encoding", ""):
            raise S3Error(400, "InvalidArgument", "aws-chunked encoding is not supported (OSS refuses it too)")
        if any(h.startswith("x-amz-checksum-") for h in headers) or "x-amz-trailer" in headers:
            raise S3Error(400, "InvalidArgument",
                          "x-amz-checksum-*/x-amz-trailer are not supported (OSS refuses boto3's default "
                          "checksums: use request_checksum_calculation=when_required)")
        if not payload_hash:
            raise S3Error(400, "InvalidRequest", "x-amz-content-sha256 is required")
        if payload_hash != "UNSIGNED-PAYLOAD" and payload_hash != hashlib.sha256(body).hexdigest():
            raise S3Error(400, "XAmzContentSHA256Mismatch", "the body does not match x-amz-content-sha256")
        if not self.verify_signatures:
            return
        path = s3.uri_encode(unquote(raw_path), keep_slash=True)
        canon = s3.canonical_request(method, path, s3.canonical_query(query), headers, names, payload_hash)
        key = s3.signing_key(self.access_key_secret, scope_parts[1], scope_parts[2], "s3")
        expected = s3.signature(key, s3.string_to_sign(stamp, "/".join(scope_parts[1:]), canon))
        if not hmac.compare_digest(expected, provided):
            raise S3Error(403, "SignatureDoesNotMatch", "the request signature does not match")


    def verify_presigned(self, method: str, raw_path: str, query: list[tuple[str, str]],
                         headers: dict[str, str]) -> None:
        """Check a presigned URL (SigV4 query authentication; GET and HEAD only) and its expiry."""
        params = dict(query)
        if method not in ("GET", "HEAD"):
            raise S3Error(403, "AccessDenied", "a presigned URL here may only GET or HEAD")
        if params.get("X-Amz-Algorithm") != s3.ALGORITHM or params.get("X-Amz-SignedHeaders") != "host":
            raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm or X-Amz-SignedHeaders is wrong")
        scope_parts = params.get("X-Amz-Credential", "").split("/")
        if len(scope_parts) != 5 or scope_parts[0] != self.access_key_id or scope_parts[3:] != ["s3", "aws4_request"]:
            raise S3Error(403, "InvalidAccessKeyId", "the X-Amz-Credential is malformed or not known")
        stamp = params.get("X-Amz-Date", "")
        try:
            when = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
            expires = int(params.get("X-Amz-Expires", ""))
        except ValueError:
            raise S3Error(403, "AccessDenied", "X-Amz-Date or X-Amz-Expires is malformed") from None
        if not 1 <= expires <= 7 * 86400 or time.time() > when + expires:
            raise S3Error(403, "AccessDenied", "Request has expired")
        if self.security_token is not None and params.get("X-Amz-Security-Token") != self.security_token:
            raise S3Error(403, "InvalidToken", "the security token is missing or wrong")
        if not self.verify_signatures:
            return
        rest = [(k, v) for k, v in query if k != "X-Amz-Signature"]
        path = s3.uri_encode(unquote(raw_path), keep_slash=True)
        canon = s3.canonical_request(method, path, s3.canonical_query(rest), {"host": headers.get("host", "")},
                                     ["host"], "UNSIGNED-PAYLOAD")
        key = s3.signing_key(self.access_key_secret, scope_parts[1], scope_parts[2], "s3")
        expected = s3.signature(key, s3.string_to_sign(stamp, "/".join(scope_parts[1:]), canon))
        if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
            raise S3Error(403, "SignatureDoesNotMatch", "the request signature does not match")


def _error_xml(err: S3Error, resource: str, request_id: str) -> bytes:
    extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in err.extra.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(err.code)}</Code>'
            f"<Message>{escape(err.message)}</Message>{extra}<Resource>{escape(resource)}</Resource>"
            f"<RequestId>{request_id}</RequestId></Error>").encode()


def _handler(srv: LocalOssServer) -> type[QuickHandler]:
    class Handler(QuickHandler):
        protocol_version = "HTTP/1.1"
        server_version = "LocalOSS/1"
        disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stalls)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_HEAD(self) -> None:
            self._dispatch("HEAD")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def _record(self, status: int) -> None:
            # Before the answer goes out, so a client that got it also sees it recorded.
            with srv._lock:
                srv.requests.append((self.command, urlsplit(self.path).path, status))

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                  method: str = "GET") -> None:
            self._record(status)
            self.send_response(status)
            hdrs = {"x-amz-request-id": self._rid, "Content-Length": str(len(body))}
            if body and "Content-Type" not in (headers or {}):
                hdrs["Content-Type"] = "application/xml"
            hdrs.update(headers or {})
            for k, v in hdrs.items():
                self.send_header(k, v)
            self.end_headers()
            if method != "HEAD" and body:
                self.wfile.write(body)

        def _dispatch(self, method: str) -> None:
            self._rid = uuid.uuid4().hex[:16].upper()
            parts = urlsplit(self.path)
            raw_path = parts.path
            try:
                headers = {k.lower(): v for k, v in self.headers.items()}
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    self.close_connection = True
                    raise S3Error(411, "MissingContentLength", "send the body with a Content-Length")
                length = int(headers.get("content-length") or 0)
                if length > MAX_BODY:
                    self.close_connection = True
                    raise S3Error(400, "EntityTooLarge", "the sandbox store takes bodies up to 64 MiB")
                body = self.rfile.read(length) if length else b""
                fault = srv._take_fault()
                if fault:
                    raise S3Error(fault[0], fault[1], "injected fault")
                query = parse_qsl(parts.query, keep_blank_values=True)
                srv.verify(method, raw_path, query, headers, body)
                self._route(method, unquote(raw_path), dict(query), headers, body)
            except S3Error as err:
                self._send(err.status, b"" if method == "HEAD" else _error_xml(err, unquote(raw_path), self._rid),
                           method=method)
            except Exception as exc:  # noqa: BLE001 - the sandbox answers 500 like a real store would
                self._send(500, _error_xml(S3Error(500, "InternalError", type(exc).__name__), raw_path, self._rid),
                           method=method)

        def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> int:
            bucket, _, key = path.lstrip("/").partition("/")
            if bucket != srv.bucket:
                raise S3Error(404, "NoSuchBucket", "the specified bucket does not exist", BucketName=bucket)
            store = srv.store
            if not key:
                if method == "GET" and query.get("list-type") == "2":
                    return self._list(query)
                if method == "POST" and "delete" in query:
                    return self._delete_objects(headers, body)
                if method in ("HEAD", "PUT"):
                    self._send(200, method=method)
                    return 200
                raise S3Error(501, "NotImplemented", "only ListObjectsV2 (list-type=2) is implemented")
            sub = sorted(k for k in query if not k.startswith("X-Amz-"))  # a presigned URL's own parameters
            if sub:
                raise S3Error(501, "NotImplemented", f"sub-resources are not implemented: {sub}")
            if method == "PUT":
                if "x-amz-copy-source" in headers:
                    raise S3Error(501, "NotImplemented", "CopyObject is not implemented")
                if "content-md5" in headers:
                    try:
                        sent = base64.b64decode(headers["content-md5"], validate=True)
                    except ValueError:
                        raise S3Error(400, "InvalidDigest", "Content-MD5 is not valid base64") from None
                    if sent != hashlib.md5(body).digest():
                        raise S3Error(400, "BadDigest", "the body does not match Content-MD5")
                inm = headers.get("if-none-match")
                if inm is not None and inm.strip() != "*":
                    raise S3Error(501, "NotImplemented", "only If-None-Match: * is implemented")
                forbid = headers.get("x-oss-forbid-overwrite", "").lower() == "true"
                meta = {k[len("x-amz-meta-"):]: v for k, v in headers.items() if k.startswith("x-amz-meta-")}
                result = store.write(key, body, headers.get("content-type", "application/octet-stream"), meta,
                                     if_absent=inm is not None or forbid)
                if result is None:
                    if forbid:
                        raise S3Error(409, "FileAlreadyExists", "the object exists and x-oss-forbid-overwrite is true",
                                      Key=key)
                    raise S3Error(412, "PreconditionFailed", "at least one of the preconditions did not hold",
                                  Condition="If-None-Match")
                self._send(200, headers={"ETag": f'"{result["etag"]}"'})
                return 200
            if method in ("GET", "HEAD"):
                found = store.read(key) if method == "GET" else None
                info = found[1] if found else (store.head(key) if method == "HEAD" else None)
                if info is None:
                    raise S3Error(404, "NoSuchKey", "the specified key does not exist", Key=key)
                hdrs = {"ETag": f'"{info["etag"]}"',
                        "Content-Type": info.get("content_type") or "application/octet-stream",
                        "Last-Modified": formatdate(info["last_modified"], usegmt=True)}
                hdrs.update({f"x-amz-meta-{k}": v for k, v in (info.get("metadata") or {}).items()})
                if method == "HEAD":
                    self._record(200)
                    self.send_response(200)
                    for k, v in {**hdrs, "Content-Length": str(info["size"]), "x-amz-request-id": self._rid}.items():
                        self.send_header(k, v)
                    self.end_headers()
                else:
                    assert found is not None  # GET: a missing object raised NoSuchKey above
                    self._send(200, found[0], hdrs)
                return 200
            if method == "DELETE":
                store.delete(key)
                self._send(204)
                return 204
            raise S3Error(405, "MethodNotAllowed", f"{method} is not allowed on an object")

        def _delete_objects(self, headers: dict[str, str], body: bytes) -> int:
            """DeleteObjects (`POST /?delete`, at most 1,000 keys; Content-MD5 required, as OSS and S3 do)."""
            import xml.etree.ElementTree as ET

            md5 = headers.get("content-md5", "")
            try:
                if base64.b64decode(md5, validate=True) != hashlib.md5(body).digest():
                    raise S3Error(400, "InvalidDigest", "Content-MD5 does not match the body")
            except ValueError:
                raise S3Error(400, "InvalidDigest", "Content-MD5 is missing or not base64") from None
            try:
                root = ET.fromstring(body)
            except ET.ParseError:
                raise S3Error(400, "MalformedXML", "the Delete document is not XML") from None
            ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            keys = [(o.findtext(f"{ns}Key") or "") for o in root.findall(f"{ns}Object")]
            if not keys or len(keys) > 1000:
                raise S3Error(400, "MalformedXML", "a Delete lists 1 to 1,000 objects")
            quiet = (root.findtext(f"{ns}Quiet") or "").strip().lower() == "true"
            deleted = []
            for key in keys:
                srv.store.delete(key)
                deleted.append(key)
            items = "" if quiet else "".join(f"<Deleted><Key>{escape(k)}</Key></Deleted>" for k in deleted)
            self._send(200, ('<?xml version="1.0" encoding="UTF-8"?>\n'
                             f"<DeleteResult>{items}</DeleteResult>").encode(), {"Content-Type": "application/xml"})
            return 200

        def _list(self, query: dict[str, str]) -> int:
            if "delimiter" in query:
                raise S3Error(501, "NotImplemented", "delimiter is not implemented")
            prefix = query.get("prefix", "")
            try:
                max_keys = max(0, min(1000, int(query.get("max-keys", "1000"))))
            except ValueError:
                raise S3Error(400, "InvalidArgument", "max-keys must be an integer") from None
            token = query.get("continuation-token")
            after = query.get("start-after") or ""
            if token is not None:
                try:
                    after = max(after, base64.urlsafe_b64decode(token.encode()).decode("utf-8"),
                                key=lambda k: k.encode("utf-8"))
                except ValueError:
                    raise S3Error(400, "InvalidArgument", "the continuation token is not valid") from None
            url = query.get("encoding-type") == "url"
            enc = (lambda k: quote(k, safe="/")) if url else (lambda k: k)
            keys = [k for k in srv.store.keys(prefix) if k.encode("utf-8") > after.encode("utf-8")]
            page, truncated = keys[:max_keys], len(keys) > max_keys
            out = ['<?xml version="1.0" encoding="UTF-8"?>\n'
                   '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                   f"<Name>{escape(srv.bucket)}</Name><Prefix>{escape(enc(prefix))}</Prefix>",
                   f"<KeyCount>{len(page)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
                   f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
            if url:
                out.append("<EncodingType>url</EncodingType>")
            if token is not None:
                out.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
            elif query.get("start-after"):
                out.append(f"<StartAfter>{escape(enc(query['start-after']))}</StartAfter>")
            for key in page:
                meta = srv.store.head(key)
                if meta is None:  # deleted meanwhile
                    continue
                out.append(f"<Contents><Key>{escape(enc(key))}</Key><LastModified>{_iso(meta['last_modified'])}"
                           f"</LastModified><ETag>&quot;{meta['etag']}&quot;</ETag><Size>{meta['size']}</Size>"
                           f"<StorageClass>STANDARD</StorageClass></Contents>")
            if truncated and page:
                nxt = base64.urlsafe_b64encode(page[-1].encode("utf-8")).decode()
                out.append(f"<NextContinuationToken>{nxt}</NextContinuationToken>")
            out.append("</ListBucketResult>")
            self._send(200, "".join(out).encode("utf-8"), {"Content-Type": "application/xml"})
            return 200

    return Handler
