"""`aiagent smoke` against the sandbox: the HTTP probes pass on a healthy deployment
and fail on a misconfigured one (the FC-invoke part needs a real account: reported as FAIL)."""
import pytest

from devkit.ops import smoke
from tests.support import SandboxProcess

pytestmark = pytest.mark.e2e
SECRET = "smoke-secret-" + "s" * 40


def test_smoke_http_probes_pass_against_a_healthy_sandbox(monkeypatch):
    with SandboxProcess({"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET}) as sb:
        monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
        lines = []
        smoke.run("dev", sb.url, out=lines.append)
    from devkit import syaml

    triggered = [k for k, spec in syaml.functions().items() if spec.oss_triggers]
    assert set(triggered) == {"archive_call_log", "analyze_conversation"}
    http = [line for line in lines if not any(k in line for k in triggered) and ("PASS" in line or "FAIL" in line)]
    routed = [k for k, spec in syaml.functions().items() if spec.routes]
    assert len(http) == len(routed) == 14 and all("PASS" in line for line in http), lines


def test_smoke_fails_when_the_jwt_secret_differs(monkeypatch):
    with SandboxProcess({"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": SECRET}) as sb:
        monkeypatch.setenv("AUTH_JWT_SECRET", "another-secret-" + "x" * 40)
        lines = []
        assert smoke.run("dev", sb.url, out=lines.append) == 1
    assert any("FAIL" in line and "get_rtc_auth_token" in line for line in lines)
