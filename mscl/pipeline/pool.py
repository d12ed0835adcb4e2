"""Run one function over many videos in worker processes, with a progress bar."""
from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Sequence

from tqdm import tqdm


def _single_threaded() -> None:
    # one video per process: nested thread pools (OpenCV, OpenMP) would only oversubscribe the cores
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


def parallel_map(fn: Callable, items: Sequence, *, workers: int, desc: str) -> Iterable:
    """Yield ``fn(item)`` for every item as results complete, over ``workers`` processes.

    ``fn`` must be a module-level function (it is pickled). With ``workers == 1`` it runs
    in this process, which keeps tracebacks simple.
    """
    bar = tqdm(total=len(items), desc=desc, unit="video", dynamic_ncols=True)
    try:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                yield fn(item)
                bar.update()
            return
        ctx = mp.get_context("spawn")  # fork after threads (OpenCV, torch) can deadlock
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_single_threaded) as ex:
            futures = [ex.submit(fn, item) for item in items]
            for fut in as_completed(futures):
                yield fut.result()
                bar.update()
    finally:
        bar.close()
