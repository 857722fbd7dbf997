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
    # The kits' API under /api/v2/aiagent/; the operators' archive API under /api/v2/archive/; the
    # QA console's files under /console/.
    assert all(p.startswith(("/api/v2/aiagent/", "/api/v2/archive/", "/console")) for p in paths)
    functions = syaml.functions()
    archive = {r.path: key for key, s in functions.items() for r in s.routes if r.path.startswith("/api/v2/archive/")}
    assert archive == {"/api/v2/archive/erase": "erase_archive", "/api/v2/archive/calls": "archive_api",
                       "/api/v2/archive/calls/*": "archive_api", "/api/v2/archive/stats": "archive_api",
                       "/api/v2/archive/export": "archive_api"}
    assert {r.path for r in functions["archive_console"].routes} == {"/console", "/console/*"}
    # Reading the archive is GET only; no route of the console accepts a body.
    assert all(set(r.methods) <= {"GET", "HEAD", "OPTIONS"} for key in ("archive_api", "archive_console")
               for r in functions[key].routes)
