"""A model folder saved by release 0.1 (before the pair stage) loads and scores as it did.

``tests/fixtures/release_0_1/`` holds a tiny pair model (scratch backbone,
properties channel, interolog evidence) trained with release 0.1, a few
proteins, and what ``ppi score`` and ``ppi screen`` of that release wrote for
them. The numbers must come out the same to 1e-6. Both files are written to
six decimals, so two probabilities 1e-6 apart can print up to 2e-6 apart
(and two a billionth apart can print one unit apart): :data:`PRINTED` is the
bound on what the files show.
"""

import csv
from pathlib import Path

from ppi.cli import run

FIXTURE = Path(__file__).parent / "fixtures" / "release_0_1"
#: 1e-6 in the probability, plus rounding to six decimals in each of the two files
PRINTED = 2e-6


def _probs(path, header: bool):
    with open(path) as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1 if header else 0 :]
    return {(a, b): float(p) for a, b, p in rows}


def test_score_gives_the_release_probabilities(tmp_path):
    out = tmp_path / "scores.tsv"
    args = ["--model", FIXTURE / "model", "--fasta", FIXTURE / "proteins.fasta"]
    assert (
        run(["score", *map(str, args), "--pairs", str(FIXTURE / "pairs.tsv"), "--out", str(out)])
        == 0
    )
    want, got = _probs(FIXTURE / "scores.tsv", True), _probs(out, True)
    assert list(got) == list(want) and len(got) == 15
    assert max(abs(got[k] - want[k]) for k in want) <= PRINTED
    assert len(set(got.values())) > 5  # the model does tell the pairs apart


def test_screen_gives_the_release_probabilities_and_partners(tmp_path):
    out = tmp_path / "screen"
    args = ["--model", FIXTURE / "model", "--fasta", FIXTURE / "proteins.fasta", "--out", out]
    assert run(["screen", *map(str, args), "--threshold", "0"]) == 0
    want, got = _probs(FIXTURE / "screen_hits.tsv", False), _probs(out / "hits.tsv", False)
    assert set(got) == set(want) and len(got) == 45
    assert max(abs(got[k] - want[k]) for k in want) <= PRINTED
    top = (out / "top_partners.tsv").read_text().splitlines()
    assert [r.split("\t")[:3] for r in top] == [
        r.split("\t")[:3] for r in (FIXTURE / "screen_top_partners.tsv").read_text().splitlines()
    ]


def test_the_release_folder_uses_pair_evidence():
    from ppi.model import PPIModel

    model = PPIModel.from_pretrained(FIXTURE / "model")
    assert list(model.pair.evidence) == ["interolog"] and model.pair.head.evidence == 5
