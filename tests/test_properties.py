"""Property tests: hypothesis draws configurations; valid ones agree with the reference for every
algorithm that applies, invalid ones raise ValueError or TypeError and nothing else. Threads:
concurrent calls from Python threads give the bits of single-threaded calls."""

import threading

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastconv  # noqa: E402
import reference as ref  # noqa: E402
from conftest import TOL, WINOGRAD_TOLS  # noqa: E402
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cfg = dict(
        n=draw(st.integers(1, 3)), c=groups * draw(st.integers(1, 4)), k=groups * draw(st.integers(1, 4)),
        h=draw(st.integers(1, 10)), w=draw(st.integers(1, 10)), r=draw(st.integers(1, 4)), s=draw(st.integers(1, 4)),
        stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        dilation=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        pads=((draw(st.integers(0, 3)), draw(st.integers(0, 3))), (draw(st.integers(0, 3)), draw(st.integers(0, 3)))),
        groups=groups, dtype=draw(st.sampled_from(["float32", "float64"])), bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31)),
    )
    (pt, pb), (pl, pr) = cfg["pads"]
    hypothesis.assume(cfg["dilation"][0] * (cfg["r"] - 1) < cfg["h"] + pt + pb)
    hypothesis.assume(cfg["dilation"][1] * (cfg["s"] - 1) < cfg["w"] + pl + pr)
    return cfg


@SETTINGS
@given(configs())
def test_valid_configurations_agree_with_the_reference(cfg):
    rng = np.random.default_rng(cfg["seed"])
    dt = cfg["dtype"]
    x = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(dt)
    w = rng.standard_normal((cfg["k"], cfg["c"] // cfg["groups"], cfg["r"], cfg["s"])).astype(dt)
    b = rng.standard_normal(cfg["k"]).astype(dt) if cfg["bias"] else None
    kw = dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dilation"], groups=cfg["groups"])
    rkw = dict(stride=cfg["stride"], pads=cfg["pads"], dilation=cfg["dilation"], groups=cfg["groups"])
    want = ref.conv2d(x, w, b, **rkw)
    dy = rng.standard_normal(want.shape).astype(dt)
    winograd_ok = cfg["r"] == cfg["s"] == 3 and cfg["stride"] == (1, 1) and cfg["dilation"] == (1, 1)
    for algorithm in ["auto", "direct", "reference"] + (list(WINOGRAD_TOLS) if winograd_ok else []):
        tol = WINOGRAD_TOLS.get(algorithm, TOL)[dt]
        assert ref.rel_err(fastconv.conv2d(x, w, b, algorithm=algorithm, **kw), want) <= tol, algorithm
        gi, gw, gb = fastconv.conv2d_backward(x, w, dy, algorithm=algorithm, **kw)
        assert ref.rel_err(gi, ref.conv2d_input(x.shape, w, dy, **rkw)) <= tol, algorithm
        assert ref.rel_err(gw, ref.conv2d_weight(x, w.shape, dy, **rkw)) <= tol, algorithm
        assert ref.rel_err(gb, ref.conv2d_bias(dy)) <= tol, algorithm


@SETTINGS
@given(
    x_shape=st.lists(st.integers(-2, 6), min_size=0, max_size=6),
    w_shape=st.lists(st.integers(-2, 6), min_size=0, max_size=6),
    stride=st.one_of(st.integers(-2, 3), st.tuples(st.integers(-1, 3), st.integers(-1, 3)), st.just("x"), st.floats(0, 2)),
    padding=st.one_of(st.integers(-2, 3), st.sampled_from(["same", "valid", "full"]),
                      st.tuples(st.integers(-1, 3), st.integers(-1, 3))),
    dilation=st.one_of(st.integers(-1, 3), st.tuples(st.integers(0, 3), st.integers(0, 3))),
    groups=st.one_of(st.integers(-1, 4), st.just(1.5)),
    dtype=st.sampled_from(["float32", "float64", "int32", "float16", "bool"]),
    algorithm=st.sampled_from(["auto", "direct", "winograd", "winograd_f2", "winograd_f6", "nope"]),
)
def test_any_arguments_give_a_result_or_a_clear_error(x_shape, w_shape, stride, padding, dilation, groups, dtype,
                                                       algorithm):
    """Whatever the arguments, conv2d either computes or raises ValueError/TypeError: never
    another exception, never a crash."""
    try:
        x = np.ones([max(d, 0) for d in x_shape], dtype)
        w = np.ones([max(d, 0) for d in w_shape], dtype)
    except ValueError:
        return
    try:
        y = fastconv.conv2d(x, w, None, stride, padding, dilation, groups, algorithm=algorithm)
    except (ValueError, TypeError):
        return
    assert y.dtype == x.dtype and np.isfinite(y).all()


def test_concurrent_python_threads_match_single_threaded_results(rng):
    """Eight Python threads call the public functions at once, on different shapes and dtypes
    (the GIL is released while computing); each result equals its single-threaded twin."""
    jobs = []
    for i in range(8):
        dt = "float32" if i % 2 else "float64"
        c, k = 2 + i % 3, 3 + i % 4
        x = rng.standard_normal((2, c, 12 + i, 11)).astype(dt)
        w = rng.standard_normal((k, c, 3, 3)).astype(dt)
        dy = rng.standard_normal((2, k, 12 + i, 11)).astype(dt)
        jobs.append((x, w, dy))

    def run(x, w, dy):
        return (fastconv.conv2d(x, w, padding=1), *fastconv.conv2d_backward(x, w, dy, padding=1),
                fastconv.conv_transpose2d(dy, w, padding=1))

    want = [run(*job) for job in jobs]
    got = [None] * len(jobs)
    for _ in range(3):
        threads = [threading.Thread(target=lambda i=i: got.__setitem__(i, run(*jobs[i]))) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for g, wnt in zip(got, want):
            for a, b in zip(g, wnt):
                assert np.array_equal(a, b)
