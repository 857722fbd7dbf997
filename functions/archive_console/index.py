"""GET /console/: the QA console, a static single-page app shipped with this function
(static/; README "QA console"). It signs in with an admin JWT kept in the browser's session
storage and reads the archive API; this function serves files only and holds no secret."""
import hashlib
import mimetypes
from pathlib import Path
from typing import Any

from shared.errors import NotFound
from shared.http import RawResponse, endpoint
from shared.settings import HttpSettings

SETTINGS = (HttpSettings,)
ROOT = Path(__file__).resolve().parent / "static"
PREFIX = "/console/"
TYPES = {".html": "text/html; charset=utf-8", ".js": "application/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
         ".txt": "text/plain; charset=utf-8", ".map": "application/json"}
# Everything from this origin only; audio from the bucket's presigned URLs (https, or the sandbox's store).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "media-src 'self' https: http://127.0.0.1:*; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'none'")
SECURITY = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}


def _load() -> dict[str, tuple[bytes, str, str]]:
    """Every static file, read once at cold start: {relative path: (bytes, content type, etag)}."""
    files = {}
    for path in sorted(ROOT.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            data = path.read_bytes()
            ctype = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            files[path.relative_to(ROOT).as_posix()] = (data, ctype, '"' + hashlib.sha256(data).hexdigest()[:32] + '"')
    return files


FILES = _load()


def anyone(_request: Any, _settings: Any) -> None:
    """The console's files are public; the data behind it needs an admin token (the archive API)."""
    return None


@endpoint(authorize=anyone, methods=("GET", "HEAD"), settings=SETTINGS, cors=False, headers=SECURITY)
def handler(request, _principal, _req) -> RawResponse:
    if request.path in ("/console", PREFIX[:-1]):
        return RawResponse(b"", "text/plain; charset=utf-8", {"Location": PREFIX}, status=301)
    rel = request.path[len(PREFIX):] if request.path.startswith(PREFIX) else None
    found = FILES.get(rel or "index.html") if rel is not None else None
    if found is None:
        raise NotFound(f"no console file at {request.path[:120]}", error_code="NotFound")
    data, ctype, etag = found
    if request.headers.get("if-none-match") == etag:
        return RawResponse(b"", ctype, {"ETag": etag}, status=304)
    return RawResponse(b"" if request.method == "HEAD" else data, ctype, {"ETag": etag})
