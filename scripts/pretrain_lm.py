"""Pretrain: ``accelerate launch scripts/pretrain_lm.py --out DIR DUMP [key=value ...]``.

A thin wrapper around ``ppi pretrain`` so Accelerate can launch it as a script.
"""

import sys

from ppi.cli import run_script

if __name__ == "__main__":
    sys.exit(run_script("pretrain", sys.argv[1:]))
