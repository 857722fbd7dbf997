"""s.yaml <-> functions/: drift fails here."""
from pathlib import Path

from devkit import syaml

REPO = Path(__file__).resolve().parents[2]


def test_every_function_folder_is_declared_and_vice_versa():
    declared = set(syaml.functions())
    folders = {p.name for p in (REPO / "functions").iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert declared == folders


def test_each_handler_resolves_to_a_callable():

    for spec in syaml.functions().values():
        assert spec.handler_file.is_file(), spec.handler_file
        assert spec.code == f"./build/{spec.key}"
        source = spec.handler_file.read_text()
        assert f"def {spec.handler_attr}(" in source or f"{spec.handler_attr} =" in source


def test_http_routes_are_unique_and_under_the_api_prefix():
    paths = [r.path for s in syaml.functions().values() for r in s.routes]
    assert len(paths) == len(set(paths))
    # The kits' API under /api/v2/aiagent/; the operators' archive API under /api/v2/archive/.
    assert all(p.startswith(("/api/v2/aiagent/", "/api/v2/archive/")) for p in paths)
    assert [p for p in paths if p.startswith("/api/v2/archive/")] == ["/api/v2/archive/erase"]
