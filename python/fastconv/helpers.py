"""The arithmetic of convolution from the source texts: output sizes, receptive fields and
parameter counts."""

from __future__ import annotations

from typing import Iterable, Sequence, Tuple, Union

__all__ = ["output_size", "receptive_field", "conv_parameters", "dense_parameters"]

IntOrPair = Union[int, Sequence[int]]


def _per_axis(value: IntOrPair, n: int) -> Tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def output_size(input: IntOrPair, kernel: IntOrPair, stride: IntOrPair = 1, padding: IntOrPair = 0,
                dilation: IntOrPair = 1) -> Union[int, Tuple[int, ...]]:
    """Size of a convolution's output along each axis:
    ``(input + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1``.

    >>> output_size(28, 3)              # 28x28 image, 3x3 filter, no padding, stride 1
    26
    >>> output_size(224, 3, padding=1)  # padding 1 keeps the size ("same")
    224
    >>> output_size(224, 3, stride=2, padding=1)
    112
    >>> output_size((32, 24), (5, 3), stride=(1, 2))
    (28, 11)
    """
    axes = max(len(v) if isinstance(v, (tuple, list)) else 1 for v in (input, kernel, stride, padding, dilation))
    sizes = []
    for i, k, s, p, d in zip(*(_per_axis(v, axes) for v in (input, kernel, stride, padding, dilation))):
        if min(i, k, s, d) < 1 or p < 0:
            raise ValueError(f"sizes, strides and dilations must be positive and padding non-negative, got "
                             f"input={i}, kernel={k}, stride={s}, padding={p}, dilation={d}")
        extent = d * (k - 1) + 1
        if extent > i + 2 * p:
            raise ValueError(f"kernel extent {extent} is larger than the padded input {i + 2 * p}")
        sizes.append((i + 2 * p - extent) // s + 1)
    return sizes[0] if axes == 1 else tuple(sizes)


def receptive_field(layers: Iterable) -> int:
    """How many input pixels (along one axis) one output of a stack of layers sees.

    Each layer is a kernel size, a ``(kernel, stride)`` or ``(kernel, stride, dilation)`` tuple,
    or an object with ``kernel_size``, ``stride`` and ``dilation`` (such as ``fastconv.nn.Conv2d``
    and ``MaxPool2d``). Stacking small filters grows the field by composition:

    >>> receptive_field([3])
    3
    >>> receptive_field([3, 3])
    5
    >>> receptive_field([3, 3, 3])
    7
    >>> receptive_field([(3, 2), 3])    # a stride-2 layer doubles the step of those after it
    7
    """
    field, step = 1, 1
    for layer in layers:
        if hasattr(layer, "kernel_size"):
            k, s, d = (_per_axis(getattr(layer, a, 1), 1)[0] for a in ("kernel_size", "stride", "dilation"))
        else:
            k, s, d = (*_per_axis(layer, 1), 1, 1)[:3] if isinstance(layer, (tuple, list)) else (layer, 1, 1)
        field += (k - 1) * d * step
        step *= s
    return field


def conv_parameters(in_channels: int, out_channels: int, kernel_size: IntOrPair, groups: int = 1,
                    bias: bool = True) -> int:
    """Learnable parameters of a convolution: one kernel per output channel, shared by every
    position of the image.

    >>> conv_parameters(3, 64, 3, bias=False)   # 3x3 filters over an RGB image
    1728
    >>> conv_parameters(3, 64, 3)               # plus one bias per filter
    1792
    >>> conv_parameters(1, 64, 3, bias=False)   # 64 filters of 3x3 on MNIST
    576
    """
    k = 1
    for v in _per_axis(kernel_size, 2):
        k *= v
    return out_channels * (in_channels // groups) * k + (out_channels if bias else 0)


def dense_parameters(in_features: int, out_features: int, bias: bool = True) -> int:
    """Learnable parameters of a fully connected layer: one weight per input-output pair.

    >>> dense_parameters(224 * 224 * 3, 64, bias=False)   # about 9.6 million
    9633792
    >>> dense_parameters(784, 784, bias=False)            # MNIST pixels to as many outputs
    614656
    """
    return in_features * out_features + (out_features if bias else 0)
