"""One writer per output: an exclusive ``flock`` on a lock file beside what is written.

``with exclusive(out, "--out"):`` holds ``<out>.lock`` for the block. A second
process asking for the same output is refused at once with an
:class:`OutputLockedError` (an :class:`~ppi.errors.InputError`: one line, exit
code 2) that names the process holding it, or, with ``wait=True``, waits for
it. The lock file holds the holder's pid, host and command line; it is
removed when the lock is let go. A process killed with ``kill -9`` leaves the
file but not the lock (the kernel drops a dead process's locks), so the next
run takes it over. Folders created to hold the lock file are removed again if
nothing else was written into them, so a refused or failed run leaves nothing.

Removing a lock file is safe against a process that opened it just before:
after locking, a process checks that the path still names the file it
locked, and if not (the holder removed it in between) locks the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ppi.errors import InputError

SUFFIX = ".lock"


class OutputLockedError(InputError):
    """The output is being written by another process."""


def lock_path(target: str | Path) -> Path:
    """The lock file of ``target``: ``<target>.lock`` beside it."""
    target = Path(target)
    return target.with_name(target.name + SUFFIX)


@contextlib.contextmanager
def exclusive(target: str | Path, option: str = "", wait: bool = False) -> Iterator[Path]:
    """Hold the lock of ``target`` for the block (see the module docstring).

    Args:
        target: the file or folder about to be written.
        option: the option that named it (``--out``), for the error message.
        wait: wait for the holder instead of refusing.
    """
    path = lock_path(target)
    created: list[Path] = []
    try:
        handle = _acquire(path, Path(target), option, wait, created)
    except BaseException:
        _remove_empty(created)
        raise
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)  # while still locked: see the module docstring
        handle.close()
        _remove_empty(created)


@contextlib.contextmanager
def exclusive_across(target: str | Path, option: str, state) -> Iterator[None]:
    """:func:`exclusive` for a run of one or several processes (an Accelerate ``state``).

    The main process holds the lock; when it is refused, every process raises
    the same error, so none waits for a peer that has stopped.
    """
    if state.num_processes == 1:
        with exclusive(target, option):
            yield
        return
    from ppi.utils.distributed import main_decides

    with contextlib.ExitStack() as held:
        main_decides(
            state, lambda: held.enter_context(exclusive(target, option)), OutputLockedError
        )
        yield


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, deepest first."""
    missing = [f for f in (folder, *folder.parents) if not f.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a lock created if nothing else was written into them."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (the output is there) or already gone
            return


def _acquire(path: Path, target: Path, option: str, wait: bool, created: list) -> IO[str]:
    """The locked, open lock file; folders made for it are added to ``created``."""
    while True:
        created += _make_folders(path.parent)  # again: a holder letting go may remove them
        try:
            handle = open(path, "a+")
        except FileNotFoundError:  # removed between the two lines
            continue
        except IsADirectoryError:
            raise InputError(
                f"{option + ' ' if option else ''}{target}: expected its lock {path} to be a file "
                "or absent, got a folder (remove it)"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            handle.close()
            raise OutputLockedError(_refusal(target, option, holder)) from None
        if _names(path, handle):
            break
        handle.close()  # the holder removed the file just before letting go: lock the new one
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\t{socket.gethostname()}\t{' '.join(sys.argv)}\n")
    handle.flush()
    return handle


def _names(path: Path, handle: IO[str]) -> bool:
    """Whether ``path`` still names the open file ``handle``."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(handle.fileno())
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _holder(handle: IO[str], tries: int = 20) -> str:
    """Who holds the lock, from what it wrote into the file (it may not have yet)."""
    for _ in range(tries):
        handle.seek(0)
        fields = handle.read().strip().split("\t")
        if len(fields) == 3:
            pid, host, command = fields
            return f"pid {pid} on {host}: {command[:120]}"
        time.sleep(0.02)
    return "pid unknown"


def _refusal(target: Path, option: str, holder: str) -> str:
    named = f"{option} {target}" if option else str(target)
    return (
        f"{named}: another process is writing it ({holder}); expected one writer at a time: "
        "wait for it to finish, or choose another output"
    )
