"""Convolution on NumPy arrays, with the signatures of ``torch.nn.functional`` and ``torch.nn.grad``.

Every function checks its arguments before any work starts: a bad argument raises ``ValueError``
(or ``TypeError`` for a wrong type or dtype) that names it, and no caller array is written.
float32 is computed in float32 and float64 in float64; results are new C-contiguous arrays
unless ``out=`` is given.
"""

from __future__ import annotations

import operator
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose2d",
    "conv2d_input",
    "conv2d_weight",
    "conv2d_backward",
]

IntOrTuple = Union[int, Sequence[int]]
Padding = Union[str, int, Sequence[Union[int, Sequence[int]]]]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_DTYPE_NAMES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}
_ALGORITHMS = ("auto", "direct", "winograd", "winograd_f2", "winograd_f6", "measure", "reference")
_INT64_MAX = 2**63 - 1


# --------------------------------------------------------------------------- argument parsing


def _dtype_error(name: str, dtype: np.dtype) -> TypeError:
    # Arrays read from files may be big-endian; like PyTorch, refuse them, but say how to convert.
    hint = ""
    if dtype.kind == "f" and dtype.itemsize in (4, 8) and not dtype.isnative:
        hint = f" (non-native byte order: convert with a.astype('={dtype.char}'))"
    return TypeError(f"{name} must have dtype float32 or float64, got {dtype}{hint}")


def _array(value: Any, name: str) -> np.ndarray:
    a = value if isinstance(value, np.ndarray) else np.asarray(value)
    if a.dtype not in _DTYPES:
        raise _dtype_error(name, a.dtype)
    return a


def _same_dtype(fname: str, reference: np.ndarray, **others: Optional[np.ndarray]) -> None:
    for name, a in others.items():
        if a is not None and a.dtype != reference.dtype:
            raise TypeError(
                f"{fname}: {name} has dtype {a.dtype} but input has dtype {reference.dtype}; "
                "both must be float32 or both float64"
            )


def _int(value: Any, name: str) -> int:
    if type(value) is int:  # the common case, without the slower generic checks below
        if -_INT64_MAX <= value <= _INT64_MAX:
            return value
        raise ValueError(f"{name}={value} overflows a 64-bit size")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if abs(out) > _INT64_MAX:
        raise ValueError(f"{name}={out} overflows a 64-bit size")
    return out


def _ints(value: Any, n: int, name: str) -> Tuple[int, ...]:
    """An int, or a sequence of n ints, as an n-tuple (like torch's _pair/_triple)."""
    if type(value) is int:
        return (_int(value, name),) * n
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    if not isinstance(value, (tuple, list, np.ndarray, Sequence)):
        return (_int(value, name),) * n
    items = tuple(value)
    if len(items) == 1:
        items = items * n
    if len(items) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {tuple(items)!r}")
    return tuple(_int(v, name) for v in items)


def _positive(values: Tuple[int, ...], name: str) -> Tuple[int, ...]:
    if any(v < 1 for v in values):
        raise ValueError(f"{name} must be positive, got {name}={values if len(values) > 1 else values[0]}")
    return values


def _groups(groups: Any) -> int:
    g = _int(groups, "groups")
    if g < 1:
        raise ValueError(f"groups must be positive, got groups={g}")
    return g


def _padding(
    padding: Padding, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]
) -> Tuple[Tuple[int, int], ...]:
    """(before, after) per spatial axis from an int, a tuple, a tuple of pairs, or 'same'/'valid'."""
    n = len(kernel)
    if type(padding) is int and padding >= 0:
        return ((padding, padding),) * n
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"padding='same' is not supported for strided convolutions, got stride={tuple(stride)}"
                )
            # torch's split: the extra pixel of an odd total goes after
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            if max(totals) > _INT64_MAX:
                raise ValueError(f"padding='same' with dilation={tuple(dilation)} overflows a 64-bit size")
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"padding must be an int, a tuple, 'same' or 'valid', got padding={padding!r}")
    if isinstance(padding, (tuple, list, np.ndarray, Sequence)):
        items = list(padding)
        if len(items) == 1:
            items = items * n
        if len(items) != n:
            raise ValueError(f"padding must have {n} entries (one per spatial axis), got padding={padding!r}")
        pads = []
        for item in items:
            if isinstance(item, (tuple, list, np.ndarray, Sequence)) and not isinstance(item, str):
                pair = tuple(_int(v, "padding") for v in item)
                if len(pair) != 2:
                    raise ValueError(f"padding per axis must be an int or a (before, after) pair, got {item!r}")
                pads.append(pair)
            else:
                p = _int(item, "padding")
                pads.append((p, p))
    else:
        p = _int(padding, "padding")
        pads = [(p, p)] * n
    if any(v < 0 for pair in pads for v in pair):
        raise ValueError(f"padding must be non-negative, got padding={padding!r}")
    return tuple(pads)


def _batched(fname: str, x: np.ndarray, name: str, spatial: int) -> Tuple[np.ndarray, bool]:
    """Returns x with a batch axis, and whether the caller passed it without one."""
    if x.ndim == spatial + 1:
        x = x[np.newaxis]
        unbatched = True
    elif x.ndim == spatial + 2:
        unbatched = False
    else:
        axes = "HW"[2 - spatial :] if spatial <= 2 else "DHW"
        raise ValueError(
            f"{fname}: {name} must be {spatial + 1}-D (C, {', '.join(axes)}) or {spatial + 2}-D "
            f"(N, C, {', '.join(axes)}), got shape {x.shape}"
        )
    if 0 in x.shape[1:]:  # a batch of no images is valid, as in PyTorch (see _EmptyBatch)
        raise ValueError(f"{fname}: {name} has an empty dimension, shape {x.shape[unbatched:]}")
    return x, unbatched


def _check_weight(fname: str, shape: Tuple[int, ...], spatial: int, channels: int, groups: int,
                  transposed: bool = False) -> None:
    """Checks a weight shape against the input channels and groups."""
    shape = tuple(shape)
    if len(shape) != spatial + 2:
        raise ValueError(f"{fname}: weight must be {spatial + 2}-D, got shape {shape}")
    if 0 in shape:
        raise ValueError(f"{fname}: weight has an empty dimension, shape {shape}")
    if channels % groups:
        raise ValueError(f"{fname}: groups={groups} does not divide the {channels} input channels")
    if transposed:
        if shape[0] != channels:
            raise ValueError(f"{fname}: weight of shape {shape} expects {shape[0]} input channels, got {channels}")
        return
    if shape[0] % groups:
        raise ValueError(f"{fname}: groups={groups} does not divide the {shape[0]} output channels")
    if shape[1] * groups != channels:
        raise ValueError(
            f"{fname}: weight of shape {shape} with groups={groups} expects "
            f"{shape[1] * groups} input channels, got {channels}"
        )


def _check_bias(fname: str, bias: Any, channels: int, x: np.ndarray) -> Optional[np.ndarray]:
    if bias is None:
        return None
    b = _array(bias, "bias")
    _same_dtype(fname, x, bias=b)
    if b.shape != (channels,):
        raise ValueError(f"{fname}: bias must have shape ({channels},), got {b.shape}")
    return b


_PLAN_CACHE: "OrderedDict[tuple, _core.Plan]" = OrderedDict()
_PLAN_CACHE_SIZE = 64
_PLAN_LOCK = threading.Lock()


def _algorithm(algorithm: Any, fname: str) -> str:
    if not isinstance(algorithm, str):
        raise TypeError(f"algorithm must be a string, got {algorithm!r}")
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"{fname}: algorithm must be one of {', '.join(map(repr, _ALGORITHMS))}, got {algorithm!r}")
    return algorithm


def _plan(fname: str, dims, kernel, stride, pads, dilation, groups, dtype, algorithm, layout="nchw",
          shared: bool = True) -> "_core.Plan":
    """A 2-D plan; the core validates what remains (kernel size against the padded input, overflow).

    Plans are cached per shape, thread count and workspace bound, so repeated calls, as a
    training loop makes, skip planning: a tiny layer's call then costs microseconds. algorithm="measure" times the
    candidates once per shape, in each direction, and keeps the fastest of each for the process, as FFTW does.
    A plan that will hold prepared weights must not be shared: shared=False makes one of its own.
    """
    _algorithm(algorithm, fname)
    key = (tuple(dims), tuple(kernel), tuple(stride), tuple(pads), tuple(dilation), groups,
           _DTYPE_NAMES[np.dtype(dtype)], algorithm, layout, _core.plan_settings())
    with _PLAN_LOCK:
        plan = _PLAN_CACHE.get(key) if shared else None
        if plan is not None:
            _PLAN_CACHE.move_to_end(key)
            return plan
    n, c, h, w, k = dims
    args = (max(n, 1), c, h, w, k, kernel[0], kernel[1], stride, (pads[0][0], pads[0][1], pads[1][0], pads[1][1]),
            dilation, groups, key[6])
    try:
        plan = _core.Plan(*args, algorithm, layout)
    except ValueError as e:
        raise ValueError(f"{fname}: {e}") from None
    if n == 0:
        plan = _EmptyBatch(plan)
    if not shared:
        return plan
    with _PLAN_LOCK:
        _PLAN_CACHE[key] = plan
        if len(_PLAN_CACHE) > _PLAN_CACHE_SIZE:
            _PLAN_CACHE.popitem(last=False)
    return plan


class _EmptyBatch:
    """The plan of a batch of no images, which PyTorch accepts as well: the core plans one image,
    which checks the layer; no images have no output and no input gradient, and their weight and
    bias gradients, sums over no images, are zero."""

    def __init__(self, plan: "_core.Plan") -> None:
        self._plan = plan
        self.input_shape = (0, *tuple(plan.input_shape)[1:])
        self.output_shape = (0, *tuple(plan.output_shape)[1:])

    def __getattr__(self, name: str) -> Any:  # implementation, algorithm, prepare_weights, ...
        if name == "_plan":  # not set yet (copy and pickle make objects without __init__)
            raise AttributeError(name)
        return getattr(self._plan, name)

    def forward(self, x, w, b, y) -> None:
        pass

    def backward_data(self, dy, w, dx) -> None:
        pass

    def backward_weights(self, x, dy, dw, db) -> None:
        dw[...] = 0
        if db is not None:
            db[...] = 0


def _c(a: np.ndarray) -> np.ndarray:
    """a as the core reads it: C-contiguous and aligned (arrays unpickled from a byte stream,
    as Dask and multiprocessing make them, may be neither); copies only when needed."""
    if a.flags.c_contiguous and a.flags.aligned:
        return a
    return np.require(a, requirements=("C", "A"))


def _input(x: np.ndarray) -> Tuple[np.ndarray, str]:
    """An (N, C, H, W) input as the core reads it: NCHW memory, or channels-last (NHWC) memory in
    place, as x.transpose(0, 3, 1, 2) of an image batch gives; anything else is copied to NCHW."""
    if x.flags.c_contiguous and x.flags.aligned:
        return x, "nchw"
    if x.flags.aligned and x.transpose(0, 2, 3, 1).flags.c_contiguous:
        return x, "nhwc"
    return _c(x), "nchw"


def _into(out: Any, shape: Tuple[int, ...], dtype: np.dtype, inputs: Sequence[np.ndarray],
          compute: Callable[[np.ndarray], None]) -> np.ndarray:
    """Runs compute on a C-contiguous array of `shape`: a new one, `out` itself, or a buffer
    copied into `out` when `out` is not contiguous (as NumPy's ufuncs accept any writable out)."""
    if out is None:
        result = np.empty(shape, dtype)
        compute(result)
        return result
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out must have dtype {dtype}, got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"out must have shape {tuple(shape)}, got {out.shape}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    for a in inputs:
        if a is not None and np.may_share_memory(out, a):
            raise ValueError("out must not share memory with the inputs")
    if out.flags.c_contiguous:
        compute(out)
    else:
        buffer = np.empty(shape, dtype)
        compute(buffer)
        out[...] = buffer
    return out


# --------------------------------------------------------------------------- 2-D convolution


# Repeated calls (a training loop, a layer) skip argument parsing: once a combination of array
# shapes, dtypes, memory layouts and arguments has been validated and planned, the same
# combination goes straight to its plan: conv2d (with or without out=), conv2d_input and
# conv2d_weight (measured on a tiny layer when this path was added: 16, 22 and 15 us per call
# through the full path, 7, 5 and 5 us through this one; now 3.4, 3.1 and 3.7 us). Unhashable
# arguments (lists) take the full path.
_CALLS: Dict[tuple, tuple] = {}
_CALLS_SIZE = 256


def _call_key(fname: str, arrays: tuple, stride, padding, dilation, groups, algorithm) -> tuple:
    """The _CALLS key of a call: its arrays' (shape, strides, dtype, alignment) or sizes, and its
    arguments with their types (True == 1, yet True is not a valid stride)."""
    return (fname, arrays, stride, padding, dilation, groups, algorithm, type(stride), type(padding), type(dilation),
            type(groups), _core.plan_settings())


def _lookup(key: tuple) -> Tuple[Optional[tuple], Optional[tuple]]:
    """(key, its entry or None); the key is None where an argument is unhashable."""
    try:
        return key, _CALLS.get(key)
    except TypeError:
        return None, None


def _remember(key: Optional[tuple], entry: tuple) -> None:
    if key is None:
        return
    if len(_CALLS) >= _CALLS_SIZE:
        _CALLS.clear()
    _CALLS[key] = entry


def _layout_of(a: np.ndarray) -> tuple:
    return a.shape, a.strides, a.dtype, a.flags.aligned


def _plain_out(out: Any, shape: tuple, dtype: np.dtype, inputs: tuple) -> bool:
    """Whether `out` takes the result as it is, which _into checks in full (with its errors)."""
    return (type(out) is np.ndarray and out.shape == shape and out.dtype == dtype and out.flags.c_contiguous
            and out.flags.writeable and not any(a is not None and np.may_share_memory(out, a) for a in inputs))


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """2-D convolution (cross-correlation) of ``input`` (N, C, H, W) or (C, H, W) with ``weight``
    (K, C/groups, R, S), as ``torch.nn.functional.conv2d``.

    ``padding`` is an int, an (h, w) pair, 'valid', 'same' (stride 1 only), or ((top, bottom),
    (left, right)) for asymmetric padding. ``algorithm`` is 'auto', 'direct', 'winograd' (F(4x4, 3x3)),
    'winograd_f2' (F(2x2, 3x3): less saving, less rounding), 'winograd_f6' (F(6x6, 3x3): more
    saving, more rounding), 'measure' (time the candidates once per shape and direction, keep the fastest of each) or
    'reference'.
    Output size per axis: (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1.
    """
    key = None
    if type(input) is np.ndarray and type(weight) is np.ndarray and (bias is None or type(bias) is np.ndarray):
        arrays = (_layout_of(input), weight.shape, weight.dtype, None if bias is None else (bias.shape, bias.dtype))
        key, hit = _lookup(_call_key("conv2d", arrays, stride, padding, dilation, groups, algorithm))
        if hit is not None:
            plan, shape, user_shape = hit
            if out is None or _plain_out(out, user_shape, input.dtype, (input, weight, bias)):
                y = np.empty(user_shape, input.dtype) if out is None else out
                plan.forward(input, _c(weight), None if bias is None else _c(bias), y.reshape(shape))
                return y
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups, algorithm, out, key)


def _conv_nd(fname, spatial, input, weight, bias, stride, padding, dilation, groups, algorithm, out, key=None):
    x = _array(input, "input")
    w = _array(weight, "weight")
    _same_dtype(fname, x, weight=w)
    x4, unbatched = _batched(fname, x, "input", spatial)
    g = _groups(groups)
    _check_weight(fname, w.shape, spatial, x4.shape[1], g)
    b = _check_bias(fname, bias, w.shape[0], x)
    stride_t = _positive(_ints(stride, spatial, "stride"), "stride")
    dilation_t = _positive(_ints(dilation, spatial, "dilation"), "dilation")
    pads = _padding(padding, w.shape[2:], stride_t, dilation_t)
    if spatial == 1:  # a row of height 1
        x4, w = x4[:, :, np.newaxis], w[:, :, np.newaxis]
        stride_t, dilation_t, pads = (1,) + stride_t, (1,) + dilation_t, ((0, 0),) + pads
    if spatial == 3:
        return _conv3d(fname, x4, unbatched, w, b, stride_t, pads, dilation_t, g, algorithm, out)
    xin, layout = _input(x4)
    plan = _plan(fname, (*x4.shape, w.shape[0]), w.shape[2:], stride_t, pads,
                 dilation_t, g, x.dtype, algorithm, layout)
    shape = tuple(plan.output_shape)
    user_shape = shape[unbatched:] if spatial == 2 else (shape[0], shape[1], shape[3])[unbatched:]

    def compute(y):
        plan.forward(xin, _c(w), None if b is None else _c(b), y.reshape(shape))

    # The fast path of conv2d passes the input as is: only for inputs the core reads in place.
    if xin is x4 and not unbatched:
        _remember(key, (plan, shape, user_shape))
    return _into(out, user_shape, x.dtype, (x, w, b), compute)


# --------------------------------------------------------------------------- 1-D and 3-D


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """1-D convolution of ``input`` (N, C, L) or (C, L) with ``weight`` (K, C/groups, S), as
    ``torch.nn.functional.conv1d``; computed as a 2-D convolution of height 1."""
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups, algorithm, out)


def conv3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """3-D convolution of ``input`` (N, C, D, H, W) or (C, D, H, W) with ``weight``
    (K, C/groups, T, R, S), as ``torch.nn.functional.conv3d``.

    Computed as one 2-D convolution: the T depth taps of each output plane become extra input
    channels, so every output element is still one reduction.
    """
    return _conv_nd("conv3d", 3, input, weight, bias, stride, padding, dilation, groups, algorithm, out)


def _conv3d(fname, x, unbatched, w, b, stride, pads, dilation, groups, algorithm, out):
    n, c, d, h, wid = x.shape
    k, cg, t_taps = w.shape[:3]
    (sd, sh, sw), (dd, dh, dw) = stride, dilation
    (pf, pk) = pads[0]
    depth_extent = dd * (t_taps - 1) + 1
    if max(depth_extent, d + pf + pk) > _INT64_MAX:
        raise ValueError(f"{fname}: the padded input depth or the kernel's dilated depth overflows a 64-bit size")
    if depth_extent > d + pf + pk:
        raise ValueError(
            f"{fname}: kernel depth with dilation ({depth_extent}) is larger than the padded input depth "
            f"({d + pf + pk})"
        )
    od = (d + pf + pk - depth_extent) // sd + 1
    # The plan validates the 2-D problem (and its sizes' overflow) before anything is allocated.
    plan = _plan(fname, (n * od, groups * t_taps * cg, h, wid, k), w.shape[3:], (sh, sw), pads[1:],
                 (dh, dw), groups, x.dtype, algorithm)
    _, _, oh, ow = plan.output_shape
    shape = (n, k, od, oh, ow)
    # Gather, for every output plane and depth tap, the input plane it reads (zero when padded).
    # The gathered planes come first: the largest array, so a request too large fails at once,
    # before the (od, T) index arrays are computed.
    planes = np.zeros((n, od, t_taps, c, h, wid), x.dtype)
    src = np.arange(od)[:, None] * sd - pf + np.arange(t_taps)[None, :] * dd  # (od, T)
    valid = (src >= 0) & (src < d)
    o_idx, t_idx = np.nonzero(valid)
    planes[:, o_idx, t_idx] = np.moveaxis(x[:, :, src[o_idx, t_idx]], 2, 1)
    # Channels ordered (group, tap, channel) so that groups stay contiguous blocks.
    planes = planes.reshape(n * od, t_taps, groups, cg, h, wid).transpose(0, 2, 1, 3, 4, 5)
    planes = planes.reshape(n * od, groups * t_taps * cg, h, wid)
    w2 = np.ascontiguousarray(w.transpose(0, 2, 1, 3, 4)).reshape(k, t_taps * cg, *w.shape[3:])

    def compute(y):
        flat = np.empty((n * od, k, oh, ow), x.dtype)
        plan.forward(_c(planes), w2, None if b is None else _c(b), flat)
        y[...] = flat.reshape(n, od, k, oh, ow).transpose(0, 2, 1, 3, 4)

    return _into(out, shape[unbatched:], x.dtype, (x, w, b), compute)


# --------------------------------------------------------------------------- transposed


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    algorithm: str = "auto",
    out: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Transposed 2-D convolution of ``input`` (N, C_in, H, W) or (C_in, H, W) with ``weight``
    (C_in, C_out/groups, R, S), as ``torch.nn.functional.conv_transpose2d``: the gradient of
    conv2d with respect to its input. Output size per axis:
    (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1.
    """
    fname = "conv_transpose2d"
    x = _array(input, "input")
    w = _array(weight, "weight")
    _same_dtype(fname, x, weight=w)
    x4, unbatched = _batched(fname, x, "input", 2)
    g = _groups(groups)
    n, cin, h, wid = x4.shape
    _check_weight(fname, w.shape, 2, cin, g, transposed=True)
    cout = w.shape[1] * g
    b = _check_bias(fname, bias, cout, x)
    stride_t = _positive(_ints(stride, 2, "stride"), "stride")
    dilation_t = _positive(_ints(dilation, 2, "dilation"), "dilation")
    pad_t = _ints(padding, 2, "padding")
    if any(p < 0 for p in pad_t):
        raise ValueError(f"{fname}: padding must be non-negative, got padding={padding!r}")
    op_t = _ints(output_padding, 2, "output_padding")
    for op, s, d in zip(op_t, stride_t, dilation_t):
        if op < 0 or op >= max(s, d):
            raise ValueError(
                f"{fname}: output_padding must be non-negative and smaller than either stride or "
                f"dilation, got output_padding={output_padding!r}, stride={stride!r}, dilation={dilation!r}"
            )
    r, s_ = w.shape[2:]
    full, computed, pads = [], [], []
    for size, kern, st, dil, pad, op in zip((h, wid), (r, s_), stride_t, dilation_t, pad_t, op_t):
        reach = (size - 1) * st + dil * (kern - 1) + 1  # rows the kernel touches, before cropping
        length = reach - 2 * pad + op
        if length < 1:
            raise ValueError(
                f"{fname}: output size {length} is not positive (input {size}, stride {st}, padding "
                f"{pad}, dilation {dil}, kernel {kern}, output_padding {op})"
            )
        # Rows past reach - pad (possible with output_padding) receive nothing: only bias.
        rows = min(length, reach - pad)
        full.append(length)
        computed.append(rows)
        pads.append((pad, reach - pad - rows))  # pads that make conv2d(rows) output `size`
    shape = (n, cout, *full)

    def compute(y):
        target = y.reshape(shape)
        if min(computed) < 1:
            target[...] = 0
        else:
            plan = _plan(fname, (n, cout, computed[0], computed[1], cin), (r, s_), stride_t, pads,
                         dilation_t, g, x.dtype, algorithm)
            if computed == full:
                plan.backward_data(_c(x4), _c(w), target)
            else:
                part = np.empty((n, cout, *computed), x.dtype)
                plan.backward_data(_c(x4), _c(w), part)
                target[...] = 0
                target[:, :, : computed[0], : computed[1]] = part
        if b is not None:
            target += b[:, None, None]

    return _into(out, shape[unbatched:], x.dtype, (x, w, b), compute)


# --------------------------------------------------------------------------- gradients


def _size(value: Any, name: str, lengths: Tuple[int, ...], batch: bool = False) -> Tuple[int, ...]:
    """A shape; with `batch`, one of 4 entries whose first, the batch, may be 0."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of ints, got {value!r}")
    size = tuple(_int(v, name) for v in value)
    if len(size) not in lengths:
        raise ValueError(f"{name} must have {' or '.join(map(str, lengths))} entries, got {size}")
    first = 1 if batch and len(size) == 4 and size[0] == 0 else 0
    if any(v < 1 for v in size[first:]):
        raise ValueError(f"{name} must have positive entries, got {size}")
    return size


def _backward_plan(fname, x_shape, w_shape, dy, stride, padding, dilation, groups, dtype, algorithm, layout="nchw"):
    """Checks a (input shape, weight shape, grad_output) triple and returns its plan and 4-D grad_output."""
    dy4, unbatched = _batched(fname, dy, "grad_output", 2)
    if len(x_shape) == 3:
        x_shape = (1, *x_shape)
    g = _groups(groups)
    n, c, h, wid = x_shape
    _check_weight(fname, w_shape, 2, c, g)
    k, _, r, s = w_shape
    stride_t = _positive(_ints(stride, 2, "stride"), "stride")
    dilation_t = _positive(_ints(dilation, 2, "dilation"), "dilation")
    pads = _padding(padding, (r, s), stride_t, dilation_t)
    plan = _plan(fname, (n, c, h, wid, k), (r, s), stride_t, pads, dilation_t, g, dtype, algorithm, layout)
    if tuple(dy4.shape) != tuple(plan.output_shape):
        want = tuple(plan.output_shape)
        raise ValueError(f"{fname}: grad_output must have shape {want[unbatched:]}, got {dy.shape}")
    return plan, dy4, unbatched


def conv2d_input(
    input_size: Sequence[int],
    weight: Any,
    grad_output: Any,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
) -> np.ndarray:
    """Gradient of conv2d with respect to its input, as ``torch.nn.grad.conv2d_input``."""
    fname = "conv2d_input"
    key = None
    if type(weight) is np.ndarray and type(grad_output) is np.ndarray and type(input_size) is tuple:
        # (sizes that only equal a cached call's, True for 1 or 6.0 for 6, NumPy refuses as shapes)
        arrays = (input_size, weight.shape, weight.dtype, grad_output.shape, grad_output.dtype)
        key, plan = _lookup(_call_key(fname, arrays, stride, padding, dilation, groups, algorithm))
        if plan is not None:
            grad_input = np.empty(input_size, grad_output.dtype)
            plan.backward_data(_c(grad_output), _c(weight), grad_input)
            return grad_input
    w = _array(weight, "weight")
    dy = _array(grad_output, "grad_output")
    _same_dtype(fname, dy, weight=w)
    size = _size(input_size, "input_size", (3, 4), batch=True)
    if (len(size) == 3) != (dy.ndim == 3):
        raise ValueError(f"{fname}: input_size {size} and grad_output of shape {dy.shape} disagree on batching")
    plan, dy4, unbatched = _backward_plan(fname, size, w.shape, dy, stride, padding, dilation, groups, dy.dtype,
                                          algorithm)
    if not unbatched:
        _remember(key, plan)
    grad_input = np.empty(plan.input_shape, dy.dtype)
    plan.backward_data(_c(dy4), _c(w), grad_input)
    return grad_input.reshape(size)


def conv2d_weight(
    input: Any,
    weight_size: Sequence[int],
    grad_output: Any,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
) -> np.ndarray:
    """Gradient of conv2d with respect to its weight, as ``torch.nn.grad.conv2d_weight``."""
    fname = "conv2d_weight"
    key = None
    if type(input) is np.ndarray and type(grad_output) is np.ndarray and type(weight_size) is tuple:
        arrays = (_layout_of(input), weight_size, grad_output.shape, grad_output.dtype)
        key, plan = _lookup(_call_key(fname, arrays, stride, padding, dilation, groups, algorithm))
        if plan is not None:
            grad_weight = np.empty(weight_size, input.dtype)
            plan.backward_weights(input, _c(grad_output), grad_weight, None)
            return grad_weight
    x = _array(input, "input")
    dy = _array(grad_output, "grad_output")
    _same_dtype(fname, x, grad_output=dy)
    size = _size(weight_size, "weight_size", (4,))
    x4, unbatched = _batched(fname, x, "input", 2)
    if unbatched != (dy.ndim == 3):
        raise ValueError(f"{fname}: input of shape {x.shape} and grad_output of shape {dy.shape} disagree on batching")
    xin, layout = _input(x4)
    plan, dy4, _ = _backward_plan(fname, x4.shape, size, dy, stride, padding, dilation, groups, x.dtype, algorithm,
                                  layout)
    if xin is x4 and not unbatched:  # the fast path passes the input as is, as conv2d's does
        _remember(key, plan)
    grad_weight = np.empty(size, x.dtype)
    plan.backward_weights(xin, _c(dy4), grad_weight, None)
    return grad_weight


def conv2d_backward(
    input: Any,
    weight: Any,
    grad_output: Any,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    output_mask: Sequence[bool] = (True, True, True),
    algorithm: str = "auto",
) -> Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]:
    """All gradients of conv2d from one plan: ``(grad_input, grad_weight, grad_bias)``.

    ``output_mask`` says which to compute (as ``torch.ops.aten.convolution_backward``); the
    others are returned as None. grad_bias is the sum of grad_output over batch and pixels.
    """
    fname = "conv2d_backward"
    x = _array(input, "input")
    w = _array(weight, "weight")
    dy = _array(grad_output, "grad_output")
    _same_dtype(fname, x, weight=w, grad_output=dy)
    mask = tuple(bool(m) for m in output_mask)
    if len(mask) != 3:
        raise ValueError(f"{fname}: output_mask must have 3 entries, got {output_mask!r}")
    x4, unbatched = _batched(fname, x, "input", 2)
    if unbatched != (dy.ndim == 3):
        raise ValueError(f"{fname}: input of shape {x.shape} and grad_output of shape {dy.shape} disagree on batching")
    xin, layout = _input(x4)
    plan, dy4, _ = _backward_plan(fname, x4.shape, w.shape, dy, stride, padding, dilation, groups, x.dtype, algorithm,
                                  layout)
    grad_input = grad_weight = grad_bias = None
    if mask[0]:
        grad_input = np.empty(x4.shape, x.dtype)
        plan.backward_data(_c(dy4), _c(w), grad_input)
        grad_input = grad_input.reshape(x.shape)
    if mask[1] or mask[2]:
        gw = np.empty(w.shape, x.dtype)
        gb = np.empty(w.shape[0], x.dtype) if mask[2] else None
        plan.backward_weights(xin, _c(dy4), gw, gb)
        grad_weight = gw if mask[1] else None
        grad_bias = gb
    return grad_input, grad_weight, grad_bias
