"""``train.members``: several seeds trained in one run and kept as one ensemble."""

import csv
import json

import numpy as np
import pytest

from ppi.cli import run
from ppi.evaluation.metrics import binary_metrics


def _probs(path):
    with open(path) as handle:
        return {(r[0], r[1]): float(r[2]) for r in list(csv.reader(handle, delimiter="\t"))[1:]}


def test_members_are_trained_kept_as_one_and_not_retrained_on_resume(
    guo_slice, train_args, tmp_path
):
    fasta, pairs = guo_slice
    args = train_args(fasta, pairs, tmp_path, "train.epochs=1", "train.members=2", "run_name=e")
    assert run(args) == 0
    run_dir = tmp_path / "e"
    manifest = json.loads((run_dir / "model" / "ensemble.json").read_text())
    assert manifest["members"] == ["member-0", "member-1"]
    members = [run_dir / "members" / f"seed{s}" for s in (0, 1)]
    assert all((m / "metrics.json").is_file() for m in members)
    member_metrics = json.loads((members[0] / "metrics.json").read_text())
    assert member_metrics["test_baselines"] == {}  # baselines: the ensemble's report only
    reported = json.loads((run_dir / "metrics.json").read_text())
    assert set(reported["test_baselines"]) == {"aa20", "composition", "degree"}

    # the run's test AUPR is that of the members' mean probability on its test split
    test = run_dir / "splits" / "test.tsv"
    with open(test) as handle:
        labels = {
            (r[0], r[1]): int(r[2]) for r in csv.reader(handle, delimiter="\t") if r[2] in "01"
        }
    scored = []
    for k, member in enumerate(members):
        out = tmp_path / f"m{k}.tsv"
        argv = ["score", "--model", str(member), "--fasta", str(fasta), "--pairs", str(test)]
        assert run([*argv, "--out", str(out)]) == 0
        scored.append(_probs(out))
    keys = [k for k in labels if k in scored[0]]
    mean = np.array([(scored[0][k] + scored[1][k]) / 2 for k in keys])
    want = binary_metrics(np.array([labels[k] for k in keys]), mean)["aupr"]
    got = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert got["aupr"] == pytest.approx(want, abs=1e-6)

    # resuming a finished run trains no member again and reports the same ensemble
    stamps = [(m / "metrics.json").stat().st_mtime_ns for m in members]
    assert run(["train", f"resume={run_dir}"]) == 0
    assert [(m / "metrics.json").stat().st_mtime_ns for m in members] == stamps
    again = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert again["aupr"] == got["aupr"]


def test_members_of_a_single_task_are_refused(tiny, capsys):
    argv = ["train", *tiny, "task=single", "train.members=2"]
    assert run(argv) == 2
    assert "train.members: ensembles average pair models" in capsys.readouterr().err


def test_each_pairs_evidence_is_computed_once_for_all_members(
    guo_slice, train_args, tmp_path, monkeypatch
):
    """Epochs, the evidence prior and the second member reuse the rows of the first pass."""
    from ppi.fusion.evidence import InterologEvidence
    from ppi.training import loop

    asked: list[list[tuple[str, str]]] = []
    features, train = InterologEvidence.features, loop._train

    def counting(self, seqs_a, seqs_b, grid=False):
        if not grid and asked:
            asked[-1] += list(zip(seqs_a, seqs_b, strict=True))
        return features(self, seqs_a, seqs_b, grid)

    def member(*args, **kwargs):
        asked.append([])
        done = train(*args, **kwargs)
        asked.append([])  # what follows the member (the ensemble's own report) goes here
        return done

    monkeypatch.setattr(InterologEvidence, "features", counting)
    monkeypatch.setattr(loop, "_train", member)
    fasta, pairs = guo_slice
    args = train_args(fasta, pairs, tmp_path, "train.epochs=2", "train.patience=5")
    assert run([*args, "train.members=2", "run_name=e"]) == 0
    first, _, second, _ = asked
    checkpoints = tmp_path / "e" / "members" / "seed0" / "checkpoints"
    assert (checkpoints / "epoch_2").is_dir()  # two epochs over the same training pairs
    assert len(first) > 0 and len(first) == len(set(first))  # each pair once
    assert second == []  # the second member computed nothing: same split, same numbers
