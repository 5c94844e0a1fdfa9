"""Edge-detect an image too large to hold in memory comfortably, in spatial chunks, with Dask.

    python examples/dask_large_image.py [--size 20000] [--chunk 2048] [--out large_edges.png]

The image (by default 20,000 x 20,000 grey pixels: 1.6 GB as float32, and 3.2 GB for its two
edge maps) is generated chunk by chunk from a formula of the pixel coordinates, so no task ever
holds all of it. fastconv.dask.conv2d runs the texts' horizontal and vertical edge filters over
each chunk with a one-pixel halo from its neighbours; the edge strength is then averaged down to
about 1000 x 1000 for the PNG. Peak memory stays near a few chunks per core, and is printed.

To run the same code on a cluster, connect a client first: Client("tcp://scheduler:8786").
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

HORIZONTAL = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32)
FILTERS = np.stack([HORIZONTAL, HORIZONTAL.T])[:, None]  # (2 filters, 1 channel, 3, 3)


def _scene_block(block_info=None):
    """Grey levels 0 or 255 at each pixel of one chunk: wavy bands and rings, a function of the
    global coordinates only, so every chunk agrees with its neighbours."""
    (y0, y1), (x0, x1) = block_info[None]["array-location"][2:]
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    bands = np.sin(yy / 250.0) * np.cos(xx / 330.0) + 0.4 * np.sin((xx + yy) / 97.0)
    rings = np.sin(np.hypot(yy - 7000.0, xx - 9000.0) / 120.0)
    return (255.0 * ((bands > 0) ^ (rings > 0.8))).astype(np.float32)[None, None]


def scene(size: int, chunk: int):
    """The (1, 1, size, size) image as a lazy dask array."""
    import dask.array as da

    chunks = da.core.normalize_chunks((1, 1, chunk, chunk), (1, 1, size, size))
    return da.map_blocks(_scene_block, chunks=chunks, dtype=np.float32, meta=np.empty((0, 0, 0, 0), np.float32))


def edge_strength(image):
    """(H, W) edge strength sqrt(h^2 + v^2) of a (1, 1, H, W) dask image; lazy."""
    import dask.array as da

    import fastconv.dask

    maps = fastconv.dask.conv2d(image, FILTERS, padding="same")
    return da.sqrt((maps[0] ** 2).sum(axis=0))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20000, help="image side in pixels")
    parser.add_argument("--chunk", type=int, default=2048, help="chunk side in pixels")
    parser.add_argument("--out", default="large_edges.png", help="the downsampled edge map")
    args = parser.parse_args(argv)
    if args.size < 8 or args.chunk < 8:
        parser.error("--size and --chunk must be at least 8")

    import dask.array as da
    from dask.diagnostics import ProgressBar

    factor = max(1, args.size // 1000)
    strength = edge_strength(scene(args.size, args.chunk))
    small = da.coarsen(np.mean, strength, {0: factor, 1: factor}, trim_excess=True)
    full_gb = args.size**2 * 4 * 3 / 1e9  # the image and its two edge maps, were they held at once
    print(f"image {args.size} x {args.size} in {strength.numblocks[0] * strength.numblocks[1]} chunks of "
          f"{args.chunk} x {args.chunk}; image and edge maps would take {full_gb:.1f} GB in memory")
    t0 = time.perf_counter()
    with ProgressBar():
        picture = small.compute()
    elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"done in {elapsed:.1f} s, {args.size**2 / elapsed / 1e6:.0f} Mpixel/s; peak memory {peak_mb:.0f} MB")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(args.out, picture, cmap="gray")
    print(f"wrote {args.out} ({picture.shape[1]} x {picture.shape[0]}, each pixel the mean of {factor} x {factor})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
