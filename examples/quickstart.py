"""Quick start: a 3x3 convolution layer forward and backward on NumPy arrays."""

import numpy as np

import fastconv

rng = np.random.default_rng(0)
x = rng.standard_normal((8, 3, 32, 32), dtype=np.float32)  # a batch of 8 RGB images
w = rng.standard_normal((16, 3, 3, 3), dtype=np.float32) * 0.1  # 16 filters of 3x3x3
b = np.zeros(16, np.float32)

y = fastconv.conv2d(x, w, b, stride=1, padding=1)  # (8, 16, 32, 32): one feature map per filter
grad_y = np.ones_like(y)  # gradient of sum(y)
grad_x, grad_w, grad_b = fastconv.conv2d_backward(x, w, grad_y, padding=1)

print("output", y.shape, "grad_input", grad_x.shape, "grad_weight", grad_w.shape, "grad_bias", grad_b.shape)
fastconv.show_config()
