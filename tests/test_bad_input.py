"""Bad input gets ValueError or TypeError naming the argument, never a crash, and no caller
array is written."""

import numpy as np
import pytest

import fastconv as fc

F32 = np.float32
x = np.arange(2 * 4 * 6 * 6, dtype=F32).reshape(2, 4, 6, 6)
w = np.ones((6, 4, 3, 3), F32)
wg = np.ones((6, 2, 3, 3), F32)
b = np.ones(6, F32)
dy = np.ones((2, 6, 4, 4), F32)
out = np.full((2, 6, 4, 4), 7.0, F32)
out_ro = out.copy()
out_ro.flags.writeable = False
ARRAYS = [x, w, wg, b, dy, out]
HUGE = 2**40

CASES = [
    # (id, call, exception, text the message must contain)
    ("input ndim 2", lambda: fc.conv2d(x[0, 0], w), ValueError, "input must be"),
    ("input ndim 5", lambda: fc.conv2d(x[None], w), ValueError, "input must be"),
    ("weight ndim", lambda: fc.conv2d(x, w[0]), ValueError, "weight must be 4-D"),
    ("conv1d input ndim", lambda: fc.conv1d(x, w[:, :, 0]), ValueError, "input must be"),
    ("conv3d input ndim", lambda: fc.conv3d(x[0, 0], w[:, :, None]), ValueError, "input must be"),
    ("channel mismatch", lambda: fc.conv2d(x, np.ones((6, 3, 3, 3), F32)), ValueError, "input channels"),
    ("groups do not divide input channels", lambda: fc.conv2d(x, np.ones((6, 1, 3, 3), F32), groups=3), ValueError, "groups=3"),
    ("groups do not divide output channels", lambda: fc.conv2d(x, np.ones((5, 2, 3, 3), F32), groups=2), ValueError, "groups=2"),
    ("groups zero", lambda: fc.conv2d(x, w, groups=0), ValueError, "groups"),
    ("groups float", lambda: fc.conv2d(x, w, groups=1.5), TypeError, "groups"),
    ("stride zero", lambda: fc.conv2d(x, w, stride=0), ValueError, "stride"),
    ("stride negative", lambda: fc.conv2d(x, w, stride=(1, -2)), ValueError, "stride"),
    ("stride wrong length", lambda: fc.conv2d(x, w, stride=(1, 2, 3)), ValueError, "stride"),
    ("stride not int", lambda: fc.conv2d(x, w, stride=1.0), TypeError, "stride"),
    ("dilation zero", lambda: fc.conv2d(x, w, dilation=0), ValueError, "dilation"),
    ("padding negative", lambda: fc.conv2d(x, w, padding=-1), ValueError, "padding"),
    ("padding negative side", lambda: fc.conv2d(x, w, padding=((0, -1), (0, 0))), ValueError, "padding"),
    ("padding unknown string", lambda: fc.conv2d(x, w, padding="full"), ValueError, "padding"),
    ("padding same with stride", lambda: fc.conv2d(x, w, padding="same", stride=2), ValueError, "same"),
    ("kernel larger than padded input", lambda: fc.conv2d(x, np.ones((6, 4, 9, 3), F32)), ValueError, "larger than the padded input"),
    ("kernel larger with dilation", lambda: fc.conv2d(x, w, dilation=3), ValueError, "larger than the padded input"),
    ("empty channels", lambda: fc.conv2d(x[:, :0], w[:, :0]), ValueError, "empty"),
    ("empty width", lambda: fc.conv2d(x[:, :, :, :0], w), ValueError, "empty"),
    ("empty weight", lambda: fc.conv2d(x, w[:0]), ValueError, "empty"),
    ("bias wrong size", lambda: fc.conv2d(x, w, np.ones(5, F32)), ValueError, "bias"),
    ("bias wrong ndim", lambda: fc.conv2d(x, w, np.ones((6, 1), F32)), ValueError, "bias"),
    ("int input", lambda: fc.conv2d(x.astype(np.int32), w), TypeError, "float32 or float64"),
    ("float16 weight", lambda: fc.conv2d(x, w.astype(np.float16)), TypeError, "float32 or float64"),
    ("complex input", lambda: fc.conv2d(x.astype(np.complex64), w), TypeError, "float32 or float64"),
    ("bool input", lambda: fc.conv2d(x > 0, w), TypeError, "float32 or float64"),
    ("big-endian input", lambda: fc.conv2d(x.astype(">f4"), w), TypeError, "byte order: convert with a.astype('=f')"),
    ("big-endian weight", lambda: fc.conv2d(x, w.astype(">f8")), TypeError, "byte order: convert with a.astype('=d')"),
    ("mixed dtypes", lambda: fc.conv2d(x, w.astype(np.float64)), TypeError, "dtype"),
    ("mixed bias dtype", lambda: fc.conv2d(x, w, b.astype(np.float64)), TypeError, "dtype"),
    ("algorithm unknown", lambda: fc.conv2d(x, w, algorithm="fft"), ValueError, "algorithm"),
    ("algorithm not a string", lambda: fc.conv2d(x, w, algorithm=1), TypeError, "algorithm"),
    ("out wrong shape", lambda: fc.conv2d(x, w, out=np.empty((2, 6, 4, 5), F32)), ValueError, "out"),
    ("out wrong dtype", lambda: fc.conv2d(x, w, out=np.empty((2, 6, 4, 4))), TypeError, "out"),
    ("out read-only", lambda: fc.conv2d(x, w, out=out_ro), ValueError, "read-only"),
    ("out not an array", lambda: fc.conv2d(x, w, out=[0.0]), TypeError, "out"),
    ("out overlaps input", lambda: fc.conv2d(x, np.ones((4, 4, 1, 1), F32), out=x), ValueError, "share memory"),
    ("output_padding equal to stride", lambda: fc.conv_transpose2d(dy, w, stride=2, output_padding=2), ValueError, "output_padding"),
    ("output_padding negative", lambda: fc.conv_transpose2d(dy, w, output_padding=-1), ValueError, "output_padding"),
    ("transposed channel mismatch", lambda: fc.conv_transpose2d(x, w), ValueError, "input channels"),
    ("transposed output not positive", lambda: fc.conv_transpose2d(x[:, :, :1, :1], np.ones((4, 2, 1, 1), F32), padding=1), ValueError, "output size"),
    ("grad_output wrong shape", lambda: fc.conv2d_input(x.shape, w, dy[:, :, :3]), ValueError, "grad_output"),
    ("input_size wrong length", lambda: fc.conv2d_input((4, 6, 6), w, dy), ValueError, "batching"),
    ("input_size not a sequence", lambda: fc.conv2d_input(5, w, dy), TypeError, "input_size"),
    ("input_size zero", lambda: fc.conv2d_input((2, 4, 0, 6), w, dy), ValueError, "input_size"),
    ("weight_size wrong length", lambda: fc.conv2d_weight(x, (6, 4, 3), dy), ValueError, "weight_size"),
    ("element count overflows", lambda: fc.conv2d_input((HUGE, 4, HUGE, 6), w, dy), ValueError, "overflows a 64-bit"),
    ("size beyond int64", lambda: fc.conv2d_input((2**70, 4, 6, 6), w, dy), ValueError, "overflow"),
    ("weight_size overflows", lambda: fc.conv2d_weight(x, (2**62, 4, 3, 3), dy), ValueError, "overflows a 64-bit"),
    ("backward mask length", lambda: fc.conv2d_backward(x, w, dy, output_mask=(True,)), ValueError, "output_mask"),
    ("backward grad_output shape", lambda: fc.conv2d_backward(x, w, dy[:1]), ValueError, "grad_output"),
    ("plan direction unknown", lambda: fc.plan_conv2d(x.shape, w.shape).implementation_of("sideways"), ValueError, "direction"),
    ("plan workspace direction unknown", lambda: fc.plan_conv2d(x.shape, w.shape).workspace_size("up"), ValueError, "direction"),
    ("threads zero", lambda: fc.set_num_threads(0), ValueError, "threads"),
    ("threads not int", lambda: fc.set_num_threads("2"), TypeError, "n"),
]


@pytest.mark.parametrize("call,exc,text", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_and_writes_nothing(call, exc, text):
    before = [a.copy() for a in ARRAYS]
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value), str(info.value)
    for a, saved in zip(ARRAYS, before):
        np.testing.assert_array_equal(a, saved)

