import os

from mscl.io import digest
from mscl.io.digest import file_digest, fingerprint


def test_digest_depends_on_content_only(tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "sub" / "b.bin"
    b.parent.mkdir()
    a.write_bytes(b"x" * 1000)
    b.write_bytes(b"x" * 1000)
    os.utime(b, (1, 1))
    assert file_digest(a) == file_digest(b)
    b.write_bytes(b"x" * 999 + b"y")
    assert file_digest(a) != file_digest(b)
    b.write_bytes(b"x" * 1001)  # same prefix, one byte longer
    assert file_digest(a) != file_digest(b)


def test_large_files_are_hashed_by_windows_that_include_both_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(digest, "WHOLE_FILE", 64)
    monkeypatch.setattr(digest, "WINDOW", 16)
    monkeypatch.setattr(digest, "WINDOWS", 4)
    data = bytearray(range(256)) * 4  # 1024 bytes: windows at 0, 336, 672, 1008
    f = tmp_path / "big"
    f.write_bytes(bytes(data))
    base = file_digest(f)
    for offset, changes in [(0, True), (1023, True), (340, True), (100, False)]:
        changed = bytearray(data)
        changed[offset] ^= 0xFF
        f.write_bytes(bytes(changed))
        assert (file_digest(f) != base) == changes, offset


def test_fingerprint_is_stable_and_order_free_for_dicts():
    assert fingerprint({"a": 1, "b": [2, 3]}) == fingerprint({"b": [2, 3], "a": 1})
    assert fingerprint([1, 2]) != fingerprint([2, 1])


def test_the_digest_cache_reads_a_file_once_while_its_size_and_time_stay(tmp_path, monkeypatch):
    from mscl.io.digest import DigestCache

    reads = []
    monkeypatch.setattr(digest, "file_digest", lambda p: reads.append(p) or file_digest(p))
    f = tmp_path / "v.mp4"
    f.write_bytes(b"a" * 100)
    cache = DigestCache(tmp_path / "c.sqlite")
    first = cache(f)
    assert cache(f) == first and len(reads) == 1
    assert DigestCache(tmp_path / "c.sqlite")(f) == first and len(reads) == 1  # kept across runs
    f.write_bytes(b"b" * 100)
    os.utime(f, ns=(1, 1))  # new content and time: read again
    assert cache(f) != first and len(reads) == 2
    f.write_bytes(b"b" * 101)  # new size
    cache(f)
    assert len(reads) == 3


def test_an_unusable_cache_location_hashes_every_time(tmp_path):
    from mscl.io.digest import DigestCache

    (tmp_path / "file").write_text("x")
    cache = DigestCache(tmp_path / "file" / "c.sqlite")  # a file where a folder is needed
    (tmp_path / "v").write_bytes(b"v")
    assert cache(tmp_path / "v") == file_digest(tmp_path / "v")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from mscl.io.digest import cache_dir

    monkeypatch.setenv("MSCL_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MSCL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x" / "mscl"
