"""A NumPy float64 reference for 2-D convolution, written independently of the C++ code:
one strided slice of the padded input per kernel tap, contracted with einsum."""

import numpy as np


def out_size(size, before, after, kernel, stride, dilation):
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def _taps(shape_x, shape_w, stride, pads, dilation):
    n, c, h, w = shape_x
    k, cg, r, s = shape_w
    (pt, pb), (pl, pr) = pads
    p = out_size(h, pt, pb, r, stride[0], dilation[0])
    q = out_size(w, pl, pr, s, stride[1], dilation[1])
    for i in range(r):
        for j in range(s):
            rows = slice(i * dilation[0], i * dilation[0] + stride[0] * (p - 1) + 1, stride[0])
            cols = slice(j * dilation[1], j * dilation[1] + stride[1] * (q - 1) + 1, stride[1])
            yield i, j, rows, cols
    return p, q


def conv2d(x, w, b=None, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    g, kg = groups, k // groups
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    p = out_size(h, *pads[0], r, stride[0], dilation[0])
    q = out_size(wd, *pads[1], s, stride[1], dilation[1])
    y = np.zeros((n, g, kg, p, q))
    for i, j, rows, cols in _taps(x.shape, w.shape, stride, pads, dilation):
        patch = xp[:, :, rows, cols].reshape(n, g, cg, p, q)
        y += np.einsum("ngcpq,gkc->ngkpq", patch, w[:, :, i, j].reshape(g, kg, cg))
    y = y.reshape(n, k, p, q)
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def conv2d_input(x_shape, w, dy, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    w, dy = np.asarray(w, np.float64), np.asarray(dy, np.float64)
    n, c, h, wd = x_shape
    k, cg, r, s = w.shape
    g, kg = groups, k // groups
    (pt, pb), (pl, pr) = pads
    p, q = dy.shape[2:]
    dxp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    dyg = dy.reshape(n, g, kg, p, q)
    for i, j, rows, cols in _taps(x_shape, w.shape, stride, pads, dilation):
        contrib = np.einsum("ngkpq,gkc->ngcpq", dyg, w[:, :, i, j].reshape(g, kg, cg))
        dxp[:, :, rows, cols] += contrib.reshape(n, c, p, q)
    return dxp[:, :, pt : pt + h, pl : pl + wd]


def conv2d_weight(x, w_shape, dy, stride=(1, 1), pads=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    n, c, h, wd = x.shape
    k, cg, r, s = w_shape
    g, kg = groups, k // groups
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    p, q = dy.shape[2:]
    dyg = dy.reshape(n, g, kg, p, q)
    dw = np.zeros(w_shape)
    for i, j, rows, cols in _taps(x.shape, w_shape, stride, pads, dilation):
        patch = xp[:, :, rows, cols].reshape(n, g, cg, p, q)
        dw[:, :, i, j] = np.einsum("ngkpq,ngcpq->gkc", dyg, patch).reshape(k, cg)
    return dw


def conv2d_bias(dy):
    return np.asarray(dy, np.float64).sum(axis=(0, 2, 3))


def rel_err(got, want):
    """Largest absolute error relative to the scale (largest magnitude) of the reference."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = max(np.abs(want).max(initial=0.0), 1e-30)
    return float(np.abs(got - want).max(initial=0.0) / scale)


def central_difference(loss, arr, index, eps=1e-6):
    """d loss / d arr[index] by central differences, perturbing arr in place and restoring it."""
    old = arr[index]
    arr[index] = old + eps
    up = loss()
    arr[index] = old - eps
    down = loss()
    arr[index] = old
    return (up - down) / (2 * eps)
