"""Layers: PyTorch's arguments, initialisation and results; backward by hand; weights that change
are never stale; the pieces that train a small CNN; the source texts' helpers."""

import doctest
import math
import os
import sys

import numpy as np
import pytest

import fastconv
import fastconv.helpers
import reference as ref
from fastconv import nn

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _numeric_grad(f, x):
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        g[i] = ref.central_difference(f, x, i)
    return g


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_layer_gradients_match_the_reference(rng, mode):
    layer = nn.Conv2d(4, 6, 3, stride=(2, 1), padding=(1, 2), groups=2, padding_mode=mode, dtype=np.float64, rng=1)
    x = rng.standard_normal((2, 4, 7, 6))
    y = layer(x)
    assert y.shape == layer.output_shape(x.shape)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    loss = lambda: float(np.sum(layer(x) * g))  # noqa: E731
    np.testing.assert_allclose(dx, _numeric_grad(loss, x), atol=1e-6)
    np.testing.assert_allclose(layer.weight_grad, _numeric_grad(loss, layer.weight), atol=1e-6)
    np.testing.assert_allclose(layer.bias_grad, g.sum(axis=(0, 2, 3)), atol=1e-9)


def test_changed_weights_are_never_stale(rng):
    layer = nn.Conv2d(3, 8, 3, padding=1, rng=0)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    layer(x)
    layer.weight *= 2  # mutated in place
    np.testing.assert_allclose(layer(x), fastconv.conv2d(x, layer.weight, layer.bias, padding=1), rtol=0, atol=1e-5)
    layer.weight = rng.standard_normal(layer.weight.shape).astype(np.float32)  # replaced
    np.testing.assert_allclose(layer(x), fastconv.conv2d(x, layer.weight, layer.bias, padding=1), rtol=0, atol=1e-5)
    big = nn.Conv2d(64, 64, 3, padding=1, rng=0)  # a Winograd plan: prepared weights, transformed
    xb = rng.standard_normal((1, 64, 40, 40)).astype(np.float32)
    big(xb)
    big.weight[0, 0, 0, 0] += 1.0
    want = ref.conv2d(xb, big.weight, big.bias, (1, 1), ((1, 1), (1, 1)))
    assert ref.rel_err(big(xb), want) <= 2e-5


@pytest.mark.parametrize("layer", [nn.Conv2d(6, 8, 3, padding=1, rng=0), nn.Conv1d(6, 8, 3, padding=1, rng=0)])
def test_channels_last_input_is_read_in_place(rng, layer):
    """A channels-last batch (as images arrive) runs on the layer's plan for that layout, not
    copied to NCHW, forward and backward: the same bits as the NCHW batch."""
    x = rng.standard_normal((2, 6, 11, 9)[:layer._spatial + 2]).astype(np.float32)
    last = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    nhwc = np.moveaxis(last, -1, 1)
    y = layer(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx, dw = layer.backward(g), layer.weight_grad
    np.testing.assert_array_equal(layer(nhwc), y)
    np.testing.assert_array_equal(layer.backward(g), dx)
    np.testing.assert_array_equal(layer.weight_grad, dw)
    assert "nhwc" in layer._plan._layouts
    assert ref.rel_err(y, _reference_forward(layer, x)) <= 1e-5


def _reference_forward(layer, x):
    """The reference forward of a Conv1d or Conv2d layer with zero padding."""
    two = layer._spatial == 1
    x2, w2 = (x[:, :, None], layer.weight[:, :, None]) if two else (x, layer.weight)
    pad = layer.padding[0] if isinstance(layer.padding, tuple) else layer.padding
    pads = ((0, 0), (pad, pad)) if two else ((pad, pad),) * 2
    y = ref.conv2d(x2, w2, layer.bias, (1, 1), pads)
    return y[:, :, 0] if two else y


def test_layers_and_plans_copy_and_pickle(rng):
    """A model that has run (its layers holding plans with prepared weights) deep-copies and
    pickles, as models are copied for checkpoints and sent to worker processes; a copy computes
    what the original does, runs backward from the copied state, and keeps weights of its own."""
    import copy
    import pickle

    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, rng=0), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, rng=1),
                          nn.ConvTranspose2d(8, 4, 3, stride=2, rng=2))
    x = rng.standard_normal((2, 3, 12, 12)).astype(np.float32)
    y = model(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(clone.backward(g), model.backward(g))
        np.testing.assert_array_equal(clone(x), y)
        clone.layers[0].weight *= 2
        np.testing.assert_array_equal(model(x), y)
        assert not np.array_equal(clone(x), y)
    plan = fastconv.plan_conv2d(x.shape, (8, 3, 3, 3), padding=1, algorithm="winograd")
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    plan.set_weight(w)
    for clone in (copy.deepcopy(plan), pickle.loads(pickle.dumps(plan))):
        assert clone.weight_set and clone.implementation == plan.implementation
        np.testing.assert_array_equal(clone.forward(x), plan.forward(x))


def test_pytorch_initialisation_and_seeding():
    a, b = nn.Conv2d(16, 32, 3, rng=7), nn.Conv2d(16, 32, 3, rng=7)
    np.testing.assert_array_equal(a.weight, b.weight)
    bound = 1 / math.sqrt(16 * 9)
    assert a.weight.dtype == np.float32 and np.abs(a.weight).max() <= bound and np.abs(a.bias).max() <= bound
    assert np.abs(a.weight).max() > 0.9 * bound  # uniform over the whole range
    assert nn.Conv2d(3, 4, 3, bias=False).bias is None
    assert nn.Conv2d(3, 4, 3, dtype=np.float64).weight.dtype == np.float64


def test_layer_shapes_and_counts():
    layer = nn.Conv2d(3, 64, 3, padding=1)
    assert layer.output_shape((8, 3, 224, 224)) == (8, 64, 224, 224)
    assert nn.Conv2d(3, 64, 3, stride=2, padding=1).output_shape((1, 3, 224, 224)) == (1, 64, 112, 112)
    assert layer.num_parameters() == 1728 + 64
    assert layer.receptive_field == 3 and nn.Conv2d(1, 1, 3, dilation=2).receptive_field == 5
    assert nn.Conv1d(2, 4, 5, padding=2).output_shape((1, 2, 30)) == (1, 4, 30)
    assert nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1).output_shape((1, 4, 7, 7)) == (1, 2, 14, 14)


@pytest.mark.parametrize("algorithm", ["direct", "winograd", "winograd_f2", "measure"])
def test_layer_algorithm(rng, algorithm):
    """A layer's algorithm runs all three directions of its plan, against the reference."""
    layer = nn.Conv2d(8, 12, 3, padding=1, algorithm=algorithm, rng=0)
    assert f"algorithm={algorithm!r}" in repr(layer)
    x = rng.standard_normal((2, 8, 10, 9)).astype(np.float32)
    y = layer(x)
    if algorithm != "measure":  # which one measure takes depends on the machine
        for d in ("forward", "backward_data", "backward_weights"):
            assert layer._plan.implementation_of(d).startswith(algorithm[:6]), layer._plan.implementation
    pads = ((1, 1), (1, 1))
    assert ref.rel_err(y, ref.conv2d(x, layer.weight, layer.bias, (1, 1), pads)) <= 1e-4
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    assert ref.rel_err(dx, ref.conv2d_input(x.shape, layer.weight, dy, (1, 1), pads, (1, 1), 1)) <= 1e-4
    assert ref.rel_err(layer.weight_grad, ref.conv2d_weight(x, layer.weight.shape, dy, (1, 1), pads)) <= 1e-4
    assert np.allclose(layer.bias_grad, dy.sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)


def test_layer_algorithm_errors(rng):
    with pytest.raises(ValueError, match="algorithm must be one of"):
        nn.Conv2d(3, 4, 3, algorithm="fft")
    with pytest.raises(TypeError):
        nn.Conv2d(3, 4, 3, algorithm=None)
    layer = nn.Conv2d(3, 4, 5, algorithm="winograd")  # Winograd is for 3x3 kernels
    with pytest.raises(ValueError, match="3x3"):
        layer(np.zeros((1, 3, 9, 9), np.float32))
    up = nn.ConvTranspose2d(4, 3, 3, stride=2, algorithm="direct", rng=0)
    x = rng.standard_normal((1, 4, 5, 5)).astype(np.float32)
    want = fastconv.conv_transpose2d(x, up.weight, up.bias, stride=2)
    assert np.array_equal(up(x), want)


def test_bad_layer_arguments():
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 0)
    layer = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError):
        layer(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(TypeError):
        layer(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError):
        layer.load_state_dict({"weight": np.zeros((4, 3, 3, 3))})
    with pytest.raises(RuntimeError):
        nn.Conv2d(3, 4, 3).backward(np.zeros((1, 4, 3, 3), np.float32))


def _torch_pair(torch, ours, theirs, x, rng):
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    y = ours(x)
    dy = rng.standard_normal(y.shape).astype(x.dtype)
    ty.backward(torch.from_numpy(dy))
    dx = ours.backward(dy)
    for got, want in ((y, ty), (dx, tx.grad), (ours.weight_grad, theirs.weight.grad), (ours.bias_grad, theirs.bias.grad)):
        want = want.detach().numpy()
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_layers_match_torch(torch, rng, mode):
    x = rng.standard_normal((2, 4, 9, 10)).astype(np.float32)
    _torch_pair(torch, nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, padding_mode=mode, rng=0),
                torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, padding_mode=mode), x, rng)
    x1 = rng.standard_normal((2, 4, 17)).astype(np.float32)
    _torch_pair(torch, nn.Conv1d(4, 6, 5, stride=2, padding=2, dilation=1, padding_mode=mode, rng=0),
                torch.nn.Conv1d(4, 6, 5, stride=2, padding=2, padding_mode=mode), x1, rng)


def test_conv_transpose_layer_matches_torch(torch, rng):
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    _torch_pair(torch, nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, rng=0),
                torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), x, rng)


def test_small_layers_gradients(rng):
    x = rng.standard_normal((2, 3, 4, 6))
    for layer in (nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()):
        y = layer(x)
        g = rng.standard_normal(y.shape)
        dx = layer.backward(g)
        np.testing.assert_allclose(dx, _numeric_grad(lambda: float(np.sum(layer(x) * g)), x), atol=1e-6)
    lin = nn.Linear(5, 3, dtype=np.float64, rng=0)
    xl = rng.standard_normal((4, 5))
    g = rng.standard_normal((4, 3))
    lin(xl)
    dx = lin.backward(g)
    loss = lambda: float(np.sum(lin(xl) * g))  # noqa: E731
    np.testing.assert_allclose(dx, _numeric_grad(loss, xl), atol=1e-6)
    np.testing.assert_allclose(lin.weight_grad, _numeric_grad(loss, lin.weight), atol=1e-6)
    ce = nn.CrossEntropyLoss()
    logits, labels = rng.standard_normal((4, 10)), np.array([1, 0, 9, 3])
    ce(logits, labels)
    np.testing.assert_allclose(ce.backward(), _numeric_grad(lambda: ce(logits, labels), logits), atol=1e-6)


def test_sgd_momentum_matches_torch(torch, rng):
    lin = nn.Linear(3, 2, dtype=np.float64, rng=0)
    t = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(lin.weight))
        t.bias.copy_(torch.from_numpy(lin.bias))
    opt, topt = nn.SGD(lin, lr=0.1, momentum=0.9), torch.optim.SGD(t.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
        lin(x)
        lin.backward(g)
        opt.step()
        topt.zero_grad()
        t(torch.from_numpy(x)).backward(torch.from_numpy(g))
        topt.step()
    np.testing.assert_allclose(lin.weight, t.weight.detach().numpy(), atol=1e-12)


def test_helpers_from_the_source_texts():
    assert fastconv.output_size(28, 3) == 26
    assert fastconv.output_size(224, 3, padding=1) == 224
    assert fastconv.output_size(224, 3, stride=2, padding=1) == 112
    assert [fastconv.receptive_field([3] * n) for n in (1, 2, 3)] == [3, 5, 7]
    assert fastconv.receptive_field([nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)]) == 8
    assert round(fastconv.dense_parameters(224 * 224 * 3, 64, bias=False) / 1e6, 1) == 9.6
    assert fastconv.conv_parameters(3, 64, 3) == 1728 + 64
    assert fastconv.conv_parameters(1, 64, 3, bias=False) == 576
    assert fastconv.dense_parameters(784, 784, bias=False) == 614656
    with pytest.raises(ValueError):
        fastconv.output_size(2, 5)
    failures, tried = doctest.testmod(fastconv.helpers)
    assert tried > 10 and failures == 0


def test_train_digits_learns():
    pytest.importorskip("sklearn")
    sys.path.insert(0, EXAMPLES)
    import train_digits

    _, losses, accuracies, _ = train_digits.train(epochs=3, verbose=False)
    print("losses", losses, "test accuracies", accuracies)
    assert losses[-1] < 0.5 * losses[0]
    assert accuracies[-1] > 0.8  # chance is 0.1


def test_edge_detection_example():
    sys.path.insert(0, EXAMPLES)
    import edge_detection

    assert edge_detection.the_765_example() == 765.0
    img = np.zeros((10, 12), np.float32)
    img[5:] = 255
    maps = edge_detection.edges(img)
    assert maps.shape == (2, 10, 12)
    assert maps[0, 4:6, 1:-1].min() == 765.0 and np.abs(maps[1, :, 1:-1]).max() == 0.0
    pytest.importorskip("matplotlib")
    grey = edge_detection.photograph()
    assert grey.ndim == 2 and grey.max() > 200 and grey.min() < 50


def test_weights_trained_in_torch_load_directly(torch, rng):
    theirs = torch.nn.Conv2d(3, 5, 3, stride=2, padding=1)
    ours = nn.Conv2d(3, 5, 3, stride=2, padding=1, rng=1)
    ours.load_state_dict(theirs.state_dict())  # tensors, as PyTorch gives them
    x = rng.standard_normal((2, 3, 11, 11)).astype(np.float32)
    want = theirs(torch.from_numpy(x)).detach().numpy()
    assert np.abs(ours(x) - want).max() <= 1e-5 * np.abs(want).max()
    assert set(ours.state_dict()) == set(theirs.state_dict())
