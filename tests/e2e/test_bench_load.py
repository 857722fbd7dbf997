"""The bounded load test (`python -m devkit.bench.load`) against its own `aiagent dev`."""
import json

import pytest

from devkit.bench import load as bench_load

pytestmark = pytest.mark.e2e


def test_every_endpoint_takes_a_small_load_without_errors(tmp_path, capsys):
    report = tmp_path / "load.json"
    assert bench_load.main(["--requests", "20", "--concurrency", "2", "--json", str(report)]) == 0
    figures = json.loads(report.read_text())
    assert [e["name"] for e in figures["endpoints"]] == list(bench_load.ENDPOINTS)
    for e in figures["endpoints"]:
        assert e["requests"] == 20 and e["errors"] == 0 and not e["capped"], e
        assert e["p50_ms"] <= e["p99_ms"] <= e["max_ms"], e
    assert figures["total_requests"] == 20 * len(bench_load.ENDPOINTS) and figures["total_errors"] == 0
    assert f"load test: {20 * len(bench_load.ENDPOINTS)} requests, 0 errors" in capsys.readouterr().out
