"""Homologs retrieved from the training proteins, mixed with the masked LM (ppi.lm.retrieval)."""

import json
import random
from types import SimpleNamespace

import numpy as np
import pytest

from ppi.backbones.base import RESIDUES
from ppi.cli import run
from ppi.data.fasta import read_fasta, write_fasta
from ppi.lm import retrieval

FAMILIES, MEMBERS, LENGTH, CHANGED = 30, 6, 90, 0.45


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    """Families of random proteins whose members differ from their ancestor at 45% of residues.

    Two members share about a third of their residues, under the split's 50%
    identity, so they fall into different clusters; a tiny model learns no
    family in two epochs, but a held-out member's relatives are in training.
    """
    rng = random.Random(0)
    proteins = {}
    for f in range(FAMILIES):
        ancestor = [rng.choice(RESIDUES) for _ in range(LENGTH)]
        for m in range(MEMBERS):
            seq = [rng.choice(RESIDUES) if rng.random() < CHANGED else c for c in ancestor]
            proteins[f"F{f}_{m}"] = "M" + "".join(seq)
    root = tmp_path_factory.mktemp("families")
    write_fasta(proteins, root / "families.fasta")
    out = root / "lm"
    settings = [
        *("backbone.dim=16", "backbone.layers=1", "backbone.heads=2", "backbone.max_len=64"),
        *("pretrain.cluster_measure=kmer", "pretrain.heldout=0.2", "pretrain.epochs=2"),
        *("pretrain.batch_tokens=1024", "pretrain.cpu_threads=1", "pretrain.retrieval=true"),
    ]
    assert run(["pretrain", "--out", str(out), str(root / "families.fasta"), *settings]) == 0
    return out, [str(root / "families.fasta")]


def test_relatives_in_training_lower_the_held_out_perplexity(families):
    folder, dumps = families
    out = retrieval.retrieval_figures(folder, dumps)
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    last = rows[-1]
    # the model's figure is the one ppi pretrain reported: the same hidden residues
    assert out["perplexity_ratio_model"] == pytest.approx(last["perplexity_ratio"], rel=1e-6)
    # pretrain.retrieval=true reported the mixture every epoch, as measured again here
    assert all(r["perplexity_ratio_retrieval"] < r["perplexity_ratio"] - 0.1 for r in rows)
    assert last["perplexity_ratio_retrieval"] == pytest.approx(out["perplexity_ratio_mixed"])
    assert last["retrieval_covered"] == pytest.approx(out["covered"])
    assert out["identity_cap"] == 0.5 and out["covered"] > 0.6
    assert out["perplexity_ratio_homologs"] < out["perplexity_ratio_model"] - 0.1
    assert out["perplexity_ratio_mixed"] < out["perplexity_ratio_model"] - 0.1
    # the model alone knows no family: the fitted weights lean on the homologs
    assert min(out["model_weights"].values()) < 0.5
    # a cap below every relative's identity retrieves nothing and leaves the model alone
    none = retrieval.retrieval_figures(folder, dumps, cap=0.1)
    assert none["covered"] == 0
    assert none["perplexity_ratio_mixed"] == pytest.approx(none["perplexity_ratio_model"])


def test_nothing_is_fitted_on_or_retrieved_from_held_out_proteins(families, monkeypatch):
    folder, dumps = families
    split = json.loads((folder / "split.json").read_text())
    held = set(split["held_out"])
    calls = []
    real = retrieval.phmmer_tops

    def spy(queries, targets, evalue):
        calls.append((dict(queries), set(targets)))
        yield from real(queries, targets, evalue)

    monkeypatch.setattr(retrieval, "phmmer_tops", spy)
    retrieval.retrieval_figures(folder, dumps)
    (fit_queries, fit_targets), (_, targets) = calls
    everyone = {p for d in dumps for p in read_fasta(d)}
    assert fit_targets == targets == everyone - held and held < everyone
    assert not held & targets
    # the fit's queries are training proteins, as many as are held out
    assert len(fit_queries) == len(held)


def test_a_domain_reads_the_columns_facing_homolog_residues():
    # query positions 0-based from hmm_from 2: "AC-DE" against "ACGDX"; "." an inserted residue
    ali = SimpleNamespace(hmm_from=2, hmm_sequence="AC.DEF", target_sequence="ACgD-W")
    query = "MACDXF"  # position 4 (E in the alignment's query line) is hidden: X
    d = retrieval._domain(ali, query)
    assert d.position.tolist() == [1, 2, 3, 5]  # A, C, D, W face query 1, 2, 3, 5
    assert [RESIDUES[r] for r in d.residue] == ["A", "C", "D", "W"]
    # visible columns facing a residue: A=A, C=C, D=D, F!=W; the hidden one is not counted
    assert d.identity == pytest.approx(3 / 4)


def test_tables_and_weights_follow_the_evidence():
    queries = {"0": "ACDEFGHIKL" * 30}
    residues = np.array([RESIDUES.index(c) for c in queries["0"]])
    exact = retrieval.Domain(0.45, np.arange(300), residues)
    tables = retrieval.substitution_tables({"0": [exact]}, queries)
    assert tables.shape == (len(retrieval.BINS), 20, 20)
    assert np.allclose(tables.sum(1), 1)
    k = retrieval.bin_of(0.45)
    assert tables[k, 0, 0] > 0.5 and tables[k, 1, 0] < 0.05  # A faces A, never C
    hidden = retrieval.Hidden(
        protein=np.zeros(300, dtype=np.int64),
        position=np.arange(300),
        residue=exact.residue.copy(),
        unigram=np.full(300, np.log(0.05)),
    )
    model = np.full(300, np.log(0.05))
    votes, best = retrieval.homolog_votes(hidden, {"0": [exact]}, tables)
    assert (best == 0.45).all() and (votes > 0.5).all()
    weights = retrieval.fit_weights(model, votes, best)
    assert weights[k] < 0.5  # the homolog is right: trust it
    useless = retrieval.fit_weights(model, np.full(300, 1e-4), best)
    assert useless[k] == 1.0  # a homolog that is always wrong gets no weight
    assert (retrieval.mixed_nll(model, votes, best, weights) < -model).all()


def test_reporting_retrieval_is_not_another_job():
    """Resuming with pretrain.retrieval switched on or off continues the same job."""
    from ppi.config.tools import build
    from ppi.lm import pretrain as pt

    off, on = (build(pt.PretrainConfig, {"pretrain": {"retrieval": r}}) for r in (False, True))
    other = build(pt.PretrainConfig, {"pretrain": {"mask_rate": 0.3}})
    assert pt.job_key(off, ["a.fasta"]) == pt.job_key(on, ["a.fasta"])
    assert pt.job_key(off, ["a.fasta"]) != pt.job_key(other, ["a.fasta"])


def test_fewer_training_proteins_than_held_out_ones_fit_on_all_of_them(families):
    """A small pretrain.train_share can leave fewer training proteins than held-out ones."""
    from dataclasses import replace

    from ppi.lm import pretrain as pt

    folder, dumps = families
    config, data, net = pt.load_run(folder, dumps, annotations=False)
    few = replace(data, train=data.train[:5])
    assert len(few.held) > 5
    unigram = pt.unigram_log_probs(few, len(net.tokenizer))
    found = retrieval.Retriever(net.tokenizer, few, config, unigram)
    assert sorted(found.fit.data.held) == sorted(few.train)
    assert 0 < found.figures(net)["perplexity_ratio_mixed"] < 2
