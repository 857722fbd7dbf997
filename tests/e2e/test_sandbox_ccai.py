"""`aiagent dev` and CCAI: the simulator unless CCAI_ENDPOINT is set; with it set, the
workspace and app ids are required (the sandbox refuses to start, naming both)."""
import subprocess
import sys

import pytest

from devkit.sandbox import upstreams
from devkit.sims.ccai import CcaiSimulator
from tests.support import REPO, SandboxProcess

pytestmark = pytest.mark.e2e


def test_the_simulator_is_used_unless_ccai_endpoint_is_set(tmp_path):
    env = {"ARCHIVE_BUCKET": "b"}
    ups = upstreams.start(env, data_dir=tmp_path)
    try:
        assert isinstance(ups.ccai, CcaiSimulator)
        assert env["CCAI_ENDPOINT"] == ups.ccai.endpoint
        assert (env["CCAI_WORKSPACE_ID"], env["CCAI_APP_ID"]) == (upstreams.DEV_CCAI_WORKSPACE_ID,
                                                                  upstreams.DEV_CCAI_APP_ID)
        assert any(line.startswith("CCAI: local simulator") for line in ups.lines)
    finally:
        ups.stop()
    env = {"ARCHIVE_BUCKET": "b", "CCAI_ENDPOINT": "https://ccai.example.com"}
    ups = upstreams.start(env, data_dir=tmp_path)
    try:
        assert ups.ccai is None and "CCAI_WORKSPACE_ID" not in env and "CCAI_APP_ID" not in env
    finally:
        ups.stop()


def test_with_ccai_endpoint_the_ids_are_required(tmp_path):
    env = {"SANDBOX_DATA_DIR": str(tmp_path), "CCAI_ENDPOINT": "https://contactcenterai.cn-shanghai.aliyuncs.com",
           "CCAI_WORKSPACE_ID": "", "CCAI_APP_ID": "", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "devkit.cli", "dev", "--port", "0"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "CCAI_WORKSPACE_ID and CCAI_APP_ID required" in proc.stdout + proc.stderr


def test_with_ccai_endpoint_and_ids_the_sandbox_uses_that_endpoint(tmp_path):
    sim = CcaiSimulator({upstreams.DEV_ACCESS_KEY_ID: upstreams.DEV_ACCESS_KEY_SECRET}, workspace_id="mine",
                        app_id="my-app").start()
    try:
        with SandboxProcess({"SANDBOX_DATA_DIR": str(tmp_path), "CCAI_ENDPOINT": sim.endpoint,
                             "CCAI_WORKSPACE_ID": "mine", "CCAI_APP_ID": "my-app",
                             "SANDBOX_TRIGGER_RETRY_SECONDS": "0.2"}) as sb:
            proc = subprocess.run([sys.executable, "-m", "devkit.cli", "simulate-call", "--url", sb.url, "--turns",
                                   "2"], cwd=REPO, capture_output=True, text=True, timeout=90)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert f"CCAI: {sim.endpoint} workspace mine app my-app (CCAI_ENDPOINT)" in sb.output()
        assert sim.count() == 1 and sim.calls[0]["workspace"] == "mine"
    finally:
        sim.stop()
