"""The public API around conv2d: 1-D, 3-D, transposed, out=, views, dtypes, threads, config."""

import importlib.metadata

import numpy as np
import pytest

import fastconv
import reference as ref
from conftest import TOL, WINOGRAD_TOLS


def _conv3d_ref(x, w, b, stride, pads, dilation, groups):
    """Direct definition in float64: one strided slice of the padded input per kernel tap."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, c, *size = x.shape
    k, cg, *kern = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    out = [ref.out_size(sz, *p, kk, st, dl) for sz, p, kk, st, dl in zip(size, pads, kern, stride, dilation)]
    y = np.zeros((n, groups, k // groups, *out))
    for t in np.ndindex(*kern):
        sl = tuple(slice(i * dl, i * dl + st * (o - 1) + 1, st) for i, dl, st, o in zip(t, dilation, stride, out))
        patch = xp[(slice(None), slice(None)) + sl].reshape(n, groups, cg, *out)
        wt = w[(slice(None), slice(None)) + t].reshape(groups, k // groups, cg)
        y += np.einsum("ngc...,gkc->ngk...", patch, wt)
    y = y.reshape(n, k, *out)
    return y if b is None else y + b.reshape(1, k, *([1] * len(out)))


def _conv_transpose2d_ref(x, w, b, stride, padding, output_padding, groups, dilation):
    """Scatter definition: input pixel (i, j) adds x * w[r, s] at output (i*stride + r*dilation)."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    n, cin, h, wd = x.shape
    _, cog, r, s = w.shape
    g = groups
    reach = [(sz - 1) * st + dl * (kk - 1) + 1 for sz, st, dl, kk in zip((h, wd), stride, dilation, (r, s))]
    full = np.zeros((n, g, cog, reach[0] + output_padding[0], reach[1] + output_padding[1]))
    xg = x.reshape(n, g, cin // g, h, wd)
    wg = w.reshape(g, cin // g, cog, r, s)
    for i in range(r):
        for j in range(s):
            rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (h - 1) + 1, stride[0])
            cols = slice(j * dilation[1], j * dilation[1] + stride[1] * (wd - 1) + 1, stride[1])
            full[:, :, :, rows, cols] += np.einsum("ngchw,gco->ngohw", xg, wg[:, :, :, i, j])
    out = [rc - 2 * p + op for rc, p, op in zip(reach, padding, output_padding)]
    y = full[:, :, :, padding[0] : padding[0] + out[0], padding[1] : padding[1] + out[1]]
    y = y.reshape(n, g * cog, *out)
    return y if b is None else y + b[None, :, None, None]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv1d(rng, dtype):
    for _ in range(20):
        g = int(rng.choice([1, 2]))
        x = rng.standard_normal((int(rng.integers(1, 3)), 2 * g, int(rng.integers(5, 20)))).astype(dtype)
        w = rng.standard_normal((3 * g, 2, int(rng.integers(1, 5)))).astype(dtype)
        b = rng.standard_normal(3 * g).astype(dtype)
        st, dl, pad = int(rng.integers(1, 4)), int(rng.integers(1, 3)), (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        if dl * (w.shape[2] - 1) + 1 > x.shape[2] + sum(pad):
            continue
        y = fastconv.conv1d(x, w, b, stride=st, padding=(pad,), dilation=dl, groups=g)
        want = ref.conv2d(x[:, :, None], w[:, :, None], b, (1, st), ((0, 0), pad), (1, dl), g)[:, :, 0]
        assert y.dtype == np.dtype(dtype) and y.shape == want.shape
        assert ref.rel_err(y, want) <= TOL[dtype]
    # unbatched and 'same'
    y = fastconv.conv1d(x[0], w, b, padding="same", groups=g)
    assert y.shape == (w.shape[0], x.shape[2])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv3d(rng, dtype):
    for _ in range(12):
        g = int(rng.choice([1, 2]))
        x = rng.standard_normal((int(rng.integers(1, 3)), 2 * g, *rng.integers(3, 8, size=3))).astype(dtype)
        w = rng.standard_normal((2 * g, 2, *rng.integers(1, 4, size=3))).astype(dtype)
        b = rng.standard_normal(2 * g).astype(dtype)
        stride = tuple(int(v) for v in rng.integers(1, 3, size=3))
        dil = tuple(int(v) for v in rng.integers(1, 3, size=3))
        pads = tuple((int(a), int(c)) for a, c in rng.integers(0, 3, size=(3, 2)))
        if any(d * (k - 1) + 1 > s + sum(p) for d, k, s, p in zip(dil, w.shape[2:], x.shape[2:], pads)):
            continue
        y = fastconv.conv3d(x, w, b, stride=stride, padding=pads, dilation=dil, groups=g)
        want = _conv3d_ref(x, w, b, stride, pads, dil, g)
        assert y.shape == want.shape and y.dtype == np.dtype(dtype)
        assert ref.rel_err(y, want) <= TOL[dtype]
    assert fastconv.conv3d(x[0], w, padding="same", groups=g).shape == (w.shape[0], *x.shape[2:])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_transpose2d(rng, dtype):
    checked = 0
    while checked < 30:
        g = int(rng.choice([1, 2]))
        x = rng.standard_normal((int(rng.integers(1, 3)), 2 * g, *rng.integers(1, 7, size=2))).astype(dtype)
        w = rng.standard_normal((2 * g, int(rng.integers(1, 4)), *rng.integers(1, 4, size=2))).astype(dtype)
        b = rng.standard_normal(w.shape[1] * g).astype(dtype)
        stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
        dil = tuple(int(v) for v in rng.integers(1, 3, size=2))
        pad = tuple(int(v) for v in rng.integers(0, 3, size=2))
        op = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dil))
        want_shape = [(sz - 1) * s - 2 * p + d * (k - 1) + o + 1
                      for sz, s, p, d, k, o in zip(x.shape[2:], stride, pad, dil, w.shape[2:], op)]
        if min(want_shape) < 1:
            continue
        y = fastconv.conv_transpose2d(x, w, b, stride=stride, padding=pad, output_padding=op, groups=g, dilation=dil)
        want = _conv_transpose2d_ref(x, w, b, stride, pad, op, g, dil)
        assert y.shape == want.shape, (y.shape, want.shape)
        assert ref.rel_err(y, want) <= TOL[dtype], (stride, pad, op, dil, g)
        checked += 1


def test_conv_transpose2d_is_the_input_gradient(rng):
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 2, 3, 3))
    dy = fastconv.conv2d(x, w, stride=2, padding=1, groups=2)
    gi = fastconv.conv2d_input(x.shape, w, dy, stride=2, padding=1, groups=2)
    t = fastconv.conv_transpose2d(dy, w, stride=2, padding=1, output_padding=(0, 1), groups=2)
    np.testing.assert_allclose(t, gi, rtol=0, atol=1e-12)


def test_out_argument(rng):
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    want = fastconv.conv2d(x, w, padding=1)
    out = np.full((2, 4, 8, 8), np.nan, np.float32)
    assert fastconv.conv2d(x, w, padding=1, out=out) is out
    np.testing.assert_array_equal(out, want)
    # a non-contiguous out is filled through a buffer, as NumPy's ufuncs do
    big = np.zeros((2, 4, 8, 16), np.float32)
    view = big[:, :, :, ::2]
    assert fastconv.conv2d(x, w, padding=1, out=view) is view
    np.testing.assert_array_equal(view, want)
    assert np.all(big[:, :, :, 1::2] == 0)
    # out= for every function that takes it
    out1 = np.empty((2, 4, 6), np.float32)
    fastconv.conv1d(x[:, :, 0], w[:, :, 0], out=out1)
    np.testing.assert_array_equal(out1, fastconv.conv1d(x[:, :, 0], w[:, :, 0]))
    x3 = rng.standard_normal((1, 3, 4, 5, 6))
    w3 = rng.standard_normal((2, 3, 2, 2, 2))
    out3 = np.empty((1, 2, 3, 4, 5))
    fastconv.conv3d(x3, w3, out=out3)
    np.testing.assert_array_equal(out3, fastconv.conv3d(x3, w3))
    outt = np.empty((2, 3, 10, 10), np.float32)
    fastconv.conv_transpose2d(want, w, out=outt)
    np.testing.assert_array_equal(outt, fastconv.conv_transpose2d(want, w))


def test_views_and_read_only_inputs(rng):
    base = rng.standard_normal((3, 5, 20, 22))
    x = base[::-1, 1:4, ::2, 10:1:-1]  # negatively strided, non-contiguous
    w = rng.standard_normal((2, 3, 4, 3))[:, :, ::-1]
    w.flags.writeable = False
    y = fastconv.conv2d(x, w, padding=(1, 2), stride=(2, 1))
    want = ref.conv2d(np.ascontiguousarray(x), np.ascontiguousarray(w), None, (2, 1), ((1, 1), (2, 2)))
    assert ref.rel_err(y, want) <= TOL["float64"]
    assert y.flags.c_contiguous and not np.shares_memory(y, base)


def _unaligned(a):
    """A C-contiguous copy of a whose data starts one byte off its dtype's alignment, as arrays
    unpickled from a byte stream (Dask, multiprocessing) can be."""
    raw = np.empty(a.nbytes + 1, np.uint8)
    view = np.frombuffer(raw.data, a.dtype, a.size, offset=1).reshape(a.shape)
    view[...] = a
    assert view.flags.c_contiguous and not view.flags.aligned
    return view


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unaligned_arrays_are_accepted(rng, dtype):
    x = rng.standard_normal((2, 3, 9, 8)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    dy = rng.standard_normal((2, 4, 7, 6)).astype(dtype)
    xu, wu, bu, dyu = map(_unaligned, (x, w, b, dy))
    for _ in range(2):  # the second call takes the cached fast path
        np.testing.assert_array_equal(fastconv.conv2d(xu, wu, bu), fastconv.conv2d(x, w, b))
    np.testing.assert_array_equal(fastconv.conv2d_input(x.shape, wu, dyu), fastconv.conv2d_input(x.shape, w, dy))
    np.testing.assert_array_equal(fastconv.conv2d_weight(xu, w.shape, dyu), fastconv.conv2d_weight(x, w.shape, dy))
    plan = fastconv.plan_conv2d(x.shape, w.shape, dtype=dtype)
    np.testing.assert_array_equal(plan.forward(xu, wu, bu), plan.forward(x, w, b))


def test_results_are_new_arrays(rng):
    x = rng.standard_normal((1, 2, 1, 1))
    w = rng.standard_normal((2, 2, 1, 1))
    for y in (fastconv.conv2d(x, w), fastconv.conv2d(x[0], w), fastconv.conv1d(x[:, :, 0], w[:, :, 0]),
              *fastconv.conv2d_backward(x, w, x)):
        assert y.flags.c_contiguous
        assert not np.shares_memory(y, x) and not np.shares_memory(y, w)


def test_unbatched_matches_batched(rng):
    x = rng.standard_normal((3, 7, 7))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    y = fastconv.conv2d(x, w, b, padding=1)
    np.testing.assert_array_equal(y, fastconv.conv2d(x[None], w, b, padding=1)[0])
    dy = rng.standard_normal(y.shape)
    gi, gw, gb = fastconv.conv2d_backward(x, w, dy, padding=1)
    assert gi.shape == x.shape and gw.shape == w.shape and gb.shape == b.shape
    np.testing.assert_array_equal(gi, fastconv.conv2d_input(x.shape, w, dy, padding=1))
    np.testing.assert_array_equal(gw, fastconv.conv2d_weight(x, w.shape, dy, padding=1))



def test_a_batch_of_no_images(rng):
    """As in PyTorch: no images give empty outputs and input gradients, zero weight and bias
    gradients (sums over nothing), and the layer is still checked."""
    x = rng.standard_normal((0, 3, 7, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    dy = np.ones((0, 4, 4, 4), np.float32)
    for _ in range(2):  # the second call takes the planned path
        assert fastconv.conv2d(x, w, b, stride=2, padding=1).shape == (0, 4, 4, 4)
        assert fastconv.conv2d_input(x.shape, w, dy, stride=2, padding=1).shape == x.shape
        gw = fastconv.conv2d_weight(x, w.shape, dy, stride=2, padding=1)
        assert gw.shape == w.shape and not gw.any()
    gi, gw, gb = fastconv.conv2d_backward(x, w, dy, stride=2, padding=1)
    assert gi.shape == x.shape and gw.shape == w.shape and not gw.any() and gb.shape == b.shape and not gb.any()
    assert fastconv.conv1d(x[:, :, 0], w[:, :, 0], b).shape == (0, 4, 5)
    assert fastconv.conv3d(x[:, :, None], w[:, :, None], b, padding=(0, 1, 1)).shape == (0, 4, 1, 7, 7)
    wt = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    assert fastconv.conv_transpose2d(x, wt, stride=2, output_padding=1).shape == (0, 2, 16, 16)
    plan = fastconv.plan_conv2d(x.shape, w.shape, stride=2, padding=1)
    assert plan.forward(x, w, b).shape == (0, 4, 4, 4) and plan.backward_input(dy, w).shape == x.shape
    pw, pb = plan.backward_weight(x, dy)
    assert not pw.any() and not pb.any()
    layer = fastconv.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    assert layer(x).shape == (0, 4, 4, 4) and layer.backward(dy).shape == x.shape
    assert not layer.weight_grad.any() and not layer.bias_grad.any()
    with pytest.raises(ValueError, match="larger than the padded input"):  # the layer is still checked
        fastconv.conv2d(x[:, :, :2, :2], w)
    with pytest.raises(ValueError, match="empty"):
        fastconv.conv2d(x[:, :0], w[:, :0])

def test_backward_output_mask(rng):
    x = rng.standard_normal((1, 2, 5, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    dy = rng.standard_normal((1, 3, 3, 3))
    gi, gw, gb = fastconv.conv2d_backward(x, w, dy, output_mask=(False, True, False))
    assert gi is None and gb is None and gw.shape == w.shape
    np.testing.assert_allclose(fastconv.conv2d_backward(x, w, dy)[2], dy.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_padding_same_with_even_kernel_pads_more_after(rng):
    x = rng.standard_normal((1, 1, 6, 6))
    w = rng.standard_normal((1, 1, 4, 2))
    y = fastconv.conv2d(x, w, padding="same")
    want = ref.conv2d(x, w, None, (1, 1), ((1, 2), (0, 1)))
    assert y.shape == (1, 1, 6, 6) and ref.rel_err(y, want) <= TOL["float64"]


def test_threads_setting():
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        assert fastconv.get_num_threads() == 1
        assert fastconv.config()["threads"] == 1
    finally:
        fastconv.set_num_threads(before)
    with pytest.raises(ValueError, match="positive"):
        fastconv.set_num_threads(0)


def test_thread_limit_is_per_python_thread_and_nests():
    import threading

    outer = fastconv.get_num_threads()
    seen = {}
    with fastconv.thread_limit(1):
        assert fastconv.get_num_threads() == 1
        with fastconv.thread_limit(3):
            assert fastconv.get_num_threads() == 3
            worker = threading.Thread(target=lambda: seen.update(other=fastconv.get_num_threads()))
            worker.start()
            worker.join()
        assert fastconv.get_num_threads() == 1
        plan = fastconv.plan_conv2d((1, 2, 5, 5), (2, 2, 3, 3))
        assert plan.num_threads == 1  # plans made inside the block use it
    assert fastconv.get_num_threads() == outer and seen["other"] == outer
    with pytest.raises(ValueError, match="positive"):
        with fastconv.thread_limit(0):
            pass


def test_show_config(capsys):
    fastconv.show_config()
    text = capsys.readouterr().out
    c = fastconv.config()
    assert fastconv.__version__ in text and c["isa"] in text and f"threads         : {c['threads']}" in text


def test_version_matches_metadata():
    assert fastconv.__version__ == importlib.metadata.version("fastconv")


def test_all_is_the_public_api():
    for name in fastconv.__all__:
        assert hasattr(fastconv, name), name


@pytest.mark.parametrize("algorithm", ["auto", "reference"])
def test_channels_last_input_is_read_in_place(rng, algorithm):
    """An NHWC batch viewed as NCHW (x.transpose(0, 3, 1, 2)) gives the results of its NCHW copy,
    forward and weight gradient, and is not copied."""
    import tracemalloc

    for c, k, groups, stride, pad in [(3, 8, 1, 1, 1), (4, 6, 2, 2, (1, 0)), (6, 6, 6, 1, 1), (1, 4, 1, 1, 2)]:
        for dtype in ("float32", "float64"):
            nhwc = rng.standard_normal((2, 9, 11, c)).astype(dtype)
            x = nhwc.transpose(0, 3, 1, 2)
            assert c == 1 or not x.flags.c_contiguous
            w = rng.standard_normal((k, c // groups, 3, 3)).astype(dtype)
            kw = dict(stride=stride, padding=pad, groups=groups, algorithm=algorithm)
            y = fastconv.conv2d(x, w, **kw)
            want = ref.conv2d(nhwc.transpose(0, 3, 1, 2), w, None, (stride, stride), fastconv_pads(pad), (1, 1), groups)
            assert ref.rel_err(y, want) <= TOL[dtype]
            dy = rng.standard_normal(y.shape).astype(dtype)
            gw = fastconv.conv2d_weight(x, w.shape, dy, **kw)
            assert ref.rel_err(gw, ref.conv2d_weight(x, w.shape, dy, (stride, stride), fastconv_pads(pad), (1, 1), groups)) <= TOL[dtype]
            _, gw2, _ = fastconv.conv2d_backward(x, w, dy, **kw)
            np.testing.assert_array_equal(gw, gw2)
            if groups == 1:  # same algorithm as the NCHW copy: the same bits
                np.testing.assert_array_equal(y, fastconv.conv2d(np.ascontiguousarray(x), w, **kw))
    # no copy of the input is made (NumPy allocations are traced; the output is preallocated)
    big = rng.standard_normal((4, 64, 64, 3)).astype(np.float32).transpose(0, 3, 1, 2)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    out = np.empty((4, 8, 62, 62), np.float32)
    fastconv.conv2d(big, w, out=out, algorithm=algorithm)  # plans the shape
    tracemalloc.start()
    fastconv.conv2d(big, w, out=out, algorithm=algorithm)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < big.nbytes // 4, peak


def fastconv_pads(pad):
    p = (pad, pad) if isinstance(pad, int) else pad
    return ((p[0], p[0]), (p[1], p[1]))


def test_repeated_calls_take_the_planned_path_correctly(rng):
    """The second call with the same shapes and arguments skips parsing; it must still compute
    from the new data, and arguments that differ only in type are still checked."""
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    for _ in range(3):
        x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
        y = fastconv.conv2d(x, w, b, padding=1)
        assert ref.rel_err(y, ref.conv2d(x, w, b, (1, 1), ((1, 1), (1, 1)))) <= TOL["float32"]
    with pytest.raises(TypeError):
        fastconv.conv2d(x, w, b, padding=True)
    with pytest.raises(TypeError):
        fastconv.conv2d(x, w.astype(np.float64), b, padding=1)
    xt = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # same shape, NHWC memory
    np.testing.assert_array_equal(fastconv.conv2d(xt, w, b, padding=1), y)
    # out= takes it, and a bad out still gets the full path's errors
    out = np.empty_like(y)
    for _ in range(2):
        assert fastconv.conv2d(x, w, b, padding=1, out=out) is out
        np.testing.assert_array_equal(out, y)
    with pytest.raises(ValueError):
        fastconv.conv2d(x, w, b, padding=1, out=out[:1])
    with pytest.raises(TypeError):
        fastconv.conv2d(x, w, b, padding=1, out=out.astype(np.float64))
    shared = np.zeros(out.size, np.float32)  # an input inside out
    xs = shared[:x.size].reshape(x.shape)
    xs[...] = x
    with pytest.raises(ValueError, match="share memory"):
        fastconv.conv2d(xs, w, b, padding=1, out=shared.reshape(out.shape))
    view = np.zeros((*out.shape[:3], 2 * out.shape[3]), np.float32)[..., ::2]
    fastconv.conv2d(x, w, b, padding=1, out=view)
    np.testing.assert_array_equal(view, y)
    # so do both gradients, on new data every time, with the same bits as the full path's
    for _ in range(3):
        dy = rng.standard_normal(y.shape).astype(np.float32)
        gi, gw, _ = fastconv.conv2d_backward(x, w, dy, padding=1)
        np.testing.assert_array_equal(fastconv.conv2d_input(x.shape, w, dy, padding=1), gi)
        np.testing.assert_array_equal(fastconv.conv2d_weight(x, w.shape, dy, padding=1), gw)
    for bad in (dict(input_size=(2, 3, 7, 6.0)), dict(padding=True)):
        with pytest.raises(TypeError):
            fastconv.conv2d_input(bad.get("input_size", x.shape), w, dy, padding=bad.get("padding", 1))
    for bad in (dict(weight_size=(4, 3, 3, 3.0)), dict(padding=True)):
        with pytest.raises(TypeError):
            fastconv.conv2d_weight(x, bad.get("weight_size", w.shape), dy, padding=bad.get("padding", 1))
    # sizes equal to a cached call's, but for a bool (True == 1): still refused
    w1 = w[:1, :1].copy()
    fastconv.conv2d_input((1, 1, 7, 6), w1, dy[:1, :1], padding=1)
    fastconv.conv2d_weight(x[:1, :1].copy(), (1, 1, 3, 3), dy[:1, :1].copy(), padding=1)
    with pytest.raises(TypeError):
        fastconv.conv2d_input((True, 1, 7, 6), w1, dy[:1, :1], padding=1)
    with pytest.raises(TypeError):
        fastconv.conv2d_weight(x[:1, :1].copy(), (True, 1, 3, 3), dy[:1, :1].copy(), padding=1)
    with pytest.raises(ValueError):  # grad_output of another shape
        fastconv.conv2d_weight(x, w.shape, dy[:, :, :-1], padding=1)


@pytest.mark.parametrize("shape,algorithm", [
    (((2, 16, 12, 13), (24, 16, 3, 3), 1, 1, 1), "direct"),      # implicit GEMM
    (((1, 40, 7, 7), (20, 40, 3, 3), 1, 1, 1), "direct"),        # weights read in place, ragged rows
    (((2, 16, 12, 13), (24, 16, 3, 3), 2, 1, 1), "direct"),      # strided: phases
    (((3, 3, 20, 20), (8, 3, 5, 5), 1, 2, 1), "direct"),         # few channels: col2im
    (((2, 6, 10, 11), (12, 1, 3, 3), 1, 1, 6), "direct"),        # depthwise
    (((2, 16, 12, 13), (24, 16, 3, 3), 1, 1, 1), "winograd"),
    (((2, 16, 12, 13), (24, 16, 3, 3), 1, 1, 1), "winograd_f2"),
    (((2, 16, 12, 13), (24, 16, 3, 3), 1, 1, 1), "winograd_f6"),
    (((1, 4, 6, 5), (4, 2, 3, 3), 1, 1, 2), "reference"),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plan_with_set_weight_matches_per_call_weights(rng, shape, algorithm, dtype):
    """A plan keeps its weights packed or transformed; results equal passing them on each call
    (bit for bit, whether a call packs its weights or reads them in place), and follow the
    weights when they are set again."""
    x_shape, w_shape, stride, pad, groups = shape
    plan = fastconv.plan_conv2d(x_shape, w_shape, stride, pad, 1, groups, dtype=dtype, algorithm=algorithm)
    x = rng.standard_normal(x_shape).astype(dtype)
    with pytest.raises(ValueError, match="no weights were prepared"):
        plan.forward(x)
    for _ in range(2):
        w = rng.standard_normal(w_shape).astype(dtype)
        plan.set_weight(w)
        assert plan.weight_set
        y = plan.forward(x)
        np.testing.assert_array_equal(y, plan.forward(x, w))
        dy = rng.standard_normal(plan.output_shape).astype(dtype)
        np.testing.assert_array_equal(plan.backward_input(dy), plan.backward_input(dy, w))
        pads = ((pad, pad), (pad, pad))
        tol = WINOGRAD_TOLS.get(algorithm, TOL)[np.dtype(dtype).name]
        assert ref.rel_err(y, ref.conv2d(x, w, None, (stride, stride), pads, (1, 1), groups)) <= tol


@pytest.mark.parametrize("algorithm", ["direct", "winograd"])
def test_plan_takes_a_channels_last_input(rng, algorithm):
    """A plan runs a channels-last input in place, on a core plan for that layout made at its first
    such call, with the weights set before or after it: the same bits as the NCHW input."""
    x = rng.standard_normal((2, 8, 9, 10)).astype(np.float32)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    w, b = rng.standard_normal((6, 8, 3, 3)).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    plan = fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm=algorithm)
    plan.set_weight(w)
    y = plan.forward(x, bias=b)
    np.testing.assert_array_equal(plan.forward(nhwc, bias=b), y)
    assert set(plan._layouts) == {"nchw", "nhwc"}  # read in place, not copied to NCHW
    assert ref.rel_err(y, ref.conv2d(x, w, b, (1, 1), ((1, 1), (1, 1)))) <= WINOGRAD_TOLS.get(algorithm, TOL)["float32"]
    w2 = rng.standard_normal(w.shape).astype(np.float32)
    plan.set_weight(w2)  # reaches both layouts' plans
    np.testing.assert_array_equal(plan.forward(nhwc), plan.forward(x, w2))
    dy = rng.standard_normal(plan.output_shape).astype(np.float32)
    for got, want in zip(plan.backward_weight(nhwc, dy), plan.backward_weight(x, dy)):
        np.testing.assert_array_equal(got, want)


def test_padded_planes_from_either_layout_give_the_same_bits(rng):
    """Direct forward copies the input into padded NCHW planes a bounded chunk of images at a time
    (here 3 of 5 images a chunk), from NCHW planes or from channels-last pixels, with the weights
    packed by the first chunk or prepared in a plan: the same planes, so the same bits. The weight
    gradient pads all images at once, from either layout, and gives the same bits too."""
    x = rng.standard_normal((5, 2, 1100, 1100)).astype(np.float32)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y = fastconv.conv2d(x, w, b, padding=1, algorithm="direct")
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(y, fastconv.conv2d(nhwc, w, b, padding=1, algorithm="direct"))
    plan = fastconv.plan_conv2d(x.shape, w.shape, 1, 1, algorithm="direct")
    plan.set_weight(w)
    np.testing.assert_array_equal(y, plan.forward(x, bias=b))
    assert ref.rel_err(y[4:, :, :40, :40], ref.conv2d(x[4:, :, :41, :41], w, b, (1, 1), ((1, 0), (1, 0)))[:, :, :40, :40]) <= TOL["float32"]
    small = np.ascontiguousarray(x[:, :, :300, :301])
    for xs, kw in ((x, dict(padding=1)), (small, dict(padding=1)),
                   (small, dict(padding=(2, 0), stride=(2, 3), dilation=(1, 2)))):
        dy = rng.standard_normal(fastconv.conv2d(xs, w, **kw).shape).astype(np.float32)
        gw = fastconv.conv2d_weight(xs, w.shape, dy, algorithm="direct", **kw)
        if xs is small:  # against the reference where it runs in moments
            pads = tuple((p, p) for p in np.broadcast_to(kw["padding"], 2))
            want = ref.conv2d_weight(xs, w.shape, dy, tuple(np.broadcast_to(kw.get("stride", 1), 2)), pads,
                                     tuple(np.broadcast_to(kw.get("dilation", 1), 2)), 1)
            assert ref.rel_err(gw, want) <= TOL["float32"]
        nhwc = np.ascontiguousarray(xs.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
        np.testing.assert_array_equal(gw, fastconv.conv2d_weight(nhwc, w.shape, dy, algorithm="direct", **kw))
