"""Finite-difference checks of the gradients in float64: the loss is sum(conv2d(x, w, b) * G)."""

import numpy as np
import pytest

import fastconv
import reference as ref

FD_EPS = 1e-6
FD_TOL = 1e-6  # central differences of a bilinear loss are exact up to rounding

CONFIGS = [
    dict(x=(2, 4, 5, 6), w=(6, 2, 3, 2), stride=(2, 1), padding=((1, 0), (0, 2)), dilation=(1, 2), groups=2),
    dict(x=(1, 3, 7, 7), w=(2, 3, 3, 3), stride=1, padding="same", dilation=2, groups=1),
    dict(x=(2, 2, 6, 5), w=(3, 2, 2, 3), stride=3, padding=1, dilation=1, groups=1),
]


def _numeric(loss, arr, rng, count=12):
    """Central differences of loss() at `count` random entries of arr (perturbed in place)."""
    idx = [tuple(rng.integers(0, d) for d in arr.shape) for _ in range(count)]
    return idx, np.array([ref.central_difference(loss, arr, i, FD_EPS) for i in idx])


@pytest.mark.parametrize("cfg", CONFIGS)
def test_gradients_match_finite_differences(cfg, rng):
    x = rng.standard_normal(cfg["x"])
    w = rng.standard_normal(cfg["w"])
    b = rng.standard_normal(cfg["w"][0])
    kw = {k: cfg[k] for k in ("stride", "padding", "dilation", "groups")}
    g = rng.standard_normal(fastconv.conv2d(x, w, b, **kw).shape)

    def loss():
        return float(np.sum(fastconv.conv2d(x, w, b, **kw) * g))

    gi = fastconv.conv2d_input(x.shape, w, g, **kw)
    gw = fastconv.conv2d_weight(x, w.shape, g, **kw)
    _, _, gb = fastconv.conv2d_backward(x, w, g, **kw)
    for analytic, arr in ((gi, x), (gw, w), (gb, b)):
        idx, numeric = _numeric(loss, arr, rng)
        got = np.array([analytic[i] for i in idx])
        scale = max(1.0, np.abs(numeric).max())
        assert np.abs(got - numeric).max() <= FD_TOL * scale, (got, numeric)
