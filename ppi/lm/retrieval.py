"""Homologs retrieved from a model's training proteins, mixed with its masked-LM predictions.

A scratch masked LM of a million weights cannot hold the three million
residues of the proteome it learned from, yet a training protein aligned to a
new protein says much about a hidden residue. This module measures how much:
each held-out protein, its hidden residues replaced by ``X``, is searched with
phmmer (:func:`ppi.homologs.align.phmmer_tops`) against the training proteins;
every aligned domain under ``cap`` identity (by default the split's
``cluster_identity``, so no retrieved homolog is closer than the split
promises) votes for the hidden residue it faces through a substitution table;
and the vote is mixed with the model's probability, as a kNN-LM does
(Khandelwal et al., 2020):

    p(a) = w p_model(a) + (1 - w) p_homologs(a),   p_homologs(a) = sum_h s_h P(a | b_h) / sum_h s_h

where b_h is homolog h's residue at that column, s_h its identity squared and
``P(a | b)`` the substitution table of its identity bin (:data:`BINS`). The
tables and the weights ``w`` (one per bin of the position's best identity)
are fitted on as many training proteins, masked and searched the same way
(themselves and homologs at or above ``cap`` left out); nothing is fitted
on the held-out proteins. Positions no homolog covers keep the model's
probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ppi.backbones.base import RESIDUES
from ppi.backbones.scratch import FIRST_RESIDUE
from ppi.homologs.align import SPLIT_EVALUE, hmmer_name, phmmer_tops
from ppi.lm import pretrain as pt
from ppi.lm.masking import IGNORE

#: lower edges of the identity bins of a homolog (each bin has its own substitution table)
BINS = (0.0, 0.3, 0.4)
#: candidate mixture weights of the model
GRID = np.linspace(0.0, 1.0, 21)


@dataclass
class Hidden:
    """The hidden residues of a set of proteins, as the held-out figure hides them.

    Shapes:
        protein, position, residue, unigram: ``(S,)``; residue is 0-19 (-1
        outside the 20), unigram the log-probability of the true token.
    """

    protein: np.ndarray
    position: np.ndarray
    residue: np.ndarray
    unigram: np.ndarray


def hidden_residues(tok, data: pt.Data, config, unigram: torch.Tensor) -> Hidden:
    """The residues of ``data.held`` that :func:`ppi.lm.pretrain.evaluate`'s masks hide.

    The masks depend on the windows and the batch index only, so no model is run;
    :func:`model_log_probs` gives a model's predictions in the same order.
    """
    seqs, owner = pt.heldout_windows(data, config)
    starts = [0] * len(seqs)
    for w in range(1, len(seqs)):
        if owner[w] == owner[w - 1]:
            starts[w] = starts[w - 1] + config.backbone.max_len
    groups = pt.heldout_groups(seqs, config)
    cols: list[list] = [[], [], [], []]
    for index in range(len(groups)):
        _, _, labels = pt.heldout_batch(tok, seqs, groups, index)
        sel = labels != IGNORE
        rows, t = sel.nonzero(as_tuple=True)  # (S,), (S,)
        window = torch.tensor(groups[index])[rows]  # (S,)
        lab = labels[sel]  # (S,)
        cols[0].append(torch.tensor(owner)[window])
        cols[1].append(torch.tensor(starts)[window] + t - 1)  # token 0 is <cls>
        res = lab - FIRST_RESIDUE
        cols[2].append(torch.where((res >= 0) & (res < len(RESIDUES)), res, -1))
        cols[3].append(unigram[lab])
    ints = [torch.cat(c).numpy() for c in cols[:3]]
    return Hidden(*ints, torch.cat(cols[3]).double().numpy())


@torch.no_grad()
def model_log_probs(net, data: pt.Data, config, unigram, device="cpu") -> np.ndarray:
    """``net``'s log-probability of each hidden residue of ``data.held`` (:class:`Hidden` order)."""
    seqs, _ = pt.heldout_windows(data, config)
    groups = pt.heldout_groups(seqs, config)
    was_training = net.training
    net.eval()
    by_batch: dict = {}
    pt._score_heldout(
        net, net.tokenizer, seqs, groups, range(len(groups)), unigram, device, by_batch
    )
    net.train(was_training)
    return in_batch_order(by_batch)


def in_batch_order(by_batch: dict) -> np.ndarray:
    """Held-out log-probabilities kept per batch index, as one array in :class:`Hidden` order."""
    return torch.cat([by_batch[i] for i in sorted(by_batch)]).double().numpy()


def masked_queries(data: pt.Data, hidden: Hidden) -> dict[str, str]:
    """Each protein of ``data.held`` (named by its index) with its hidden residues as ``X``."""
    out = {}
    for i, seq in enumerate(data.store.sequences(data.held)):
        s = [c if c in RESIDUES else "X" for c in seq]
        for pos in hidden.position[hidden.protein == i]:
            s[pos] = "X"
        out[str(i)] = "".join(s)
    return out


@dataclass
class Domain:
    """One aligned domain of a homolog: identity over the query's visible columns, and its columns.

    Shapes:
        position ``(C,)`` query positions (0-based), residue ``(C,)`` the homolog's residues 0-19.
    """

    identity: float
    position: np.ndarray
    residue: np.ndarray


def domains(
    queries: dict[str, str], targets: dict[str, str], cap: float, names: list[str] | None = None
) -> dict[str, list[Domain]]:
    """Every domain phmmer aligns to each query, under ``cap`` identity.

    ``names`` gives each query's own name among the targets (a training
    protein searched against the training proteins), which is left out.
    """
    found: dict[str, list[Domain]] = {q: [] for q in queries}
    for query, top in phmmer_tops(queries, targets, SPLIT_EVALUE):
        own = names[int(query)] if names else None
        for hit in top:
            if not hit.included or hmmer_name(hit.name) == own:
                continue
            for dom in hit.domains.included:
                d = _domain(dom.alignment, queries[query])
                if d is not None and d.identity < cap:
                    found[query].append(d)
    return found


def _domain(ali, query: str) -> Domain | None:
    """The query columns of a phmmer alignment that face a homolog residue."""
    q, pos, res, same, seen = ali.hmm_from - 1, [], [], 0, 0
    for a, b in zip(ali.hmm_sequence, ali.target_sequence, strict=True):
        if a == ".":  # a residue the homolog inserts
            continue
        b = b.upper()
        if query[q] != "X" and b != "-":
            seen += 1
            same += query[q] == b
        if b in RESIDUES:
            pos.append(q)
            res.append(RESIDUES.index(b))
        q += 1
    if not seen:
        return None
    return Domain(same / seen, np.array(pos, dtype=np.int64), np.array(res, dtype=np.int64))


def bin_of(identity: float) -> int:
    """The :data:`BINS` bin of an identity."""
    return max(i for i, edge in enumerate(BINS) if identity >= edge)


def substitution_tables(found: dict[str, list[Domain]], queries: dict[str, str]) -> np.ndarray:
    """``P(query residue | homolog residue)`` per identity bin, from the visible aligned columns.

    Shapes:
        returns ``(len(BINS), 20, 20)``; ``[k, a, b]`` sums to 1 over ``a``.
    """
    counts = np.full((len(BINS), len(RESIDUES), len(RESIDUES)), 0.5)
    for name, doms in found.items():
        seq = queries[name]
        for d in doms:
            own = np.array([RESIDUES.find(seq[p]) for p in d.position])  # (C,)
            ok = own >= 0
            np.add.at(counts[bin_of(d.identity)], (own[ok], d.residue[ok]), 1)
    return counts / counts.sum(1, keepdims=True)


def homolog_votes(
    hidden: Hidden, found: dict[str, list[Domain]], tables: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each hidden residue's homolog probability and the best identity facing it.

    Returns ``(probability, best)``, both ``(S,)``; ``best`` is -1 where no homolog covers it.
    """
    num = np.zeros(len(hidden.residue))
    den = np.zeros(len(hidden.residue))
    best = np.full(len(hidden.residue), -1.0)
    where = {}
    for k, (p, pos) in enumerate(zip(hidden.protein, hidden.position, strict=True)):
        where[(int(p), int(pos))] = k
    for name, doms in found.items():
        for d in doms:
            weight = d.identity**2
            for pos, b in zip(d.position, d.residue, strict=True):
                k = where.get((int(name), int(pos)))
                if k is None or hidden.residue[k] < 0:
                    continue
                num[k] += weight * tables[bin_of(d.identity), hidden.residue[k], b]
                den[k] += weight
                best[k] = max(best[k], d.identity)
    return num / np.maximum(den, 1e-12), best


def fit_weights(model: np.ndarray, votes: np.ndarray, best: np.ndarray) -> np.ndarray:
    """The model's weight per bin of best identity that minimises the NLL of these residues.

    ``model`` holds the model's log-probabilities of the true residues ``(S,)``.
    """
    weights = np.ones(len(BINS))
    bins = np.array([bin_of(b) if b >= 0 else -1 for b in best])
    for k in range(len(BINS)):
        on = bins == k
        if on.any():
            p = np.exp(model[on])
            nll = [-np.log(w * p + (1 - w) * votes[on]).sum() for w in GRID]
            weights[k] = GRID[int(np.argmin(nll))]
    return weights


def mixed_nll(model: np.ndarray, votes: np.ndarray, best: np.ndarray, weights: np.ndarray):
    """Each hidden residue's NLL under the mixture (the model's alone where no homolog covers)."""
    w = np.array([weights[bin_of(b)] if b >= 0 else 1.0 for b in best])
    return -np.log(w * np.exp(model) + (1 - w) * votes)


@dataclass
class Side:
    """A set of proteins, their hidden residues and the homolog vote and best identity at each."""

    data: pt.Data
    hidden: Hidden
    votes: np.ndarray
    best: np.ndarray


class Retriever:
    """The searches, run once; :meth:`figures` mixes them with a model's predictions of the day.

    The held-out side is ``data.held``; the fitting side the training proteins
    of :func:`ppi.lm.pretrain.training_stand_in`, searched without themselves.
    Which residues are hidden depends on the tokenizer and the windows only,
    so the searches need no model.
    """

    def __init__(self, tok, data: pt.Data, config, unigram, cap=None, device="cpu") -> None:
        self.config, self.unigram, self.device = config, unigram, device
        self.cap = config.pretrain.cluster_identity if cap is None else cap
        targets = data.store.named(data.train)
        fit = pt.training_stand_in(data)
        fit_hidden, fit_queries, fit_found = self._search(
            tok, fit, targets, names=data.store.accessions(fit.held)
        )
        self.tables = substitution_tables(fit_found, fit_queries)
        self.fit = Side(fit, fit_hidden, *homolog_votes(fit_hidden, fit_found, self.tables))
        hidden, _, found = self._search(tok, data, targets, names=None)
        self.held = Side(data, hidden, *homolog_votes(hidden, found, self.tables))

    def _search(self, tok, data: pt.Data, targets: dict, names):
        """The hidden residues of ``data.held``, their masked sequences and the domains found."""
        hidden = hidden_residues(tok, data, self.config, self.unigram)
        queries = masked_queries(data, hidden)
        return hidden, queries, domains(queries, targets, self.cap, names=names)

    def figures(self, net, held: np.ndarray | None = None) -> dict:
        """Held-out perplexity ratios: the model's, the homologs', the mixture's; and the fit.

        ``held``: the model's log-probabilities of the held-out hidden residues when
        the caller has them already (:func:`ppi.lm.pretrain.evaluate` scored them).
        """
        fit_model = model_log_probs(net, self.fit.data, self.config, self.unigram, self.device)
        weights = fit_weights(fit_model, self.fit.votes, self.fit.best)
        h = self.held
        if held is None:
            held = model_log_probs(net, h.data, self.config, self.unigram, self.device)
        if len(held) != len(h.best):
            raise RuntimeError(f"{len(held)} held-out predictions for {len(h.best)} residues")
        covered = h.best >= 0
        homologs_only = np.where(covered, -np.log(np.maximum(h.votes, 1e-12)), -h.hidden.unigram)
        uni = -h.hidden.unigram.mean()
        return {
            "identity_cap": self.cap,
            "hidden_residues": int(len(held)),
            "covered": float(covered.mean()),
            "model_weights": {f">={edge}": float(w) for edge, w in zip(BINS, weights, strict=True)},
            "perplexity_ratio_model": math.exp(-held.mean() - uni),
            "perplexity_ratio_homologs": math.exp(homologs_only.mean() - uni),
            "perplexity_ratio_mixed": math.exp(
                mixed_nll(held, h.votes, h.best, weights).mean() - uni
            ),
        }


def retrieval_figures(folder: str | Path, dumps: list[str], cap: float | None = None) -> dict:
    """:meth:`Retriever.figures` of a ``ppi pretrain`` folder's model, on its saved split.

    ``cap`` defaults to the split's ``cluster_identity``.
    """
    config, data, net = pt.load_run(folder, dumps, annotations=False)
    unigram = pt.unigram_log_probs(data, len(net.tokenizer))
    return Retriever(net.tokenizer, data, config, unigram, cap).figures(net)
