"""Threads and build/CPU configuration."""

from __future__ import annotations

import contextlib
import os
from typing import Dict, Iterator, Union

from . import _core
from .functional import _int


def set_num_threads(n: int) -> None:
    """Sets the threads used by calls from now on (default: OMP_NUM_THREADS, else all cores)."""
    n = _int(n, "n")
    if n < 1:
        raise ValueError(f"number of threads must be positive, got n={n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads fastconv computes with."""
    return _core.get_num_threads()


@contextlib.contextmanager
def thread_limit(n: int) -> Iterator[None]:
    """Within the block, calls made from this Python thread use n threads; other threads keep
    theirs. For work already spread over cores by a scheduler (Dask, a thread pool)::

        with fastconv.thread_limit(1):
            y = fastconv.conv2d(x, w)
    """
    n = _int(n, "n")
    if n < 1:
        raise ValueError(f"number of threads must be positive, got n={n}")
    previous = _core.get_local_num_threads()
    _core.set_local_num_threads(n)
    try:
        yield
    finally:
        _core.set_local_num_threads(previous)


def release_workspace() -> int:
    """Frees the workspace that this Python thread's calls share, and returns its bytes.

    Calls keep one workspace per thread, as large as the largest layer they ran needed, so that
    a model's layers reuse it instead of each holding their own; after a large layer, this gives
    the memory back (the next call allocates what it needs again)."""
    return _core.release_workspace()


def _kernel(dtype: str) -> str:
    plan = _core.Plan(1, 1, 1, 1, 1, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1, dtype, "direct")
    return plan.implementation


def config() -> Dict[str, Union[str, int, bool]]:
    """The version, instruction sets, kernels and threads in use, as a dict."""
    return {
        "version": _core.__version__,
        "isa": _core.active_isa(),
        "detected_isa": _core.detected_isa(),
        "max_isa": os.environ.get("FASTCONV_MAX_ISA", ""),
        "cpu_features": _core.cpu_features(),
        "float32_kernel": _kernel("float32"),
        "float64_kernel": _kernel("float64"),
        "threads": _core.get_num_threads(),
        "openmp": bool(_core.openmp),
    }


def show_config() -> None:
    """Prints the version, the instruction set in use and the thread count."""
    c = config()
    cap = f", capped by FASTCONV_MAX_ISA={c['max_isa']}" if c["max_isa"] else ""
    print(f"fastconv {c['version']}")
    print(f"  instruction set : {c['isa']} (CPU supports {c['detected_isa']}{cap})")
    print(f"  cpu features    : {c['cpu_features']}")
    print(f"  kernels         : float32 {c['float32_kernel']}, float64 {c['float64_kernel']}")
    print(f"  threads         : {c['threads']} ({'OpenMP' if c['openmp'] else 'no OpenMP: single-threaded'})")
