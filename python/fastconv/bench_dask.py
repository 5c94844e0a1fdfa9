"""``python -m fastconv bench --dask``: one against two local Dask worker processes on a
batch-chunked layer, as a data-parallel forward pass spreads over a cluster.

Each worker runs one task at a time with one fastconv thread, so two workers on two cores
should take half the time; the ratio is what to quote.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from typing import Dict, List

import numpy as np

# ResNet's 64-channel 3x3 layer on a batch chunked 8 images at a time: 32 tasks, so that a task
# more or less on one worker moves the balance by 3%.
SHAPE = (256, 64, 56, 56)
CHUNK = 32  # 25.7 MB chunks: Dask advises tens of megabytes or more, so scheduling stays small


def _time_workers(workers: int, repeat: int) -> List[float]:
    import dask.array as da
    import distributed

    from .dask import conv2d

    w = np.random.default_rng(0).standard_normal((64, 64, 3, 3)).astype(np.float32)
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", worker_dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        # made on the workers, so the timing holds no transfer from this process
        x = da.random.RandomState(0).standard_normal(SHAPE, chunks=(CHUNK, *SHAPE[1:])).astype(np.float32)
        x = client.persist(x)
        distributed.wait(x)
        times = []
        for i in range(repeat + 1):
            t0 = time.perf_counter()
            y = client.persist(conv2d(x, w, padding=1, algorithm="direct"))
            distributed.wait(y)
            if i:  # the first pass warms the workers' plans and imports
                times.append(time.perf_counter() - t0)
            del y
    return times


def main(repeat: int) -> int:
    if importlib.util.find_spec("distributed") is None:
        print("bench --dask needs Dask: pip install 'fastconv[dask]'")
        return 1
    print(f"fastconv.dask.conv2d, input {SHAPE} float32 in batch chunks of {CHUNK}, 64 filters 3x3, padding 1")
    print("workers  median s  images/s  speed-up")
    medians: Dict[int, float] = {}
    for workers in (1, 2):
        medians[workers] = statistics.median(_time_workers(workers, repeat))
        speedup = medians[1] / medians[workers]
        print(f"{workers:>7}  {medians[workers]:>8.3f}  {SHAPE[0] / medians[workers]:>8.1f}  {speedup:>7.2f}x")
    return 0
