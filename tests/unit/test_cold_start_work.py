"""Work the cold start no longer does (issue 17), checked in a fresh interpreter: pydantic's
plugin discovery (importlib.metadata and a scan of every installed distribution) and the schemas
of request models a function does not use."""
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def fresh(code: str, **env: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys
import shared.settings
from shared.api import models
m = models.GetRtcAuthTokenRequest.model_validate({"user_id": "u1"})
defined = {n: sys.modules.get(f"shared.api.models.{mod}") for n, mod in models.MODELS.items()}
print(json.dumps({"metadata": "importlib.metadata" in sys.modules, "user": m.user_id,
                  "defined": sorted(n for n, module in defined.items() if module is not None),
                  "built": sorted(n for n, module in defined.items()
                                  if module is not None and getattr(module, n).__pydantic_complete__),
                  "groups": sorted(n for n, mod in shared.settings.GROUPS.items()
                                   if f"shared.settings.{mod}" in sys.modules)}))
"""


def test_no_plugin_discovery_and_only_the_used_model_is_built():
    got = fresh(PROBE)
    assert got["metadata"] is False and got["user"] == "u1"
    assert got["defined"] == got["built"] == ["GetRtcAuthTokenRequest"]  # the others are not even defined
    assert got["groups"] == []  # no settings group is defined until one is named


def test_a_function_defines_only_the_settings_groups_it_names():
    code = """
import json, sys
import shared.settings
from shared.settings import CoreSettings
print(json.dumps(sorted(m for m in sys.modules if m.startswith("shared.settings."))))
"""
    # CoreSettings extends HttpSettings: those two, nothing else.
    assert fresh(code) == ["shared.settings.core", "shared.settings.http"]


def test_an_operator_naming_plugins_to_disable_gets_pydantics_own_discovery():
    got = fresh(PROBE, PYDANTIC_DISABLE_PLUGINS="some-plugin")
    assert got["metadata"] is True and got["user"] == "u1"


def test_validation_is_unchanged_without_plugin_discovery():
    code = """
import json
import shared.settings
from shared.api.models import GetRtcAuthTokenRequest as M
from shared.validation import parse_body
from shared.errors import BadRequest
try:
    parse_body(M, {"user_id": 5})
except BadRequest as exc:
    print(json.dumps({"message": exc.message}))
"""
    assert fresh(code)["message"].startswith("user_id")
