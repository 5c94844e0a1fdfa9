"""The source texts' edge filters on a real photograph, with fastconv.

    python examples/edge_detection.py [--out edges_output]

The photograph (Grace Hopper) ships inside matplotlib as sample data. The horizontal-edge filter
[[-1,-1,-1],[0,0,0],[1,1,1]] fires where dark sits above bright; its transpose fires on vertical
edges. Saves the photograph and both feature maps as PNGs, and prints the texts' 765 example.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import fastconv

HORIZONTAL = np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32)
VERTICAL = HORIZONTAL.T.copy()


def photograph() -> np.ndarray:
    """Grace Hopper's portrait from matplotlib's sample data, as grey levels 0..255 (H, W)."""
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = mpimg.imread(f, format="jpg").astype(np.float32)
    return rgb[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)


def the_765_example() -> float:
    """A patch that is dark (0) above and bright (255) below, under the horizontal filter."""
    patch = np.array([[0, 0, 0], [0, 0, 0], [255, 255, 255]], np.float32)
    return float(fastconv.conv2d(patch[None], HORIZONTAL[None, None])[0, 0, 0])


def edges(grey: np.ndarray) -> np.ndarray:
    """(2, H, W): horizontal and vertical edge maps, same size as the image."""
    filters = np.stack([HORIZONTAL, VERTICAL])[:, None]  # (2 filters, 1 channel, 3, 3)
    return fastconv.conv2d(grey[None], filters, padding="same")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="edges_output")
    args = parser.parse_args(argv)
    print(f"dark above, bright below: the horizontal filter gives {the_765_example():.0f}")
    print(f"a uniform region (128): {fastconv.conv2d(np.full((1, 3, 3), 128, np.float32), HORIZONTAL[None, None])[0, 0, 0]:.0f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grey = photograph()
    maps = edges(grey)
    print(f"photograph {grey.shape[1]}x{grey.shape[0]}; edge maps {maps.shape}")
    os.makedirs(args.out, exist_ok=True)
    for name, image, cmap in (("photo", grey, "gray"), ("horizontal_edges", np.abs(maps[0]), "magma"),
                              ("vertical_edges", np.abs(maps[1]), "magma")):
        path = os.path.join(args.out, f"edges_{name}.png")
        plt.imsave(path, image, cmap=cmap, vmax=np.percentile(image, 99.5))  # a few strong edges would dim the rest
        print("saved", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
