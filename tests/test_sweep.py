"""Seeded random sweep: every parameter, both dtypes, forward and all gradients, against the
NumPy float64 reference; the C++ scalar reference is checked the same way."""

import numpy as np
import pytest

import fastconv
import fastconv.functional as F
import reference as ref
import sweep
from conftest import TOL

CASES = 500


@pytest.mark.parametrize("algorithm", ["auto", "direct", "reference"])
def test_random_sweep(algorithm):
    seed = sweep.seed()
    print(f"seed={seed} cases={CASES}")
    cases = CASES if algorithm != "reference" else CASES // 4
    worst = sweep.sweep(cases, seed, algorithm)
    assert {k.split("/")[0] for k in worst} == {"float32", "float64"}
    for key, (err, cfg) in sorted(worst.items()):
        print(f"{algorithm} {key}: worst relative error {err:.3g}")
        assert err <= TOL[key.split("/")[0]], f"{key} error {err:.3g} for {cfg} (seed {seed})"


def test_larger_layers_float32(rng):
    """Reductions long enough to cross several cache blocks of the GEMM."""
    for cfg in [
        dict(n=2, c=64, k=80, h=17, w=19, r=3, s=3, stride=(1, 1), dilation=(1, 1), pads=((1, 1), (1, 1))),
        dict(n=3, c=40, k=24, h=23, w=16, r=5, s=3, stride=(2, 2), dilation=(1, 2), pads=((2, 1), (0, 3))),
        dict(n=1, c=300, k=7, h=9, w=9, r=1, s=1, stride=(1, 1), dilation=(1, 1), pads=((0, 0), (0, 0))),
        # a long weight-gradient reduction over few filters: split into partial sums
        dict(n=5, c=3, k=8, h=24, w=23, r=3, s=3, stride=(1, 1), dilation=(1, 1), pads=((1, 1), (1, 1))),
        # batch 1 with few pixels: rows are split among threads (forward, then backward data)
        dict(n=1, c=32, k=128, h=5, w=5, r=3, s=3, stride=(1, 1), dilation=(1, 1), pads=((1, 1), (1, 1))),
        dict(n=1, c=128, k=32, h=6, w=7, r=3, s=3, stride=(2, 2), dilation=(1, 1), pads=((1, 1), (1, 1))),
        # col2im over images in several chunks (its workspace is bounded)
        dict(n=3, c=2, k=4, h=200, w=190, r=7, s=7, stride=(1, 1), dilation=(1, 1), pads=((3, 3), (3, 2))),
    ]:
        cfg.update(groups=1, dtype="float32", bias=True)
        errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng))
        print(cfg, errs)
        assert max(errs.values()) <= TOL["float32"], (cfg, errs)


def test_few_filters_path(rng):
    """Forward and weight gradient with 5 to 64 filters per group read the pixels' windows in
    place (the '+indirect' path where the microkernel is at most twice as wide, and for the
    weight gradient four times): every parameter drawn at random, both dtypes, against the
    reference."""
    used = 0
    for _ in range(80):
        cfg = sweep.random_config(rng, channels=(2, 7))
        groups = cfg["groups"]
        cfg.update(k=groups * int(rng.integers(5, 65)), r=int(rng.integers(2, 6)), s=int(rng.integers(2, 6)),
                   pads=((int(rng.integers(0, 5)), int(rng.integers(0, 5))), (int(rng.integers(0, 5)), int(rng.integers(0, 5)))),
                   h=int(rng.integers(14, 30)), w=int(rng.integers(14, 30)))
        x, w, b, dy = sweep.make_arrays(cfg, rng)
        kw = dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dilation"], groups=groups)
        rkw = dict(stride=cfg["stride"], pads=cfg["pads"], dilation=cfg["dilation"], groups=groups)
        plan = fastconv.plan_conv2d(x.shape, w.shape, dtype=x.dtype, algorithm="direct", **kw)
        used += any(tag in plan.implementation_of("forward") for tag in ("+indirect", "+runs"))
        assert "+indirect" not in plan.implementation_of("backward_weights"), plan
        errs = (ref.rel_err(fastconv.conv2d(x, w, b, algorithm="direct", **kw), ref.conv2d(x, w, b, **rkw)),
                ref.rel_err(fastconv.conv2d_weight(x, w.shape, dy, algorithm="direct", **kw),
                            ref.conv2d_weight(x, w.shape, dy, **rkw)))
        assert max(errs) <= TOL[cfg["dtype"]], (errs, cfg)
    print(f"{used} of 80 plans took the few-filters path")
    assert used >= 10  # how many depends on the microkernel's width: 25 with AVX2, 13 generic


def test_turned_around_paths_in_runs(rng):
    """Output rows of 3 to 28 pixels against 8 to 64 filters a group: the turned-around forward
    (and the stride-1 input gradient, which runs it on rotated weights) reads each run of a row's
    consecutive pixels from one base address ('+runsNxH': runs of N pixels, H a micro-tile),
    runs from several rows and images in one micro-tile, the last one filled up with repeats of
    its last run; the turned-around weight gradient so reads runs of a kernel row's taps (at unit
    column stride and dilation), and the turned-around input gradient runs of each stride
    phase's pixels. Every stride, dilation and padding, both dtypes, all directions against the
    reference."""
    used = {"forward": {}, "backward_data": {}, "backward_weights": {}}
    for _ in range(60):
        while True:
            cfg = sweep.random_config(rng)
            cfg["c"] = cfg["groups"] * int(rng.choice([4, 5, 7, 8, 11, 16, 24, 32]))
            (pt, pb), (pl, pr) = cfg["pads"]
            (sh, sw), (dh, dw) = cfg["stride"], cfg["dilation"]
            r, s = int(rng.integers(2, 5)), int(rng.integers(2, 5))
            p, q = int(rng.integers(1, 7)), int(rng.choice([3, 4, 5, 7, 8, 9, 12, 13, 14, 16, 21, 24, 28]))
            cfg.update(k=cfg["groups"] * int(rng.choice([8, 12, 16, 24, 32, 48, 64])), r=r, s=s,
                       h=(p - 1) * sh + dh * (r - 1) + 1 - pt - pb, w=(q - 1) * sw + dw * (s - 1) + 1 - pl - pr)
            if cfg["h"] >= 1 and cfg["w"] >= 1:
                break
        x, w, b, dy = arrays = sweep.make_arrays(cfg, rng)
        assert dy.shape[2:] == (p, q)
        kw = dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dilation"], groups=cfg["groups"])
        plan = fastconv.plan_conv2d(x.shape, w.shape, dtype=x.dtype, algorithm="direct", **kw)
        for direction, kernels in used.items():
            name = plan.implementation_of(direction)
            if "+runs" in name:
                kernels[name.split("+runs")[1]] = kernels.get(name.split("+runs")[1], 0) + 1
        errs = sweep.errors(cfg, arrays, algorithm="direct")
        assert max(errs.values()) <= TOL[cfg["dtype"]], (cfg, errs, plan.implementation)
    print("run kernels used (length x runs: plans):", used)
    if fastconv.config()["isa"] != "generic":  # the x86 ISAs have run kernels; generic code has none
        for kernels in used.values():
            assert sum(kernels.values()) >= 5 and len(kernels) >= 2, used


def test_turned_around_input_gradient_over_several_tasks(rng):
    """Strided input gradients whose phase grids hold more micro-tiles than one task takes: each
    task pads the dY rows that its pixels read (a run of tiles, every phase), so on two threads a
    thread may begin mid-image. One image and group, so that each task of an image is a run; 1
    and 2 threads, both dtypes, all directions against the reference."""
    before = fastconv.get_num_threads()
    used = 0
    try:
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            for _ in range(6):
                cfg = sweep.random_config(rng)
                sh, sw = int(rng.integers(2, 4)), int(rng.integers(2, 4))
                r, s = int(rng.integers(2, 5)), int(rng.integers(2, 5))
                cfg.update(n=1, groups=1, c=int(rng.choice([8, 16, 24])), k=int(rng.choice([8, 16, 32])), r=r, s=s,
                           stride=(sh, sw), dilation=(1, 1), h=int(rng.integers(60, 110)), w=int(rng.integers(60, 110)),
                           channels_last=False)
                x, w, b, dy = arrays = sweep.make_arrays(cfg, rng)
                kw = dict(stride=cfg["stride"], padding=cfg["pads"], groups=1)
                plan = fastconv.plan_conv2d(x.shape, w.shape, dtype=x.dtype, algorithm="direct", **kw)
                used += "+runs" in plan.implementation_of("backward_data")
                errs = sweep.errors(cfg, arrays, algorithm="direct")
                assert max(errs.values()) <= TOL[cfg["dtype"]], (threads, cfg, errs, plan.implementation)
    finally:
        fastconv.set_num_threads(before)
    print(f"{used} of 12 input gradients turned around in runs")
    if fastconv.config()["isa"] != "generic":
        assert used >= 4


def test_forward_padding_a_few_images_at_a_time(rng):
    """On one thread the forward GEMM pads its images' planes a few at a time where an image's
    planes are large (ResNeXt-50's 28x28 stage): images of 8 groups of 8 channels and filters,
    one or more images a chunk, both dtypes; forward and input gradient (a forward over the
    rotated weights) against the reference. And col2im's T in chunks of one image."""
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(1)
        for dtype in ("float32", "float64"):
            for h, w in ((46, 50), (30, 29)):
                cfg = dict(n=3, c=64, k=64, h=h, w=w, r=3, s=3, stride=(1, 1), dilation=(1, 1), pads=((1, 1), (1, 1)),
                           groups=8, dtype=dtype, bias=True, channels_last=False)
                x, wt, b, dy = arrays = sweep.make_arrays(cfg, rng)
                plan = fastconv.plan_conv2d(x.shape, wt.shape, dtype=x.dtype, algorithm="direct", padding=1, groups=8)
                turned = any(tag in plan.implementation_of("forward") for tag in ("+runs", "+indirect"))
                if fastconv.config()["isa"] == "avx512":  # its 8-row GEMM (others turn the forward around)
                    assert not turned, plan.implementation
                errs = sweep.errors(cfg, arrays, algorithm="direct")
                assert max(errs.values()) <= TOL[dtype], (cfg, errs, plan.implementation)
            # few channels: the input gradient's col2im, its T a chunk of about 2 MB on one thread
            cfg = dict(n=4, c=3, k=16, h=64, w=60, r=5, s=5, stride=(1, 1), dilation=(1, 1), pads=((2, 2), (2, 2)),
                       groups=1, dtype=dtype, bias=False, channels_last=False)
            errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng), algorithm="direct")
            assert max(errs.values()) <= TOL[dtype], (cfg, errs)
    finally:
        fastconv.set_num_threads(before)


def test_col2im_at_unit_stride(rng):
    """Few input channels at unit stride: col2im adds T's rows into dX in the ISA's registers, a
    block of dX rows at a time (rows of at most 4 vectors; wider ones take the loops). Drawn
    kernels of 1 to 9 columns and rows, dilations 1 and 2, paddings 0 to 3 on each side, rows of
    1 to 70 columns (LeNet conv2's are 12), both dtypes, on 1 and 2 threads; the input gradient
    against the reference."""
    before = fastconv.get_num_threads()
    try:
        for threads in (1, 2):
            fastconv.set_num_threads(threads)
            for _ in range(30):
                r, s = int(rng.integers(1, 10)), int(rng.integers(1, 10))
                dh, dw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
                pads = tuple((int(rng.integers(0, 4)), int(rng.integers(0, 4))) for _ in range(2))
                h = max(int(rng.integers(1, 30)), dh * (r - 1) + 1 - sum(pads[0]))
                w = max(int(rng.integers(1, 71)), dw * (s - 1) + 1 - sum(pads[1]))
                cfg = dict(n=int(rng.integers(1, 4)), c=int(rng.integers(1, 7)), k=int(rng.integers(1, 20)), h=h, w=w,
                           r=r, s=s, stride=(1, 1), dilation=(dh, dw), pads=pads, groups=1,
                           dtype=str(rng.choice(["float32", "float64"])), bias=False, channels_last=False)
                x, wt, b, dy = arrays = sweep.make_arrays(cfg, rng)
                plan = fastconv.plan_conv2d(x.shape, wt.shape, padding=pads, dilation=(dh, dw), dtype=x.dtype,
                                            algorithm="direct")
                assert plan.implementation_of("backward_data").endswith("+col2im"), plan.implementation
                errs = sweep.errors(cfg, arrays, algorithm="direct")
                assert errs["grad_input"] <= TOL[cfg["dtype"]], (cfg, errs)
    finally:
        fastconv.set_num_threads(before)


def test_many_filters_packed_on_every_thread(rng):
    """The turned-around forward packs its filters on every thread where they are many (K x C/groups
    x R x S past 65536 values): grouped layers of 256 filters, on 2 threads, both dtypes; forward
    and input gradient (the forward over rotated weights) against the reference."""
    before = fastconv.get_num_threads()
    try:
        fastconv.set_num_threads(2)
        for dtype in ("float32", "float64"):
            for groups, cg in ((8, 32), (16, 24)):
                cfg = dict(n=1, c=groups * cg, k=256, h=6, w=7, r=3, s=3, stride=(1, 1), dilation=(1, 1),
                           pads=((1, 1), (1, 1)), groups=groups, dtype=dtype, bias=True, channels_last=False)
                errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng), algorithm="direct")
                assert max(errs.values()) <= TOL[dtype], (cfg, errs)
    finally:
        fastconv.set_num_threads(before)


def test_filters_filling_half_a_panel(rng):
    """Filter counts of half a microkernel panel on every ISA and dtype (2, 4, 8, 16): the
    turned-around forward and weight gradient then use panels half as wide, with their own
    one-vector kernel. And multiples of 8 that 6-row panels do not fill (8 to 32), which AVX-512
    runs on its 8-row kernel. Forward and all gradients against the reference."""
    for kg in (2, 4, 8, 16, 24, 32):
        for _ in range(6):
            cfg = sweep.random_config(rng, channels=(2, 9))
            cfg.update(k=cfg["groups"] * kg, r=int(rng.integers(2, 5)), s=int(rng.integers(2, 5)),
                       h=int(rng.integers(14, 24)), w=int(rng.integers(14, 24)))
            errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng), algorithm="direct")
            assert max(errs.values()) <= TOL[cfg["dtype"]], (cfg, errs)


def test_channels_filling_half_a_panel(rng):
    """16 channels per group fill half of AVX-512's float32 panel: the turned-around input gradient
    then gathers dY against channel panels half as wide (ResNeXt-50's 14x14 stage). Counts around
    it too, every stride; all directions against the reference."""
    for cg in (12, 16, 16, 17, 32):  # 16 twice: only float32 (half the draws) takes the narrow panels
        for _ in range(5):
            cfg = sweep.random_config(rng)
            cfg.update(c=cfg["groups"] * cg, k=cfg["groups"] * int(rng.integers(1, 9)), r=int(rng.integers(2, 5)),
                       s=int(rng.integers(2, 5)), h=int(rng.integers(10, 22)), w=int(rng.integers(10, 22)))
            errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng), algorithm="direct")
            assert max(errs.values()) <= TOL[cfg["dtype"]], (cfg, errs)


def test_channels_in_eights(rng):
    """Channels per group in multiples of 8, past the turned-around input gradient's four panels
    (on AVX-512, 64 doubles or 128 floats), over several images: AVX-512 runs the input
    gradient's GEMM on its 8-row kernel, 1x1 (whose weights pack by fixed-size copies) and
    strided layers among them. All directions against the reference."""
    for cg in (72, 136, 144):
        for r in (1, 1, 3):
            cfg = sweep.random_config(rng)
            cfg.update(n=int(rng.integers(2, 4)), c=cfg["groups"] * cg, k=cfg["groups"] * int(rng.integers(1, 20)), r=r,
                       s=r, h=int(rng.integers(6, 16)), w=int(rng.integers(6, 16)))
            errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng), algorithm="direct")
            assert max(errs.values()) <= TOL[cfg["dtype"]], (cfg, errs)


def test_weight_gradient_as_row_dots(rng):
    """Up to 8 filters per group, or up to 32 taps, over output rows that fill their vectors (21
    to 32 columns; up to 24 on AVX-512's half-width kernel): the weight gradient as dot products
    of dY's rows with the rows each tap reads ('+rowdot'), in tiles of filters by taps whose last
    ones are ragged, the rows' last vectors masked; with 8 to 12 groups, a task a group, which
    pads its images' planes itself. Every stride, dilation and padding, both dtypes, all
    directions against the reference."""
    used, kernels = 0, set()
    while used < 40:
        cfg = sweep.random_config(rng, channels=(2, 5))  # one channel a group is depthwise
        if used % 2:  # groups enough for a task each, which then pads its planes itself
            g = int(rng.integers(8, 13))
            cfg.update(groups=g, c=g * int(rng.integers(2, 5)))
        (pt, pb), (pl, pr) = cfg["pads"]
        (sh, sw), (dh, dw) = cfg["stride"], cfg["dilation"]
        kg = int(rng.integers(1, 9))
        if rng.integers(0, 4) == 0:  # more filters, with few taps
            cfg.update(c=cfg["groups"] * int(rng.integers(2, 4)), r=int(rng.integers(1, 4)), s=int(rng.integers(2, 4)))
            kg = int(rng.integers(9, 14))
        p, q = int(rng.integers(1, 6)), int(rng.choice([21, 22, 24, 28, 30, 31, 32]))
        cfg.update(k=cfg["groups"] * kg, h=(p - 1) * sh + dh * (cfg["r"] - 1) + 1 - pt - pb,
                   w=(q - 1) * sw + dw * (cfg["s"] - 1) + 1 - pl - pr)
        # padded planes (which the path reads) are not made where strides skip whole windows
        if cfg["h"] < 1 or cfg["w"] < 1 or sh > dh * (cfg["r"] - 1) + 1 or sw > dw * (cfg["s"] - 1) + 1:
            continue
        x, w, b, dy = arrays = sweep.make_arrays(cfg, rng)
        assert dy.shape[2:] == (p, q)
        kw = dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dilation"], groups=cfg["groups"])
        plan = fastconv.plan_conv2d(x.shape, w.shape, dtype=x.dtype, algorithm="direct", **kw)
        assert "+rowdot" in plan.implementation_of("backward_weights"), (plan.implementation, cfg)
        kernels.add(plan.implementation_of("backward_weights").split("+rowdot")[1])
        # first, into a fresh workspace (its new bytes are NaN): the padding of planes that the
        # path pads itself must be written, not found
        fastconv.release_workspace()
        rkw = dict(stride=cfg["stride"], pads=cfg["pads"], dilation=cfg["dilation"], groups=cfg["groups"])
        err = ref.rel_err(fastconv.conv2d_weight(x, w.shape, dy, algorithm="direct", **kw),
                          ref.conv2d_weight(x, w.shape, dy, **rkw))
        assert err <= TOL[cfg["dtype"]], (cfg, err)
        errs = sweep.errors(cfg, arrays, algorithm="direct")
        assert max(errs.values()) <= TOL[cfg["dtype"]], (cfg, errs)
        used += 1
    print("row dot kernels:", sorted(kernels))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stride_1_forward_reading_planes_in_place(rng, dtype):
    """Stride 1 with at most half a panel of filters: the forward GEMM's columns are positions
    along the padded rows, read in place by the microkernel, and only each row's first Q columns
    are stored. Small images share a GEMM (columns of several images), large ones span several
    column blocks; sizes, paddings, dilations, groups and prepared weights are swept."""
    for i in range(30):
        groups = int(rng.choice([1, 1, 2]))
        n, c, k = int(rng.integers(1, 5)), groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 9))
        h, w = (int(rng.integers(1, 15)), int(rng.integers(1, 15))) if i % 3 else (int(rng.integers(20, 60)),) * 2
        r, s = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pads = ((int(rng.integers(0, 3)), int(rng.integers(0, 3))), (int(rng.integers(0, 3)), int(rng.integers(0, 3))))
        if dil[0] * (r - 1) >= h + sum(pads[0]) or dil[1] * (s - 1) >= w + sum(pads[1]):
            continue
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        wt = rng.standard_normal((k, c // groups, r, s)).astype(dtype)
        b = rng.standard_normal(k).astype(dtype)
        kw = dict(padding=pads, dilation=dil, groups=groups)
        want = ref.conv2d(x, wt, b, (1, 1), pads, dil, groups)
        assert ref.rel_err(fastconv.conv2d(x, wt, b, algorithm="direct", **kw), want) <= TOL[dtype], (x.shape, wt.shape, kw)
        plan = fastconv.plan_conv2d(x.shape, wt.shape, dtype=dtype, algorithm="direct", **kw)
        plan.set_weight(wt)
        assert ref.rel_err(plan.forward(x, bias=b), want) <= TOL[dtype], (x.shape, wt.shape, kw)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_input_gradient_few_channels_short_rows(rng, dtype):
    """Few channels, stride 1, unpadded, output rows of at most 16: T is made with dX's row length
    (zeros past Q), each tap's block added into dX as one run; tall planes split T into several
    column blocks (added through a buffer rather than from the GEMM's store)."""
    for _ in range(24):
        groups = int(rng.choice([1, 2]))
        c, k, n = groups * int(rng.integers(1, 5)), groups * int(rng.integers(1, 12)), int(rng.integers(1, 4))
        r, s, dil = int(rng.integers(1, 6)), int(rng.integers(1, 6)), (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        h = dil[0] * (r - 1) + int(rng.integers(1, 80))
        w = dil[1] * (s - 1) + int(rng.integers(1, 17))
        wt = rng.standard_normal((k, c // groups, r, s)).astype(dtype)
        dy = rng.standard_normal((n, k, h - dil[0] * (r - 1), w - dil[1] * (s - 1))).astype(dtype)
        got = fastconv.conv2d_input((n, c, h, w), wt, dy, dilation=dil, groups=groups, algorithm="direct")
        want = ref.conv2d_input((n, c, h, w), wt, dy, (1, 1), ((0, 0), (0, 0)), dil, groups)
        assert ref.rel_err(got, want) <= TOL[dtype], ((n, c, h, w), wt.shape, dil, groups)


def test_1x1_forward_and_gradients(rng):
    """1x1 stride-1 unpadded layers: the forward pass packs whole channel rows (several reduction
    blocks where channels pass 256, ragged last panels), the input gradient packs dY's whole rows
    (images over 256 pixels, which are not merged), the weight gradient reads the input planes
    in place (X_col's rows as they lie) against dY^T in filter panels, or dY's planes against
    X^T: random sizes, groups and dtypes against the reference."""
    for i in range(30):
        groups = int(rng.choice([1, 1, 2, 3]))
        n, k = int(rng.integers(1, 4)), groups * int(rng.integers(1, 70))
        c = groups * int(rng.integers(1, 40) if i % 3 else rng.integers(200, 400))
        h, w = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        if i % 4 == 0:  # several images of over 256 pixels, with channels for the phase GEMM
            n, c, h, w = int(rng.integers(2, 4)), groups * int(rng.integers(100, 300)), int(rng.integers(17, 40)), 17
        dtype = str(rng.choice(["float32", "float64"]))
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        wt = rng.standard_normal((k, c // groups, 1, 1)).astype(dtype)
        dy = rng.standard_normal((n, k, h, w)).astype(dtype)
        got = fastconv.conv2d(x, wt, groups=groups, algorithm="direct")
        assert ref.rel_err(got, ref.conv2d(x, wt, None, groups=groups)) <= TOL[dtype], (n, c, k, h, w, groups, dtype)
        got = fastconv.conv2d_weight(x, (k, c // groups, 1, 1), dy, groups=groups)
        want = ref.conv2d_weight(x, (k, c // groups, 1, 1), dy, groups=groups)
        assert ref.rel_err(got, want) <= TOL[dtype], (n, c, k, h, w, groups, dtype)
        got = fastconv.conv2d_input(x.shape, wt, dy, groups=groups, algorithm="direct")
        want = ref.conv2d_input(x.shape, wt, dy, groups=groups)
        assert ref.rel_err(got, want) <= TOL[dtype], (n, c, k, h, w, groups, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weight_gradient_with_large_output_gradient(rng, dtype):
    """Where dY^T would take over 16 MB, the weight gradient packs dY's filter rows into panels per
    reduction block (runs of pixels that cross images, filters in blocks of 8 and a ragged rest)."""
    x = rng.standard_normal((2, 3, 330, 331)).astype(dtype)
    dy = rng.standard_normal((2, 21, 330, 331)).astype(dtype)
    pads = ((1, 1), (1, 1))
    got = fastconv.conv2d_weight(x, (21, 3, 3, 3), dy, padding=1, algorithm="direct")
    assert ref.rel_err(got, ref.conv2d_weight(x, (21, 3, 3, 3), dy, (1, 1), pads)) <= TOL[dtype]


@pytest.mark.parametrize("n, c, k, h, w, stride, groups, dtype", [
    (2, 12, 64, 80, 82, 2, 1, "float32"),  # chunks of 1024 pixels within an image
    (2, 12, 64, 80, 82, 2, 1, "float64"),  # of 512
    (2, 24, 64, 80, 82, 2, 2, "float32"),  # two groups
    (200, 3, 64, 8, 8, 1, 1, "float32"),  # chunks of 16 images, in runs of 4 per microkernel call
])
def test_weight_gradient_in_chunks(rng, monkeypatch, n, c, k, h, w, stride, groups, dtype):
    """Where all of dY^T would not fit (16 MB, or as here the workspace bound), the turned-around
    weight gradient packs and reduces it a chunk at a time, summing in the same order."""
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wshape = (k, c // groups, 5, 5)
    kw = dict(stride=stride, padding=2, groups=groups, algorithm="direct")
    plan = fastconv.plan_conv2d(x.shape, wshape, dtype=dtype, **kw)
    dy = rng.standard_normal(plan.output_shape).astype(dtype)
    whole = fastconv.conv2d_weight(x, wshape, dy, **kw)
    bound = plan.workspace_size("backward_weights") - 1
    monkeypatch.setenv("FASTCONV_MAX_WORKSPACE", str(bound))
    assert fastconv.plan_conv2d(x.shape, wshape, dtype=dtype, **kw).workspace_size("backward_weights") <= bound
    before = fastconv.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fastconv.set_num_threads(threads)
            assert np.array_equal(fastconv.conv2d_weight(x, wshape, dy, **kw), whole), threads
    finally:
        fastconv.set_num_threads(before)
    want = ref.conv2d_weight(x, wshape, dy, (stride, stride), ((2, 2), (2, 2)), groups=groups)
    assert ref.rel_err(whole, want) <= TOL[dtype]


def test_weight_gradient_in_chunks_within_an_image(rng, monkeypatch):
    """Where one image's dY^T passes what the turned-around weight gradient keeps in L2 (128
    filters of 28x28 pixels, 400 kB) and all of it would not fit (here the workspace bound), it
    reduces each image in chunks of pixels, and pads each image's planes once, at its first chunk,
    into a buffer of one image: stride 2, both dtypes, against the reference, the same bits on 1
    and 2 threads (a third thread's workspace would pass the bound, and its plan differ)."""
    before = fastconv.get_num_threads()
    try:
        for dtype in ("float32", "float64"):
            x = rng.standard_normal((3, 16, 56, 55)).astype(dtype)
            wshape = (128, 16, 3, 3)
            kw = dict(stride=2, padding=1, algorithm="direct")
            plan = fastconv.plan_conv2d(x.shape, wshape, dtype=dtype, **kw)
            if fastconv.config()["isa"] != "generic":  # the turned-around path's run kernels
                assert "+runs" in plan.implementation_of("backward_weights"), plan.implementation
            dy = rng.standard_normal(plan.output_shape).astype(dtype)
            monkeypatch.setenv("FASTCONV_MAX_WORKSPACE", str(plan.workspace_size("backward_weights") - 1))
            got = []
            for threads in (1, 2):
                fastconv.set_num_threads(threads)
                got.append(fastconv.conv2d_weight(x, wshape, dy, **kw))
            monkeypatch.delenv("FASTCONV_MAX_WORKSPACE")
            assert all(np.array_equal(g, got[0]) for g in got[1:])
            want = ref.conv2d_weight(x, wshape, dy, (2, 2), ((1, 1), (1, 1)))
            assert ref.rel_err(got[0], want) <= TOL[dtype]
    finally:
        fastconv.set_num_threads(before)


@pytest.mark.parametrize("cfg", [
    # the weight-gradient reduction is split into partial sums
    dict(n=6, c=12, k=16, h=15, w=24, r=3, s=3, stride=(1, 2), pads=((1, 1), (1, 0)), groups=2),
    # batch 1, few pixels: rows are split among threads
    dict(n=1, c=96, k=128, h=6, w=5, r=3, s=3, stride=(1, 1), pads=((1, 1), (1, 1)), groups=1),
    # depthwise, and few channels per group (col2im)
    dict(n=3, c=8, k=8, h=20, w=21, r=3, s=3, stride=(2, 1), pads=((1, 1), (1, 1)), groups=8),
    dict(n=3, c=3, k=16, h=20, w=21, r=5, s=5, stride=(1, 1), pads=((2, 2), (2, 2)), groups=1),
    # one input channel, 5x5: the weight gradient's filters split among threads, fewer than some
    dict(n=3, c=1, k=3, h=20, w=21, r=5, s=5, stride=(2, 1), pads=((2, 2), (2, 2)), groups=1),
    # backward data turned around: stride phases' pixels as rows, read from padded dY planes
    dict(n=2, c=40, k=24, h=15, w=16, r=3, s=3, stride=(2, 2), pads=((1, 1), (1, 1)), groups=1),
    # 1x1: the weight gradient reads the input planes in place
    dict(n=3, c=40, k=72, h=9, w=11, r=1, s=1, stride=(1, 1), pads=((0, 0), (0, 0)), groups=1),
    # 8 filters per group (AVX-512's 8-row kernel), and the input gradient as a rotated forward
    dict(n=3, c=32, k=32, h=12, w=14, r=3, s=3, stride=(1, 1), pads=((1, 1), (1, 1)), groups=4, algorithm="direct"),
    # 16 channels per group: the input gradient turned around in half-wide panels
    dict(n=2, c=32, k=48, h=11, w=12, r=3, s=3, stride=(2, 2), pads=((1, 1), (1, 1)), groups=2, algorithm="direct"),
    # 4 filters per group: the weight gradient as row dot products, tasks split by thread count
    dict(n=3, c=16, k=16, h=12, w=30, r=3, s=3, stride=(1, 1), pads=((1, 1), (1, 1)), groups=4, algorithm="direct"),
    # Winograd: its weight gradient sums transform-domain products over all tiles, split in parts
    dict(n=4, c=16, k=24, h=64, w=63, r=3, s=3, stride=(1, 1), pads=((1, 1), (1, 1)), groups=1,
         algorithm="winograd"),
    # Winograd with blocks enough for each of 2 threads to run whole blocks on its own
    dict(n=16, c=128, k=128, h=14, w=14, r=3, s=3, stride=(1, 1), pads=((1, 1), (1, 1)), groups=1,
         algorithm="winograd"),
])
def test_threads_give_identical_bits(rng, cfg):
    """The same inputs give the same bits whatever the thread count."""
    cfg = dict(cfg, dilation=(1, 1), dtype="float32", bias=True)
    x, w, b, dy = sweep.make_arrays(cfg, rng)
    kw = dict(stride=cfg["stride"], padding=cfg["pads"], groups=cfg["groups"], algorithm=cfg.get("algorithm", "auto"))
    before = fastconv.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3, 4):
            fastconv.set_num_threads(threads)
            results.append((fastconv.conv2d(x, w, b, **kw), *fastconv.conv2d_backward(x, w, dy, **kw)))
    finally:
        fastconv.set_num_threads(before)
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            assert np.array_equal(a, b_)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depthwise_path(rng, dtype):
    """One input channel per group (depthwise, with channel multipliers) runs on its own plane
    kernels, channels-last inputs too; swept over strides, dilations and asymmetric padding."""
    for _ in range(40):
        c = int(rng.integers(2, 7))
        cfg = sweep.random_config(rng)
        cfg.update(c=c, groups=c, k=c * int(rng.integers(1, 4)), dtype=dtype)
        plan = F._plan("test", (cfg["n"], c, cfg["h"], cfg["w"], cfg["k"]), (cfg["r"], cfg["s"]), cfg["stride"],
                       cfg["pads"], cfg["dilation"], c, np.dtype(dtype), "auto",
                       "nhwc" if cfg["channels_last"] else "nchw")
        assert plan.implementation.startswith("direct/depthwise"), plan.implementation
        errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng))
        assert max(errs.values()) <= TOL[dtype], (cfg, errs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depthwise_wide_planes(rng, dtype):
    """Rows of one to several register blocks, with every stride phase, dilation and padding
    (wider than the kernel too), and planes tall enough to be buffered in several strips."""
    cases = [dict(n=1, c=2, h=300, w=300, r=3, s=3, stride=(1, 1), dilation=(1, 1), pads=((1, 1), (1, 1))),
             dict(n=1, c=3, h=260, w=270, r=5, s=3, stride=(2, 3), dilation=(2, 1), pads=((4, 0), (0, 3)))]
    for _ in range(16):
        cfg = sweep.random_config(rng)
        cfg.update(c=int(rng.integers(2, 5)), w=int(rng.integers(20, 90)), h=int(rng.integers(1, 30)))
        cases.append(cfg)
    for cfg in cases:
        c = cfg["c"]
        cfg.update(groups=c, k=c * int(rng.integers(1, 3)), dtype=dtype, bias=True)
        plan = fastconv.plan_conv2d((cfg["n"], c, cfg["h"], cfg["w"]), (cfg["k"], 1, cfg["r"], cfg["s"]),
                                    cfg["stride"], cfg["pads"], cfg["dilation"], c, dtype=dtype)
        assert plan.implementation.startswith("direct/depthwise"), plan.implementation
        errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng))
        assert max(errs.values()) <= TOL[dtype], (cfg, errs)


def _depthwise_rows_of_every_width(rng, dtype, size, heights, unit_columns=lambda q: False):
    """Depthwise size x size planes with output widths of 1 to 40, which give every length of a
    row's last partial vector, with random strides, dilations (unit along columns where
    unit_columns(q)), paddings and filters per channel, against the reference."""
    span = size - 1
    for q in range(1, 41):
        unit = unit_columns(q)
        stride = (int(rng.integers(1, 3)), 1 if unit else int(rng.integers(1, 3)))
        dilation = (int(rng.integers(1, 3)), 1 if unit else int(rng.integers(1, 3)))
        pads = ((int(rng.integers(0, 3)), int(rng.integers(0, 3))), (int(rng.integers(0, 3)), int(rng.integers(0, 3))))
        w = max((q - 1) * stride[1] + span * dilation[1] + 1 - sum(pads[1]), 1)  # q columns out
        cfg = dict(n=2, c=3, k=3 * int(rng.integers(1, 3)), h=int(rng.integers(*heights)), w=w, r=size, s=size,
                   stride=stride, dilation=dilation, pads=pads, groups=3, dtype=dtype, bias=True)
        if span * dilation[0] + 1 > cfg["h"] + sum(pads[0]) or span * dilation[1] + 1 > w + sum(pads[1]):
            continue
        errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng))
        assert max(errs.values()) <= TOL[dtype], (cfg, errs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depthwise_3x3_rows_of_every_width(rng, dtype):
    """3x3 depthwise planes run kernels of their own (nine weights in registers, the taps
    unrolled), which store a row's last partial vector in pieces: output widths of 1 to 40 give
    every length of that piece, with random strides, dilations and paddings."""
    _depthwise_rows_of_every_width(rng, dtype, 3, (5, 9))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depthwise_3x3_in_place(rng, dtype):
    """3x3 planes with rows of at least six vectors are read where they lie (forward, weight
    gradient, and the input gradient at stride 1), and the vectors whose taps pass a row's end
    load only the lanes inside: left paddings from none to more vectors than have their masks
    kept, dilations, row strides, rows with and without a partial last vector, several filters
    per channel, and the input's first and last planes."""
    for _ in range(30):
        pads = ((int(rng.integers(0, 3)), int(rng.integers(0, 3))),
                (int(rng.choice([0, 1, 2, 3, 9, 70])), int(rng.integers(0, 4))))
        cfg = dict(n=int(rng.integers(1, 3)), c=3, k=3 * int(rng.integers(1, 3)), h=int(rng.integers(5, 10)),
                   w=int(rng.integers(56, 140)), r=3, s=3, stride=(int(rng.integers(1, 3)), 1),
                   dilation=(int(rng.integers(1, 3)), int(rng.integers(1, 4))), pads=pads, groups=3, dtype=dtype,
                   bias=True)
        errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng))
        assert max(errs.values()) <= TOL[dtype], (cfg, errs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depthwise_5x5_rows_of_every_width(rng, dtype):
    """5x5 depthwise planes run kernels of their own: the forward pass and input gradient with
    the taps unrolled (column offsets fixed when compiled at unit column stride, looked up
    otherwise), the weight gradient at unit column stride in two passes of 15 and 10 partial
    sums; with one filter per channel at unit column steps, channel blocks instead. Output widths
    of 1 to 40 give every length of a row's last partial vector, with random strides, dilations
    (columns: unit in two cases of three), paddings and filters per channel."""
    _depthwise_rows_of_every_width(rng, dtype, 5, (9, 14), unit_columns=lambda q: q % 3 != 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depthwise_channel_blocks(rng, dtype):
    """One filter per channel on rows of at most 16 outputs runs in blocks of channels, the
    channels a vector's lanes (AVX2's float32 kernels, the baseline build's loops for both
    dtypes; AVX2's float64 stays on the planes): channel counts that leave the last block part
    full, kernels of 1x1 to 5x5 (7x7 stays on the planes), strides, dilations and paddings wider
    than the kernel, the input gradient in blocks at stride 1 where the padding is at most the
    kernel's reach. Channels-last inputs (half the draws) fill their blocks with whole pixels."""
    blocked = dtype == "float32" or fastconv.config()["isa"] == "generic"
    seen = {"forward": 0, "backward_data": 0, "backward_weights": 0}
    for _ in range(60):
        c = int(rng.integers(1, 21))
        r, s = int(rng.choice([1, 2, 3, 3, 5, 5, 7])), int(rng.choice([1, 3, 3, 5, 5]))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.4 else (1, 1)
        dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if rng.random() < 0.3 else (1, 1)
        pads = tuple((int(rng.integers(0, r + 2)), int(rng.integers(0, r + 2))) for _ in range(2))
        h, w = int(rng.integers(1, 20)), int(rng.integers(1, 20))
        if (r - 1) * dilation[0] + 1 > h + sum(pads[0]) or (s - 1) * dilation[1] + 1 > w + sum(pads[1]):
            continue
        cfg = dict(n=int(rng.integers(1, 3)), c=c, k=c, h=h, w=w, r=r, s=s, stride=stride, dilation=dilation,
                   pads=pads, groups=c, dtype=dtype, bias=True, channels_last=bool(rng.random() < 0.5))
        plan = F._plan("test", (cfg["n"], c, h, w, c), (r, s), stride, pads, dilation, c, np.dtype(dtype), "auto",
                       "nhwc" if cfg["channels_last"] else "nchw")
        for direction in seen:
            if plan.implementation_of(direction).endswith("+blocks"):
                seen[direction] += 1
                assert blocked and r * s <= 25, plan.implementation_of(direction)
        errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng))
        assert max(errs.values()) <= TOL[dtype], (cfg, errs)
    if blocked:
        assert min(seen.values()) >= 10, seen


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_depthwise_channels_last_bands(rng, dtype):
    """Channels-last images past 512 kB run their channel blocks in bands of output rows (about
    256 kB of input rows each), so that the blocks of one band share its pixels in cache: bands
    whose input rows overlap, meet the padding or skip rows, at strides, dilations, 3x3 and 5x5
    kernels and uneven paddings, against the reference; the forward pass bit for bit the NCHW
    input's (which runs in one band)."""
    cases = [dict(n=1, c=20, h=90, w=90, r=3, s=3, stride=(1, 1), dilation=(1, 1), pads=((1, 1), (1, 1))),
             dict(n=2, c=17, h=97, w=83, r=5, s=5, stride=(2, 1), dilation=(1, 1), pads=((2, 1), (0, 2))),
             dict(n=1, c=33, h=70, w=71, r=3, s=3, stride=(2, 2), dilation=(2, 2), pads=((3, 0), (1, 3)))]
    for cfg in cases:
        c = cfg["c"]
        cfg.update(k=c, groups=c, dtype=dtype, bias=True, channels_last=True)
        plan = F._plan("test", (cfg["n"], c, cfg["h"], cfg["w"], c), (cfg["r"], cfg["s"]), cfg["stride"], cfg["pads"],
                       cfg["dilation"], c, np.dtype(dtype), "auto", "nhwc")
        if dtype == "float32":
            assert plan.implementation_of("backward_weights").endswith("+blocks"), plan.implementation
        x, w, b, dy = arrays = sweep.make_arrays(cfg, rng)
        errs = sweep.errors(cfg, arrays)
        assert max(errs.values()) <= TOL[dtype], (cfg, errs)
        kw = dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dilation"], groups=c)
        np.testing.assert_array_equal(fastconv.conv2d(x, w, b, **kw), fastconv.conv2d(np.ascontiguousarray(x), w, b, **kw))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_input_channel_weight_gradient_on_plane_kernels(rng, dtype):
    """A 5x5 layer with one input channel (LeNet's first) is a depthwise layer of one group: its
    weight gradient runs on the plane kernels, split by filters among threads, the other
    directions on the GEMM; swept over sizes, row strides and paddings, at 1 and 2 threads.
    Where rows fill the SIMD kernels' vectors, the weight gradient is row dot products instead
    (LeNet's own 24 columns)."""
    lenet = fastconv.plan_conv2d((64, 1, 28, 28), (6, 1, 5, 5), dtype=dtype).implementation_of("backward_weights")
    assert ("+rowdot" in lenet) == (fastconv.config()["isa"] != "generic"), lenet
    on_planes = 0
    for _ in range(12):
        cfg = dict(n=int(rng.integers(1, 4)), c=1, k=int(rng.integers(1, 9)), h=int(rng.integers(5, 30)),
                   w=int(rng.integers(5, 30)), r=5, s=5, stride=(int(rng.integers(1, 3)), 1), dilation=(1, 1),
                   pads=((int(rng.integers(0, 3)),) * 2, (int(rng.integers(0, 3)),) * 2), groups=1, dtype=dtype,
                   bias=True)
        plan = fastconv.plan_conv2d((cfg["n"], 1, cfg["h"], cfg["w"]), (cfg["k"], 1, 5, 5), cfg["stride"],
                                    cfg["pads"], cfg["dilation"], 1, dtype=dtype)
        weights = plan.implementation_of("backward_weights")
        assert weights.startswith("direct/depthwise") or "+rowdot" in weights, plan.implementation
        on_planes += weights.startswith("direct/depthwise")
        assert not plan.implementation_of("forward").startswith("direct/depthwise"), plan.implementation
        arrays = sweep.make_arrays(cfg, rng)
        grads = []
        for threads in (1, 2):
            with fastconv.thread_limit(threads):
                errs = sweep.errors(cfg, arrays)
                assert max(errs.values()) <= TOL[dtype], (cfg, errs)
                x, w, _, dy = arrays
                grads.append(fastconv.conv2d_weight(x, w.shape, dy, stride=cfg["stride"], padding=cfg["pads"]))
        assert np.array_equal(grads[0], grads[1])
    assert on_planes > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stride_2_rows_split_into_phases(rng, dtype):
    """Stride-2 layers fill their padded planes by splitting each source row into its even and
    odd columns, whole vectors of pairs at a time and the ends one by one: every parity of the
    left padding, kernel widths and dilations, rows from under one vector of pairs to several,
    on the depthwise path and the dense one (forward and weight gradient read the planes)."""
    for pl in range(4):
        for w in (6, 16, 17, 33, 46):
            for groups in (1, 3):
                cfg = dict(n=2, c=3, k=3 * int(rng.integers(1, 3)), h=5, w=w, r=2, s=int(rng.integers(1, 5)),
                           stride=(int(rng.integers(1, 3)), 2), dilation=(1, int(rng.integers(1, 3))),
                           pads=((1, 0), (pl, int(rng.integers(0, 4)))), groups=groups, dtype=dtype, bias=True)
                if cfg["dilation"][1] * (cfg["s"] - 1) + 1 > w + pl + cfg["pads"][1][1]:
                    continue
                errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng), algorithm="direct")
                assert max(errs.values()) <= TOL[dtype], (cfg, errs)
    # a plane tall enough for several strips of buffer rows, each with its own padding rows
    cfg = dict(n=1, c=2, k=2, h=470, w=300, r=3, s=3, stride=(2, 2), dilation=(1, 1), pads=((1, 2), (1, 1)),
               groups=2, dtype=dtype, bias=False)
    errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng))
    assert max(errs.values()) <= TOL[dtype], (cfg, errs)


def test_backward_data_paths(rng):
    """Backward data has three formulations, by input channels per group: stride phases for
    many channels (up to four microkernel panels of them turned around, the phase's pixels as
    rows, read from padded dY planes), GEMM + col2im for few. Sweep each on its own."""
    seen = set()
    for channels in ((9, 13), (2, 9), (17, 80)):
        for _ in range(60 if channels[0] < 17 else 25):
            cfg = sweep.random_config(rng, channels)
            plan = fastconv.plan_conv2d((cfg["n"], cfg["c"], cfg["h"], cfg["w"]),
                                        (cfg["k"], cfg["c"] // cfg["groups"], cfg["r"], cfg["s"]),
                                        cfg["stride"], cfg["pads"], cfg["dilation"], cfg["groups"], dtype=cfg["dtype"])
            seen.add(plan.implementation_of("backward_data").endswith("+col2im"))
            # each direction names only what it runs
            assert not any("+col2im" in plan.implementation_of(d) for d in ("forward", "backward_weights")), plan
            errs = sweep.errors(cfg, sweep.make_arrays(cfg, rng))
            assert errs["grad_input"] <= TOL[cfg["dtype"]], (cfg, errs)
    assert seen == {True, False}
