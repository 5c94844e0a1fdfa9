"""Seeded random configurations, shared by the sweep tests and the per-ISA subprocess check.

Run as a script, it prints the instruction set in use and the largest error per dtype as JSON.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import reference as ref  # noqa: E402

DEFAULT_SEED = 20261122


def seed() -> int:
    return int(os.environ.get("FASTCONV_TEST_SEED", DEFAULT_SEED))


def random_config(rng, channels=(1, 5)):
    """A valid configuration, every parameter drawn independently; padding may be asymmetric.
    `channels` bounds the input channels per group (low inclusive, high exclusive)."""
    while True:
        groups = int(rng.choice([1, 1, 2, 3]))
        cfg = dict(
            n=int(rng.integers(1, 4)),
            c=groups * int(rng.integers(*channels)),
            k=groups * int(rng.integers(1, 5)),
            h=int(rng.integers(1, 13)),
            w=int(rng.integers(1, 13)),
            r=int(rng.integers(1, 5)),
            s=int(rng.integers(1, 5)),
            stride=(int(rng.integers(1, 4)), int(rng.integers(1, 4))),
            dilation=(int(rng.integers(1, 4)), int(rng.integers(1, 4))),
            pads=((int(rng.integers(0, 4)), int(rng.integers(0, 4))), (int(rng.integers(0, 4)), int(rng.integers(0, 4)))),
            groups=groups,
            dtype=str(rng.choice(["float32", "float64"])),
            bias=bool(rng.integers(0, 2)),
            channels_last=bool(rng.integers(0, 2)),  # x's memory NHWC, viewed as NCHW
        )
        (pt, pb), (pl, pr) = cfg["pads"]
        if cfg["dilation"][0] * (cfg["r"] - 1) + 1 <= cfg["h"] + pt + pb and \
           cfg["dilation"][1] * (cfg["s"] - 1) + 1 <= cfg["w"] + pl + pr:
            return cfg


def make_arrays(cfg, rng):
    dt = np.dtype(cfg["dtype"])
    if cfg.get("channels_last"):
        x = rng.standard_normal((cfg["n"], cfg["h"], cfg["w"], cfg["c"])).astype(dt).transpose(0, 3, 1, 2)
    else:
        x = rng.standard_normal((cfg["n"], cfg["c"], cfg["h"], cfg["w"])).astype(dt)
    w = rng.standard_normal((cfg["k"], cfg["c"] // cfg["groups"], cfg["r"], cfg["s"])).astype(dt)
    b = rng.standard_normal(cfg["k"]).astype(dt) if cfg["bias"] else None
    p = ref.out_size(cfg["h"], *cfg["pads"][0], cfg["r"], cfg["stride"][0], cfg["dilation"][0])
    q = ref.out_size(cfg["w"], *cfg["pads"][1], cfg["s"], cfg["stride"][1], cfg["dilation"][1])
    dy = rng.standard_normal((cfg["n"], cfg["k"], p, q)).astype(dt)
    return x, w, b, dy


def errors(cfg, arrays, algorithm="auto"):
    """Relative errors of forward, grad_input, grad_weight and grad_bias against the reference."""
    import fastconv

    x, w, b, dy = arrays
    kw = dict(stride=cfg["stride"], padding=cfg["pads"], dilation=cfg["dilation"], groups=cfg["groups"])
    rkw = dict(stride=cfg["stride"], pads=cfg["pads"], dilation=cfg["dilation"], groups=cfg["groups"])
    y = fastconv.conv2d(x, w, b, algorithm=algorithm, **kw)
    gi, gw, gb = fastconv.conv2d_backward(x, w, dy, algorithm=algorithm, **kw)
    for got, src in ((y, x), (gi, x), (gw, w), (gb, dy)):
        assert got.dtype == x.dtype, (got.dtype, x.dtype)
    return {
        "forward": ref.rel_err(y, ref.conv2d(x, w, b, **rkw)),
        "grad_input": ref.rel_err(gi, ref.conv2d_input(x.shape, w, dy, **rkw)),
        "grad_weight": ref.rel_err(gw, ref.conv2d_weight(x, w.shape, dy, **rkw)),
        "grad_bias": ref.rel_err(gb, ref.conv2d_bias(dy)),
    }


def sweep(cases, seed_value, algorithm="auto"):
    """Largest error per dtype and direction over `cases` random configurations."""
    rng = np.random.default_rng(seed_value)
    worst = {}
    for _ in range(cases):
        cfg = random_config(rng)
        errs = errors(cfg, make_arrays(cfg, rng), algorithm)
        for direction, e in errs.items():
            key = f"{cfg['dtype']}/{direction}"
            if e > worst.get(key, (-1.0, None))[0]:
                worst[key] = (e, cfg)
    return worst


if __name__ == "__main__":
    import fastconv

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    worst = sweep(n, seed())
    print(json.dumps({"isa": fastconv.config()["isa"], "worst": {k: v[0] for k, v in worst.items()}}))
