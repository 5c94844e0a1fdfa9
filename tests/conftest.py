import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import sweep  # noqa: E402

# Largest error allowed, relative to the scale of the reference result (see reference.rel_err).
TOL = {"float32": 1e-5, "float64": 1e-12}
# Winograd's own bound: the transforms amplify rounding (points up to +-2, weights divided by
# 24), so float32 gets a looser bound than direct's.
WINOGRAD_TOL = {"float32": 2e-5, "float64": 1e-13}
# F(2x2, 3x3)'s transforms have no factor above 1 (points 0 and +-1, weights halved), so it
# rounds nearly as direct does.
WINOGRAD_F2_TOL = {"float32": 3e-6, "float64": 2e-14}
# F(6x6, 3x3)'s points reach 2 and 1/2, its weights are divided by 90: it rounds about 1.5x as much as
# F(4x4) (measured on a 256-channel layer: 1.7e-5 against 1.2e-5).
WINOGRAD_F6_TOL = {"float32": 5e-5, "float64": 1e-13}
# by algorithm name
WINOGRAD_TOLS = {"winograd": WINOGRAD_TOL, "winograd_f2": WINOGRAD_F2_TOL, "winograd_f6": WINOGRAD_F6_TOL}


def pytest_report_header(config):
    import fastconv

    c = fastconv.config()
    return [
        f"fastconv {c['version']}: isa {c['isa']} (cpu {c['detected_isa']}), threads {c['threads']}",
        f"test seed: {sweep.seed()} (set FASTCONV_TEST_SEED to change it)",
    ]


@pytest.fixture
def rng():
    s = sweep.seed()
    print(f"seed={s}")
    return np.random.default_rng(s)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")
