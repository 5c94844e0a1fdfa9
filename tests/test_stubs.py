"""The type stubs cannot drift from the compiled module, and fastconv lives beside PyTorch."""

import ast
import os
import subprocess
import sys

import fastconv
from fastconv import _core

STUB = os.path.join(os.path.dirname(fastconv.__file__), "_core.pyi")


def _stub_names():
    with open(STUB) as f:
        tree = ast.parse(f.read())
    top, members = set(), set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
        if isinstance(node, ast.ClassDef) and node.name == "Plan":
            members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} - {"__init__"}
    return top, members


def test_stubs_match_the_compiled_module():
    top, members = _stub_names()
    public = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    assert top == public
    assert members == {n for n in dir(_core.Plan) if not n.startswith("_")}
    assert os.path.exists(os.path.join(os.path.dirname(fastconv.__file__), "py.typed"))


def test_importing_beside_torch_in_either_order():
    """torch brings its own OpenMP runtime; both libraries compute correctly in one process."""
    import pytest

    pytest.importorskip("torch")
    script = """
import numpy as np
{first}
{second}
x = np.random.default_rng(0).standard_normal((2, 8, 16, 16)).astype(np.float32)
w = np.random.default_rng(1).standard_normal((8, 8, 3, 3)).astype(np.float32)
fastconv.set_num_threads(2); torch.set_num_threads(2)
a = fastconv.conv2d(x, w, padding=1)
b = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
assert np.abs(a - b).max() <= 1e-5 * np.abs(b).max(), np.abs(a - b).max()
print("ok")
"""
    for first, second in (("import torch", "import fastconv"), ("import fastconv", "import torch")):
        run = subprocess.run([sys.executable, "-c", script.format(first=first, second=second)],
                             capture_output=True, text=True)
        assert run.returncode == 0 and "ok" in run.stdout, run.stderr
