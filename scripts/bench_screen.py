"""``ppi screen`` at scale: two processes against one, the prefilter's recall and speed-up, memory.

    python scripts/bench_screen.py --model runs/<run> --proteins 0 --out bench_screen.json

The model needs a retrieval vector (``ppi distill``) for the prefilter rows.
``--exhaustive DIR --exhaustive-wall S`` compares the prefilter against an
exhaustive screen of the same model and proteins run before (the full yeast
screen takes most of an hour on one core).
"""

import argparse

from ppi.bench.screen import benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained pair model or run directory")
    parser.add_argument("--fasta", default="example:dscript_yeast/sequences.fasta.gz")
    parser.add_argument("--proteins", type=int, default=0, help="the first N proteins (0: all)")
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.05, 0.01])
    parser.add_argument("--exhaustive", help="an exhaustive screen folder of these proteins")
    parser.add_argument("--exhaustive-wall", type=float, help="its command's wall time (s)")
    parser.add_argument("--two-processes", type=int, default=1500, help="proteins (0: skip)")
    parser.add_argument("--memory", type=int, nargs="*", default=[5664, 20000], help="sizes")
    parser.add_argument("--block", type=int, default=512, help="proteins per block (memory)")
    parser.add_argument("--cores", default="1", help="taskset cores of the one-process runs")
    parser.add_argument("--two-process-cores", default="0,1", help="taskset cores, 1 vs 2")
    parser.add_argument("--work", default="bench_screen_work", help="folder for the screens")
    parser.add_argument("--out", default="bench_screen.json")
    benchmark(parser.parse_args())


if __name__ == "__main__":
    main()
