"""Logging set-up shared by the commands: one line per message on stderr, main process only."""

from __future__ import annotations

import logging
import os
import sys


class _Stderr(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is when a record comes, not as it was at set-up.

    The handler is made once a process; whoever replaces ``sys.stderr`` later
    (a capture, a redirect) still gets the lines, and a closed stream is never written.
    """

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(level: int = logging.INFO) -> None:
    """Send ``ppi`` log records to stderr; quiet on non-main processes."""
    logger = logging.getLogger("ppi")
    if logger.handlers:
        return
    handler = _Stderr()
    handler.setFormatter(logging.Formatter("ppi: %(message)s"))
    logger.addHandler(handler)
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)
    logger.setLevel(level if rank == 0 else logging.WARNING)
    logger.propagate = False
