"""Every kernel path the host supports passes the correctness tests. The kernel table is filled
once per process, so each other instruction set runs the suite in its own process, capped with
FASTCONV_MAX_ISA (this process covers the best one)."""

import os
import subprocess
import sys

import pytest

import fastconv

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ["test_sweep.py", "test_winograd.py", "test_gradcheck.py", "test_textbook.py", "test_api.py", "test_torch.py"]
ORDER = ["generic", "avx2", "avx512"]


def _supported():
    detected = fastconv.config()["detected_isa"]
    return ORDER[: ORDER.index(detected) + 1]


@pytest.mark.parametrize("isa", ORDER)
def test_correctness_suite_under_isa_cap(isa):
    if isa not in _supported():
        pytest.skip(f"this CPU has no {isa}")
    if isa == fastconv.config()["isa"]:
        pytest.skip(f"{isa} is the path this process tests")
    env = dict(os.environ, FASTCONV_MAX_ISA=isa)
    run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider",
                          *[os.path.join(HERE, f) for f in SUITES]],
                         env=env, capture_output=True, text=True, cwd=HERE)
    print(run.stdout[:400], run.stdout[-600:])
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"isa {isa}" in run.stdout  # the report header names the path that ran
