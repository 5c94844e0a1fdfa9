"""Winograd F(4x4, 3x3), F(2x2, 3x3) and F(6x6, 3x3): every direction against the float64 reference over a
seeded sweep of eligible shapes (3x3, stride 1; any padding, groups, tile edges)."""

import itertools

import numpy as np
import pytest

import fastconv
import fastconv.functional as F
import reference as ref
import sweep
from conftest import WINOGRAD_TOL, WINOGRAD_TOLS

ALGORITHMS = list(WINOGRAD_TOLS)  # F(4x4), F(2x2) and F(6x6)
TILES = {"winograd": "f4x4", "winograd_f2": "f2x2", "winograd_f6": "f6x6"}
TILE_ALGORITHM = {tile: algorithm for algorithm, tile in TILES.items()}


def _config(rng, dtype):
    groups = int(rng.choice([1, 1, 2]))
    return dict(n=int(rng.integers(1, 3)), c=groups * int(rng.integers(1, 7)), k=groups * int(rng.integers(1, 7)),
                h=int(rng.integers(3, 19)), w=int(rng.integers(3, 19)), r=3, s=3, stride=(1, 1), dilation=(1, 1),
                pads=tuple((int(rng.integers(0, 3)), int(rng.integers(0, 3))) for _ in range(2)),
                groups=groups, dtype=dtype, bias=bool(rng.integers(0, 2)))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_winograd_sweep(rng, dtype, algorithm):
    worst = {}
    tile = TILES[algorithm]
    for _ in range(80):
        cfg = _config(rng, dtype)
        plan = fastconv.plan_conv2d((cfg["n"], cfg["c"], cfg["h"], cfg["w"]), (cfg["k"], cfg["c"] // cfg["groups"], 3, 3),
                                    1, cfg["pads"], 1, cfg["groups"], dtype=dtype, algorithm=algorithm)
        assert plan.implementation.startswith(f"winograd/{tile}-") and plan.algorithm == algorithm, plan.implementation
        errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng), algorithm=algorithm)
        for key, e in errs.items():
            worst[key] = max(worst.get(key, 0.0), e)
            assert e <= WINOGRAD_TOLS[algorithm][dtype], (key, e, cfg)
    print(algorithm, dtype, {k: f"{v:.2g}" for k, v in worst.items()})


def test_winograd_large_layer_accuracy(rng):
    """Several blocks of tiles per row (the transforms take 8 or 16 tiles at a time) and many channels."""
    x = rng.standard_normal((2, 64, 20, 45)).astype(np.float32)
    w = rng.standard_normal((48, 64, 3, 3)).astype(np.float32)
    y = fastconv.conv2d(x, w, padding=1, algorithm="winograd")
    err = ref.rel_err(y, ref.conv2d(x, w, None, (1, 1), ((1, 1), (1, 1))))
    print("winograd 64->48 3x3 float32 relative error", err)
    assert err <= WINOGRAD_TOL["float32"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("groups", [1, 2])
def test_winograd_several_tile_blocks(rng, groups, algorithm):
    """Layers that run in several blocks of tile rows, blocks that span images, rows of 13 tiles
    (lane blocks that cross the GEMM's 16-tile panels) and 61 filters per group (whole
    micro-tiles of 6 written past the last filter), in every direction, with and without
    prepared weights."""
    x = rng.standard_normal((3, 128, 20, 50)).astype(np.float32)
    w = rng.standard_normal((61 * groups, 128 // groups, 3, 3)).astype(np.float32)
    b = rng.standard_normal(61 * groups).astype(np.float32)
    dy = rng.standard_normal((3, 61 * groups, 20, 50)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    plan = fastconv.plan_conv2d(x.shape, w.shape, padding=1, groups=groups, algorithm=algorithm)
    want = ref.conv2d(x, w, b, (1, 1), pads, (1, 1), groups)
    want_dx = ref.conv2d_input(x.shape, w, dy, (1, 1), pads, (1, 1), groups)
    want_dw = ref.conv2d_weight(x, w.shape, dy, (1, 1), pads, (1, 1), groups)
    errs = [ref.rel_err(plan.forward(x, w, b), want), ref.rel_err(plan.backward_input(dy, w), want_dx),
            ref.rel_err(plan.backward_weight(x, dy)[0], want_dw)]
    plan.set_weight(w)
    errs += [ref.rel_err(plan.forward(x, None, b), want), ref.rel_err(plan.backward_input(dy), want_dx)]
    print(algorithm, "several tile blocks, relative errors", errs)
    assert max(errs) <= WINOGRAD_TOLS[algorithm]["float32"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_winograd_rows_of_every_width_against_the_lanes(rng, dtype, algorithm):
    """Rows of 1-33 tiles: blocks of every length up to the transforms' lanes (8 tiles, 16 on
    AVX-512), whole and ragged, and planes half or a quarter of a block wide that run two or
    four rows a block (4 or 8 tiles), with rows left over, in every direction. Rows of whole
    tiles put input values, not padding, in the last tile's patch columns past the block, which
    a block's loads take from the row below or beyond."""
    m = int(TILES[algorithm][1])
    tol = WINOGRAD_TOLS[algorithm][dtype]
    for tiles, ragged, rows in itertools.product((1, 3, 4, 7, 8, 9, 15, 16, 17, 33), (False, True), (3, 6)):
        cut = (lambda: int(rng.integers(1, m))) if ragged else (lambda: 0)
        size = (rows * m - cut(), tiles * m - cut())
        x = rng.standard_normal((2, 3, *size)).astype(dtype)
        w = rng.standard_normal((5, 3, 3, 3)).astype(dtype)
        b = rng.standard_normal(5).astype(dtype)
        y = fastconv.conv2d(x, w, b, padding=1, algorithm=algorithm)
        dy = rng.standard_normal(y.shape).astype(dtype)
        dx, dw, _ = fastconv.conv2d_backward(x, w, dy, padding=1, algorithm=algorithm)
        pads = ((1, 1), (1, 1))
        errs = [ref.rel_err(y, ref.conv2d(x, w, b, (1, 1), pads)),
                ref.rel_err(dx, ref.conv2d_input(x.shape, w, dy, (1, 1), pads)),
                ref.rel_err(dw, ref.conv2d_weight(x, w.shape, dy, (1, 1), pads))]
        assert max(errs) <= tol, (tiles, size, errs)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_winograd_weight_transforms_fused_with_few_tiles(rng, dtype, algorithm):
    """With at most four panels of tiles, each call transforms its weights panel by panel inside
    the tuple GEMM instead of all at once, and the weight gradient transforms each micro-tile's
    sums straight into dW: a reduction longer than one of the GEMM's blocks (300 channels),
    channel counts that leave the transforms' lanes and the last channel panel partly empty,
    filters past the last micro-tile row, groups; every direction on 1-3 threads. Checked against
    the reference, bit for bit against the prepared weights (transformed whole), and across
    thread counts."""
    cases = [((1, 300, 5, 6), 13, 1), ((2, 20, 7, 7), 22, 2), ((1, 9, 3, 9), 61, 1), ((1, 64, 8, 8), 300, 1)]
    tol = WINOGRAD_TOLS[algorithm][dtype]
    for x_shape, k, groups in cases:
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal((k, x_shape[1] // groups, 3, 3)).astype(dtype)
        b = rng.standard_normal(k).astype(dtype)
        dy = rng.standard_normal((x_shape[0], k) + x_shape[2:]).astype(dtype)
        pads = ((1, 1), (1, 1))
        want = ref.conv2d(x, w, b, (1, 1), pads, (1, 1), groups)
        want_dx = ref.conv2d_input(x.shape, w, dy, (1, 1), pads, (1, 1), groups)
        want_dw = ref.conv2d_weight(x, w.shape, dy, (1, 1), pads, (1, 1), groups)
        first = None
        for threads in (1, 2, 3):
            with fastconv.thread_limit(threads):
                plan = fastconv.plan_conv2d(x_shape, w.shape, padding=1, groups=groups, dtype=dtype, algorithm=algorithm)
                got = (plan.forward(x, w, b), plan.backward_input(dy, w), plan.backward_weight(x, dy)[0])
                errs = [ref.rel_err(a, e) for a, e in zip(got, (want, want_dx, want_dw))]
                assert max(errs) <= tol, (x_shape, k, groups, threads, errs)
                plan.set_weight(w)
                np.testing.assert_array_equal(plan.forward(x, None, b), got[0])
                np.testing.assert_array_equal(plan.backward_input(dy), got[1])
            if first is None:
                first = got
                print(algorithm, dtype, x_shape, k, groups, "relative errors", errs)
            for a, f in zip(got, first):
                np.testing.assert_array_equal(a, f)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("x_shape,k", [((16, 128, 14, 14), 96), ((1, 64, 56, 56), 64), ((12, 176, 14, 14), 176)])
def test_winograd_threads_running_whole_blocks(rng, threads, x_shape, k):
    """With several tile blocks per thread, each thread runs whole blocks (transforms and GEMM) in
    its own workspace: forward and input gradient against the reference, with and without
    prepared weights. The second layer's 7 blocks run so on 2 threads only because its
    transformed weights are small, and shared on 3. The third's pass 4 MB: its threads share
    blocks of two panels a thread instead."""
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((k, x_shape[1], 3, 3)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    dy = rng.standard_normal((x_shape[0], k) + x_shape[2:]).astype(np.float32)
    pads = ((1, 1), (1, 1))
    with fastconv.thread_limit(threads):
        plan = fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm="winograd")
        errs = [ref.rel_err(plan.forward(x, w, b), ref.conv2d(x, w, b, (1, 1), pads)),
                ref.rel_err(plan.backward_input(dy, w), ref.conv2d_input(x.shape, w, dy, (1, 1), pads))]
        plan.set_weight(w)
        errs.append(ref.rel_err(plan.forward(x, None, b), ref.conv2d(x, w, b, (1, 1), pads)))
    print(threads, "threads, relative errors", errs)
    assert max(errs) <= WINOGRAD_TOL["float32"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("algorithm,h,w", [("winograd", 10, 14), ("winograd", 16, 13), ("winograd", 9, 16),
                                           ("winograd_f2", 5, 8), ("winograd_f2", 8, 7), ("winograd_f2", 11, 8),
                                           ("winograd_f6", 7, 24), ("winograd_f6", 19, 20)])
def test_winograd_planes_four_tiles_wide(rng, dtype, algorithm, h, w):
    """Planes 4 tiles wide take two tile rows per block of 8 lanes; an odd number of tile rows
    leaves single rows, whose blocks may cross the GEMM's 16-tile panels. Every direction."""
    x = rng.standard_normal((3, 20, h, w)).astype(dtype)
    wt = rng.standard_normal((13, 20, 3, 3)).astype(dtype)
    b = rng.standard_normal(13).astype(dtype)
    pads = ((1, 1), (1, 1))
    y = fastconv.conv2d(x, wt, b, padding=1, algorithm=algorithm)
    dy = rng.standard_normal(y.shape).astype(dtype)
    errs = [ref.rel_err(y, ref.conv2d(x, wt, b, (1, 1), pads)),
            ref.rel_err(fastconv.conv2d_input(x.shape, wt, dy, padding=1, algorithm=algorithm),
                        ref.conv2d_input(x.shape, wt, dy, (1, 1), pads)),
            ref.rel_err(fastconv.conv2d_weight(x, wt.shape, dy, padding=1, algorithm=algorithm),
                        ref.conv2d_weight(x, wt.shape, dy, (1, 1), pads))]
    print(algorithm, dtype, h, w, "relative errors", errs)
    assert max(errs) <= WINOGRAD_TOLS[algorithm][dtype]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_winograd_dilated_phases(rng, dtype, algorithm):
    """Dilated 3x3 layers whose sizes and paddings divide by the dilation run as one undilated
    Winograd layer per phase: seeded sweep of dilations (each axis its own), paddings, groups,
    every direction, with and without prepared weights."""
    for _ in range(12):
        dh, dw = int(rng.integers(1, 4)), int(rng.integers(2, 4))
        groups = int(rng.choice([1, 2]))
        n, c, k = int(rng.integers(1, 3)), groups * int(rng.integers(1, 5)), groups * int(rng.integers(1, 5))
        h, w = dh * int(rng.integers(3, 9)), dw * int(rng.integers(3, 9))
        pads = ((dh * int(rng.integers(0, 3)), dh * int(rng.integers(0, 3))),
                (dw * int(rng.integers(0, 3)), dw * int(rng.integers(0, 3))))
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        wt = rng.standard_normal((k, c // groups, 3, 3)).astype(dtype)
        b = rng.standard_normal(k).astype(dtype)
        kw = dict(padding=pads, dilation=(dh, dw), groups=groups)
        rkw = dict(stride=(1, 1), pads=pads, dilation=(dh, dw), groups=groups)
        plan = fastconv.plan_conv2d(x.shape, wt.shape, dtype=dtype, algorithm=algorithm, **kw)
        assert plan.implementation.startswith("winograd/") and plan.implementation.endswith("+phases")
        y = plan.forward(x, wt, b)
        dy = rng.standard_normal(y.shape).astype(dtype)
        errs = [ref.rel_err(y, ref.conv2d(x, wt, b, **rkw)),
                ref.rel_err(plan.backward_input(dy, wt), ref.conv2d_input(x.shape, wt, dy, **rkw)),
                ref.rel_err(plan.backward_weight(x, dy)[0], ref.conv2d_weight(x, wt.shape, dy, **rkw))]
        plan.set_weight(wt)
        errs.append(ref.rel_err(plan.forward(x, None, b), ref.conv2d(x, wt, b, **rkw)))
        assert max(errs) <= WINOGRAD_TOLS[algorithm][dtype], (errs, x.shape, wt.shape, kw)
    with pytest.raises(ValueError, match="divide by the dilation"):
        fastconv.conv2d(np.zeros((1, 4, 9, 8), np.float32), np.zeros((4, 4, 3, 3), np.float32), padding=2,
                        dilation=2, algorithm="winograd")
    assert fastconv.plan_conv2d((4, 128, 28, 28), (128, 128, 3, 3), padding=2, dilation=2).algorithm == "winograd"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kwargs,reason", [
    (dict(stride=2), "stride 1"),
    (dict(dilation=2, padding=2), "dilation 1"),
])
def test_winograd_refuses_ineligible_shapes(kwargs, reason, algorithm):
    x = np.zeros((1, 4, 9, 9), np.float32)
    with pytest.raises(ValueError, match=f"algorithm='{algorithm}' does not apply.*{reason}"):
        fastconv.conv2d(x, np.zeros((4, 4, 3, 3), np.float32), algorithm=algorithm, **kwargs)
    with pytest.raises(ValueError, match="3x3"):
        fastconv.conv2d(x, np.zeros((4, 4, 5, 5), np.float32), algorithm=algorithm)


def test_auto_picks_winograd_for_wide_3x3_float32_layers():
    plan = fastconv.plan_conv2d((1, 256, 56, 56), (256, 256, 3, 3), padding=1)
    assert plan.algorithm == "winograd" and plan.implementation.startswith("winograd/")
    # float64 takes F(2x2), which rounds as direct does, from 64 channels
    f64 = dict(padding=1, dtype=np.float64)
    assert fastconv.plan_conv2d((1, 256, 56, 56), (256, 256, 3, 3), **f64).algorithm == "winograd_f2"
    assert fastconv.plan_conv2d((64, 32, 12, 12), (32, 32, 3, 3), **f64).algorithm == "direct"
    assert fastconv.plan_conv2d((1, 512, 7, 7), (512, 512, 3, 3), **f64).algorithm == "direct"
    assert fastconv.plan_conv2d((1, 256, 56, 56), (256, 256, 3, 3), stride=2, padding=1).algorithm == "direct"
    # few tiles: F(2x2) on 7x7 with many channels, F(4x4) on 14x14, direct on small layers
    assert fastconv.plan_conv2d((1, 512, 7, 7), (512, 512, 3, 3), padding=1).algorithm == "winograd_f2"
    assert fastconv.plan_conv2d((1, 64, 7, 7), (64, 64, 3, 3), padding=1).algorithm == "direct"
    assert fastconv.plan_conv2d((1, 512, 3, 3), (512, 512, 3, 3), padding=1).algorithm == "direct"
    assert fastconv.plan_conv2d((1, 32, 14, 14), (32, 32, 3, 3), padding=1).algorithm == "winograd"
    assert fastconv.plan_conv2d((4, 128, 7, 7), (128, 128, 3, 3), padding=1).algorithm == "winograd"
    assert fastconv.plan_conv2d((8, 3, 224, 224), (64, 3, 3, 3), padding=1).algorithm == "direct"
    assert fastconv.plan_conv2d((1, 64, 56, 56), (64, 64, 3, 3), padding=1).algorithm == "winograd"


def test_auto_runs_the_weight_gradient_apart_where_only_it_loses(rng):
    """Few tiles and 32 channels: auto takes Winograd for the forward pass and the input gradient,
    and direct for the weight gradient, in one plan; every direction against the reference, with
    and without prepared weights, each with the workspace of the algorithm that runs it."""
    x = rng.standard_normal((2, 32, 14, 14)).astype(np.float32)
    w = rng.standard_normal((40, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    dy = rng.standard_normal((2, 40, 14, 14)).astype(np.float32)
    pads = ((1, 1), (1, 1))
    plan = fastconv.plan_conv2d(x.shape, w.shape, padding=1)
    assert plan.algorithm == "winograd", plan.implementation
    assert plan.implementation.startswith("winograd/f4x4-") and ", weight gradient direct/" in plan.implementation
    assert plan.implementation_of("backward_weights").startswith("direct/")
    direct = fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm="direct")
    winograd = fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm="winograd")
    assert plan.implementation_of("backward_data") == plan.implementation_of("forward") == winograd.implementation
    assert plan.workspace_size("backward_weights") == direct.workspace_size("backward_weights")
    assert plan.workspace_size("forward") == winograd.workspace_size("forward")
    want = ref.conv2d(x, w, b, (1, 1), pads)
    want_dx = ref.conv2d_input(x.shape, w, dy, (1, 1), pads)
    dw, db = plan.backward_weight(x, dy)
    errs = [ref.rel_err(plan.forward(x, w, b), want), ref.rel_err(plan.backward_input(dy, w), want_dx),
            ref.rel_err(dw, ref.conv2d_weight(x, w.shape, dy, (1, 1), pads)), ref.rel_err(db, ref.conv2d_bias(dy))]
    np.testing.assert_array_equal(dw, direct.backward_weight(x, dy)[0])
    plan.set_weight(w)
    assert plan.weight_set
    errs += [ref.rel_err(plan.forward(x, None, b), want), ref.rel_err(plan.backward_input(dy), want_dx)]
    print("winograd with the direct weight gradient, relative errors", errs)
    assert max(errs) <= WINOGRAD_TOL["float32"]


@pytest.mark.parametrize("algorithm", ["winograd", "winograd_f2", "auto"])
def test_winograd_takes_a_channels_last_input(rng, algorithm):
    """A channels-last input goes to Winograd as an NCHW input would (auto included), dilated too:
    its transforms read the padded planes, which are filled from either layout, so the results
    are the NCHW input's, bit for bit."""
    for n, c, hw, k, dilation in [(2, 4, (10, 12), 5, 1), (2, 64, (20, 20), 64, 1), (1, 32, (16, 18), 32, 2)]:
        nhwc = rng.standard_normal((n, *hw, c)).astype(np.float32)
        x = nhwc.transpose(0, 3, 1, 2)
        xc = np.ascontiguousarray(x)
        w = rng.standard_normal((k, c, 3, 3)).astype(np.float32)
        kw = dict(padding=dilation, dilation=dilation, algorithm=algorithm)
        y = fastconv.conv2d(x, w, **kw)
        np.testing.assert_array_equal(y, fastconv.conv2d(xc, w, **kw))
        dy = rng.standard_normal(y.shape).astype(np.float32)
        np.testing.assert_array_equal(fastconv.conv2d_weight(x, w.shape, dy, **kw),
                                      fastconv.conv2d_weight(xc, w.shape, dy, **kw))
        want = ref.conv2d(x, w, None, (1, 1), ((dilation,) * 2,) * 2, (dilation,) * 2)
        assert ref.rel_err(y, want) <= WINOGRAD_TOL["float32"]
        shape = (n, c, *hw, k)
        pads = ((dilation, dilation),) * 2
        nhwc_plan = F._plan("test", shape, (3, 3), (1, 1), pads, (dilation,) * 2, 1, np.float32, algorithm, "nhwc")
        nchw_plan = F._plan("test", shape, (3, 3), (1, 1), pads, (dilation,) * 2, 1, np.float32, algorithm, "nchw")
        for direction in ("forward", "backward_data", "backward_weights"):
            assert nhwc_plan.implementation_of(direction) == nchw_plan.implementation_of(direction)
    assert "winograd" in nhwc_plan.implementation_of("forward")  # the last layer's, 32 channels


def test_measure_times_the_candidates_once_per_shape(rng):
    x = rng.standard_normal((1, 32, 24, 24)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    y = fastconv.conv2d(x, w, padding=1, algorithm="measure")
    assert ref.rel_err(y, ref.conv2d(x, w, None, (1, 1), ((1, 1), (1, 1)))) <= WINOGRAD_TOL["float32"]
    plan = fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm="measure")
    assert plan.algorithm in ("direct", "winograd", "winograd_f2")
    # the choice is kept: the same shape gets the same plan
    assert fastconv.plan_conv2d(x.shape, w.shape, padding=1, algorithm="measure").implementation == plan.implementation
    # shapes Winograd cannot take are measured among what applies
    assert fastconv.plan_conv2d(x.shape, w.shape, stride=2, padding=1, algorithm="measure").algorithm == "direct"


# What measure may run in each direction: direct, F(4x4) for float32 only, F(2x2).
_MEASURED = {"float32": ("direct/", "winograd/f4x4-", "winograd/f2x2-"), "float64": ("direct/", "winograd/f2x2-")}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_measure_keeps_the_fastest_per_direction(rng, dtype):
    """Each direction runs one of the candidates, and every direction matches the reference, with and
    without prepared weights, whichever candidates this machine's timings combined. Padding 3 and
    few tiles make combinations likely (Winograd's input gradient then runs direct inside)."""
    tol = max(WINOGRAD_TOL[dtype], 1e-5 if dtype == "float32" else 1e-12)
    seen = set()
    for _ in range(8):
        cfg = _config(rng, dtype)
        cfg["pads"] = tuple((int(rng.integers(0, 4)), int(rng.integers(0, 4))) for _ in range(2))
        x, w, b, dy = sweep.make_arrays(cfg, rng)
        pads, groups = cfg["pads"], cfg["groups"]
        plan = fastconv.plan_conv2d(x.shape, w.shape, 1, pads, 1, groups, dtype=dtype, algorithm="measure")
        parts = tuple(plan.implementation_of(d) for d in ("forward", "backward_data", "backward_weights"))
        assert all(part.startswith(_MEASURED[dtype]) for part in parts), plan.implementation
        # the plan's name adds the directions that another candidate runs
        name, _, weights = plan.implementation.partition(", weight gradient ")
        name, _, data = name.partition(", input gradient ")
        assert name.startswith(parts[0]) and data in ("", parts[1]) and weights in ("", parts[2]), plan.implementation
        assert plan.algorithm == ("direct" if parts[0].startswith("direct/") else TILE_ALGORITHM[parts[0][9:13]])
        seen.add(parts)
        errs = sweep.errors(cfg, (x, w, b, dy), algorithm="measure")
        assert max(errs.values()) <= tol, (errs, cfg, plan.implementation)
        want = ref.conv2d(x, w, b, (1, 1), pads, groups=groups)
        want_dx = ref.conv2d_input(x.shape, w, dy, (1, 1), pads, groups=groups)
        plan.set_weight(w)
        assert plan.weight_set
        assert ref.rel_err(plan.forward(x, None, b), want) <= tol, plan.implementation
        assert ref.rel_err(plan.backward_input(dy), want_dx) <= tol, plan.implementation
    print(dtype, "measured per direction:", sorted(seen))


def test_winograd_input_gradient_with_padding_above_two(rng):
    """Padding beyond 2 has no Winograd input gradient (it would need negative padding): the plan
    hands that direction to direct, with or without prepared weights."""
    x = rng.standard_normal((1, 4, 9, 8))
    w = rng.standard_normal((5, 4, 3, 3))
    dy = rng.standard_normal((1, 5, 11, 8))
    pads = ((3, 1), (2, 0))
    want = ref.conv2d_input(x.shape, w, dy, (1, 1), pads, (1, 1), 1)
    assert ref.rel_err(fastconv.conv2d_input(x.shape, w, dy, padding=pads, algorithm="winograd"), want) <= 1e-13
    plan = fastconv.plan_conv2d(x.shape, w.shape, padding=pads, dtype=np.float64, algorithm="winograd")
    assert plan.implementation_of("forward").startswith("winograd/")
    assert plan.implementation_of("backward_data").startswith("direct/")
    assert plan.implementation.endswith(", input gradient " + plan.implementation_of("backward_data"))
    plan.set_weight(w)
    assert ref.rel_err(plan.backward_input(dy), want) <= 1e-13
