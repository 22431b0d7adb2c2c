"""Interface maps of a trained model on DB5.5 test complexes, against a random ranking.

python scripts/db55_interfaces.py RUN_DIR DB55_BUILD_DIR OUT_DIR [--split test] [--show CODE]
"""

import argparse
import json
from pathlib import Path

import torch

from ppi.data.db55 import evaluate_interfaces, read_interfaces
from ppi.data.fasta import read_fasta
from ppi.ensemble import is_ensemble
from ppi.evaluation.interface import pair_maps, plot_interface
from ppi.inference.score import model_dir
from ppi.model import PPIModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", help="run directory (or model folder)")
    parser.add_argument("build", help="output of scripts/build_db55.py")
    parser.add_argument("out", help="where metrics and the heatmap go")
    parser.add_argument("--split", default="test")
    parser.add_argument("--show", default="", help="complex to draw (default: most contacts)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    build, out = Path(args.build), Path(args.out)
    folder = model_dir(Path(args.run))
    if is_ensemble(folder):  # a pair model's default; its members attend differently
        parser.error(f"{folder}: an ensemble; an interface map needs one model: {folder}/member-0")
    model = PPIModel.from_pretrained(folder).eval()
    proteins = read_fasta(build / "sequences.fasta")
    split = dict(line.split("\t") for line in (build / "split.tsv").read_text().splitlines())
    truth = {
        k: v
        for k, v in read_interfaces(build / "interfaces.tsv").items()
        if split[k[0][:-2]] == args.split
    }
    result = evaluate_interfaces(model, proteins, truth)
    out.mkdir(parents=True, exist_ok=True)
    (out / "interfaces.json").write_text(json.dumps(result, indent=2))
    show = next(
        (k for k in truth if k[0] == f"{args.show}_l"), max(truth, key=lambda k: len(truth[k]))
    )
    ((a, b, scores),) = pair_maps(model, proteins, [show])
    plot_interface(scores, out / f"{a}__{b}.png", a, b, truth[show])
    print(json.dumps({k: v for k, v in result.items() if k != "per_complex"}, indent=2))
    print(f"heatmap: {out / f'{a}__{b}.png'}")


if __name__ == "__main__":
    main()
