"""Inputs that once failed, kept so they cannot come back. Each names what went wrong."""

import numpy as np
import pytest

import fastconv
from fastconv import nn
import reference as ref
from conftest import TOL, WINOGRAD_TOL


def test_conv3d_padding_past_2_to_the_31_is_an_overflow_error_not_an_8_gb_allocation():
    """Found by the fuzzer: conv3d built its depth gather (od x taps indices) before the plan had
    checked the output size, so a padding of 2^31 allocated gigabytes before failing."""
    x = np.ones((2, 2, 2, 1, 2), np.float32)
    w = np.ones((2, 2, 5, 2, 2), np.float32)
    with pytest.raises(ValueError, match="overflow"):
        fastconv.conv3d(x, w, stride=4, padding=2**31)


def test_same_padding_with_a_huge_dilation_is_an_overflow_error():
    """Found by the fuzzer: padding='same' with dilation 2^62 made paddings past 2^63, which the
    conv3d lowering handed to NumPy (OverflowError) instead of refusing."""
    x = np.ones((2, 2, 2, 1), np.float32)  # unbatched (C, D, H, W)
    w = np.ones((1, 2, 6, 2, 2), np.float32)
    with pytest.raises(ValueError, match="overflow"):
        fastconv.conv3d(x, w, padding="same", dilation=2**62)
    with pytest.raises(ValueError, match="overflow"):
        fastconv.conv2d(x[:, 0], w[:, :, :, 0], padding="same", dilation=2**62)
    with pytest.raises(ValueError, match="overflow"):
        fastconv.conv3d(x, w, padding=((2**62, 2**62), (0, 0), (0, 0)))


def test_col2im_input_gradient_with_a_partial_last_chunk(rng):
    """The input gradient of a 3-channel layer goes through col2im in chunks of images (32 MB of
    columns: 5 of these 224x224 images); the last, partial chunk once read past its buffer."""
    x_shape = (7, 3, 224, 224)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((7, 4, 224, 224)).astype(np.float32)
    plan = fastconv.plan_conv2d(x_shape, w.shape, padding=1)
    assert "col2im" in plan.implementation
    gi = fastconv.conv2d_input(x_shape, w, dy, padding=1)
    want = ref.conv2d_input(x_shape, w.astype(np.float64), dy.astype(np.float64), (1, 1), ((1, 1), (1, 1)))
    assert ref.rel_err(gi, want) <= TOL["float32"]


def test_unpickled_unaligned_arrays_compute(rng):
    """Found through Dask: arrays rebuilt from a byte stream may be unaligned, and were refused
    with 'must be C-contiguous and aligned' (tests/test_api.py checks every function)."""
    w = rng.standard_normal((2, 3, 3, 3))
    raw = bytearray(1) + w.tobytes()
    unaligned = np.frombuffer(memoryview(raw)[1:], np.float64).reshape(w.shape)
    assert not unaligned.flags.aligned
    x = rng.standard_normal((1, 3, 5, 5))
    np.testing.assert_array_equal(fastconv.conv2d(x, unaligned), fastconv.conv2d(x, w))



@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_strides_far_past_the_input_compute_instead_of_running_out_of_memory(rng, dtype):
    """A stride of 10^6 on a 9x10 input (a valid layer: one output row) raised MemoryError: the
    direct path built a table per pair of stride phases, 10^12 of them, though only the phases
    that hold input rows and columns (at most 9 x 10) have any work."""
    pads = ((1, 1), (1, 1))
    for stride in ((10**6, 3), (7, 10**9), (2**62, 2**62), (1000, 1000)):
        for groups, cin, cout in ((1, 3, 4), (3, 3, 3), (1, 16, 16)):
            x = rng.standard_normal((2, cin, 9, 10)).astype(dtype)
            w = rng.standard_normal((cout, cin // groups, 3, 2)).astype(dtype)
            y = fastconv.conv2d(x, w, stride=stride, padding=1, groups=groups)
            x64, w64 = x.astype(np.float64), w.astype(np.float64)
            assert ref.rel_err(y, ref.conv2d(x64, w64, None, stride, pads, (1, 1), groups)) <= TOL[dtype]
            dy = rng.standard_normal(y.shape).astype(dtype)
            dx = fastconv.conv2d_input(x.shape, w, dy, stride=stride, padding=1, groups=groups)
            want = ref.conv2d_input(x.shape, w64, dy.astype(np.float64), stride, pads, (1, 1), groups)
            assert ref.rel_err(dx, want) <= TOL[dtype], (stride, groups, cin)
            dw = fastconv.conv2d_weight(x, w.shape, dy, stride=stride, padding=1, groups=groups)
            want = ref.conv2d_weight(x64, w.shape, dy.astype(np.float64), stride, pads, (1, 1), groups)
            assert ref.rel_err(dw, want) <= TOL[dtype], (stride, groups, cin)

def test_huge_dilations_and_strides_leave_the_padded_buffers_unbuilt(rng):
    """Found by the fuzzer: conv3d with padding='same' and dilation 2^62 (a valid problem, every
    tap but the first outside the input) sized the padded copy of the input from integer
    products that overflowed, and crashed. The buffers are now sized in floating point first:
    direct then reads the input in place, and depthwise leaves such layers to the implicit GEMM
    (as it does strides past 1024)."""
    x = np.ones((2, 2, 2, 2), np.float32).swapaxes(0, -1)  # unbatched (C, D, H, W), strided
    w = np.ones((2, 2, 2, 2, 2), np.float32)
    y = fastconv.conv3d(x, w, padding="same", dilation=2**62)
    assert y.shape == (2, 2, 2, 2) and not y.any()  # every tap reads padding
    x4 = rng.standard_normal((1, 3, 9, 10)).astype(np.float32)
    for groups in (1, 3):  # implicit GEMM, and depthwise
        y = fastconv.conv2d(x4, np.ones((3, 3 // groups, 2, 2), np.float32), groups=groups, padding="same",
                            dilation=2**62)
        assert y.shape == x4.shape and not y.any()
        w4 = rng.standard_normal((3, 3 // groups, 3, 2)).astype(np.float32)
        for stride, dilation in (((4097, 4097), (1, 1)), ((3, 5000), (4, 1))):
            y = fastconv.conv2d(x4, w4, stride=stride, dilation=dilation, groups=groups)
            want = ref.conv2d(x4.astype(np.float64), w4.astype(np.float64), None, stride, ((0, 0), (0, 0)), dilation,
                              groups)
            assert ref.rel_err(y, want) <= TOL["float32"], (stride, dilation, groups)


@pytest.mark.parametrize("algorithm", ["direct", "winograd", "measure"])
def test_plans_of_one_shape_keep_their_own_weights(rng, algorithm):
    """Plan objects of one shape shared one cached core plan, and with it the prepared weights:
    the second set_weight replaced the first plan's, so a network of two same-shaped layers ran
    its first layer on the second's weights, with no error."""
    x = rng.standard_normal((2, 16, 10, 10)).astype(np.float32)
    w1, w2 = (rng.standard_normal((16, 16, 3, 3)).astype(np.float32) for _ in range(2))
    p1 = fastconv.plan_conv2d(x.shape, w1.shape, padding=1, algorithm=algorithm)
    p2 = fastconv.plan_conv2d(x.shape, w2.shape, padding=1, algorithm=algorithm)
    p1.set_weight(w1)
    p2.set_weight(w2)
    np.testing.assert_array_equal(p1.forward(x), p1.forward(x, w1))
    np.testing.assert_array_equal(p2.forward(x), p2.forward(x, w2))
    dy = rng.standard_normal(p1.output_shape).astype(np.float32)
    np.testing.assert_array_equal(p1.backward_input(dy), p1.backward_input(dy, w1))
    first, second = nn.Conv2d(16, 16, 3, padding=1, algorithm=algorithm, rng=1), nn.Conv2d(16, 16, 3, padding=1, rng=2)
    y1 = first(x)
    second(x)
    np.testing.assert_array_equal(first(x), y1)
    assert ref.rel_err(y1, ref.conv2d(x, first.weight, first.bias, (1, 1), ((1, 1), (1, 1)))) <= WINOGRAD_TOL["float32"]
