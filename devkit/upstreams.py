"""The sandbox's upstreams: each is its local simulator unless its endpoint variable
(ICE_ENDPOINT, CCAI_ENDPOINT, OSS_ENDPOINT) is set. Credentials alone never switch
the sandbox to a real service.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

DEV_ACCESS_KEY_ID = "sandbox-access-key-id"
DEV_ACCESS_KEY_SECRET = "sandbox-access-key-secret-not-secret"


@dataclass
class Upstreams:
    """What the sandbox started; `lines` says which upstream each service uses."""

    ice: Any = None
    started: list[Any] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def stop(self) -> None:
        for svc in reversed(self.started):
            svc.stop()
        self.started.clear()


def _credentials(env: dict[str, str]) -> tuple[str, str]:
    ak = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID") or DEV_ACCESS_KEY_ID
    sk = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET") or DEV_ACCESS_KEY_SECRET
    env.setdefault("ALIBABA_CLOUD_ACCESS_KEY_ID", ak)
    env.setdefault("ALIBABA_CLOUD_ACCESS_KEY_SECRET", sk)
    return ak, sk


def start(env: dict[str, str] | None = None) -> Upstreams:
    """Start the simulators the environment does not override; point the settings at them."""
    env = os.environ if env is None else env  # type: ignore[assignment]
    ups = Upstreams()
    ak, sk = _credentials(env)
    if env.get("ICE_ENDPOINT"):
        ups.lines.append(f"ICE: {env['ICE_ENDPOINT']} (ICE_ENDPOINT)")
    else:
        from devkit.ice_sim import IceSimulator

        token = env.get("ALIBABA_CLOUD_SECURITY_TOKEN")
        ups.ice = IceSimulator({ak: sk}, sts_tokens={ak: token} if token else None).start()
        ups.started.append(ups.ice)
        env["ICE_ENDPOINT"] = ups.ice.endpoint
        ups.lines.append(f"ICE: local simulator at {ups.ice.endpoint} (set ICE_ENDPOINT to use another)")
    return ups
