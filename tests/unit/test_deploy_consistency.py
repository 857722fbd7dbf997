"""s.yaml <-> template.yaml <-> functions/ <-> shared (settings, archive_keys): drift fails here."""
import ast
from pathlib import Path

import pytest
import yaml

from devkit import syaml
from shared import settings
from shared.archive import layout

REPO = Path(__file__).resolve().parents[2]
STAGES = ("dev", "staging", "prod")
# Set by Function Compute itself from the function's role; never in s.yaml.
FC_PROVIDED = {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"}


def declared_settings(spec) -> tuple[type, ...]:
    """The settings groups a function declares (`SETTINGS`, kept by its decorator on the handler)."""
    from devkit.sandbox.fc_context import load_handler

    groups = load_handler(spec, fresh=True).settings_groups
    assert groups, f"{spec.key}: declares no settings"
    return groups


def required_vars(cls) -> set[str]:
    return {name for name, field in cls.model_fields.items() if field.is_required()}


@pytest.mark.parametrize("stage", STAGES)
def test_every_required_setting_is_set_in_s_yaml_for_every_stage(stage):
    env = {"STAGE": stage}
    for spec in syaml.functions(env=env).values():
        declared = set(spec.env)
        for cls in declared_settings(spec):
            missing = required_vars(cls) - declared - FC_PROVIDED
            assert not missing, f"{spec.key} ({stage}): {cls.__name__} needs {sorted(missing)} in s.yaml"
        assert spec.env.get("STAGE") == stage


def test_every_function_declares_its_settings_in_one_place():
    specs = syaml.functions()
    assert declared_settings(specs["get_rtc_auth_token"]) == (settings.RtcSettings, settings.CoreSettings)
    assert settings.CallbackSettings in declared_settings(specs["ingest_callback"])
    assert settings.ArchiveSettings in declared_settings(specs["archive_call_log"])
    for spec in specs.values():
        groups = declared_settings(spec)
        assert all(issubclass(g, settings.EnvSettings) for g in groups)
        http = [g for g in groups if issubclass(g, settings.HttpSettings)]
        assert len(http) == (1 if spec.routes else 0), spec.key


def test_oss_triggers_match_the_archive_key_layout():
    specs = syaml.functions()
    declared = {k: (t.prefix, t.suffix) for k, s in specs.items() for t in s.oss_triggers}
    assert declared == {k: tuple(v) for k, v in layout.TRIGGERS.items() if k in specs}
    for spec in specs.values():
        for t in spec.oss_triggers:
            assert set(t.events) == {"oss:ObjectCreated:PutObject", "oss:ObjectCreated:PostObject",
                                     "oss:ObjectCreated:CopyObject", "oss:ObjectCreated:CompleteMultipartUpload"}
            assert spec.async_config.get("maxAsyncRetryAttempts") is not None


def test_no_function_writes_under_a_prefix_that_triggers_itself():
    for name, (prefix, _suffix) in layout.TRIGGERS.items():
        for written in layout.WRITES.get(name, ()):
            assert not (written.startswith(prefix) or prefix.startswith(written)), (name, written, prefix)


def test_archive_attempts_match_fc_retries():
    spec = syaml.functions()["archive_call_log"]
    assert int(spec.env["ARCHIVE_MAX_ATTEMPTS"]) == spec.async_config["maxAsyncRetryAttempts"] + 1


def test_template_parses_and_cross_references_s_yaml():
    tpl = yaml.safe_load((REPO / "template.yaml").read_text())
    res = tpl["Resources"]
    assert res["ArchiveBucket"]["Type"] == "ALIYUN::OSS::Bucket"
    assert res["ArchiveBucket"]["Properties"]["AccessControl"] == "private"
    assert res["ArchiveBucket"]["Properties"]["BlockPublicAccess"] is True
    assert res["ArchiveBucket"]["Properties"]["ServerSideEncryptionConfiguration"]["SSEAlgorithm"]
    rules = {r["Prefix"] for r in res["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rule"]}
    assert {layout.CALLBACKS, layout.CALL_LOGS, layout.FAILED} <= rules
    # The function role may touch exactly the prefixes the functions write.
    stmts = res["FunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    oss = next(s for s in stmts if "oss:PutObject" in s["Action"])
    granted = {r["Fn::Sub"].split("}/", 1)[1].rstrip("*") for r in oss["Resource"]}
    written = {p for prefixes in layout.WRITES.values() for p in prefixes}
    assert written <= granted and layout.RECORDINGS not in granted
    ice_actions = {a.split(":")[1] for s in stmts for a in s["Action"] if a.startswith("ice:")}
    used = set()
    for f in (REPO / "shared" / "clients" / "ice.py", REPO / "shared" / "archive" / "workflow.py"):
        used |= {node.value for node in ast.walk(ast.parse(f.read_text()))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and node.value[:1].isupper() and node.value.isalpha() and "AIAgent" in node.value}
    assert {"GenerateMessageChatToken", "DescribeAIAgentInstance", "GenerateAIAgentCall"} <= ice_actions
    assert ice_actions <= used | {"GenerateMessageChatToken"}
    # s.yaml consumes the template's outputs.
    outputs = set(tpl["Outputs"])
    doc = (REPO / "s.yaml").read_text()
    for output, var in (("FunctionRoleArn", "FUNCTION_ROLE_ARN"), ("OssTriggerRoleArn", "OSS_TRIGGER_ROLE_ARN"),
                        ("ArchiveBucket", "ARCHIVE_BUCKET")):
        assert output in outputs and f"env('{var}'" in doc
    trigger_role = res["OssTriggerRole"]["Properties"]
    assert trigger_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == ["oss.aliyuncs.com"]


def test_http_functions_use_anonymous_triggers_and_have_routes():
    for spec in syaml.functions().values():
        http = [t for t in spec.props.get("triggers") or [] if t.get("triggerType") == "http"]
        if http:
            assert http[0]["triggerConfig"]["authType"] == "anonymous"  # our code authorises
            assert spec.routes, f"{spec.key} has an HTTP trigger but no route in api_domain"
