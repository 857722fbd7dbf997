"""STS simulator (development tooling, never shipped in a function): AssumeRole.

Same plumbing as the ICE simulator (`devkit.sims.ice.RpcSimulator`): every request's
ACS3 signature is verified (keys, `sts_tokens`), the version must be 2015-04-01,
faults are injected with `inject(...)` (e.g. `code="Throttling.Api", status=400`).
AssumeRole checks its parameters the way STS does and answers in the documented
shape (`sts_assume_role_response.json` of the spec's samples) with fresh random
credentials each time; the policy each issued AccessKeyId was scoped with is kept
(`policy_for`), so tests can check what a client could do with them.
"""
from __future__ import annotations

import json
import re
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from devkit.sims.ice import RpcSimulator

VERSION = "2015-04-01"
MIN_DURATION_SECONDS = 900
# Role chaining (the server assumes from FC's own role credentials) caps sessions at an hour.
MAX_DURATION_SECONDS = 3600
DEFAULT_DURATION_SECONDS = 3600
MAX_POLICY_CHARS = 2048
_ROLE_ARN = re.compile(r"acs:ram::([0-9]+):role/([A-Za-z0-9._-]{1,64})")
_SESSION_NAME = re.compile(r"[A-Za-z0-9.@_-]{2,64}")
_ALNUM = string.ascii_letters + string.digits


def _random(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass(frozen=True)
class Issued:
    """One set of temporary credentials the simulator handed out."""

    access_key_id: str
    access_key_secret: str
    security_token: str
    expiration: str
    expires_at: float
    role_arn: str
    session_name: str
    policy: dict | None  # the Policy it was scoped with (parsed), None without one


class StsSimulator(RpcSimulator):
    """`start()` serves on 127.0.0.1:port; `.endpoint` is what STS_ENDPOINT should be."""

    VERSION = VERSION
    HOST_ID = "sts.sim"

    def __init__(self, keys: dict[str, str], host: str = "127.0.0.1", port: int = 0,
                 sts_tokens: dict[str, str] | None = None) -> None:
        super().__init__(keys, host, port, sts_tokens)
        self.issued: dict[str, Issued] = {}  # AccessKeyId -> what was issued

    def policy_for(self, access_key_id: str) -> dict | None:
        """The policy the credentials of `access_key_id` were scoped with (None: the role's
        whole rights). KeyError if the simulator never issued that key."""
        with self._lock:
            return self.issued[access_key_id].policy

    @staticmethod
    def _invalid(code: str, message: str) -> tuple[int, dict]:
        return 400, {"Code": code, "Message": message}

    def _do_AssumeRole(self, p: dict[str, str]) -> tuple[int, dict]:
        miss = self._missing(p, "RoleArn", "RoleSessionName")
        if miss:
            return miss
        arn = _ROLE_ARN.fullmatch(p["RoleArn"])
        if not arn:
            return self._invalid("InvalidParameter.RoleArn", "The parameter RoleArn is wrongly formed.")
        if not _SESSION_NAME.fullmatch(p["RoleSessionName"]):
            return self._invalid("InvalidParameter.RoleSessionName",
                                 "The parameter RoleSessionName is wrongly formed.")
        raw_duration = p.get("DurationSeconds") or str(DEFAULT_DURATION_SECONDS)
        if not raw_duration.isdigit() or not MIN_DURATION_SECONDS <= int(raw_duration) <= MAX_DURATION_SECONDS:
            return self._invalid("InvalidParameter.DurationSeconds",
                                 f"The Min/Max value of DurationSeconds is {MIN_DURATION_SECONDS}s/"
                                 f"{MAX_DURATION_SECONDS}s.")
        policy: Any = None
        if "Policy" in p:
            try:
                policy = json.loads(p["Policy"])
            except ValueError:
                policy = None
            if len(p["Policy"]) > MAX_POLICY_CHARS or not isinstance(policy, dict) \
                    or policy.get("Version") != "1" or not isinstance(policy.get("Statement"), list) \
                    or not policy["Statement"]:
                return self._invalid("InvalidParameter.PolicyGrammar",
                                     "The parameter Policy has not passed grammar check.")
        now = time.time()
        expires_at = float(int(now) + int(raw_duration))
        issued = Issued(
            access_key_id="STS." + _random(24), access_key_secret=_random(40),
            security_token="CAIS" + _random(200, _ALNUM + "+/"),
            expiration=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires_at)), expires_at=expires_at,
            role_arn=p["RoleArn"], session_name=p["RoleSessionName"], policy=policy)
        with self._lock:
            self.issued[issued.access_key_id] = issued
        role_id = "3" + _random(16, string.digits)
        return 200, {
            "AssumedRoleUser": {"Arn": f"{p['RoleArn']}/{issued.session_name}",
                                "AssumedRoleId": f"{role_id}:{issued.session_name}"},
            "Credentials": {"SecurityToken": issued.security_token, "AccessKeyId": issued.access_key_id,
                            "AccessKeySecret": issued.access_key_secret, "Expiration": issued.expiration},
        }
