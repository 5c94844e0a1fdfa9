"""The C++ library builds on its own with CMake (no Python) and its example application runs."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("c++") is None, reason="needs cmake and a C++ compiler")
def test_cpp_example_builds_and_runs(tmp_path):
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", ROOT, "-B", str(build), "-DFASTCONV_BUILD_EXAMPLES=ON",
                    "-DFASTCONV_BUILD_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j2"], check=True, capture_output=True)
    run = subprocess.run([str(build / "fastconv_edge")], capture_output=True, text=True)
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "765" in run.stdout and "OK" in run.stdout and "stride_h=0" in run.stdout
