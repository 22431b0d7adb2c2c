"""Atomic writes: whole files, the usual permissions, nothing left behind on failure."""

import os

import pytest

from ppi.utils.files import atomic_file, atomic_save_tensors, atomic_write, atomic_write_text


def test_write_atomic_replaces_and_cleans_up_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic_write(path, b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0o600

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("ppi.utils.files.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, b"newer")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_check_that_fails_keeps_the_old_file(tmp_path):
    path = tmp_path / "w.bin"
    atomic_write(path, b"good")

    def refuse(tmp):
        assert tmp.read_bytes() == b"bad"
        raise ValueError("not what was expected")

    with pytest.raises(ValueError, match="not what was expected"):
        atomic_write(path, lambda h: h.write(b"bad"), check=refuse)
    assert path.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["w.bin"]


def test_text_gzip_tensors_and_path_writers(tmp_path):
    import gzip

    import torch
    from safetensors.torch import load_file

    atomic_write_text(tmp_path / "a.txt.gz", "hello\n")
    assert gzip.decompress((tmp_path / "a.txt.gz").read_bytes()) == b"hello\n"
    atomic_save_tensors({"x": torch.arange(3)}, tmp_path / "t.safetensors")
    assert load_file(tmp_path / "t.safetensors")["x"].tolist() == [0, 1, 2]
    got = atomic_file(tmp_path / "db", lambda tmp: tmp.write_text("rows") and 7)
    assert got == 7 and (tmp_path / "db").read_text() == "rows"
    umask = os.umask(0)
    os.umask(umask)
    for name in ("a.txt.gz", "t.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask
