"""fastconv.dask against the single-machine functions: chunked over batch and space, on the
threaded and synchronous schedulers and on a LocalCluster of two worker processes."""

import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

import fastconv  # noqa: E402
import fastconv.dask as fd  # noqa: E402
import reference as ref  # noqa: E402
import sweep  # noqa: E402
from conftest import TOL, WINOGRAD_TOL  # noqa: E402


def _chunks(rng, shape):
    return tuple(int(rng.integers(1, n + 1)) for n in shape)


def _case(rng):
    """A random configuration with random chunks (down to one row, smaller than the kernel)."""
    cfg = sweep.random_config(rng)
    cfg["h"], cfg["w"] = int(rng.integers(6, 30)), int(rng.integers(6, 30))
    x, w, b, dy = sweep.make_arrays(cfg, rng)
    kw = dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dilation"], groups=cfg["groups"])
    return x, w, b, dy, kw


def test_sweep_direct_is_bit_exact(rng):
    """Forward and input gradient equal the single-machine result bit for bit; the weight
    gradient, summed over chunks in another order, within the direct tolerance."""
    for i in range(60):
        x, w, b, dy, kw = _case(rng)
        scheduler = "sync" if i % 2 else "threads"
        xd = da.from_array(x, chunks=_chunks(rng, x.shape))
        dyd = da.from_array(dy, chunks=_chunks(rng, dy.shape))
        info = (x.shape, w.shape, kw, xd.chunks, dyd.chunks)

        y = fd.conv2d(xd, w, b, algorithm="direct", **kw).compute(scheduler=scheduler)
        np.testing.assert_array_equal(y, fastconv.conv2d(x, w, b, algorithm="direct", **kw), err_msg=str(info))
        gi = fd.conv2d_input(x.shape, w, dyd, algorithm="direct", **kw).compute(scheduler=scheduler)
        np.testing.assert_array_equal(gi, fastconv.conv2d_input(x.shape, w, dy, algorithm="direct", **kw),
                                      err_msg=str(info))
        gw = fd.conv2d_weight(xd, w.shape, dyd, algorithm="direct", **kw).compute(scheduler=scheduler)
        want = ref.conv2d_weight(x, w.shape, dy, kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
        assert ref.rel_err(gw, want) <= TOL[str(x.dtype)], info


def test_winograd_within_its_tolerance(rng):
    x = rng.standard_normal((3, 32, 30, 27)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((3, 32, 30, 27)).astype(np.float32)
    xd = da.from_array(x, chunks=(2, 16, 11, 13))  # Winograd's 4x4 tiles start at each chunk's border
    dyd = da.from_array(dy, chunks=(2, 32, 9, 10))
    want = ref.conv2d(x, w, None, (1, 1), ((1, 1), (1, 1)))
    assert ref.rel_err(fd.conv2d(xd, w, padding=1, algorithm="winograd").compute(), want) <= WINOGRAD_TOL["float32"]
    gi = fd.conv2d_input(x.shape, w, dyd, padding=1, algorithm="winograd").compute()
    assert ref.rel_err(gi, ref.conv2d_input(x.shape, w, dy, (1, 1), ((1, 1), (1, 1)))) <= WINOGRAD_TOL["float32"]
    gw = fd.conv2d_weight(xd, w.shape, dyd, padding=1, algorithm="winograd").compute()
    assert ref.rel_err(gw, ref.conv2d_weight(x, w.shape, dy, (1, 1), ((1, 1), (1, 1)))) <= WINOGRAD_TOL["float32"]


def test_auto_uses_the_whole_arrays_choice_in_every_chunk(rng):
    x = rng.standard_normal((16, 64, 28, 28)).astype(np.float32)
    w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)
    whole = fastconv.plan_conv2d(x.shape, w.shape, padding=1).algorithm
    y = fd.conv2d(da.from_array(x, chunks=(4, 64, 14, 28)), w, padding=1)
    assert {t.kwargs["algorithm"] for t in _tasks(y, "fastconv-conv2d")} == {whole}
    tol = WINOGRAD_TOL if whole == "winograd" else TOL
    assert ref.rel_err(y.compute(), fastconv.conv2d(x, w, padding=1)) <= tol["float32"]


def _tasks(array, prefix):
    graph = dict(array.__dask_graph__())
    return [v for k, v in graph.items() if isinstance(k, tuple) and str(k[0]).startswith(prefix)]


def test_weights_enter_the_graph_once(rng):
    x = rng.standard_normal((8, 64, 16, 16))
    w = rng.standard_normal((64, 64, 3, 3))  # 295 kB
    for y in (fd.conv2d(da.from_array(x, chunks=(1, 64, 8, 8)), w, padding=1),
              fd.conv2d_input(x.shape, w, da.from_array(x, chunks=(1, 64, 8, 8)), padding=1)):
        graph = dict(y.__dask_graph__())
        big = [k for k, v in graph.items() if len(pickle.dumps(v)) > w.nbytes // 2]
        chunks = [k for k in graph if str(k[0] if isinstance(k, tuple) else k).startswith("from-array")]
        assert len(big) == 1 + len(chunks), big  # the weights, and the input chunks themselves


def test_results_are_lazy_and_keep_chunking(rng):
    x = rng.standard_normal((6, 3, 40, 40)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    y = fd.conv2d(da.from_array(x, chunks=(2, 3, 40, 40)), w, stride=2, padding=1)
    assert isinstance(y, da.Array) and y.shape == (6, 5, 20, 20) and y.chunks[0] == (2, 2, 2)
    assert y.dtype == np.float32
    ys = fd.conv2d(da.from_array(x, chunks=(6, 3, 10, 10)), w, stride=2, padding=1)
    # output chunks follow the input's: output 6 is the first whose window starts past row 10
    assert ys.chunks[2:] == ((6, 5, 5, 4), (6, 5, 5, 4))


def test_bad_input():
    x = da.zeros((2, 3, 8, 8), chunks=(1, 3, 4, 4))
    w = np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match="4-D"):
        fd.conv2d(x[0], w)
    with pytest.raises(TypeError, match="dtype"):
        fd.conv2d(x.astype(np.int32), w)
    with pytest.raises(TypeError, match="dtype"):
        fd.conv2d(x, w.astype(np.float32))
    with pytest.raises(ValueError, match="input channels"):
        fd.conv2d(x, np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="bias"):
        fd.conv2d(x, w, np.zeros(3))
    with pytest.raises(ValueError, match="grad_output must have shape"):
        fd.conv2d_input((2, 3, 8, 8), w, da.zeros((2, 4, 7, 6), chunks=2))
    with pytest.raises(ValueError, match="grad_output must have shape"):
        fd.conv2d_weight(x, w.shape, da.zeros((2, 4, 7, 6), chunks=2))
    with pytest.raises(ValueError, match="kernel"):
        fd.conv2d(x, np.zeros((4, 3, 9, 9)))
    with pytest.raises(ValueError, match="threads"):
        fd.conv2d(x, w, threads=0)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  worker_dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:  # other tests keep the local scheduler
        yield c


def test_local_cluster_matches_single_machine(client, rng):
    x = rng.standard_normal((8, 6, 33, 31)).astype(np.float32)
    w = rng.standard_normal((4, 3, 5, 5)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    kw = dict(stride=2, padding=(2, 1), dilation=(1, 2), groups=2)
    y = fastconv.conv2d(x, w, b, algorithm="direct", **kw)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    xd = client.persist(da.from_array(x, chunks=(2, 3, 12, 31)))
    dyd = client.persist(da.from_array(dy, chunks=(2, 4, 17, 6)))
    on = dict(scheduler=client)
    np.testing.assert_array_equal(fd.conv2d(xd, w, b, algorithm="direct", **kw).compute(**on), y)
    np.testing.assert_array_equal(fd.conv2d_input(x.shape, w, dyd, algorithm="direct", **kw).compute(**on),
                                  fastconv.conv2d_input(x.shape, w, dy, algorithm="direct", **kw))
    gw = fd.conv2d_weight(xd, w.shape, dyd, **kw).compute(**on)  # data parallel: a tree over 4 batch chunks
    assert ref.rel_err(gw, ref.conv2d_weight(x, w.shape, dy, (2, 2), ((2, 2), (1, 1)), (1, 2), 2)) <= TOL["float32"]


def test_workers_do_not_oversubscribe(client):
    import os

    threads = client.run(lambda: fd._threads(None))
    workers = client.scheduler_info()["workers"].values()
    assert len(threads) == 2
    assert sum(w["nthreads"] for w in workers) * max(threads.values()) <= max(os.cpu_count(), 2)


def test_large_image_example(tmp_path):
    """The example's chunked edge map equals the one-piece computation, and the script runs."""
    import os
    import subprocess
    import sys

    examples = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
    sys.path.insert(0, examples)
    import dask_large_image as ex

    image = ex.scene(300, 64)
    whole = image.compute()
    maps = fastconv.conv2d(whole, ex.FILTERS, padding="same")
    want = np.sqrt((maps[0] ** 2).sum(axis=0))
    np.testing.assert_array_equal(ex.edge_strength(image).compute(), want)
    assert want.max() >= 765  # a full 0-to-255 step under a filter, as in the texts

    out = tmp_path / "edges.png"
    run = subprocess.run([sys.executable, os.path.join(examples, "dask_large_image.py"), "--size", "1500",
                          "--chunk", "400", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "peak memory" in run.stdout and out.stat().st_size > 1000
