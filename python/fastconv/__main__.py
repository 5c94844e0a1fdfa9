"""Command line: ``python -m fastconv bench`` times the standard layers against PyTorch;
``python -m fastconv info`` prints the configuration."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastconv", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print the version, instruction set and threads")
    bench = sub.add_parser("bench", help="time the standard layers, against PyTorch when installed")
    bench.add_argument("--quick", action="store_true", help="a short subset of the layers")
    bench.add_argument("--layers", nargs="+", metavar="NAME", help="only layers whose name contains NAME")
    bench.add_argument("--direction", choices=["forward", "backward_data", "backward_weights", "all"], default="all")
    bench.add_argument("--threads", type=int, nargs="+", default=None,
                       help="thread counts (default: 1 and all cores)")
    bench.add_argument("--repeat", type=int, default=5, help="timed calls per block (3 blocks per library and case); the median is kept")
    bench.add_argument("--algorithm", default="auto", choices=["auto", "direct", "winograd", "winograd_f2", "winograd_f6", "measure"],
                       help="fastconv's algorithm (default: auto)")
    bench.add_argument("--no-torch", action="store_true", help="do not compare against PyTorch")
    bench.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    bench.add_argument("--plot", metavar="PNG", help="also plot the speedups (needs matplotlib)")
    bench.add_argument("--dask", action="store_true",
                       help="instead, compare 1 and 2 local Dask workers on a batch-chunked layer")
    args = parser.parse_args(argv)

    import fastconv

    if args.command == "info":
        fastconv.show_config()
        return 0
    if args.repeat < 1:
        parser.error("--repeat must be positive")
    if args.dask:
        from . import bench_dask

        return bench_dask.main(args.repeat)
    from . import bench as bench_module

    if args.threads is None:
        args.threads = sorted({1, fastconv.get_num_threads()})
    if any(t < 1 for t in args.threads):
        parser.error("--threads must be positive")
    return bench_module.main(args)


if __name__ == "__main__":
    sys.exit(main())
