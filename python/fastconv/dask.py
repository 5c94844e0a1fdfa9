"""Convolution over Dask arrays: lazy, chunked, and exact at the chunk borders.

``fastconv.dask.conv2d(x, w)`` takes a ``dask.array`` of shape (N, C, H, W) and returns a lazy one.
Chunks over the batch run through ``map_blocks``. Chunks over space run through ``map_overlap``:
each output chunk reads its own input chunk plus a halo on one side, as wide as the kernel's
extent (dilation included) reaches past the stride. The chunks are realigned so that every output
chunk starts on the stride grid, and the outer padding is given to the border chunks only, so the
result is that of ``fastconv.conv2d`` on the whole array: bit for bit with the direct algorithm,
within Winograd's stated tolerance with it (Winograd's tiles then start at the chunk borders).

Chunks over channels are merged: every output pixel needs every input channel of its group.
The weights enter the graph once, as one key, so a cluster sends them to each worker once.

Threads: inside a task, fastconv uses ``threads`` threads. By default it divides the cores by the
tasks that run at once in that process (a distributed worker's ``nthreads``, or all cores for the
threaded scheduler), and never exceeds ``fastconv.get_num_threads()``. Worker processes started by
Dask (``LocalCluster``, ``dask worker``) get ``OMP_NUM_THREADS=1``, which fastconv honours, so
workers x threads does not oversubscribe the cores.

Install with ``pip install 'fastconv[dask]'``.
"""

from __future__ import annotations

import os
import threading
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("fastconv.dask needs Dask: pip install 'fastconv[dask]'") from e

from . import _core
from . import functional as F
from ._config import thread_limit

__all__ = ["conv2d", "conv2d_input", "conv2d_weight"]


# --------------------------------------------------------------------------- geometry


class _Axis:
    """How one spatial axis is cut: output chunk i = outputs [a_i, a_{i+1}), computed from input
    rows [a_i*stride - pad_before, ...) of the unpadded input plus a halo."""

    def __init__(self, length: int, extent: int, stride: int, pad: Tuple[int, int], out_len: int,
                 starts: Sequence[int]):
        self.length, self.extent, self.stride, self.pad, self.out_len = length, extent, stride, pad, out_len
        self.in_halo = max(0, extent - stride)  # input rows a forward chunk needs from its right neighbour
        self.out_halo = (extent - 1) // stride  # outputs an input-gradient chunk needs from its left
        self.bounds = self._bounds(starts)

    def _in_start(self, a: int) -> int:
        return a * self.stride - self.pad[0]

    def _bounds(self, starts: Sequence[int]) -> List[int]:
        """Output chunk boundaries, one per candidate, kept only where every chunk on both sides
        stays large enough for its neighbours' halos."""
        need_in, need_out = max(1, self.in_halo), max(1, self.out_halo)
        bounds: List[int] = []
        for a in sorted(set(starts)):
            prev_a = bounds[-1] if bounds else 0
            prev_in = self._in_start(prev_a) if bounds else 0
            lo = self._in_start(a)
            if (a - prev_a >= need_out and self.out_len - a >= need_out and lo - prev_in >= need_in
                    and self.length - lo >= need_in):
                bounds.append(a)
        return bounds

    @property
    def forward_depth(self) -> Tuple[int, int]:
        """map_overlap's (left, right) depth for forward and weight-gradient chunks."""
        return (0, self.in_halo if self.bounds else 0)

    @property
    def input_grad_depth(self) -> Tuple[int, int]:
        """map_overlap's (left, right) depth for input-gradient chunks."""
        return (self.out_halo if self.bounds else 0, 0)

    @classmethod
    def from_input_chunks(cls, length, extent, stride, pad, out_len, chunks):
        edges = np.cumsum(chunks)[:-1]
        return cls(length, extent, stride, pad, out_len, [-(-(int(e) + pad[0]) // stride) for e in edges])

    @classmethod
    def from_output_chunks(cls, length, extent, stride, pad, out_len, chunks):
        return cls(length, extent, stride, pad, out_len, [int(e) for e in np.cumsum(chunks)[:-1]])

    def out_chunks(self) -> Tuple[int, ...]:
        edges = [0, *self.bounds, self.out_len]
        return tuple(b - a for a, b in zip(edges, edges[1:]))

    def in_chunks(self) -> Tuple[int, ...]:
        edges = [0, *(self._in_start(a) for a in self.bounds), self.length]
        return tuple(b - a for a, b in zip(edges, edges[1:]))

    def out_range(self, i: int) -> Tuple[int, int]:
        edges = [0, *self.bounds, self.out_len]
        return edges[i], edges[i + 1]

    def local_pad(self, i: int) -> Tuple[int, int]:
        """Padding of chunk i's own problem: the outer padding where it touches the border."""
        a, b = self.out_range(i)
        before = self.pad[0] if i == 0 else 0
        last_row = (b - 1) * self.stride - self.pad[0] + self.extent  # one past the last row read
        after = max(0, last_row - self.length) if i == len(self.bounds) else 0
        return before, after

    def grad_rows(self, i: int) -> Tuple[int, int, int, Tuple[int, int]]:
        """For input-gradient chunk i, whose grad_output block starts the halo early (except the
        first): the local input rows [v0, v1), their padding, and the chunk's offset in them."""
        a, b = self.out_range(i)
        halo = self.out_halo if i else 0
        last = i == len(self.bounds)
        r0 = 0 if i == 0 else self._in_start(a)
        r1 = self.length if last else self._in_start(b)
        u0 = (a - halo) * self.stride - self.pad[0]  # first (padded) row the block's outputs read
        reach = (b - 1) * self.stride - self.pad[0] + self.extent
        v0, v1 = max(0, u0), max(r1, min(self.length, reach))
        return v0, v1, r0 - v0, (v0 - u0, max(0, reach - v1))


# --------------------------------------------------------------------------- arguments


def _dask(value: Any, name: str) -> "da.Array":
    a = value if isinstance(value, da.Array) else da.asarray(value)
    if a.dtype not in F._DTYPES:
        raise F._dtype_error(name, a.dtype)
    if a.ndim != 4:
        raise ValueError(f"{name} must be a 4-D (N, C, H, W) dask array, got shape {a.shape}")
    if any(np.isnan(s) for s in a.shape):
        raise ValueError(f"{name} has unknown chunk sizes; call compute_chunk_sizes() first")
    if 0 in a.shape:
        raise ValueError(f"{name} has an empty dimension, shape {a.shape}")
    return a


def _local(value: Any) -> Any:
    """Weights and biases are small: they are computed here and travel in the graph once."""
    return value.compute() if isinstance(value, da.Array) else value


def _input_axes(x, extents, stride, pads, out_shape):
    """x with its channels merged and its spatial chunks aligned to the stride grid, and the two
    axes' cuts; for forward and the weight gradient, whose chunks follow the input's."""
    x = x.rechunk({1: -1})
    rows = _Axis.from_input_chunks(x.shape[2], extents[0], stride[0], pads[0], out_shape[2], x.chunks[2])
    cols = _Axis.from_input_chunks(x.shape[3], extents[1], stride[1], pads[1], out_shape[3], x.chunks[3])
    return x.rechunk({2: rows.in_chunks(), 3: cols.in_chunks()}), rows, cols


def _map(func, array, depths, token, **kwargs):
    """map_blocks where no chunk needs a neighbour's rows, else map_overlap with the (left, right)
    depths of the two spatial axes and no outer boundary (the border chunks pad themselves)."""
    if depths == ((0, 0), (0, 0)):
        return array.map_blocks(func, token=token, **kwargs)
    return array.map_overlap(func, depth={2: depths[0], 3: depths[1]}, boundary="none", trim=False, token=token,
                             **kwargs)


def _problem(fname, x_shape, w_shape, stride, padding, dilation, groups, dtype, algorithm):
    """Validates the whole problem exactly as the single-machine function would, and returns its
    geometry and the algorithm every chunk must use so that they all agree."""
    F._check_weight(fname, tuple(w_shape), 2, x_shape[1], F._groups(groups))
    stride_t = F._positive(F._ints(stride, 2, "stride"), "stride")
    dilation_t = F._positive(F._ints(dilation, 2, "dilation"), "dilation")
    pads = F._padding(padding, w_shape[2:], stride_t, dilation_t)
    # Planning is cheap and allocates nothing, even for an array far larger than memory;
    # "measure" is left to the chunks, which time their own shape once per process.
    plan = F._plan(fname, (*x_shape, w_shape[0]), w_shape[2:], stride_t, pads, dilation_t, F._groups(groups),
                   dtype, "auto" if algorithm == "measure" else algorithm)
    chosen = "measure" if algorithm == "measure" else plan.algorithm
    extents = tuple(d * (k - 1) + 1 for k, d in zip(w_shape[2:], dilation_t))
    return stride_t, dilation_t, pads, extents, tuple(plan.output_shape), chosen


# --------------------------------------------------------------------------- threads


def _threads(requested: Optional[int]) -> int:
    """Threads for one task: the cores divided by the tasks this process runs at once."""
    if requested is not None:
        return requested
    cores = os.cpu_count() or 1
    try:
        from distributed import get_worker

        slots = get_worker().state.nthreads
    except (ImportError, ValueError):
        # the threaded scheduler runs tasks on a pool as large as the cores; the synchronous
        # one runs them on the calling (main) thread, one at a time
        slots = 1 if threading.current_thread() is threading.main_thread() else cores
    return max(1, min(_core.get_num_threads(), cores // max(1, slots)))


def _task_threads(threads: Any) -> Optional[int]:
    if threads is None:
        return None
    n = F._int(threads, "threads")
    if n < 1:
        raise ValueError(f"threads must be positive, got threads={n}")
    return n


# --------------------------------------------------------------------------- forward


def _forward_block(x, weight, bias, *, rows, cols, stride, dilation, groups, algorithm, threads, block_id=None):
    pads = (rows.local_pad(block_id[2]), cols.local_pad(block_id[3]))
    with thread_limit(_threads(threads)):
        return F.conv2d(x, weight, bias, stride, pads, dilation, groups, algorithm=algorithm)


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: F.IntOrTuple = 1,
    padding: F.Padding = 0,
    dilation: F.IntOrTuple = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
    threads: Optional[int] = None,
) -> "da.Array":
    """``fastconv.conv2d`` on a (N, C, H, W) dask array, chunked over batch and space; lazy."""
    fname = "conv2d"
    x = _dask(input, "input")
    w = F._array(_local(weight), "weight")
    F._same_dtype(fname, x, weight=w)
    b = F._check_bias(fname, _local(bias), w.shape[0], x)
    stride_t, dilation_t, pads, extents, out_shape, chosen = _problem(
        fname, x.shape, w.shape, stride, padding, dilation, groups, x.dtype, algorithm)
    x, rows, cols = _input_axes(x, extents, stride_t, pads, out_shape)
    return _map(_forward_block, x, (rows.forward_depth, cols.forward_depth), "fastconv-conv2d",
                rows=rows, cols=cols, stride=stride_t, dilation=dilation_t, groups=groups, algorithm=chosen,
                threads=_task_threads(threads), weight=dask.delayed(w), bias=None if b is None else dask.delayed(b),
                chunks=(x.chunks[0], (w.shape[0],), rows.out_chunks(), cols.out_chunks()), dtype=x.dtype,
                meta=np.empty((0, 0, 0, 0), x.dtype))


# --------------------------------------------------------------------------- input gradient


def _input_block(dy, weight, *, rows, cols, channels, stride, dilation, groups, algorithm, threads, block_id=None):
    i, j = block_id[2], block_id[3]
    v0, v1, off_r, pad_r = rows.grad_rows(i)
    u0, u1, off_c, pad_c = cols.grad_rows(j)
    size = (dy.shape[0], channels, v1 - v0, u1 - u0)
    with thread_limit(_threads(threads)):
        dx = F.conv2d_input(size, weight, dy, stride, (pad_r, pad_c), dilation, groups, algorithm=algorithm)
    n_r, n_c = rows.in_chunks()[i], cols.in_chunks()[j]
    return dx[:, :, off_r:off_r + n_r, off_c:off_c + n_c]


def conv2d_input(
    input_size: Sequence[int],
    weight: Any,
    grad_output: Any,
    stride: F.IntOrTuple = 1,
    padding: F.Padding = 0,
    dilation: F.IntOrTuple = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
    threads: Optional[int] = None,
) -> "da.Array":
    """``fastconv.conv2d_input`` for a (N, K, P, Q) dask grad_output, chunked over batch and space."""
    fname = "conv2d_input"
    dy = _dask(grad_output, "grad_output")
    w = F._array(_local(weight), "weight")
    F._same_dtype(fname, dy, weight=w)
    size = F._size(input_size, "input_size", (4,))
    if size[0] != dy.shape[0]:
        raise ValueError(f"{fname}: input_size {size} and grad_output of shape {dy.shape} disagree on the batch")
    stride_t, dilation_t, pads, extents, out_shape, chosen = _problem(
        fname, size, w.shape, stride, padding, dilation, groups, dy.dtype, algorithm)
    if tuple(dy.shape) != out_shape:
        raise ValueError(f"{fname}: grad_output must have shape {out_shape}, got {tuple(dy.shape)}")
    dy = dy.rechunk({1: -1})
    rows = _Axis.from_output_chunks(size[2], extents[0], stride_t[0], pads[0], out_shape[2], dy.chunks[2])
    cols = _Axis.from_output_chunks(size[3], extents[1], stride_t[1], pads[1], out_shape[3], dy.chunks[3])
    dy = dy.rechunk({2: rows.out_chunks(), 3: cols.out_chunks()})
    return _map(_input_block, dy, (rows.input_grad_depth, cols.input_grad_depth), "fastconv-conv2d-input",
                rows=rows, cols=cols, channels=size[1], stride=stride_t, dilation=dilation_t, groups=groups,
                algorithm=chosen, threads=_task_threads(threads), weight=dask.delayed(w),
                chunks=(dy.chunks[0], (size[1],), rows.in_chunks(), cols.in_chunks()), dtype=dy.dtype,
                meta=np.empty((0, 0, 0, 0), dy.dtype))


# --------------------------------------------------------------------------- weight gradient


def _weight_block(x, dy, *, rows, cols, weight_size, stride, dilation, groups, algorithm, threads, block_id=None):
    pads = (rows.local_pad(block_id[2]), cols.local_pad(block_id[3]))
    with thread_limit(_threads(threads)):
        dw = F.conv2d_weight(x, weight_size, dy, stride, pads, dilation, groups, algorithm=algorithm)
    return dw.reshape(1, -1, 1, 1)


def conv2d_weight(
    input: Any,
    weight_size: Sequence[int],
    grad_output: Any,
    stride: F.IntOrTuple = 1,
    padding: F.Padding = 0,
    dilation: F.IntOrTuple = 1,
    groups: int = 1,
    *,
    algorithm: str = "auto",
    threads: Optional[int] = None,
    split_every: int = 4,
) -> "da.Array":
    """``fastconv.conv2d_weight`` for dask input and grad_output: each chunk's gradient, summed
    by a tree reduction (``split_every`` at a time), as one data-parallel training step does."""
    fname = "conv2d_weight"
    x = _dask(input, "input")
    dy = _dask(grad_output, "grad_output")
    F._same_dtype(fname, x, grad_output=dy)
    size = F._size(weight_size, "weight_size", (4,))
    stride_t, dilation_t, pads, extents, out_shape, chosen = _problem(
        fname, x.shape, size, stride, padding, dilation, groups, x.dtype, algorithm)
    if tuple(dy.shape) != out_shape:
        raise ValueError(f"{fname}: grad_output must have shape {out_shape}, got {tuple(dy.shape)}")
    x, rows, cols = _input_axes(x, extents, stride_t, pads, out_shape)
    dy = dy.rechunk({0: x.chunks[0], 1: -1, 2: rows.out_chunks(), 3: cols.out_chunks()})
    depth = {2: rows.forward_depth, 3: cols.forward_depth}
    flat = int(np.prod(size))
    partial = da.map_overlap(
        _weight_block, x, dy, depth=[depth, {}], boundary="none", trim=False, align_arrays=False,
        token="fastconv-conv2d-weight", rows=rows, cols=cols, weight_size=size, stride=stride_t,
        dilation=dilation_t, groups=groups, algorithm=chosen, threads=_task_threads(threads),
        chunks=((1,) * len(x.chunks[0]), (flat,), (1,) * len(rows.in_chunks()), (1,) * len(cols.in_chunks())),
        dtype=x.dtype, meta=np.empty((0, 0, 0, 0), x.dtype))
    return partial.sum(axis=(0, 2, 3), split_every=split_every).reshape(size)
