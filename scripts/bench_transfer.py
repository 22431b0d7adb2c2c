"""Pair models on proteins they have never seen: the benchmarks of RESULTS.md.

python scripts/bench_transfer.py --shared ../shared/data --out bench/transfer \
    [--bench dscript-c3 dscript-homology marcotte-c3 yeast-human] [--seeds 0 1 2] \
    [--split-seeds 0 1 2] [--set KEY=VALUE ...]

Each benchmark is a training set and a test set of proteins outside it:

- ``dscript-c3``: D-SCRIPT yeast (55,000 pairs, 1 positive in 11), ``ppi split
  --method c3``: test pairs have both proteins outside training.
- ``dscript-homology``: the same, ``--method homology --threshold 0.4`` with
  alignment identity (phmmer): no test protein has a training protein at 40%.
- ``marcotte-c3``: Park & Marcotte's yeast training file and its C3 test file
  (balanced).
- ``yeast-human``: all D-SCRIPT yeast pairs for training, the human set that
  ``scripts/build_species_set.py`` builds from SHS27k (seed 0) for testing.

For each it prints a row: the default model's test AUPR (``ppi train``, one
run per ``--seeds`` value; ``--set`` overrides are passed on; ``--seeds`` with
no value skips the model), the strongest baseline, the tuned composition
baseline and its cross-validated choice, the composition regression with the
setting that scores best on the test pairs (``composition-best-on-test``: the
tuned pick can flip between settings that tie on the training folds yet
differ by 0.07 on the test pairs, so this is the bar a lift must also clear),
the plain 20-fraction logistic regression, node degree, and chance. Rows are
kept in ``--out/results.json`` as they finish, so a rerun skips what is done.
``--average-seeds`` also scores the test pairs with each seed's model (``ppi
score``, kept as ``test_scores.tsv`` in its run) and reports the AUPR of their
probabilities averaged pair by pair: an ensemble of the seeds, one draw of it.

The two D-SCRIPT splits hold out 10% of the proteins for testing, which keeps
about 1% of the pairs (50 or so positives), so one split measures a model
coarsely. ``--split-seeds`` makes a split per seed (each holds out other
proteins; seed 0 is the one above, in ``--out/<bench>``, the others in
``--out/<bench>-split<k>``), trains ``--seeds`` on each, and prints a line
over all of them: the model's mean against the mean of each split's strongest
baseline. The Marcotte and human benchmarks have fixed test files and ignore
it.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from ppi.data.fasta import read_fasta, write_fasta
from ppi.data.leakage import SplitRequest, split_pairs
from ppi.data.pairs import each_pair_once, read_pairs, write_pairs
from ppi.data.species_set import read_id_sequences, read_interactions, species_pairs
from ppi.evaluation.baselines import composition_on_test, fit_baselines, strongest
from ppi.evaluation.metrics import binary_metrics
from ppi.utils.files import atomic_write_text
from ppi.utils.locks import exclusive

BENCHES = ("dscript-c3", "dscript-homology", "marcotte-c3", "yeast-human")
#: the composition regression with the setting that scores highest on the test pairs
BEST_ON_TEST = "composition-best-on-test"


def _dscript(shared: Path):
    return read_fasta(shared / "dscript_yeast/yeast.fasta"), read_pairs(
        shared / "dscript_yeast/yeast_pairs.tsv"
    )


def _split(shared: Path, method: str, threshold: float = 0.5, seed: int = 0):
    proteins, pairs = _dscript(shared)
    req = SplitRequest(method=method, seed=seed, threshold=threshold, measure="phmmer")
    split, _, _ = split_pairs(pairs, proteins, req)
    parts = split.parts
    return proteins, parts["train"], parts["valid"], parts["test"]


def _marcotte(shared: Path):
    root = shared / "marcotte2012_yeast"
    proteins = read_id_sequences(root / "uniprot_yeast.seq")
    train = read_pairs(root / "yeast_balanced_train_11.txt", known_ids=proteins)
    test = read_pairs(root / "yeast_balanced_test_C3_11.txt", known_ids=proteins)
    return proteins, train, None, test


def _human(shared: Path):
    proteins, train = _dscript(shared)
    train = each_pair_once(train)  # as ppi train keeps them, so the baselines fit the same pairs
    root = shared / "shs27k"
    human = read_id_sequences(root / "gnn_ppi_protein.SHS27k.sequences.dictionary.tsv")
    actions = read_interactions(root / "gnn_ppi_protein.actions.SHS27k.STRING.txt")
    test, used = species_pairs(actions, human, seed=0)
    return {**proteins, **used}, train, None, test


SPLIT_BENCHES = ("dscript-c3", "dscript-homology")


def load_bench(name: str, shared: Path, split_seed: int = 0):
    """``(proteins, train, valid or None, test)`` of one benchmark (``split_seed``: D-SCRIPT)."""
    if name == "dscript-c3":
        return _split(shared, "c3", seed=split_seed)
    if name == "dscript-homology":
        return _split(shared, "homology", 0.4, seed=split_seed)
    return _marcotte(shared) if name == "marcotte-c3" else _human(shared)


def write_bench(directory: Path, proteins, train, valid, test) -> list[str]:
    """The benchmark's files, and the ``ppi train`` overrides that read them."""
    directory.mkdir(parents=True, exist_ok=True)
    used = {x for part in (train, valid or [], test) for p in part for x in (p.a, p.b)}
    write_fasta({k: proteins[k] for k in sorted(used)}, directory / "sequences.fasta")
    args = [f"data.fasta={directory / 'sequences.fasta'}"]
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        if part is not None:
            write_pairs(part, directory / f"{name}.tsv")
            args.append(f"data.{name}={directory / f'{name}.tsv'}")
    # the D-SCRIPT yeast file itself lists one pair with both labels
    return args + ["data.test_fraction=0", "data.allow_conflicts=true"]


def baseline_rows(proteins, train, test) -> dict:
    """Each baseline's test AUPR and AUROC, the tuned choice, chance and the strongest."""
    y = np.array([int(p.label) for p in test])
    table = {}
    for name, (probs, choice) in fit_baselines(train, test, proteins).items():
        m = binary_metrics(y, probs)
        table[name] = {
            "aupr": m["aupr"],
            "auroc": m["auroc"],
            **({"choice": choice} if choice else {}),
        }
    for row in table.values():
        row.get("choice", {}).pop("cv_aupr", None)
    grid = composition_on_test(train, test, proteins)
    best = max(grid, key=grid.get)
    table[BEST_ON_TEST] = {
        "aupr": grid[best],
        "choice": {"setting": best, "median_aupr": float(np.median(list(grid.values())))},
    }
    return {"baselines": table, "strongest": strongest(table), "chance": float(y.mean())}


def model_run(
    directory: Path, data_args: list[str], seed: int, overrides: list[str], tag: str
) -> dict:
    """One ``ppi train`` on the benchmark; its test metrics and training time."""
    run = directory / f"{tag}-seed{seed}"
    if not (run / "metrics.json").is_file():
        command = [sys.executable, "-m", "ppi", "train", *data_args, f"seed={seed}"]
        command += [f"output_dir={directory}", f"run_name={run.name}", "train.log_with=[]"]
        # one model per seed: --average-seeds makes of seeds s, s+1, s+2 the ensemble that
        # the default (train.members=0: three members, seeds s to s+2) trains
        command += ["evaluation.baselines=false", "train.members=1", *overrides]
        subprocess.run(command, check=True)
    test = json.loads((run / "metrics.json").read_text())["test"]
    last = max(run.glob("checkpoints/epoch_*/trainer_state.json"), key=lambda p: p.stat().st_mtime)
    history = json.loads(last.read_text())["history"]
    seconds = sum(e.get("train_seconds", 0.0) for e in history)
    return {"aupr": test["aupr"], "auroc": test["auroc"], "train_seconds": seconds}


def read_scores(path: Path) -> dict[tuple[str, str], float]:
    """``ppi score``'s TSV as ``{(id_a, id_b): probability}``."""
    with open(path) as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]  # after the header
    return {(a, b): float(p) for a, b, p in rows}


def averaged_aupr(test, scores: list[dict[tuple[str, str], float]]) -> float:
    """Test AUPR of the seeds' probabilities averaged pair by pair.

    ``test`` are the labelled pairs, ``scores`` one :func:`read_scores` per
    seed; a pair missing from any seed's scores is an error.
    """
    labels = {(p.a, p.b): int(p.label) for p in test}  # a repeated pair counts once
    missing = [k for k in labels for seed in scores if k not in seed]
    if missing:
        raise ValueError(f"{len(missing)} test pairs have no score (first: {missing[0]})")
    mean = np.mean([[seed[k] for k in labels] for seed in scores], axis=0)  # (P,)
    return binary_metrics(np.array(list(labels.values())), mean)["aupr"]


def seed_average(directory: Path, test, seeds: list[int], tag: str) -> dict:
    """Each seed's model scores the test pairs (``ppi score``); their average's AUPR."""
    scores = []
    for seed in seeds:
        run = directory / f"{tag}-seed{seed}"
        out = run / "test_scores.tsv"
        if not out.is_file():
            command = [sys.executable, "-m", "ppi", "score", "--model", str(run)]
            command += ["--fasta", str(directory / "sequences.fasta")]
            command += ["--pairs", str(directory / "test.tsv"), "--out", str(out)]
            subprocess.run(command, check=True)
        scores.append(read_scores(out))
    return {"seeds": [str(s) for s in seeds], "aupr": averaged_aupr(test, scores)}


def save_results(path: Path, name: str, row: dict, tag: str) -> dict:
    """Merge one benchmark's row into ``path`` under a lock; returns every row as saved.

    Several runs of this script may share one ``--out`` (one per core): each
    re-reads the file inside the lock and adds only its own benchmark row and
    its own tag's runs, so no run overwrites what another wrote meanwhile.
    """
    with exclusive(path, "--out", wait=True):
        results = json.loads(path.read_text()) if path.is_file() else {}
        saved = results.setdefault(name, {})
        saved.update({k: v for k, v in row.items() if k != "models"})
        mine = row["models"][tag]
        runs = saved.setdefault("models", {}).setdefault(tag, {"set": mine["set"], "seeds": {}})
        runs["seeds"].update(mine["seeds"])  # another process's seeds of this tag stay
        # each group of seeds averaged keeps its own entry: another process's group stays
        averages(runs).update(averages(mine))
        saved["pairs"] = row["pairs"]
        atomic_write_text(path, json.dumps(results, indent=2))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("bench/transfer"))
    parser.add_argument("--bench", nargs="*", default=list(BENCHES), choices=BENCHES)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--split-seeds", nargs="+", type=int, default=[0], help="D-SCRIPT splits, one per seed"
    )
    parser.add_argument("--set", nargs="*", default=[], help="ppi train overrides, key=value")
    parser.add_argument(
        "--tag", default="default", help="name of this model variant (its runs and its rows)"
    )
    parser.add_argument(
        "--average-seeds",
        action="store_true",
        help="also score the test pairs with each --seeds model and report their averaged"
        " probabilities' AUPR (an ensemble of the seeds)",
    )
    args = parser.parse_args()
    path = args.out / "results.json"
    args.out.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text()) if path.is_file() else {}
    for bench in args.bench:
        splits = args.split_seeds if bench in SPLIT_BENCHES else [0]
        for split_seed in splits:
            name = bench if split_seed == 0 else f"{bench}-split{split_seed}"
            proteins, train, valid, test = load_bench(bench, args.shared, split_seed)
            row = results.get(name) or {}
            if BEST_ON_TEST not in row.get("baselines", {}):  # new, or saved before it was kept
                row.update(baseline_rows(proteins, train, test))
            row["pairs"] = {"train": len(train), "test": len(test)}
            data_args = write_bench(args.out / name, proteins, train, valid, test)
            runs = row.setdefault("models", {}).setdefault(args.tag, {"set": args.set, "seeds": {}})
            # written before the model runs: a failed run keeps the baselines
            results = save_results(path, name, row, args.tag)
            for seed in args.seeds:
                runs["seeds"][str(seed)] = model_run(
                    args.out / name, data_args, seed, args.set, args.tag
                )
                results = save_results(path, name, row, args.tag)
            if args.average_seeds and len(args.seeds) > 1:
                average = seed_average(args.out / name, test, args.seeds, args.tag)
                averages(runs)["+".join(average["seeds"])] = average
                results = save_results(path, name, row, args.tag)
            row = results[name]
            for tag in row["models"]:
                print(format_row(name, row, tag), flush=True)
        if len(splits) > 1:
            names = [bench if k == 0 else f"{bench}-split{k}" for k in splits]
            print(pooled_line(bench, [results[n] for n in names], args.tag), flush=True)
    return 0


def pooled_line(bench: str, rows: list[dict], tag: str) -> str:
    """Variant ``tag`` over several splits: its mean AUPR against the strongest baselines' mean."""
    runs = [row["models"].get(tag, {}).get("seeds", {}) for row in rows]
    model = [r["aupr"] for seeds in runs for r in seeds.values()]
    base = [row["baselines"][row["strongest"]]["aupr"] for row in rows]
    positives = sum(round(row["chance"] * row["pairs"]["test"]) for row in rows)
    if not model:
        return f"{bench} over {len(rows)} splits: {tag} not run"
    line = (
        f"{bench} over {len(rows)} splits ({positives} test positives in all), {tag}: "
        f"{np.mean(model):.3f} ± {np.std(model):.3f} ({len(model)} runs) against the strongest "
        f"baselines' {np.mean(base):.3f} ({', '.join(f'{b:.3f}' for b in base)}): "
        f"{np.mean(model) / np.mean(base):.2f}x"
    )
    groups = [averages(row["models"].get(tag, {})) for row in rows]
    for key in [k for k in groups[0] if all(k in g for g in groups[1:])]:
        mean = np.mean([g[key]["aupr"] for g in groups])
        line += f"; seeds {key} averaged in each split: {mean:.3f}, {mean / np.mean(base):.2f}x"
    return line


def averages(runs: dict) -> dict[str, dict]:
    """A tag's averaged seed groups, by their seeds (``"0+1+2"``), kept in ``runs``.

    Results files written before groups were kept apart hold one
    ``seed_average``; it is read as its group.
    """
    groups = runs.setdefault("seed_averages", {})
    old = runs.pop("seed_average", None)
    if old:
        groups.setdefault("+".join(old["seeds"]), old)
    return groups


def format_row(name: str, row: dict, tag: str) -> str:
    """One markdown table row: variant ``tag`` of the model against the baselines."""
    b = row["baselines"]
    runs = [r["aupr"] for r in row["models"][tag]["seeds"].values()]
    spread = f" ± {np.std(runs):.3f}" if len(runs) > 1 else ""
    model = f"{np.mean(runs):.3f}{spread} ({len(runs)} seeds)" if runs else "not run"
    best = row["strongest"]
    choice = b["composition"].get("choice", {})
    tuned = f"{b['composition']['aupr']:.3f} ({choice.get('features')}, C={choice.get('C')})"
    if BEST_ON_TEST in b:
        on_test = b[BEST_ON_TEST]
        tuned += f"; best on test {on_test['aupr']:.3f} ({on_test['choice']['setting']})"
    for key, average in averages(row["models"][tag]).items():
        model += f"; seeds {key} averaged {average['aupr']:.3f}"
    cells = [name, tag, model, f"{best} {b[best]['aupr']:.3f}", tuned]
    cells += [f"{b['aa20']['aupr']:.3f}", f"{b['degree']['aupr']:.3f}", f"{row['chance']:.3f}"]
    return "| " + " | ".join(cells) + " |"


if __name__ == "__main__":
    sys.exit(main())
