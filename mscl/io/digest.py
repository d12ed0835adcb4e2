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


def cache_dir() -> Path:
    """Where per-user caches of the project live: ``$MSCL_CACHE_DIR``, else ``$XDG_CACHE_HOME/mscl``,
    else ``~/.cache/mscl`` (outside the repository: nothing in it is an input or output of a stage)."""
    if os.environ.get("MSCL_CACHE_DIR"):
        return Path(os.environ["MSCL_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mscl"


class DigestCache:
    """:func:`file_digest` of files kept by (absolute path, size, modification time), so that a
    rerun over unchanged videos reads none of them again; a file whose size or time changed is
    read and hashed anew, and the content hash is still what decides whether an output is reused.
    (Like DVC's own state, it trusts that a file rewritten with another content also changes its
    size or time.) One SQLite file, safe for the stage's hashing threads and for several stages
    or clones at once; a cache that cannot be opened degrades to hashing every time."""

    def __init__(self, path: str | Path | None = None):
        import sqlite3
        import threading

        self._lock = threading.Lock()
        self._db = None
        path = Path(path) if path else cache_dir() / "digests.sqlite"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS digest (path TEXT PRIMARY KEY, size INTEGER, "
                             "mtime_ns INTEGER, digest TEXT)")
        except (OSError, sqlite3.Error):
            self._db = None

    def __call__(self, path: str | Path) -> str:
        """The content digest of ``path`` (raises OSError as :func:`file_digest` does)."""
        st, key = os.stat(path), str(Path(path).resolve())
        if self._db is not None:
            with self._lock:
                row = self._db.execute("SELECT size, mtime_ns, digest FROM digest WHERE path = ?", (key,)).fetchone()
            if row and row[:2] == (st.st_size, st.st_mtime_ns):
                return row[2]
        value = file_digest(path)
        if self._db is not None:
            with self._lock, self._db:
                self._db.execute("INSERT OR REPLACE INTO digest VALUES (?, ?, ?, ?)", (key, st.st_size, st.st_mtime_ns, value))
        return value

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
