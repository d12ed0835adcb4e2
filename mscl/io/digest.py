"""Content hashes: what lets a stage recognise an output it already made from the same inputs."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


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
