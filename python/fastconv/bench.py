"""The standard benchmark: fastconv against PyTorch's CPU convolution, side by side.

Both libraries run the same layer, with the same thread count, in the same process, alternating
repetitions so that machine noise hits both alike. Figures are medians; the ratio
(PyTorch time / fastconv time) is what to quote, as absolute times vary from run to run.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional

import numpy as np

from . import functional as F
from ._config import config, set_num_threads


@dataclass(frozen=True)
class Layer:
    name: str
    n: int
    c: int
    h: int
    w: int
    k: int
    r: int
    stride: int = 1
    padding: int = 0
    groups: int = 1

    @property
    def out_hw(self):
        return tuple((size + 2 * self.padding - self.r) // self.stride + 1 for size in (self.h, self.w))

    @property
    def flops(self) -> float:
        """Multiply-adds x 2 of one direction (forward; each gradient costs the same)."""
        p, q = self.out_hw
        return 2.0 * self.n * self.k * p * q * (self.c // self.groups) * self.r * self.r

    def describe(self) -> str:
        g = f" g{self.groups}" if self.groups > 1 else ""
        return f"{self.n}x{self.c}x{self.h}x{self.w} k{self.k} {self.r}x{self.r} s{self.stride} p{self.padding}{g}"


# Layers from LeNet, VGG-16, ResNet-18/50 and MobileNet: dense 3x3, the shapes PyTorch
# handles badly (depthwise, 3 channels, 1x1, stride 2) and tiny layers dominated by overhead.
LAYERS: List[Layer] = [
    Layer("lenet.conv1", 64, 1, 28, 28, 6, 5),
    Layer("lenet.conv2", 64, 6, 12, 12, 16, 5),
    Layer("vgg16.conv1_1", 8, 3, 224, 224, 64, 3, padding=1),
    Layer("resnet18.conv1", 1, 3, 224, 224, 64, 7, stride=2, padding=3),
    Layer("resnet18.layer1", 1, 64, 56, 56, 64, 3, padding=1),
    Layer("resnet18.layer1.b16", 16, 64, 56, 56, 64, 3, padding=1),
    Layer("resnet18.layer3", 16, 256, 14, 14, 256, 3, padding=1),
    Layer("resnet18.layer4.down", 16, 256, 14, 14, 512, 3, stride=2, padding=1),
    Layer("resnet50.1x1.reduce", 16, 256, 56, 56, 64, 1),
    Layer("resnet50.1x1.expand", 16, 64, 56, 56, 256, 1),
    Layer("mobilenet.dw3x3", 16, 32, 112, 112, 32, 3, padding=1, groups=32),
    Layer("mobilenet.dw3x3.s2", 16, 64, 112, 112, 64, 3, stride=2, padding=1, groups=64),
]
QUICK = ["lenet.conv2", "resnet18.layer1", "resnet18.layer3", "resnet50.1x1.expand", "mobilenet.dw3x3"]


@dataclass
class Result:
    layer: str
    shape: str
    direction: str
    threads: int
    fastconv_ms: float
    torch_ms: Optional[float]
    gflops: float

    @property
    def speedup(self) -> Optional[float]:
        return None if self.torch_ms is None else self.torch_ms / self.fastconv_ms


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _cases(layer: Layer, direction: str, torch) -> Dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((layer.n, layer.c, layer.h, layer.w), dtype=np.float32)
    w = rng.standard_normal((layer.k, layer.c // layer.groups, layer.r, layer.r), dtype=np.float32)
    b = rng.standard_normal(layer.k, dtype=np.float32)
    kw = dict(stride=layer.stride, padding=layer.padding, groups=layer.groups)
    cases: Dict[str, Callable[[], object]] = {}
    if direction == "forward":
        y = np.empty((layer.n, layer.k, *layer.out_hw), np.float32)
        cases["fastconv"] = lambda: F.conv2d(x, w, b, out=y, **kw)
    else:
        dy = rng.standard_normal((layer.n, layer.k, *layer.out_hw), dtype=np.float32)
        cases["fastconv"] = lambda: F.conv2d_backward(x, w, dy, **kw)
    if torch is not None:
        tx, tw, tb = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)
        if direction == "forward":
            ty = torch.from_numpy(y)

            def run_torch():
                with torch.no_grad():
                    return ty.copy_(torch.nn.functional.conv2d(tx, tw, tb, **kw))
        else:
            tdy = torch.from_numpy(dy)
            s, p = [layer.stride] * 2, [layer.padding] * 2

            def run_torch():
                return torch.ops.aten.convolution_backward(
                    tdy, tx, tw, [layer.k], s, p, [1, 1], False, [0, 0], layer.groups, [True, True, True]
                )

        cases["torch"] = run_torch
    return cases


def _progress(done: int, total: int, label: str) -> None:
    if not sys.stderr.isatty() and done not in (0, total):
        return
    width = 30
    fill = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{total} {label:<40.40}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run(
    layers: List[Layer],
    directions: List[str],
    threads: List[int],
    repeat: int,
    use_torch: bool = True,
) -> List[Result]:
    torch = _torch() if use_torch else None
    results: List[Result] = []
    total = len(layers) * len(directions) * len(threads)
    step = 0
    _progress(0, total, "")
    for nt in threads:
        set_num_threads(nt)
        if torch is not None:
            torch.set_num_threads(nt)
        for layer in layers:
            for direction in directions:
                _progress(step, total, f"{layer.name} {direction} t{nt}")
                cases = _cases(layer, direction, torch)
                times: Dict[str, List[float]] = {name: [] for name in cases}
                for fn in cases.values():  # warm-up: plans, page faults, thread pools
                    fn()
                for _ in range(repeat):
                    for name, fn in cases.items():
                        times[name].append(_time(fn))
                med = {name: float(np.median(t)) * 1e3 for name, t in times.items()}
                work = layer.flops * (1 if direction == "forward" else 2)
                results.append(
                    Result(layer.name, layer.describe(), direction, nt, med["fastconv"], med.get("torch"),
                           work / (med["fastconv"] * 1e-3) / 1e9)
                )
                step += 1
    _progress(total, total, "done")
    return results


def table(results: List[Result]) -> str:
    head = f"{'layer':<22} {'shape':<34} {'dir':<8} {'thr':>3} {'fastconv ms':>11} {'GFLOP/s':>8} {'torch ms':>9} {'speedup':>8}"
    lines = [head, "-" * len(head)]
    for r in results:
        torch_ms = f"{r.torch_ms:9.3f}" if r.torch_ms is not None else f"{'-':>9}"
        speed = f"{r.speedup:7.2f}x" if r.speedup is not None else f"{'-':>8}"
        lines.append(
            f"{r.layer:<22} {r.shape:<34} {r.direction:<8} {r.threads:>3} {r.fastconv_ms:11.3f} "
            f"{r.gflops:8.1f} {torch_ms} {speed}"
        )
    ratios = [r.speedup for r in results if r.speedup is not None]
    if ratios:
        geo = float(np.exp(np.mean(np.log(ratios))))
        lines.append(f"geometric mean speedup over PyTorch: {geo:.2f}x  "
                     f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x, {len(ratios)} cases)")
    return "\n".join(lines)


def main(args) -> int:
    layers = [l for l in LAYERS if args.quick is False or l.name in QUICK]
    if args.layers:
        layers = [l for l in layers if any(f in l.name for f in args.layers)]
        if not layers:
            print(f"no layer matches {args.layers}; choose from {[l.name for l in LAYERS]}", file=sys.stderr)
            return 2
    directions = ["forward", "backward"] if args.direction == "both" else [args.direction]
    torch = None if args.no_torch else _torch()
    c = config()
    print(f"fastconv {c['version']}, isa {c['isa']}, kernels {c['float32_kernel']}; "
          f"PyTorch {torch.__version__ if torch else 'not installed (pip install torch==2.13.0)'}")
    results = run(layers, directions, args.threads, args.repeat, use_torch=torch is not None)
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": c, "results": [asdict(r) | {"speedup": r.speedup} for r in results]}, f, indent=1)
        print(f"wrote {args.json}")
    return 0
