"""The sandbox's upstreams: each is its local simulator unless its endpoint variable
(ICE_ENDPOINT, STS_ENDPOINT, CCAI_ENDPOINT, OSS_ENDPOINT, LIVE_ENDPOINT) is set. Credentials alone never switch
the sandbox to a real service.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEV_ACCESS_KEY_ID = "sandbox-access-key-id"
DEV_ACCESS_KEY_SECRET = "sandbox-access-key-secret-not-secret"
DEV_CCAI_WORKSPACE_ID = "sandbox-workspace"
DEV_CCAI_APP_ID = "sandbox-app"
DATA_DIR = Path(__file__).resolve().parents[2] / ".sandbox"


@dataclass
class Upstreams:
    """What the sandbox started; `lines` says which upstream each service uses."""

    ice: Any = None
    sts: Any = None
    oss: Any = None
    ccai: Any = None
    live: Any = None
    started: list[Any] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def stop(self) -> None:
        for svc in reversed(self.started):
            svc.stop()
        self.started.clear()


class _LazyStore:
    """The archive bucket, opened when the Live simulator first writes a recording (the sandbox's
    OSS settings may be completed after the simulators start)."""

    def __init__(self, factory: Any) -> None:
        self._factory, self._store = factory, None

    def __getattr__(self, name: str) -> Any:
        if self._store is None:
            self._store = self._factory()
        return getattr(self._store, name)


def _credentials(env: Any) -> tuple[str, str]:
    ak = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID") or DEV_ACCESS_KEY_ID
    sk = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET") or DEV_ACCESS_KEY_SECRET
    env["ALIBABA_CLOUD_ACCESS_KEY_ID"], env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = ak, sk
    return ak, sk


def start(env: Any = None, data_dir: Path | None = None) -> Upstreams:
    """Start the simulators the environment does not override; point the settings at them."""
    env = os.environ if env is None else env
    ups = Upstreams()
    ak, sk = _credentials(env)
    token = env.get("ALIBABA_CLOUD_SECURITY_TOKEN")

    if env.get("ICE_ENDPOINT"):
        ups.lines.append(f"ICE: {env['ICE_ENDPOINT']} (ICE_ENDPOINT)")
    else:
        from devkit.sims.ice import IceSimulator

        ups.ice = IceSimulator({ak: sk}, sts_tokens={ak: token} if token else None).start()
        ups.started.append(ups.ice)
        env["ICE_ENDPOINT"] = ups.ice.endpoint
        ups.lines.append(f"ICE: local simulator at {ups.ice.endpoint} (set ICE_ENDPOINT to use another)")
        if env.get("STAGE", "dev") == "dev" and not env.get("CALL_LOG_ALLOW_INSECURE"):
            # The simulator serves call logs over http on loopback (development only).
            env["CALL_LOG_ALLOW_INSECURE"] = "true"

    if env.get("STS_ENDPOINT"):
        ups.lines.append(f"STS: {env['STS_ENDPOINT']} (STS_ENDPOINT)")
    else:
        from devkit.sims.sts import StsSimulator

        ups.sts = StsSimulator({ak: sk}, sts_tokens={ak: token} if token else None).start()
        ups.started.append(ups.sts)
        env["STS_ENDPOINT"] = ups.sts.endpoint
        ups.lines.append(f"STS: local simulator at {ups.sts.endpoint} (set STS_ENDPOINT to use another)")

    if env.get("CCAI_ENDPOINT"):
        # A real (or another) CCAI: its workspace and app must be given, never guessed.
        ups.lines.append(f"CCAI: {env['CCAI_ENDPOINT']} workspace {env.get('CCAI_WORKSPACE_ID') or '(unset)'} "
                         f"app {env.get('CCAI_APP_ID') or '(unset)'} (CCAI_ENDPOINT)")
    else:
        from devkit.sims.ccai import CcaiSimulator

        workspace = env.get("CCAI_WORKSPACE_ID") or DEV_CCAI_WORKSPACE_ID
        app = env.get("CCAI_APP_ID") or DEV_CCAI_APP_ID
        env["CCAI_WORKSPACE_ID"], env["CCAI_APP_ID"] = workspace, app
        ups.ccai = CcaiSimulator({ak: sk}, workspace_id=workspace, app_id=app,
                                 sts_tokens={ak: token} if token else None).start()
        ups.started.append(ups.ccai)
        env["CCAI_ENDPOINT"] = ups.ccai.endpoint
        ups.lines.append(f"CCAI: local simulator at {ups.ccai.endpoint}, workspace {workspace}, app {app} "
                         "(set CCAI_ENDPOINT, CCAI_WORKSPACE_ID and CCAI_APP_ID to use CCAI)")

    if env.get("OSS_ENDPOINT"):
        ups.lines.append(f"OSS: {env['OSS_ENDPOINT']} bucket {env.get('ARCHIVE_BUCKET')} (OSS_ENDPOINT)")
    else:
        from devkit.sandbox.local_oss import LocalOssServer

        root = Path(data_dir or env.get("SANDBOX_DATA_DIR") or DATA_DIR) / "oss"
        oak = env.get("OSS_ACCESS_KEY_ID") or ak
        osk = env.get("OSS_ACCESS_KEY_SECRET") or sk
        ups.oss = LocalOssServer(root, env["ARCHIVE_BUCKET"], oak, osk)
        ups.oss.start()
        ups.started.append(ups.oss)
        env["OSS_ENDPOINT"] = ups.oss.endpoint
        ups.lines.append(f"OSS: embedded store at {ups.oss.endpoint}, bucket {env['ARCHIVE_BUCKET']}, "
                         f"data in {root} (set OSS_ENDPOINT to use another)")

    if env.get("LIVE_ENDPOINT"):
        ups.lines.append(f"Live (ARTC cloud recording): {env['LIVE_ENDPOINT']} (LIVE_ENDPOINT)")
    else:
        from devkit.sims.live import LiveSimulator
        from shared.clients.object_store import ObjectStore
        from shared.settings import OssSettings, load

        # Live writes the recording files into the archive bucket itself (as the real one does).
        # Callbacks a moment after each change, as Live sends them (and after the task's record is written).
        ups.live = LiveSimulator({ak: sk}, sts_tokens={ak: token} if token else None,
                                 store=_LazyStore(lambda: ObjectStore(load(OssSettings, env))),
                                 delay_callbacks_s=0.3).start()
        ups.started.append(ups.live)
        env["LIVE_ENDPOINT"] = ups.live.endpoint
        ups.lines.append(f"Live (ARTC cloud recording): local simulator at {ups.live.endpoint} "
                         "(set LIVE_ENDPOINT to use another)")
    return ups
