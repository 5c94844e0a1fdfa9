"""Plans: a convolution described once and run many times, as a layer does in training.

A plan fixes the shapes, the parameters, the dtype and the algorithm; making it validates
everything and chooses the implementation, so each call only checks its arrays. Each plan owns
its core plans (one per input memory layout, made when first needed), since they hold its
prepared weights: two layers of one shape must not run on each other's weights.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import functional as F

__all__ = ["Conv2dPlan", "plan_conv2d"]


class Conv2dPlan:
    """A planned 2-D convolution for inputs of ``input_shape`` (N, C, H, W) and weights of
    ``weight_shape`` (K, C/groups, R, S); arguments as in :func:`fastconv.conv2d`."""

    def __init__(
        self,
        input_shape: Sequence[int],
        weight_shape: Sequence[int],
        stride: F.IntOrTuple = 1,
        padding: F.Padding = 0,
        dilation: F.IntOrTuple = 1,
        groups: int = 1,
        *,
        dtype: Any = np.float32,
        algorithm: str = "auto",
    ) -> None:
        fname = "plan_conv2d"
        self.dtype = np.dtype(dtype)
        if self.dtype not in F._DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        x_shape = F._size(input_shape, "input_shape", (4,), batch=True)
        w_shape = F._size(weight_shape, "weight_shape", (4,))
        g = F._groups(groups)
        F._check_weight(fname, w_shape, 2, x_shape[1], g)
        stride_t = F._positive(F._ints(stride, 2, "stride"), "stride")
        dilation_t = F._positive(F._ints(dilation, 2, "dilation"), "dilation")
        pads = F._padding(padding, w_shape[2:], stride_t, dilation_t)
        self._args = (fname, (*x_shape, w_shape[0]), w_shape[2:], stride_t, pads, dilation_t, g, self.dtype, algorithm)
        self._weight: Optional[np.ndarray] = None  # what set_weight was given, for a layout's plan made later
        self._layouts: dict = {}
        self._plan = self._core_plan("nchw")
        self.input_shape: Tuple[int, ...] = x_shape
        self.weight_shape: Tuple[int, ...] = w_shape
        self.output_shape: Tuple[int, ...] = tuple(self._plan.output_shape)

    def __getstate__(self) -> dict:
        """Pickled and copied as what made it and the weights it was given; the core plans, which
        hold pointers, are made again (as layers and models are copied and pickled)."""
        state = self.__dict__.copy()
        del state["_plan"], state["_layouts"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._layouts = {}
        self._plan = self._core_plan("nchw")

    def _core_plan(self, layout: str) -> Any:
        """This plan's own core plan for an input memory layout, made (and given the weights) when
        first needed."""
        plan = self._layouts.get(layout)
        if plan is None:
            plan = self._layouts[layout] = F._plan(*self._args, layout, shared=False)
            if self._weight is not None:
                plan.prepare_weights(self._weight)
        return plan

    def _for_input(self, input: Any) -> Tuple[np.ndarray, Any]:
        """The input as the core reads it (channels-last in place) and the core plan for its layout."""
        a = self._check(F._array(input, "input"), "input")
        x, layout = F._input(a) if a.ndim == 4 else (a, "nchw")  # the core names a wrong shape
        return x, self._core_plan(layout)

    @property
    def implementation(self) -> str:
        """The implementation that runs, e.g. 'direct/gemm-avx2-fma-6x16'."""
        return self._plan.implementation

    def implementation_of(self, direction: str = "forward") -> str:
        """The implementation that runs 'forward', 'backward_data' or 'backward_weights': where
        auto or measure chose per direction, `implementation` names them all."""
        return self._plan.implementation_of(direction)

    @property
    def algorithm(self) -> str:
        return self._plan.algorithm

    @property
    def num_threads(self) -> int:
        return self._plan.num_threads

    def workspace_size(self, direction: str = "forward") -> int:
        """Bytes of workspace for 'forward', 'backward_data' or 'backward_weights'."""
        if direction not in ("forward", "backward_data", "backward_weights"):
            raise ValueError(f"direction must be 'forward', 'backward_data' or 'backward_weights', got {direction!r}")
        return self._plan.workspace_size(direction)

    def _check(self, a: np.ndarray, name: str) -> np.ndarray:
        if a.dtype != self.dtype:
            raise TypeError(f"{name} must have dtype {self.dtype}, got {a.dtype}")
        return a

    def _take(self, a: Any, name: str) -> np.ndarray:
        return F._c(self._check(F._array(a, name), name))

    def set_weight(self, weight: Any) -> None:
        """Keeps ``weight``, packed or transformed once, for the calls that pass no weight
        (a Winograd plan transforms its weights here instead of on every call). Call it again
        whenever the weights change: the plan holds what they were when it was called."""
        w = self._take(weight, "weight")
        for plan in self._layouts.values():
            plan.prepare_weights(w)
        self._weight = w.copy()

    @property
    def weight_set(self) -> bool:
        return self._plan.weights_prepared

    def forward(self, input: Any, weight: Any = None, bias: Any = None, *,
                out: Optional[np.ndarray] = None) -> np.ndarray:
        """The convolution; ``weight=None`` uses the weights given to :meth:`set_weight`."""
        x, plan = self._for_input(input)
        w = None if weight is None else self._take(weight, "weight")
        b = None if bias is None else self._take(bias, "bias")
        return F._into(out, self.output_shape, self.dtype, (input, weight, bias), lambda y: plan.forward(x, w, b, y))

    def backward_input(self, grad_output: Any, weight: Any = None) -> np.ndarray:
        """Gradient of the input; ``weight=None`` uses the weights given to :meth:`set_weight`."""
        dy = self._take(grad_output, "grad_output")
        w = None if weight is None else self._take(weight, "weight")
        grad_input = np.empty(self.input_shape, self.dtype)
        self._plan.backward_data(dy, w, grad_input)
        return grad_input

    def backward_weight(self, input: Any, grad_output: Any) -> Tuple[np.ndarray, np.ndarray]:
        """(grad_weight, grad_bias)."""
        (x, plan), dy = self._for_input(input), self._take(grad_output, "grad_output")
        grad_weight = np.empty(self.weight_shape, self.dtype)
        grad_bias = np.empty(self.weight_shape[0], self.dtype)
        plan.backward_weights(x, dy, grad_weight, grad_bias)
        return grad_weight, grad_bias

    def __repr__(self) -> str:
        return (f"Conv2dPlan(input_shape={self.input_shape}, weight_shape={self.weight_shape}, "
                f"dtype={self.dtype.name}, implementation={self.implementation!r})")


def plan_conv2d(input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1, *, dtype=np.float32,
                algorithm="auto") -> Conv2dPlan:
    """Plans a 2-D convolution once, to run ``forward``, ``backward_input`` and
    ``backward_weight`` many times."""
    return Conv2dPlan(input_shape, weight_shape, stride, padding, dilation, groups, dtype=dtype, algorithm=algorithm)
