"""The standard benchmark: fastconv against PyTorch's CPU convolution, side by side.

Both libraries run the same layer, with the same thread count, in the same process, in
alternating blocks of back-to-back calls so that machine noise hits both alike. Figures are medians; the ratio
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
    dilation: int = 1
    channels_last: bool = False  # input memory NHWC, viewed as NCHW (as images arrive)

    @property
    def out_hw(self):
        extent = self.dilation * (self.r - 1) + 1
        return tuple((size + 2 * self.padding - extent) // self.stride + 1 for size in (self.h, self.w))

    @property
    def flops(self) -> float:
        """Multiply-adds x 2 of one direction (forward; each gradient costs the same)."""
        p, q = self.out_hw
        return 2.0 * self.n * self.k * p * q * (self.c // self.groups) * self.r * self.r

    def describe(self) -> str:
        g = f" g{self.groups}" if self.groups > 1 else ""
        d = f" d{self.dilation}" if self.dilation > 1 else ""
        cl = " nhwc" if self.channels_last else ""
        return f"{self.n}x{self.c}x{self.h}x{self.w} k{self.k} {self.r}x{self.r} s{self.stride} p{self.padding}{d}{g}{cl}"


# Layers from LeNet, VGG-16, ResNet-18/50, MobileNet-v2, EfficientNet-B0 and ResNeXt-50 (32x4d):
# dense 3x3 and 1x1 at batch 1 and 16, the shapes PyTorch handles badly (depthwise 3x3 and 5x5, 3
# channels, stride 2), grouped 3x3 with 8 to 32 filters per group, a dilated 3x3, and tiny layers
# where per-call overhead decides.
LAYERS: List[Layer] = [
    Layer("lenet.conv1", 64, 1, 28, 28, 6, 5),
    Layer("lenet.conv2", 64, 6, 12, 12, 16, 5),
    Layer("vgg16.conv1_1", 8, 3, 224, 224, 64, 3, padding=1),
    Layer("vgg16.conv1_1.nhwc", 8, 3, 224, 224, 64, 3, padding=1, channels_last=True),
    Layer("vgg16.conv3_2", 1, 256, 56, 56, 256, 3, padding=1),
    Layer("resnet18.conv1", 1, 3, 224, 224, 64, 7, stride=2, padding=3),
    Layer("resnet18.conv1.b16", 16, 3, 224, 224, 64, 7, stride=2, padding=3),
    Layer("resnet18.layer1", 1, 64, 56, 56, 64, 3, padding=1),
    Layer("resnet18.layer1.b16", 16, 64, 56, 56, 64, 3, padding=1),
    Layer("resnet18.layer2.down", 16, 64, 56, 56, 128, 3, stride=2, padding=1),
    Layer("resnet18.layer3", 16, 256, 14, 14, 256, 3, padding=1),
    Layer("resnet18.layer4", 1, 512, 7, 7, 512, 3, padding=1),
    Layer("resnet18.layer4.down", 16, 256, 14, 14, 512, 3, stride=2, padding=1),
    Layer("resnet50.1x1.reduce", 16, 256, 56, 56, 64, 1),
    Layer("resnet50.1x1.expand", 16, 64, 56, 56, 256, 1),
    Layer("resnet50.1x1.b1", 1, 1024, 14, 14, 256, 1),
    Layer("dilated3x3.d2", 4, 128, 28, 28, 128, 3, padding=2, dilation=2),
    Layer("mobilenetv2.dw3x3", 16, 96, 56, 56, 96, 3, padding=1, groups=96),
    Layer("mobilenetv2.dw3x3.s2", 16, 144, 56, 56, 144, 3, stride=2, padding=1, groups=144),
    Layer("mobilenetv2.dw3x3.b1", 1, 384, 14, 14, 384, 3, padding=1, groups=384),
    Layer("mobilenetv2.dw3x3.nhwc", 16, 96, 56, 56, 96, 3, padding=1, groups=96, channels_last=True),
    Layer("mobilenetv2.dw3x3.b1.nhwc", 1, 384, 14, 14, 384, 3, padding=1, groups=384, channels_last=True),
    Layer("efficientnet_b0.dw5x5.b1", 1, 240, 28, 28, 240, 5, padding=2, groups=240),
    Layer("resnext50.layer2", 16, 256, 28, 28, 256, 3, padding=1, groups=32),
    Layer("resnext50.layer3.down", 16, 512, 28, 28, 512, 3, stride=2, padding=1, groups=32),
    Layer("resnext50.layer3", 16, 512, 14, 14, 512, 3, padding=1, groups=32),
    Layer("resnext50.layer4", 16, 1024, 7, 7, 1024, 3, padding=1, groups=32),
]
QUICK = ["lenet.conv2", "vgg16.conv1_1", "resnet18.layer3", "resnet50.1x1.expand", "mobilenetv2.dw3x3"]
DIRECTIONS = ["forward", "backward_data", "backward_weights"]


@dataclass
class Result:
    layer: str
    shape: str
    direction: str
    threads: int
    fastconv_ms: float
    torch_ms: Optional[float]
    gflops: float
    peak_percent: float
    kernel: str

    @property
    def speedup(self) -> Optional[float]:
        return None if self.torch_ms is None else self.torch_ms / self.fastconv_ms


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# Each library runs blocks of back-to-back calls, as in a training loop. Both libraries' OpenMP
# threads spin for a while after a call, so a pause between blocks keeps one library's spinning
# threads from holding the cores while the other is timed.
_BLOCKS = 3
_SETTLE_SECONDS = 0.02


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _cases(layer: Layer, direction: str, torch, algorithm: str = "auto") -> Dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    if layer.channels_last:
        x = rng.standard_normal((layer.n, layer.h, layer.w, layer.c), dtype=np.float32).transpose(0, 3, 1, 2)
    else:
        x = rng.standard_normal((layer.n, layer.c, layer.h, layer.w), dtype=np.float32)
    w = rng.standard_normal((layer.k, layer.c // layer.groups, layer.r, layer.r), dtype=np.float32)
    b = rng.standard_normal(layer.k, dtype=np.float32)
    y = np.empty((layer.n, layer.k, *layer.out_hw), np.float32)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    kw = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation, groups=layer.groups)
    ours = dict(kw, algorithm=algorithm)
    cases: Dict[str, Callable[[], object]] = {
        "forward": lambda: F.conv2d(x, w, b, out=y, **ours),
        "backward_data": lambda: F.conv2d_input(x.shape, w, dy, **ours),
        "backward_weights": lambda: F.conv2d_weight(x, w.shape, dy, **ours),
    }
    out = {"fastconv": cases[direction]}
    if torch is not None:
        tx, tw, tb, tdy, ty = (torch.from_numpy(a) for a in (x, w, b, dy, y))
        theirs = {  # what a PyTorch user calls for each
            "forward": lambda: ty.copy_(torch.nn.functional.conv2d(tx, tw, tb, **kw)),
            "backward_data": lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, **kw),
            "backward_weights": lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, **kw),
        }

        def run_torch():
            with torch.no_grad():
                return theirs[direction]()

        out["torch"] = run_torch
    return out


def _kernel(layer: Layer, direction: str, algorithm: str = "auto") -> str:
    """What runs the layer's call in `direction`: the plan that its functional call makes, whose
    channels-last input reaches the core as NHWC."""
    layout = "nhwc" if layer.channels_last else "nchw"
    plan = F._plan("bench", (layer.n, layer.c, layer.h, layer.w, layer.k), (layer.r, layer.r), (layer.stride,) * 2,
                   ((layer.padding,) * 2,) * 2, (layer.dilation,) * 2, layer.groups, np.float32, algorithm, layout)
    return plan.implementation_of(direction)


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
    algorithm: str = "auto",
) -> List[Result]:
    from . import _core

    torch = _torch() if use_torch else None
    results: List[Result] = []
    total = len(layers) * len(directions) * len(threads)
    step = 0
    _progress(0, total, "measuring the FMA peak")
    for nt in threads:
        peak = _core.measure_peak_gflops(nt)
        set_num_threads(nt)
        if torch is not None:
            torch.set_num_threads(nt)
        for layer in layers:
            for direction in directions:
                _progress(step, total, f"{layer.name} {direction} t{nt}")
                cases = _cases(layer, direction, torch, algorithm)
                times: Dict[str, List[float]] = {name: [] for name in cases}
                for _ in range(_BLOCKS):  # alternate blocks, so that machine noise hits both alike
                    for name, fn in cases.items():
                        time.sleep(_SETTLE_SECONDS)
                        fn()  # warm-up: plans, page faults, thread pools
                        times[name].extend(_time(fn) for _ in range(repeat))
                med = {name: float(np.median(t)) * 1e3 for name, t in times.items()}
                gflops = layer.flops / (med["fastconv"] * 1e-3) / 1e9
                results.append(
                    Result(layer.name, layer.describe(), direction, nt, med["fastconv"], med.get("torch"),
                           gflops, 100.0 * gflops / peak, _kernel(layer, direction, algorithm))
                )
                step += 1
    _progress(total, total, "done")
    return results


def _geomean(values: List[float]) -> float:
    return float(np.exp(np.mean(np.log(values))))


def table(results: List[Result]) -> str:
    """A Markdown table, one row per case, then the geometric mean speedup per direction."""
    head = ("| layer | shape | direction | threads | fastconv ms | GFLOP/s | % peak | torch ms | speedup | kernel |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---:|---|")
    lines = [head]
    for r in results:
        torch_ms = f"{r.torch_ms:.3f}" if r.torch_ms is not None else "-"
        speed = f"{r.speedup:.2f}x" if r.speedup is not None else "-"
        lines.append(f"| {r.layer} | {r.shape} | {r.direction} | {r.threads} | {r.fastconv_ms:.3f} | "
                     f"{r.gflops:.1f} | {r.peak_percent:.0f}% | {torch_ms} | {speed} | {r.kernel} |")
    lines.append("")
    for nt in sorted({r.threads for r in results}):
        for direction in DIRECTIONS:
            ratios = [r.speedup for r in results if r.threads == nt and r.direction == direction and r.speedup]
            if ratios:
                lines.append(f"- {direction}, {nt} thread(s): geometric mean speedup over PyTorch "
                             f"{_geomean(ratios):.2f}x (min {min(ratios):.2f}x, max {max(ratios):.2f}x, "
                             f"{len(ratios)} layers)")
    return "\n".join(lines)


def plot(results: List[Result], path: str) -> None:
    """Speedup over PyTorch per layer and direction, as a PNG (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r.speedup is not None]
    labels = sorted({r.layer for r in rows}, key=[r.layer for r in rows].index)
    series = sorted({(r.direction, r.threads) for r in rows})
    fig, ax = plt.subplots(figsize=(12, 0.35 * len(labels) * max(1, len(series)) / 2 + 2))
    height = 0.8 / max(1, len(series))
    for i, (direction, nt) in enumerate(series):
        vals = {r.layer: r.speedup for r in rows if r.direction == direction and r.threads == nt}
        ys = [j + i * height for j in range(len(labels))]
        ax.barh(ys, [vals.get(l, 0) for l in labels], height=height, label=f"{direction}, {nt} thr")
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(labels))])
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlabel("speedup over PyTorch (PyTorch time / fastconv time)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(args) -> int:
    layers = [l for l in LAYERS if args.quick is False or l.name in QUICK]
    if args.layers:
        layers = [l for l in layers if any(f in l.name for f in args.layers)]
        if not layers:
            print(f"no layer matches {args.layers}; choose from {[l.name for l in LAYERS]}", file=sys.stderr)
            return 2
    directions = DIRECTIONS if args.direction == "all" else [args.direction]
    torch = None if args.no_torch else _torch()
    c = config()
    print(f"fastconv {c['version']}, isa {c['isa']} ({c['cpu_features']}); "
          f"PyTorch {torch.__version__ if torch else 'not installed (pip install torch==2.13.0)'}; "
          f"float32, medians of {args.repeat}")
    results = run(layers, directions, args.threads, args.repeat, use_torch=torch is not None,
                  algorithm=args.algorithm)
    print(table(results))
    if args.json:  # before the plot, which needs matplotlib: the measurements are never lost
        with open(args.json, "w") as f:
            json.dump({"config": c, "results": [asdict(r) | {"speedup": r.speedup} for r in results]}, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}")
    return 0
