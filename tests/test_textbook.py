"""The source texts' own examples: the edge filter, the output-size formula, equivariance."""

import numpy as np

import fastconv

HORIZONTAL_EDGE = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32)


def test_horizontal_edge_filter_fires_765_on_dark_above_bright():
    image = np.zeros((1, 1, 6, 6), np.float32)
    image[:, :, 3:, :] = 255  # dark (0) above, bright (255) below
    out = fastconv.conv2d(image, HORIZONTAL_EDGE[None, None])
    assert out.shape == (1, 1, 4, 4)
    assert out.max() == 765.0
    assert np.all(out[0, 0, 1:3] == 765.0)  # every window straddling the edge
    assert np.all(out[0, 0, [0, 3]] == 0.0)  # windows on one side only see a uniform region


def test_edge_filter_is_near_zero_on_a_uniform_region():
    uniform = np.full((1, 8, 8), 128.0, np.float32)
    out = fastconv.conv2d(uniform, HORIZONTAL_EDGE[None, None])
    assert np.abs(out).max() < 1e-3


def test_vertical_edge_filter_fires_on_left_right_edge():
    image = np.zeros((1, 5, 6), np.float32)
    image[:, :, 3:] = 255
    out = fastconv.conv2d(image, HORIZONTAL_EDGE.T[None, None].copy())
    assert out.max() == 765.0


def test_output_sizes_from_the_formula():
    x28 = np.zeros((1, 1, 28, 28), np.float32)
    k = 5
    assert fastconv.conv2d(x28, np.zeros((k, 1, 3, 3), np.float32)).shape == (1, k, 26, 26)
    x224 = np.zeros((1, 3, 224, 224), np.float32)
    w = np.zeros((4, 3, 3, 3), np.float32)
    assert fastconv.conv2d(x224, w, padding=1).shape == (1, 4, 224, 224)
    assert fastconv.conv2d(x224, w, padding=1, stride=2).shape == (1, 4, 112, 112)
    assert fastconv.conv2d(x224, w, padding="same").shape == (1, 4, 224, 224)
    assert fastconv.conv2d(x224, w, padding="valid").shape == (1, 4, 222, 222)


def test_translation_equivariance(rng):
    """Shifting the input shifts the output by the same amount (away from the borders)."""
    x = np.zeros((1, 2, 20, 20), np.float64)
    x[:, :, 5:12, 6:11] = rng.standard_normal((1, 2, 7, 5))
    w = rng.standard_normal((3, 2, 3, 3))
    dy, dx = 4, -3
    shifted = np.roll(x, (dy, dx), axis=(2, 3))  # content stays clear of the edges
    y, ys = fastconv.conv2d(x, w, padding=1), fastconv.conv2d(shifted, w, padding=1)
    np.testing.assert_allclose(np.roll(y, (dy, dx), axis=(2, 3)), ys, rtol=0, atol=1e-12)


def test_weight_sharing_parameter_count():
    """64 filters of 3x3 over one channel: 64 * 9 weights, whatever the image size."""
    w = np.zeros((64, 1, 3, 3), np.float32)
    for size in (28, 224):
        assert fastconv.conv2d(np.zeros((1, 1, size, size), np.float32), w).shape[1] == 64
    assert w.size == 576
