"""Run one function over many videos in worker processes, with a progress bar."""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tqdm import tqdm


def fingerprint(obj) -> str:
    """Short stable hash of a JSON-serialisable object (what produced an output file)."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


WHOLE_FILE = 64 << 20  # bytes: files up to this size are hashed whole
WINDOW, WINDOWS = 1 << 20, 64  # larger files: the size and 64 evenly spaced 1 MiB windows


def file_digest(path: str | Path) -> str:
    """Content hash of a file, independent of its name, place and modification time.

    Files up to 64 MiB are hashed whole; a larger one by its size and 64 evenly spaced 1 MiB
    windows (always including the first and the last), which reads at most 64 MiB however long
    the video and still changes whenever a re-encode or truncation touches the file.
    """
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        h.update(str(size).encode())
        if size <= WHOLE_FILE:
            for block in iter(lambda: fh.read(WINDOW), b""):
                h.update(block)
        else:
            for k in range(WINDOWS):
                fh.seek((size - WINDOW) * k // (WINDOWS - 1))
                h.update(fh.read(WINDOW))
    return h.hexdigest()


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
