"""Agreement with PyTorch (CPU) where it is installed; skipped cleanly otherwise."""

import numpy as np
import pytest

import fastconv
import sweep
from conftest import TOL


def _err(got, want):
    want = want.detach().numpy().astype(np.float64)
    return float(np.abs(np.asarray(got, np.float64) - want).max() / max(np.abs(want).max(), 1e-30))


def _torch_padding(pads):
    """torch takes symmetric padding only: return it, or None for an asymmetric config."""
    (pt, pb), (pl, pr) = pads
    return (pt, pl) if pt == pb and pl == pr else None


def test_conv2d_and_gradients_match_torch(torch, rng):
    F, grad = torch.nn.functional, torch.nn.grad
    checked = 0
    while checked < 60:
        cfg = sweep.random_config(rng)
        pad = _torch_padding(cfg["pads"])
        if pad is None:
            continue
        x, w, b, dy = sweep.make_arrays(cfg, rng)
        kw = dict(stride=cfg["stride"], padding=pad, dilation=cfg["dilation"], groups=cfg["groups"])
        tx, tw, tdy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(dy)
        tb = None if b is None else torch.from_numpy(b)
        tol = TOL[cfg["dtype"]]
        assert _err(fastconv.conv2d(x, w, b, **kw), F.conv2d(tx, tw, tb, **kw)) <= tol, cfg
        assert _err(fastconv.conv2d_input(x.shape, w, dy, **kw), grad.conv2d_input(x.shape, tw, tdy, **kw)) <= tol, cfg
        assert _err(fastconv.conv2d_weight(x, w.shape, dy, **kw), grad.conv2d_weight(tx, w.shape, tdy, **kw)) <= tol, cfg
        checked += 1


@pytest.mark.parametrize("kernel,dilation", [((4, 2), (1, 1)), ((3, 3), (2, 1)), ((2, 5), (1, 2))])
def test_padding_same_matches_torch(torch, rng, kernel, dilation):
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, *kernel))
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding="same", dilation=dilation)
    assert _err(fastconv.conv2d(x, w, padding="same", dilation=dilation), want) <= TOL["float64"]


def test_conv1d_conv3d_match_torch(torch, rng):
    F = torch.nn.functional
    x1, w1 = rng.standard_normal((3, 4, 17)).astype(np.float32), rng.standard_normal((6, 2, 3)).astype(np.float32)
    want = F.conv1d(torch.from_numpy(x1), torch.from_numpy(w1), stride=2, padding=2, dilation=2, groups=2)
    assert _err(fastconv.conv1d(x1, w1, stride=2, padding=2, dilation=2, groups=2), want) <= TOL["float32"]
    x3, w3 = rng.standard_normal((2, 4, 6, 7, 5)), rng.standard_normal((4, 2, 3, 2, 3))
    b3 = rng.standard_normal(4)
    kw = dict(stride=(2, 1, 1), padding=(1, 0, 2), dilation=(1, 2, 1), groups=2)
    want = F.conv3d(torch.from_numpy(x3), torch.from_numpy(w3), torch.from_numpy(b3), **kw)
    assert _err(fastconv.conv3d(x3, w3, b3, **kw), want) <= TOL["float64"]


def test_conv_transpose2d_matches_torch(torch, rng):
    F = torch.nn.functional
    for stride, pad, op, dil, groups in [(1, 0, 0, 1, 1), (2, 1, 1, 1, 2), (3, 2, (2, 0), (1, 2), 1),
                                         (1, 1, (0, 1), 2, 2), (2, 3, 1, 1, 1)]:
        x = rng.standard_normal((2, 4, 5, 6))
        w = rng.standard_normal((4, 3, 3, 2))
        b = rng.standard_normal(3 * groups)
        kw = dict(stride=stride, padding=pad, output_padding=op, groups=groups, dilation=dil)
        want = F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **kw)
        got = fastconv.conv_transpose2d(x, w, b, **kw)
        assert got.shape == tuple(want.shape)
        assert _err(got, want) <= TOL["float64"], kw


def test_backward_matches_torch_autograd(torch, rng):
    x = rng.standard_normal((2, 6, 11, 10)).astype(np.float32)
    w = rng.standard_normal((9, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(9).astype(np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, stride=2, padding=1, groups=3)
    dy = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.from_numpy(dy))
    gi, gw, gb = fastconv.conv2d_backward(x, w, dy, stride=2, padding=1, groups=3)
    for got, want in ((gi, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        assert _err(got, want) <= TOL["float32"]


def test_nan_and_inf_propagate_as_in_torch(torch):
    """Direct convolution lets NaN and Inf through exactly where PyTorch does, padded taps
    included (0 * inf is NaN there too)."""
    x = np.ones((1, 2, 7, 6), np.float32)
    x[0, 1, 3, 2] = np.nan
    x[0, 0, 5, 5] = np.inf
    w = np.ones((3, 2, 3, 3), np.float32)
    w[1, 0, 0, 0] = np.inf
    w[2, 1, 2, 2] = -np.inf
    for stride, padding in ((1, 1), (2, 1), (1, 0)):
        want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=stride,
                                          padding=padding).numpy()
        got = fastconv.conv2d(x, w, stride=stride, padding=padding, algorithm="direct")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))


@pytest.mark.parametrize("first", ["torch", "fastconv"])
def test_both_libraries_in_one_process_in_either_import_order(torch, first):
    """torch brings its own OpenMP runtime; with both loaded, in either order, both compute
    correctly on two threads, one after the other and from two Python threads at once."""
    import subprocess
    import sys
    import textwrap

    second = "fastconv" if first == "torch" else "torch"
    code = textwrap.dedent(f"""
        import {first}, {second}
        import threading
        import numpy as np
        torch.set_num_threads(2); fastconv.set_num_threads(2)
        rng = np.random.default_rng(3)
        x = rng.standard_normal((4, 16, 30, 30)).astype(np.float32)
        w = rng.standard_normal((32, 16, 3, 3)).astype(np.float32)
        want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
        def err():
            return float(np.abs(fastconv.conv2d(x, w, padding=1) - want).max() / np.abs(want).max())
        errs = [err()]
        threads = [threading.Thread(target=lambda: errs.append(err())) for _ in range(2)]
        threads.append(threading.Thread(target=lambda: torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w))))
        [t.start() for t in threads]; [t.join() for t in threads]
        print(max(errs), len(errs))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    worst, count = run.stdout.split()
    assert int(count) == 3 and float(worst) <= TOL["float32"]
