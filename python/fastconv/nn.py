"""Thin layers over the functional API, enough to train a small CNN in NumPy.

Convolution layers take PyTorch's constructor arguments, initialisation and state dicts, keep a
plan whose prepared weights are refreshed whenever the weights change, and run backward by hand:
``y = layer(x)`` keeps what backward needs; ``dx = layer.backward(dy)`` stores ``weight_grad``
and ``bias_grad``. The other layers are plain NumPy; convolution is the only compiled part.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import functional as F
from .helpers import receptive_field as _receptive_field
from .plan import Conv2dPlan

__all__ = [
    "Module", "Conv1d", "Conv2d", "ConvTranspose2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "Sequential",
    "CrossEntropyLoss", "SGD",
]

_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _rng(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


class Module:
    """A layer: ``forward`` (also ``__call__``), ``backward``, and its parameters."""

    training = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def parameters(self) -> List[Tuple[np.ndarray, Optional[np.ndarray]]]:
        """(parameter, gradient) pairs; the gradient is None before the first backward."""
        return []

    def num_parameters(self) -> int:
        return sum(p.size for p, _ in self.parameters())

    def train(self, mode: bool = True) -> "Module":
        self.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)


class _ConvNd(Module):
    _spatial = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", *, output_padding=0,
                 dtype: Any = np.float32, rng: Any = None, algorithm: str = "auto") -> None:
        n = self._spatial
        self.algorithm = F._algorithm(algorithm, type(self).__name__)
        tup = lambda v, name: F._positive(F._ints(v, n, name), name)  # noqa: E731
        self.in_channels, self.out_channels = F._int(in_channels, "in_channels"), F._int(out_channels, "out_channels")
        self.kernel_size = tup(kernel_size, "kernel_size")
        self.stride, self.dilation = tup(stride, "stride"), tup(dilation, "dilation")
        self.groups = F._groups(groups)
        if self.in_channels < 1 or self.out_channels < 1:
            raise ValueError(f"in_channels and out_channels must be positive, got {in_channels}, {out_channels}")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        if padding_mode not in ("zeros", *_PAD_MODES):
            raise ValueError(f"padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got {padding_mode!r}")
        if padding_mode != "zeros" and (self._transposed or isinstance(padding, str)):
            raise ValueError(f"padding_mode={padding_mode!r} needs integer padding on a (not transposed) convolution")
        self.padding, self.padding_mode = padding, padding_mode
        self.output_padding = F._ints(output_padding, n, "output_padding")
        self.dtype = np.dtype(dtype)
        if self.dtype not in F._DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        # PyTorch's default: kaiming_uniform(a=sqrt(5)) for weights, U(-1/sqrt(fan_in), ...) for bias.
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        fan_in = shape[1] * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        gen = _rng(rng)
        self.weight = gen.uniform(-bound, bound, shape).astype(self.dtype)
        self.bias = gen.uniform(-bound, bound, self.out_channels).astype(self.dtype) if bias else None
        self.weight_grad: Optional[np.ndarray] = None
        self.bias_grad: Optional[np.ndarray] = None
        self._plan: Optional[Conv2dPlan] = None
        self._saved: Optional[np.ndarray] = None

    # -- the weights a plan holds are refreshed whenever .weight was replaced or mutated --------
    def _prepared_plan(self, x: np.ndarray, padding) -> Conv2dPlan:
        """The 2-D plan for x (height 1 for Conv1d), holding the current weights."""
        pads = F._padding(padding, self.kernel_size, self.stride, self.dilation)
        w2, shape2, stride2, dil2 = self.weight, tuple(x.shape), self.stride, self.dilation
        if self._spatial == 1:
            w2, shape2, pads = self.weight[:, :, None], (x.shape[0], x.shape[1], 1, x.shape[2]), ((0, 0),) + pads
            stride2, dil2 = (1, *self.stride), (1, *self.dilation)
        plan = self._plan
        if plan is None or plan.input_shape != shape2:
            plan = self._plan = Conv2dPlan(shape2, w2.shape, stride2, pads, dil2, self.groups, dtype=self.dtype,
                                           algorithm=self.algorithm)
        held = plan._weight  # a copy of what the plan prepared
        if held is None or held.shape != w2.shape or not np.array_equal(held, w2):
            plan.set_weight(w2)
        return plan

    def _padding_pairs(self):
        """(before, after) per axis, for output_shape."""
        if self.padding_mode != "zeros":
            return tuple((v, v) for v in F._ints(self.padding, self._spatial, "padding"))
        return F._padding(self.padding, self.kernel_size, self.stride, self.dilation)

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        """The output shape for an input shape (N, C, ...)."""
        n, _, *sizes = input_shape
        out = [(s + a + b - d * (k - 1) - 1) // st + 1
               for s, (a, b), k, st, d in zip(sizes, self._padding_pairs(), self.kernel_size, self.stride, self.dilation)]
        return (n, self.out_channels, *out)

    def _check_input(self, x: Any) -> np.ndarray:
        x = F._array(x, "input")
        if x.dtype != self.dtype:
            raise TypeError(f"{type(self).__name__} has dtype {self.dtype}, got input of dtype {x.dtype}")
        if x.ndim != self._spatial + 2:
            raise ValueError(f"{type(self).__name__} expects {self._spatial + 2}-D input (N, C, ...), got {x.shape}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects {self.in_channels} input channels, got {x.shape[1]}")
        return x

    def _pad(self, x: np.ndarray) -> Tuple[np.ndarray, Any]:
        """Applies a non-zero padding mode by hand; returns the input and the padding left to the core."""
        if self.padding_mode == "zeros":
            return x, self.padding
        p = F._ints(self.padding, self._spatial, "padding") if not isinstance(self.padding, str) else (0,) * self._spatial
        widths = ((0, 0), (0, 0)) + tuple((v, v) for v in p)
        return np.pad(x, widths, mode=_PAD_MODES[self.padding_mode]), 0

    def _unpad(self, grad: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
        """The adjoint of _pad: folds the gradient of the padded input back onto the input."""
        if self.padding_mode == "zeros":
            return grad
        spatial = shape[2:]
        p = F._ints(self.padding, self._spatial, "padding")
        index = np.pad(np.arange(math.prod(spatial)).reshape(spatial), tuple((v, v) for v in p),
                       mode=_PAD_MODES[self.padding_mode])
        out = np.zeros((shape[0] * shape[1], math.prod(spatial)), grad.dtype)
        flat = grad.reshape(shape[0] * shape[1], -1)
        for j, src in enumerate(index.ravel()):  # small loops: padded borders of small layers
            out[:, src] += flat[:, j]
        return out.reshape(shape)

    # Conv1d runs as a 2-D convolution of height 1: these add and remove that axis.
    def _to2d(self, a: np.ndarray) -> np.ndarray:
        return a if self._spatial == 2 else a[:, :, None]

    def _from2d(self, a: np.ndarray) -> np.ndarray:
        return a if self._spatial == 2 else a[:, :, 0]

    def forward(self, x: Any) -> np.ndarray:
        x = self._check_input(x)
        xp, padding = self._pad(x)
        x2 = F._input(self._to2d(xp))[0]  # channels-last read in place, other strides copied
        plan = self._prepared_plan(xp, padding)
        self._saved = (x2, x.shape, plan)
        return self._from2d(plan.forward(x2, None, self.bias))

    def backward(self, grad_output: Any) -> np.ndarray:
        if self._saved is None:
            raise RuntimeError("backward needs a forward call first")
        x2, shape, plan = self._saved
        dy = self._to2d(np.ascontiguousarray(F._array(grad_output, "grad_output"), dtype=self.dtype))
        if dy.shape != plan.output_shape:
            want = plan.output_shape if self._spatial == 2 else plan.output_shape[:2] + plan.output_shape[3:]
            raise ValueError(f"grad_output must have shape {want}, got {self._from2d(dy).shape}")
        grad_w, grad_b = plan.backward_weight(x2, dy)
        self.weight_grad = self._from2d(grad_w)
        self.bias_grad = grad_b if self.bias is not None else None
        return self._unpad(self._from2d(plan.backward_input(dy)), shape)

    @property
    def receptive_field(self) -> int:
        """Input pixels one output sees along each axis: dilation * (kernel - 1) + 1."""
        return _receptive_field([self])

    def parameters(self):
        pairs = [(self.weight, self.weight_grad)]
        if self.bias is not None:
            pairs.append((self.bias, self.bias_grad))
        return pairs

    def state_dict(self) -> Dict[str, np.ndarray]:
        """Plain arrays, named as PyTorch names them."""
        state = {"weight": self.weight.copy()}
        if self.bias is not None:
            state["bias"] = self.bias.copy()
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Takes arrays (or anything with ``.numpy()``, such as CPU tensors) of the right shapes."""
        def arr(v):
            v = v.detach().cpu().numpy() if hasattr(v, "detach") else v
            return np.array(v, dtype=self.dtype)

        names = {"weight"} | ({"bias"} if self.bias is not None else set())
        if set(state) != names:
            raise ValueError(f"state must have exactly the keys {sorted(names)}, got {sorted(state)}")
        w = arr(state["weight"])
        if w.shape != self.weight.shape:
            raise ValueError(f"weight must have shape {self.weight.shape}, got {w.shape}")
        self.weight = w
        if self.bias is not None:
            b = arr(state["bias"])
            if b.shape != self.bias.shape:
                raise ValueError(f"bias must have shape {self.bias.shape}, got {b.shape}")
            self.bias = b

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}, padding_mode={self.padding_mode!r}"
                + (f", algorithm={self.algorithm!r})" if self.algorithm != "auto" else ")"))


class Conv2d(_ConvNd):
    """2-D convolution layer, as ``torch.nn.Conv2d``. The keyword ``algorithm`` takes the values of
    ``fastconv.conv2d``'s ('auto' by default) for every direction of the layer's plan; 'winograd' on a
    layer it cannot run raises ``ValueError`` on the first call, naming the reason."""


class Conv1d(_ConvNd):
    """1-D convolution layer, as ``torch.nn.Conv1d`` (computed as 2-D of height 1)."""

    _spatial = 1


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution layer, as ``torch.nn.ConvTranspose2d`` (zeros padding mode)."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", *, dtype=np.float32, rng=None,
                 algorithm: str = "auto") -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding=output_padding, dtype=dtype, rng=rng, algorithm=algorithm)

    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, ...]:
        n, c, h, w = input_shape
        p = F._ints(self.padding, 2, "padding")
        sizes = [(s - 1) * st - 2 * pp + d * (k - 1) + op + 1 for s, st, pp, d, k, op in
                 zip((h, w), self.stride, p, self.dilation, self.kernel_size, self.output_padding)]
        return (n, self.out_channels, *sizes)

    def forward(self, x: Any) -> np.ndarray:
        x = self._check_input(x)
        self._saved = np.ascontiguousarray(x)
        return F.conv_transpose2d(self._saved, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation, algorithm=self.algorithm)

    def backward(self, grad_output: Any) -> np.ndarray:
        # y = conv2d_input(y.shape, w, x): so dx = conv2d(dy, w) and dw = conv2d_weight(dy, w.shape, x)
        if self._saved is None:
            raise RuntimeError("backward needs a forward call first")
        x = self._saved
        dy = np.ascontiguousarray(F._array(grad_output, "grad_output"), dtype=self.dtype)
        kw = dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups,
                  algorithm=self.algorithm)
        self.weight_grad = F.conv2d_weight(dy, self.weight.shape, x, **kw)
        self.bias_grad = dy.sum(axis=(0, 2, 3)).astype(self.dtype) if self.bias is not None else None
        grad_input = F.conv2d(dy, self.weight, None, **kw)
        return grad_input[:, :, : x.shape[2], : x.shape[3]]


class ReLU(Module):
    def forward(self, x):
        self._mask = x > 0
        return np.where(self._mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, grad_output):
        return np.where(self._mask, grad_output, 0).astype(grad_output.dtype, copy=False)


class MaxPool2d(Module):
    """Max pooling over non-overlapping windows (kernel_size = stride; the size must divide)."""

    def __init__(self, kernel_size: int = 2) -> None:
        self.kernel_size = self.stride = F._int(kernel_size, "kernel_size")
        self.dilation = 1

    def forward(self, x):
        n, c, h, w = x.shape
        k = self.kernel_size
        if h % k or w % k:
            raise ValueError(f"MaxPool2d({k}) needs height and width divisible by {k}, got {x.shape}")
        windows = x.reshape(n, c, h // k, k, w // k, k).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // k, w // k, k * k)
        self._arg, self._shape = windows.argmax(axis=-1), x.shape
        return windows.max(axis=-1)

    def backward(self, grad_output):
        n, c, h, w = self._shape
        k = self.kernel_size
        grad = np.zeros((n, c, h // k, w // k, k * k), grad_output.dtype)
        np.put_along_axis(grad, self._arg[..., None], grad_output[..., None], axis=-1)
        return grad.reshape(n, c, h // k, w // k, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(self._shape)


class Flatten(Module):
    def forward(self, x):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_output):
        return grad_output.reshape(self._shape)


class Linear(Module):
    """``y = x W^T + b``, with PyTorch's default initialisation."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, dtype=np.float32, rng=None):
        gen, bound = _rng(rng), 1.0 / math.sqrt(in_features)
        self.weight = gen.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
        self.bias = gen.uniform(-bound, bound, out_features).astype(dtype) if bias else None
        self.weight_grad = self.bias_grad = None

    def forward(self, x):
        self._x = x
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def backward(self, grad_output):
        self.weight_grad = grad_output.T @ self._x
        self.bias_grad = grad_output.sum(axis=0) if self.bias is not None else None
        return grad_output @ self.weight

    def parameters(self):
        pairs = [(self.weight, self.weight_grad)]
        if self.bias is not None:
            pairs.append((self.bias, self.bias_grad))
        return pairs


class Sequential(Module):
    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, grad_output):
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)


class CrossEntropyLoss:
    """Softmax cross-entropy averaged over the batch; ``backward()`` gives d loss / d logits."""

    def __call__(self, logits: np.ndarray, labels: np.ndarray) -> float:
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self._probs, self._labels = np.exp(log_probs), labels
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    def backward(self) -> np.ndarray:
        grad = self._probs.copy()
        grad[np.arange(len(self._labels)), self._labels] -= 1
        return (grad / len(self._labels)).astype(self._probs.dtype)


class SGD:
    """Stochastic gradient descent with momentum, as ``torch.optim.SGD``: v = m v + g; p -= lr v."""

    def __init__(self, model: Module, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self._velocity: Dict[int, np.ndarray] = {}

    def step(self) -> None:
        for param, grad in self.model.parameters():
            if grad is None:
                continue
            if self.weight_decay:
                grad = grad + self.weight_decay * param
            if self.momentum:
                v = self._velocity.get(id(param))
                v = grad.copy() if v is None else self.momentum * v + grad
                self._velocity[id(param)] = v
                grad = v
            param -= (self.lr * grad).astype(param.dtype)  # in place: layers see the change
