"""`aiagent simulate-call` against `aiagent dev` (a real subprocess on loopback): the
call's callbacks are stored, archived by the OSS trigger, and analysed by the next one."""
import json
import subprocess
import sys

import httpx
import pytest

from devkit.defaults import DEV_SANDBOX_TOKEN
from tests.support import REPO, SandboxProcess

pytestmark = pytest.mark.e2e


def test_simulate_call_ends_with_an_analysis_object(tmp_path):
    with SandboxProcess({"SANDBOX_DATA_DIR": str(tmp_path), "SANDBOX_TRIGGER_RETRY_SECONDS": "0.2"}) as sb:
        proc = subprocess.run([sys.executable, "-m", "devkit.cli", "simulate-call", "--url", sb.url, "--turns", "5"],
                              cwd=REPO, capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0, proc.stdout + proc.stderr + sb.output()[-3000:]
        lines = proc.stdout.splitlines()
        analysis_key = next(line.split()[1] for line in lines if line.startswith("analysis:"))
        archive_key = next(line.split()[1] for line in lines if line.startswith("archive:"))
        auth = {"Authorization": f"Bearer {DEV_SANDBOX_TOKEN}"}
        doc = httpx.get(f"{sb.url}/_sandbox/object", params={"key": analysis_key}, headers=auth).json()["content"]
        call_log = httpx.get(f"{sb.url}/_sandbox/object", params={"key": archive_key}, headers=auth).json()["content"]
        # `aiagent reanalyze --url` against the same sandbox: another profile, then resumed.
        day = analysis_key.split("/")[1][3:]
        again = [sys.executable, "-m", "devkit.cli", "reanalyze", "--url", sb.url, "--since", day, "--until", day,
                 "--profile", "summary-only"]
        first = subprocess.run(again, cwd=REPO, capture_output=True, text=True, timeout=90)
        second = subprocess.run(again, cwd=REPO, capture_output=True, text=True, timeout=90)
        other = httpx.get(f"{sb.url}/_sandbox/object", params={"key": analysis_key.replace("default", "summary-only")},
                          headers=auth).json()["content"]
    assert analysis_key.startswith("analyses/dt=") and analysis_key.endswith("/default.json")
    assert doc["status"] == "analysed" and doc["source"]["key"] == archive_key
    # The 5 chat records became the dialog that was archived and analysed.
    assert len(call_log["call_log"]["dialog"]) == 5 and doc["dialog"]["sentences"] == 5
    assert doc["ccai"]["request_ids"] and isinstance(doc["result"]["parsed"], dict)
    assert sum("chat_record" in line for line in lines) == 5
    assert any(line.strip().startswith("summary:") for line in lines), lines
    assert first.returncode == 0 and "done 1 (empty 0), skipped 0, failed 0 of 1" in first.stdout, first.stderr
    assert second.returncode == 0 and "done 0 (empty 0), skipped 1, failed 0 of 1" in second.stdout
    assert other["profile"]["name"] == "summary-only" and set(other["result"]["parsed"]) == {"title", "summary"}


def test_simulate_call_without_a_sandbox_says_so():
    proc = subprocess.run([sys.executable, "-m", "devkit.cli", "simulate-call", "--url", "http://127.0.0.1:9",
                           "--timeout", "1"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "aiagent dev" in proc.stderr and "Traceback" not in proc.stderr
    assert json.dumps(proc.stdout)  # printable
