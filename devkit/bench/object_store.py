"""Cold-start cost of the archive client: `shared.clients.object_store` (httpx) versus boto3.

Each figure is the median wall time of a new interpreter doing the work, minus the
median of a bare `python -c pass` (interleaved runs, after one warm-up each so that
bytecode caches exist, as they do in a deployed function):

  (a) import shared.clients.object_store, construct the store from OssSettings, one PUT
  (b) import boto3, create an S3 client (path-style, request_checksum_calculation=
      "when_required" as OSS needs), one put_object

plus (a') = (a) with a plain settings object instead of pydantic's OssSettings, and
the parts of (a): importing shared.clients.object_store alone, httpx, and the settings
(pydantic, which every function pays anyway). The PUTs go to moto's S3 server on
loopback, started here. Bytecode of the repo's own modules is cached in a temporary
PYTHONPYCACHEPREFIX (site-packages already ship .pyc), whatever PYTHONDONTWRITEBYTECODE says.

    .venv/bin/python -m devkit.bench.object_store [--runs 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUCKET = "bench-archive"
AK, SK = "bench-access-key", "bench-secret-0123456789abcdef"
REGION = "cn-shanghai"

_PRELUDE = f"import sys; sys.path.insert(0, {str(REPO)!r})\n"

SCRIPTS = {
    "python -c pass": "pass",
    "(a) object_store: import + store + PUT": _PRELUDE + (
        "from shared.clients import object_store\n"
        "object_store.get_store().put('bench/a.json', b'{\"a\": 1}')\n"),
    "(a') the same with plain settings (no pydantic)": _PRELUDE + (
        "import os, types\n"
        "from shared.clients.object_store import ObjectStore\n"
        "cfg = types.SimpleNamespace(ARCHIVE_BUCKET=os.environ['ARCHIVE_BUCKET'], "
        "OSS_REGION=os.environ['OSS_REGION'],\n"
        "    endpoint=os.environ['OSS_ENDPOINT'], OSS_CONNECT_TIMEOUT_SECONDS=2.0, OSS_READ_TIMEOUT_SECONDS=10.0,\n"
        "    credentials=lambda: (os.environ['OSS_ACCESS_KEY_ID'], os.environ['OSS_ACCESS_KEY_SECRET'], None))\n"
        "ObjectStore(cfg).put('bench/a2.json', b'{\"a\": 2}')\n"),
    "(b) boto3: import + client + put_object": (
        "import os, boto3\n"
        "from botocore.config import Config\n"
        "c = boto3.client('s3', endpoint_url=os.environ['OSS_ENDPOINT'], region_name=os.environ['OSS_REGION'],\n"
        "                 aws_access_key_id=os.environ['OSS_ACCESS_KEY_ID'],\n"
        "                 aws_secret_access_key=os.environ['OSS_ACCESS_KEY_SECRET'],\n"
        "                 config=Config(s3={'addressing_style': 'path'}, "
        "request_checksum_calculation='when_required',\n"
        "                               response_checksum_validation='when_required'))\n"
        "c.put_object(Bucket=os.environ['ARCHIVE_BUCKET'], Key='bench/b.json', Body=b'{\"b\": 1}')\n"),
    "  part: import shared.clients.object_store": _PRELUDE + "import shared.clients.object_store\n",
    "  part: import httpx": "import httpx\n",
    "  part: import shared.settings (pydantic)": _PRELUDE + "import shared.settings\n",
}


def _start_moto() -> tuple[object, str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _create_bucket(env: dict[str, str]) -> None:
    import hashlib

    import httpx

    from shared.clients.object_store import ObjectStore
    from shared.settings import OssSettings, load

    store = ObjectStore(load(OssSettings, env))
    body = (f"<CreateBucketConfiguration><LocationConstraint>{REGION}</LocationConstraint>"
            f"</CreateBucketConfiguration>").encode()
    headers = store.sign("PUT", store.path_for(None), "", {}, hashlib.sha256(body).hexdigest())
    response = httpx.put(store.url_for(None), headers=headers, content=body, trust_env=False)
    response.raise_for_status()
    store.close()


def _run(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def measure(runs: int) -> dict[str, float]:
    """Median seconds per script (not yet minus the baseline)."""
    server, endpoint = _start_moto()
    try:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OSS_", "ALIBABA_CLOUD_", "AWS_", "ARCHIVE_"))}
        env.update({"ARCHIVE_BUCKET": BUCKET, "OSS_ENDPOINT": endpoint, "OSS_REGION": REGION,
                    "OSS_ACCESS_KEY_ID": AK, "OSS_ACCESS_KEY_SECRET": SK})
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-pycache-")
        _create_bucket(env)
        for code in SCRIPTS.values():  # warm-up: bytecode caches, page cache
            _run(code, env)
        times: dict[str, list[float]] = {name: [] for name in SCRIPTS}
        for _ in range(runs):
            for name, code in SCRIPTS.items():  # interleaved, so drift hits all alike
                times[name].append(_run(code, env))
        return {name: statistics.median(values) for name, values in times.items()}
    finally:
        server.stop()  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="runs per figure (median; default 15)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    medians = measure(args.runs)
    base = medians["python -c pass"]
    print(f"cold start, median of {args.runs} new interpreters, minus a bare `python -c pass` "
          f"({base * 1000:.1f} ms), Python {sys.version.split()[0]}:")
    for name, value in medians.items():
        if name == "python -c pass":
            continue
        print(f"  {name:<45} {(value - base) * 1000:8.1f} ms")
    a = medians["(a) object_store: import + store + PUT"] - base
    b = medians["(b) boto3: import + client + put_object"] - base
    a2 = medians["(a') the same with plain settings (no pydantic)"] - base
    print(f"boto3 costs {(b - a) * 1000:+.0f} ms against (a), {(b - a2) * 1000:+.0f} ms against (a') "
          f"({b / a2:.1f}x); pydantic settings are paid by every function either way")
    return 0


if __name__ == "__main__":
    sys.exit(main())
