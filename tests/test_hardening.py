"""Inside other people's processes: fork, memory limits, the workspace bound, 64-bit indexing."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastconv
import reference as ref
from conftest import TOL


def _python(code, env=None, timeout=120):
    """Runs code in a fresh interpreter; a hang shows up as a timeout, a crash as a signal."""
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=timeout, env=dict(os.environ, **(env or {})))
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    return run.stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_calls_after_fork_neither_hang_nor_differ():
    """OpenMP's pool does not survive fork (GNU's waits forever for the parent's threads): the
    child computes on one thread, with the same result, in every algorithm, also in a pool."""
    out = _python("""
        import multiprocessing, os
        import numpy as np, fastconv
        fastconv.set_num_threads(2)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((4, 32, 20, 20)).astype(np.float32)
        w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
        algorithms = ("direct", "winograd", "reference")
        want = [fastconv.conv2d(x, w, padding=1, algorithm=a) for a in algorithms]  # parent's team is up
        pid = os.fork()
        if pid == 0:
            same = all(np.array_equal(fastconv.conv2d(x, w, padding=1, algorithm=a), y)
                       for a, y in zip(algorithms, want))
            os._exit(0 if same else 3)
        assert os.waitpid(pid, 0)[1] == 0
        def child(i):
            return np.array_equal(fastconv.conv2d(x, w, padding=1, algorithm="direct"), want[0])
        with multiprocessing.get_context("fork").Pool(2) as pool:
            assert all(pool.map(child, range(4)))
        assert np.array_equal(fastconv.conv2d(x, w, padding=1, algorithm="direct"), want[0])  # parent still parallel
        print("fork ok")
    """, timeout=60)
    assert "fork ok" in out


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads resident memory from /proc")
@pytest.mark.parametrize("algorithm", ["direct", "winograd"])
def test_plans_share_their_thread_workspace(algorithm):
    """A model's many layers hold the largest layer's workspace, not the sum: 16 plans, each run
    once, grow the resident memory by a few workspaces at most (each kept its own, 16).
    release_workspace gives it back, and the next call allocates it again."""
    out = _python(f"""
        import numpy as np, fastconv
        def resident():
            return int(open("/proc/self/statm").read().split()[1]) * 4096
        x = np.ones((4, 64, 56, 56), np.float32)
        w = np.ones((64, 64, 3, 3), np.float32)
        plans = [fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm="{algorithm}") for _ in range(16)]
        want = plans[0].forward(x, w)
        before = resident()
        assert all(np.array_equal(p.forward(x, w), want) for p in plans)
        grown = resident() - before
        kept = resident()
        freed = fastconv.release_workspace()
        dropped = kept - resident()
        assert fastconv.release_workspace() == 0
        assert np.array_equal(plans[1].forward(x, w), want)
        print(plans[0].workspace_size("forward"), grown, freed, dropped)
    """)
    need, grown, freed, dropped = map(int, out.split())
    assert need > 2**20
    assert grown < 5 * need, f"16 plans grew resident memory by {grown} bytes, a workspace is {need}"
    assert freed >= need
    assert dropped > need // 2, f"releasing {freed} bytes of workspace returned {dropped} bytes of memory"


def test_workspace_that_cannot_be_allocated_raises_memory_error():
    """Under an address-space limit, a Winograd plan's workspace (about 150 MB of transformed
    weights here: 169 tiles, too many to transform the weights panel by panel inside the GEMM)
    cannot be allocated: MemoryError, and the process goes on computing."""
    out = _python("""
        import resource
        import numpy as np, fastconv
        fastconv.set_num_threads(1)
        x = np.ones((1, 1024, 52, 52), np.float32)
        w = np.ones((1024, 1024, 3, 3), np.float32)
        plan = fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm="winograd")
        assert plan.workspace_size("forward") > 140 * 2**20
        vm = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 120 * 2**20, resource.RLIM_INFINITY))
        try:
            plan.forward(x, w)
        except MemoryError as e:
            print("MemoryError:", e)
        small = fastconv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)))
        assert small.shape == (1, 1, 2, 2) and (small == 9).all()
        print("survived")
    """)
    assert "MemoryError" in out and "survived" in out


def test_workspace_bound_falls_back_to_an_algorithm_that_fits(rng, monkeypatch):
    x = rng.standard_normal((4, 32, 24, 24)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    want = ref.conv2d(x, w, None, (1, 1), ((1, 1), (1, 1)))
    plans = {}
    for bound in ("", "1M", "1K"):  # Winograd needs about 1.7 MB here, direct about 0.9 MB
        monkeypatch.setenv("FASTCONV_MAX_WORKSPACE", bound)
        for algorithm in ("auto", "measure"):  # measure times only the candidates that fit
            plan = fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm=algorithm)
            plans[bound, algorithm] = plan.algorithm
            assert ref.rel_err(fastconv.conv2d(x, w, padding=1, algorithm=algorithm), want) <= 2e-5
            if bound:
                limit = {"1M": 1 << 20, "1K": 1 << 10}[bound]
                assert max(plan.workspace_size(d) for d in ("forward", "backward_data", "backward_weights")) <= limit
    assert {b: a for (b, algorithm), a in plans.items() if algorithm == "auto"} == {
        "": "winograd", "1M": "direct", "1K": "reference"}, plans
    assert plans["1M", "measure"] == "direct" and plans["1K", "measure"] == "reference", plans
    monkeypatch.setenv("FASTCONV_MAX_WORKSPACE", "1M")
    with pytest.raises(ValueError, match="FASTCONV_MAX_WORKSPACE"):
        fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm="winograd")  # named: never swapped
    monkeypatch.setenv("FASTCONV_MAX_WORKSPACE", "lots")
    with pytest.raises(ValueError, match="FASTCONV_MAX_WORKSPACE must be a byte count"):
        fastconv.conv2d(x[:1], w, padding=1)


def test_workspace_bound_keeps_direct_1x1_weight_gradients(rng, monkeypatch):
    """1x1 weight gradients whose copy of X^T or dY^T (3.2 MB) passes L2 copy it a chunk at a
    time, dY's planes or X's as the rows: checked against the reference. Under a bound that the
    whole copy would not fit, a direct plan is still made, and it sums as the unbounded one."""
    for c, k in ((64, 256), (256, 64)):
        x = rng.standard_normal((4, c, 56, 56)).astype(np.float32)
        dy = rng.standard_normal((4, k, 56, 56)).astype(np.float32)
        want = ref.conv2d_weight(x, (k, c, 1, 1), dy, (1, 1), ((0, 0), (0, 0)))
        unbounded = fastconv.conv2d_weight(x, (k, c, 1, 1), dy, algorithm="direct")
        assert ref.rel_err(unbounded, want) <= TOL["float32"], (c, k)
        with monkeypatch.context() as env:
            bound = 4 * 64 * 56 * 56 * 4 - 1
            env.setenv("FASTCONV_MAX_WORKSPACE", str(bound))
            plan = fastconv.plan_conv2d(x.shape, (k, c, 1, 1), algorithm="direct")
            assert plan.workspace_size("backward_weights") <= bound
            np.testing.assert_array_equal(fastconv.conv2d_weight(x, (k, c, 1, 1), dy, algorithm="direct"), unbounded)


def test_indexing_past_2_to_the_31_elements():
    """An input of 2^31 + 2 million elements. The last output row reads input rows 65536-65538,
    which start 65536 * 32770 > 2^31 elements in, where 32-bit index arithmetic would wrap. Only
    the pages written here hold memory (the rest are never-written zeros), about 10 MB."""
    h, w = 65600, 32770
    try:
        x = np.zeros((1, 1, h, w), np.float32)
    except MemoryError:
        pytest.skip("cannot reserve 8.6 GB of address space")
    assert x.size > 2**31
    rng = np.random.default_rng(7)
    x[0, 0, -64:] = rng.standard_normal((64, w)).astype(np.float32)
    k = rng.standard_normal((2, 1, 3, 3)).astype(np.float32)
    y = fastconv.conv2d(x, k, stride=64, algorithm="direct")  # reads rows 0-2, 64-66, ... 65536-65538
    assert y.shape == (1, 2, 1025, 512) and 65536 * w > 2**31
    assert not y[:, :, :-1].any()
    want = ref.conv2d(x[:, :, -64:-61].astype(np.float64), k.astype(np.float64), None, (64, 64), ((0, 0), (0, 0)))
    assert ref.rel_err(y[:, :, -1:], want) <= TOL["float32"]
    dy = np.zeros_like(y)
    dy[:, :, -1] = 1.0
    gw = fastconv.conv2d_weight(x, k.shape, dy, stride=64, algorithm="direct")
    want_gw = ref.conv2d_weight(x[:, :, -64:-61].astype(np.float64), k.shape, dy[:, :, -1:].astype(np.float64),
                                (64, 64), ((0, 0), (0, 0)))
    assert ref.rel_err(gw, want_gw) <= TOL["float32"]
