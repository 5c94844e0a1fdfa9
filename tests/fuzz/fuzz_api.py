"""Coverage-guided fuzzing of the Python API's argument handling and plan creation (atheris).

    (ulimit -v 4000000; python tests/fuzz/fuzz_api.py -max_total_time=60)   # libFuzzer's flags

The address-space limit makes a valid request for a huge result (a padding of 2^31 gives one of
gigabytes) fail at once with MemoryError, as it would in a process with less memory.

Each input is turned into one call of a public function with fuzzed shapes, dtypes, layouts and
arguments: ints of any size and sign, tuples of the wrong length, strings, floats, None, bools.
A call may return or raise ValueError or TypeError (MemoryError for a valid problem whose result
cannot be allocated); anything else, and any crash, is a finding. What returns must be new
C-contiguous arrays of the input's dtype, or the caller's own `out=`.
"""

import sys

import atheris
import numpy as np

with atheris.instrument_imports():
    import fastconv

ALLOWED = (ValueError, TypeError, MemoryError)
DTYPES = (np.float32, np.float64, np.float32, np.float64, np.int32, np.complex64, np.float16, object)
STRINGS = ("same", "valid", "auto", "direct", "winograd", "measure", "reference", "", "x" * 40)
MAX_ELEMENTS = 1 << 14  # keeps every array small, whatever sizes the input asks for


def _int(fdp, small=True):
    pick = fdp.ConsumeIntInRange(0, 15)
    if pick < 11 or not small:
        return fdp.ConsumeIntInRange(-1, 6)
    return (0, 2**31, 2**62, -(2**63), 2**64 + 1)[pick - 11]


def _arg(fdp, n):
    """An int, a tuple (maybe of the wrong length), or something that is neither."""
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind < 4:
        return _int(fdp)
    if kind < 7:
        return tuple(_int(fdp) for _ in range(fdp.ConsumeIntInRange(max(0, n - 1), n + 1)))
    if kind == 7:
        return tuple((_int(fdp), _int(fdp)) for _ in range(n))  # per-side padding
    return (None, 1.5, True, "same", [1, "a"], np.int64(2), b"1")[fdp.ConsumeIntInRange(0, 6)]


def _array(fdp, ndim):
    shape = tuple(fdp.ConsumeIntInRange(0, 7) for _ in range(ndim))
    if int(np.prod(shape, dtype=np.int64)) > MAX_ELEMENTS:
        shape = tuple(min(s, 2) for s in shape)
    dtype = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    a = np.ones(shape, dtype)
    layout = fdp.ConsumeIntInRange(0, 3)
    if layout == 1 and a.ndim >= 2:
        a = a.swapaxes(0, -1)  # non-contiguous
    elif layout == 2 and a.ndim == 4:
        a = np.ones((shape[0], shape[2], shape[3], shape[1]), dtype).transpose(0, 3, 1, 2)  # NHWC memory
    elif layout == 3:
        a.flags.writeable = False
    return a


def _call(fdp):
    """Returns the call's result and the dtype its results must have."""
    which = fdp.ConsumeIntInRange(0, 8)
    spatial = (1, 2, 3, 2, 2, 2, 2, 2, 2)[which]
    x = _array(fdp, spatial + 2 - (fdp.ConsumeIntInRange(0, 9) == 0))
    return _dispatch(fdp, which, spatial, x), x.dtype


def _dispatch(fdp, which, spatial, x):
    w = _array(fdp, spatial + 2)
    b = _array(fdp, 1) if fdp.ConsumeBool() else None
    args = dict(stride=_arg(fdp, spatial), padding=_arg(fdp, spatial), dilation=_arg(fdp, spatial),
                groups=_int(fdp))
    algorithm = STRINGS[fdp.ConsumeIntInRange(0, len(STRINGS) - 1)] if fdp.ConsumeBool() else "auto"
    if which == 0:
        return fastconv.conv1d(x, w, b, **args)
    if which == 1:
        return fastconv.conv2d(x, w, b, **args, algorithm=algorithm)
    if which == 2:
        return fastconv.conv3d(x, w, b, **args)
    if which == 3:
        return fastconv.conv_transpose2d(x, w, b, args["stride"], args["padding"], _arg(fdp, 2), args["groups"],
                                         args["dilation"])
    if which == 4:
        size = tuple(_int(fdp) for _ in range(fdp.ConsumeIntInRange(2, 5)))
        return fastconv.conv2d_input(size, w, x, **args, algorithm=algorithm)
    if which == 5:
        size = tuple(_int(fdp) for _ in range(fdp.ConsumeIntInRange(3, 5)))
        return fastconv.conv2d_weight(x, size, _array(fdp, 4), **args, algorithm=algorithm)
    if which == 6:
        mask = tuple(fdp.ConsumeBool() for _ in range(3))
        return fastconv.conv2d_backward(x, w, _array(fdp, 4), **args, output_mask=mask, algorithm=algorithm)
    if which == 7:
        plan = fastconv.plan_conv2d(x.shape, w.shape, **args, dtype=x.dtype, algorithm=algorithm)
        if fdp.ConsumeBool():  # prepared weights, and the plan of a layout made at its first call
            plan.set_weight(w)
            return plan.forward(x, None, b)
        return plan.forward(x, w, b)
    out = _array(fdp, 4)
    result = fastconv.conv2d(x, w, b, **args, algorithm=algorithm, out=out)
    assert result is out, "conv2d(out=...) must return out"
    return None


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeIntInRange(0, 15) == 0:  # calls after it allocate the thread's workspace anew
        fastconv.release_workspace()
    try:
        result, dtype = _call(fdp)
    except ALLOWED:
        return
    for r in result if isinstance(result, tuple) else (result,):
        if r is not None:
            assert isinstance(r, np.ndarray) and r.dtype == dtype and r.flags.c_contiguous, (type(r), dtype)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
