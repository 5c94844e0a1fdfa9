"""The command line: `python -m fastconv info` and a short `bench` run."""

import json
import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "fastconv", *args], capture_output=True, text=True, check=True)


def test_info():
    out = _run("info").stdout
    assert "fastconv" in out and "instruction set" in out and "threads" in out


def test_bench_runs_and_reports(tmp_path):
    path = tmp_path / "bench.json"
    out = _run("bench", "--layers", "lenet.conv2", "--repeat", "1", "--threads", "1", "--json", str(path)).stdout
    assert "lenet.conv2" in out
    data = json.loads(path.read_text())
    rows = data["results"]
    assert {r["direction"] for r in rows} == {"forward", "backward_data", "backward_weights"}
    assert all(0 < r["peak_percent"] and r["kernel"].startswith("direct/") for r in rows)
    assert all(r["fastconv_ms"] > 0 and r["gflops"] > 0 for r in rows)
