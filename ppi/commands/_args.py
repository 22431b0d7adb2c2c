"""Option types and checks shared by the subcommands.

Counts, sizes and probabilities are range-checked by argparse while the
command line is parsed (``type=count(1)``), so a bad value stops the command
before any file is read or written, with exit code 2 and a message naming the
option, the range and the value. Output paths and ``--device`` are checked at
the start of a command's ``main``, before any work.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from ppi.errors import InputError
from ppi.utils.files import output_dir, output_file  # noqa: F401  (the commands' --out checks)


def count(minimum: int = 1) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {minimum}, got {text}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value

    parse.__name__ = f"count>={minimum}"
    return parse


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "a number",
) -> Callable[[str], float]:
    """An argparse type: a finite number in a range (``None`` = unbounded on that side).

    ``what`` names the kind of number in the error (``a probability``).
    """
    span = _describe(low, high, low_open, high_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not _inside(value, low, high, low_open, high_open):
            raise argparse.ArgumentTypeError(f"expected {what} in {span}, got {text}")
        return value

    parse.__name__ = f"number in {span}"
    return parse


def probability(
    *, low_open: bool = False, high_open: bool = False, what: str = "a probability"
) -> Callable[[str], float]:
    """An argparse type: a probability in [0, 1], either end open if asked."""
    return number(0.0, 1.0, low_open=low_open, high_open=high_open, what=what)


def _inside(value: float, low, high, low_open: bool, high_open: bool) -> bool:
    if not math.isfinite(value):
        return False
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return high is None or not (value > high or (high_open and value == high))


def _describe(low, high, low_open: bool, high_open: bool) -> str:
    left = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
    right = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
    return f"{left}, {right}"


def device(name: str) -> str:
    """``--device`` checked against what this machine has (``cpu``, ``cuda``, ``cuda:1``...)."""
    import torch

    try:
        kind = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device: expected cpu, cuda or cuda:N, got {name!r}") from None
    if kind.type == "cpu":
        return name
    backend = getattr(torch, kind.type, None)
    available = getattr(backend, "is_available", None)
    if available is None or not available():
        what = "GPU" if kind.type == "cuda" else f"{kind.type} device"
        raise InputError(f"--device {name}: no {what} is visible to torch; use --device cpu")
    visible = getattr(backend, "device_count", lambda: 1)()
    if kind.index is not None and kind.index >= visible:
        raise InputError(f"--device {name}: expected an index below {visible}, the devices visible")
    return name


def default_device() -> str:
    """``cuda`` where a GPU is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
