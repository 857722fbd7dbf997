"""The archive as a product through `aiagent dev` (a real subprocess on loopback): a call made with
`aiagent simulate-call` is listed by the archive API within 15 s of its analysis, with its summary;
its detail's transcript is the archived one; `make dev`'s console URL signs in as an admin; the
console's files are served with their security headers."""
import re
import subprocess
import sys
import time

import httpx
import pytest

from devkit.defaults import DEV_JWT_SECRET, DEV_SANDBOX_TOKEN
from devkit.tokens import mint_token
from tests.support import REPO, SandboxProcess

pytestmark = pytest.mark.e2e
FRESH_WITHIN_S = 15


def test_a_simulated_call_is_in_the_archive_api_within_15_s(tmp_path):
    env = {"SANDBOX_DATA_DIR": str(tmp_path), "SANDBOX_TRIGGER_RETRY_SECONDS": "0.2"}
    with SandboxProcess(env) as sb:
        proc = subprocess.run([sys.executable, "-m", "devkit.cli", "simulate-call", "--url", sb.url, "--turns", "4"],
                              cwd=REPO, capture_output=True, text=True, timeout=90)
        analysed = time.monotonic()  # simulate-call returns once the analysis is stored
        assert proc.returncode == 0, proc.stdout + proc.stderr + sb.output()[-3000:]
        instance = re.search(r"simulated call (\S+):", proc.stdout).group(1)
        archive_key = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("archive:"))
        # The console URL `aiagent dev` prints carries a development admin token.
        printed = re.search(r"QA console .*?: (http://\S+/console/)#token=(\S+)", sb.output())
        assert printed, sb.output()[-2000:]
        url, token = printed.groups()
        auth = {"Authorization": f"Bearer {token}"}
        listed = None
        while time.monotonic() - analysed < FRESH_WITHIN_S:
            calls = httpx.get(f"{sb.url}/api/v2/archive/calls", headers=auth).json()["calls"]
            listed = next((c for c in calls if c["instance_id"] == instance), None)
            if listed and listed["status"] == "analysed":
                break
            time.sleep(0.5)
        waited = time.monotonic() - analysed
        assert listed is not None and listed["summary"], (waited, sb.output()[-3000:])
        detail = httpx.get(f"{sb.url}/api/v2/archive/calls/{instance}", headers=auth).json()
        archived = httpx.get(f"{sb.url}/_sandbox/object", params={"key": archive_key},
                             headers={"Authorization": f"Bearer {DEV_SANDBOX_TOKEN}"}).json()["content"]
        stats = httpx.get(f"{sb.url}/api/v2/archive/stats", headers=auth).json()
        # A client's token (static in the sandbox) or a non-admin JWT may not read the archive.
        client = httpx.get(f"{sb.url}/api/v2/archive/calls",
                           headers={"Authorization": "Bearer dev-client-token-change-me"})
        user = httpx.get(f"{sb.url}/api/v2/archive/calls",
                         headers={"Authorization": f"Bearer {mint_token('bob', DEV_JWT_SECRET)}"})
        page = httpx.get(url)
        script = httpx.get(url + "app.js")
        bare = httpx.get(url[:-1], follow_redirects=False)
    assert listed["status"] == "analysed" and listed["turns"] == 4 and waited < FRESH_WITHIN_S
    assert [t["text"] for t in detail["transcript"]] == [t["text"] for t in archived["call_log"]["dialog"]]
    assert detail["analyses"]["default"]["result"]["parsed"]["summary"] == listed["summary"]
    events = [c["event"] for c in detail["callbacks"]]
    assert events[0] == "agent_start" and "agent_stop" in events[-2:] and "audio_record" in events
    # ICE's voice recording (the simulator wrote real WAVs): each sentence's audio linked to its turn
    sentences = [r for r in detail["recordings"] if r["kind"] == "sentence"]
    assert len(sentences) == 4 and all(r["present"] and r["url"] for r in sentences)
    assert {r["turn_id"] for r in sentences} == {t["id"] for t in detail["transcript"]}
    assert detail["completeness"]["verdict"] == "complete" and detail["timings"]["llm_ms"]["count"] == 2
    assert stats["calls"] == 1 and stats["per_day"][0]["calls"] == 1
    assert (client.status_code, user.status_code) == (403, 403)
    assert user.json()["error_code"] == "AdminRoleRequired"
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"] and page.headers["x-frame-options"] == "DENY"
    assert script.status_code == 200 and script.headers["content-type"].startswith("application/javascript")
    assert bare.status_code == 301 and bare.headers["location"] == "/console/"


def test_a_video_call_ends_with_its_mp4_in_the_record_even_though_it_lands_after_the_archive(tmp_path):
    env = {"SANDBOX_DATA_DIR": str(tmp_path), "SANDBOX_TRIGGER_RETRY_SECONDS": "0.2"}
    with SandboxProcess(env) as sb:
        proc = subprocess.run([sys.executable, "-m", "devkit.cli", "simulate-call", "--url", sb.url, "--turns", "3",
                               "--video"], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr + sb.output()[-3000:]
        instance = re.search(r"simulated call (\S+):", proc.stdout).group(1)
        mp4 = re.search(r"recording: (\S+\.mp4)", proc.stdout).group(1)
        token = re.search(r"#token=(\S+)", sb.output()).group(1)
        auth = {"Authorization": f"Bearer {token}"}
        detail = None
        for _ in range(40):
            r = httpx.get(f"{sb.url}/api/v2/archive/calls/{instance}", headers=auth)
            if r.status_code == 200:
                detail = r.json()
                break
            time.sleep(0.5)
        assert detail is not None, sb.output()[-3000:]
        video = [rec for rec in detail["recordings"] if rec["event"] == "artc_cloud_recording"]
        media = httpx.get(video[0]["url"]).content if video else b""
    assert [v["key"] for v in video] == [mp4] and media[4:8] == b"ftyp"  # a real MP4, through its presigned URL
    events = {c["event"]: c["time"] for c in detail["callbacks"]}
    # Live's signed callbacks were stored as the call's; the file was uploaded after the call was archived
    assert {"rtc_task_created", "rtc_record_file_uploaded", "rtc_task_stopped"} <= set(events)
    assert events["rtc_record_file_uploaded"] > detail["call_log"]["archived_at"].replace("Z", ".000Z")[:24]
