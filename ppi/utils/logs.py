"""Logging set-up shared by the commands: one line per message on stderr, main process only."""

from __future__ import annotations

import logging
import os


def setup_logging(level: int = logging.INFO) -> None:
    """Send ``ppi`` log records to stderr; quiet on non-main processes."""
    logger = logging.getLogger("ppi")
    if logger.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("ppi: %(message)s"))
    logger.addHandler(handler)
    rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")) or 0)
    logger.setLevel(level if rank == 0 else logging.WARNING)
    logger.propagate = False
