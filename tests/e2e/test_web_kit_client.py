"""The Web kit's own AppServer client against `aiagent dev`: `Web/React/src/service/standard.ts`
(and the `interface.ts` it imports) is read from the AUIAICall kit repository at test time, bundled
with esbuild (`tests/e2e/webkit/shim.mjs` standing in for the `aliyun-auikit-aicall` SDK) and run
by Node with its own `fetch` (`tests/e2e/webkit/run.mjs`).

Skipped only when node/npm are missing or the kit repository is absent (a bare mirror, or a
checkout; path in AUICALL_KIT_REPO). esbuild is installed with npm into `.sandbox/` once.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devkit.defaults import DEV_JWT_SECRET
from devkit.tokens import mint_token
from tests.support import REPO, SandboxProcess

pytestmark = pytest.mark.e2e

ESBUILD_VERSION = "0.28.2"
ESBUILD_DIR = REPO / ".sandbox" / "npm" / f"esbuild-{ESBUILD_VERSION}"
KIT_REPO = Path(os.environ.get("AUICALL_KIT_REPO") or "/work/.mirror/MediaBox-AUIKits+AUIAICall/repo")
KIT_FILES = ("Web/React/src/service/standard.ts", "Web/React/src/service/interface.ts")
HARNESS = Path(__file__).resolve().parent / "webkit"

USER, AGENT, OUTSIDE, REGION = "webuser", "voice-1", "agent-not-in-policy", "cn-shanghai"
POLICY = {
    "agents": {AGENT: {
        "inbound_numbers": ["057100001111"], "outbound_caller_numbers": ["02100003333"],
        # The leaves of the Web SDK's default AgentConfig, what the demo changes, chat sync's keys.
        "client_overridable": [
            "EnablePushToTalk", "GracefulShutdown", "EnableIntelligentSegment", "MaxIdleTime", "UserOnlineTimeout",
            "UserOfflineTimeout", "Volume", "AsrConfig.VadLevel", "LlmConfig.LlmCompleteReply",
            "LlmConfig.HistorySyncWithTTS", "InterruptConfig", "TurnDetectionConfig.Mode", "TtsConfig.VoiceId",
            "VoiceprintConfig", "IMAIAgentId", "ReceiverId",
        ],
    }},
    "workflow_agents": {"VoiceChat": AGENT},
}
# standard.ts methods that send this.serverAuth (an empty header until setServerAuth is called), and
# those that take the token as an argument.
SERVER_AUTH_METHODS = ("getRtcAuthToken", "describeAIAgent", "startAIAgentOutboundCall", "getOssConfig",
                       "setAIAgentVoiceprint")
TOKEN_ARG_METHODS = ("generateAIAgent", "describeAIAgentInstance", "generateMessageChatToken")


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 120), **kw)


def _kit_source(name: str) -> str:
    """A file of the kit at HEAD: from a bare mirror with git, or from a checkout's work tree."""
    if (KIT_REPO / name).is_file():
        return (KIT_REPO / name).read_text(encoding="utf-8")
    out = _run(["git", f"--git-dir={KIT_REPO}", "show", f"HEAD:{name}"])
    assert out.returncode == 0, f"{name} not in the kit repository {KIT_REPO}: {out.stderr}"
    return out.stdout


def _esbuild() -> Path:
    """esbuild, pinned, installed with npm into .sandbox/ (gitignored) the first time."""
    exe = ESBUILD_DIR / "node_modules" / ".bin" / "esbuild"
    if exe.is_file() and _run([str(exe), "--version"]).stdout.strip() == ESBUILD_VERSION:
        return exe
    ESBUILD_DIR.mkdir(parents=True, exist_ok=True)
    out = _run(["npm", "install", "--prefix", str(ESBUILD_DIR), "--no-audit", "--no-fund", "--no-save",
                "--no-package-lock", f"esbuild@{ESBUILD_VERSION}"], timeout=300)
    assert out.returncode == 0 and exe.is_file(), f"npm install esbuild@{ESBUILD_VERSION} failed:\n{out.stderr}"
    return exe


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """standard.ts from the kit, bundled as an ES module for Node (never copied into this repo)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed to run the Web kit's standard.ts (install Node.js >= 18)")
    major = int(_run([node, "--version"]).stdout.strip().lstrip("v").split(".")[0])
    if major < 18:
        pytest.skip(f"Node.js {major} has no global fetch; the Web kit's standard.ts needs Node.js >= 18")
    if not KIT_REPO.exists():
        pytest.skip(f"the AUIAICall kit repository is absent ({KIT_REPO}; set AUICALL_KIT_REPO)")
    src = tmp_path_factory.mktemp("webkit") / "src" / "service"
    src.mkdir(parents=True)
    for name in KIT_FILES:
        (src / Path(name).name).write_text(_kit_source(name), encoding="utf-8")
    out_file = src.parent.parent / "standard.mjs"
    built = _run([str(_esbuild()), str(src / "standard.ts"), "--bundle", "--format=esm", "--platform=node",
                  "--target=node18", f"--alias:aliyun-auikit-aicall={HARNESS / 'shim.mjs'}",
                  f"--outfile={out_file}", "--log-level=warning"])
    assert built.returncode == 0, built.stderr
    text = out_file.read_text(encoding="utf-8")
    assert "/api/v2/aiagent/generateAIAgentCall" in text and "setServerAuth" in text
    return out_file


@pytest.fixture(scope="module")
def results(bundle) -> dict[tuple[str, str], dict]:
    env = {"AUTH_MODE": "jwt", "AUTH_JWT_SECRET": DEV_JWT_SECRET, "AGENT_POLICY": json.dumps(POLICY)}
    params = {"user": USER, "token": mint_token(USER, DEV_JWT_SECRET), "agentId": AGENT, "outsideAgent": OUTSIDE,
              "region": REGION, "phone": "13800001111"}
    with SandboxProcess(env) as sb:
        out = _run(["node", str(HARNESS / "run.mjs"), str(bundle), json.dumps({**params, "baseUrl": sb.url})],
                   timeout=60)
        assert out.returncode == 0, f"run.mjs failed:\n{out.stderr}\n{sb.output()[-4000:]}"
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    by_call = {(r["phase"], r["call"]): r for r in lines}
    assert len(by_call) == len(lines) == 18, out.stdout
    return by_call


def value(results, call: str):
    r = results[("auth", call)]
    assert r["ok"], f"{call} rejected: {r['error']}"
    return r["value"]


def test_generate_agent_and_describe_instance(results):
    info = value(results, "generateAIAgent")
    for name in ("instanceId", "channelId", "userId", "rtcToken", "reqId"):
        assert isinstance(info[name], str) and info[name], (name, info)
    # JSON.parse(data.agent_config): the config the kit sent (the SDK's defaults).
    config = value(results, "describeAIAgentInstance")
    assert config["InterruptConfig"] == {"EnableVoiceInterrupt": True} and config["MaxIdleTime"] == 600
    with_agent = value(results, "generateAIAgent+agentId")
    assert with_agent["instanceId"] and with_agent["instanceId"] != info["instanceId"]


def test_agent_outside_policy_is_agent_not_found(results):
    r = results[("auth", "generateAIAgent+outsideAgent")]
    assert not r["ok"] and r["error"]["code"] == -10204, r  # AICallErrorCode.AgentNotFound


def test_rtc_token_agent_and_chat_token(results):
    assert value(results, "getRtcAuthToken").startswith("eyJnc2xiIjp")
    assert value(results, "describeAIAgent")["InboundPhoneNumbers"][0] == "057100001111"
    chat = value(results, "generateMessageChatToken")
    assert chat["isValid"] is True and chat["timestamp"] > 0


def test_outbound_call(results):
    out = value(results, "startAIAgentOutboundCall")
    assert out["instanceId"] and out["reqId"]


def test_oss_config_then_voiceprint(results):
    oss = value(results, "getOssConfig")
    assert oss["region"].startswith("oss-") and oss["bucket"] and oss["access_key_id"]
    assert oss["base_path"] == f"client-uploads/{USER}"
    set_ = value(results, "setAIAgentVoiceprint")
    assert set_["voiceprint_id"] == set_["sent_voiceprint_id"]
    assert set_["sent_url"].startswith(f"https://{oss['bucket']}.{oss['region']}.aliyuncs.com/{oss['base_path']}/webrecord_")


@pytest.mark.parametrize("call", SERVER_AUTH_METHODS + TOKEN_ARG_METHODS)
def test_without_server_auth_rejects_with_service_auth_error(results, call):
    # No setServerAuth (or an empty token argument): `Authorization: ` -> 403 -> the kit's
    # ServiceAuthError, which the demo turns into onAuthFail ("log in again").
    r = results[("noauth", call)]
    assert not r["ok"] and r["error"]["name"] == "ServiceAuthError", r
