"""fastconv: fast CPU convolution for NumPy, forward and backward.

The functions mirror ``torch.nn.functional`` and ``torch.nn.grad`` on NumPy arrays::

    import numpy as np, fastconv
    y = fastconv.conv2d(x, w, b, stride=1, padding=1)
"""

from ._config import config, get_num_threads, release_workspace, set_num_threads, show_config, thread_limit
from ._core import __version__
from . import nn
from .helpers import conv_parameters, dense_parameters, output_size, receptive_field
from .plan import Conv2dPlan, plan_conv2d
from .functional import (
    conv1d,
    conv2d,
    conv2d_backward,
    conv2d_input,
    conv2d_weight,
    conv3d,
    conv_transpose2d,
)

__all__ = [
    "__version__",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose2d",
    "conv2d_input",
    "conv2d_weight",
    "conv2d_backward",
    "plan_conv2d",
    "Conv2dPlan",
    "nn",
    "output_size",
    "receptive_field",
    "conv_parameters",
    "dense_parameters",
    "set_num_threads",
    "get_num_threads",
    "thread_limit",
    "release_workspace",
    "show_config",
    "config",
]
