"""Train a ppi model: ``accelerate launch scripts/train_ppi.py [--config FILE] [key=value ...]``.

A thin wrapper around ``ppi train`` so Accelerate can launch it as a script.
"""

import sys

from ppi.cli import run_script

if __name__ == "__main__":
    sys.exit(run_script("train", sys.argv[1:]))
