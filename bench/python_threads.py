"""Do calls from two Python threads overlap? (The GIL is released while fastconv computes.)

    python bench/python_threads.py

Times the same work done twice in a row on one thread, and at once on two Python threads, each
call on one OpenMP thread (fastconv.thread_limit). On two cores the second should take about
half as long; the ratio is printed.
"""

import statistics
import threading
import time

import numpy as np

import fastconv

rng = np.random.default_rng(0)
x = rng.standard_normal((8, 64, 28, 28)).astype(np.float32)
w = rng.standard_normal((64, 64, 3, 3)).astype(np.float32)


def work(calls: int = 10) -> None:
    with fastconv.thread_limit(1):
        for _ in range(calls):
            fastconv.conv2d(x, w, padding=1, algorithm="direct")


def main() -> None:
    work(2)  # warm-up: plans, workspaces
    serial, overlapped = [], []
    for _ in range(7):
        t0 = time.perf_counter()
        work()
        work()
        serial.append(time.perf_counter() - t0)
        threads = [threading.Thread(target=work) for _ in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        overlapped.append(time.perf_counter() - t0)
    s, o = statistics.median(serial), statistics.median(overlapped)
    print(f"one after the other: {s:.3f} s; two Python threads at once: {o:.3f} s; speed-up {s / o:.2f}x (medians of 7)")


if __name__ == "__main__":
    main()
