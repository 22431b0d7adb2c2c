"""Pair evidence: numbers about a pair itself, given to the pair head beside the two proteins.

A provider is registered in :data:`EVIDENCE` and switched with
``evidence.<name>.enabled``. Like a channel it learns what it needs from
the training data in :meth:`prepare` (given :class:`ppi.channels.RunData`)
and keeps it in the model folder; unlike a channel it answers for pairs, and
its numbers must not change when A and B swap.

``interolog`` (Yu et al., Genome Research 2004): a pair (A, B) whose
homologs (a', b') form a known positive training pair is an interolog.
Homologs are found by real alignment (:mod:`ppi.homologs.align`: phmmer by
default, MMseqs2 for speed) against the training proteins, never counting a
protein's own sequence, so a training pair is described as a pair of unseen
proteins would be; the pair's own label is never read. Per pair it gives five numbers:

1. ``log(1 + n)``, n the interologs (a', b');
2. the sum over them of the product of the two alignment identities;
3. and 4. ``u + v`` and ``u * v`` with ``u = log(1 + d)``, d the most
   positive training pairs of any homolog of A (v the same for B): partners
   of conserved hubs;
5. whether both proteins have a homolog in training.

``composition`` (off by default): one number, the logit of the composition
baseline of :mod:`ppi.evaluation.baselines` fitted on the training pairs, its
features and strength chosen on protein-disjoint folds of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ppi.fusion.configs import EVIDENCE, CompositionEvidenceConfig, InterologConfig

SEQUENCES = "train_sequences.tsv"
POSITIVES = "positives.tsv"


def reach(adjacency: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Each row of ``x`` carried through a sparse symmetric ``adjacency``: ``x @ adjacency``.

    Row-major, so that a row's later sums run in the same order whatever the
    number of rows (the transposed product made one- and two-row batches sum
    in another order, and a memo hands rows of one batch to another).

    Shapes:
        adjacency ``(T, T)``, x ``(N, T)`` -> ``(N, T)``.
    """
    return torch.sparse.mm(adjacency, x.T).T.contiguous()


@EVIDENCE.register("interolog")
class InterologEvidence:
    """Interolog numbers of pairs, from alignments against the training proteins."""

    Config = InterologConfig
    dim = 5
    #: the columns about the pair's own interologs (1 and 2 above); the rest describe one side
    direct = (0, 1)

    def __init__(self, config: InterologConfig) -> None:
        self.config = config
        self.hidden = False
        self.train: dict[str, str] = {}  # sequence key -> sequence of training proteins
        self.positives: set[tuple[str, str]] = set()
        self.homologs: dict[str, list[tuple[str, float]]] = {}  # key -> [(train key, identity)]

    def prepare(self, proteins: Mapping[str, str], run=None, accelerator=None) -> None:
        """Learn the training positives (``run``), then find homologs of every protein."""
        from ppi.homologs.align import seq_key

        if run is not None:
            self.train = {seq_key(proteins[i]): proteins[i] for i in sorted(run.train_ids)}
            self.positives = {
                tuple(sorted((seq_key(proteins[a]), seq_key(proteins[b]))))
                for a, b, label in run.train_pairs
                if label == 1 and a in proteins and b in proteins
            }
            self.homologs = {}
            self._tables = None
        self._search({seq_key(s): s for s in proteins.values()})

    def _search(self, queries: dict[str, str]) -> None:
        from ppi.homologs.align import search

        new = {k: s for k, s in queries.items() if k not in self.homologs}
        if not new or not self.train:
            self.homologs.update({k: [] for k in new})
            return
        found: dict[str, list] = {k: [] for k in new}
        for hit in search(new, self.train, self.config.backend, self.config.evalue):
            if hit.query != hit.target:  # never the protein's own sequence
                found[hit.query].append((hit.bits, hit.target, hit.identity))
        for key, hits in found.items():
            best = sorted(hits, reverse=True)[: self.config.max_hits]
            self.homologs[key] = [(t, ident) for _, t, ident in best]
        self._tables = None

    def _matrices(self):
        """Training keys as indices, the positive matrix and each key's positive count."""
        if getattr(self, "_tables", None) is None:
            keys = sorted(self.train)
            index = {k: n for n, k in enumerate(keys)}
            pos = torch.zeros(len(keys), len(keys))  # (T, T)
            for a, b in self.positives:
                if a in index and b in index:
                    pos[index[a], index[b]] = pos[index[b], index[a]] = 1.0
            rows, cols = pos.nonzero(as_tuple=True)
            keys = torch.sort(rows * max(len(index), 1) + cols).values  # (2 * positives,)
            self._tables = (index, pos.to_sparse(), pos.sum(1), keys)
        return self._tables

    def _rows(self, seqs: list[str]):
        """Homolog identities ``(N, T)``, own training index ``(N,)`` (-1 if none)."""
        from ppi.homologs.align import seq_key

        index = self._matrices()[0]
        keys = [seq_key(s) for s in seqs]
        self._search({k: s for k, s in zip(keys, seqs, strict=True) if k not in self.homologs})
        h = torch.zeros(len(seqs), len(index))
        for row, key in enumerate(keys):
            for target, ident in self.homologs[key]:
                h[row, index[target]] = ident
        own = torch.tensor([index.get(k, -1) for k in keys])
        return h, own

    def features(self, seqs_a: list[str], seqs_b: list[str], grid: bool = False) -> torch.Tensor:
        """Interolog numbers of aligned pairs ``(P, 5)``, or with ``grid`` ``(R, C, 5)``."""
        _, pos, degree, _ = self._matrices()
        ha, own_a = self._rows(seqs_a)  # (R, T)
        hb, own_b = self._rows(seqs_b)  # (C, T)
        if not len(degree):
            shape = (len(seqs_a), len(seqs_b)) if grid else (len(seqs_a),)
            return torch.zeros(*shape, self.dim)
        ba, bb = (ha > 0).float(), (hb > 0).float()
        pa = reach(pos, ba)  # (R, T): positives reached from A's homologs
        wa, wb = reach(pos, ha), reach(pos, hb)
        # both orders, averaged: float sums in another order differ, so this keeps A-B == B-A
        if grid:
            count, weight = pa @ bb.T, (wa @ hb.T + (wb @ ha.T).T) / 2  # (R, C)
        else:
            count, weight = (pa * bb).sum(1), ((wa * hb).sum(1) + (wb * ha).sum(1)) / 2  # (P,)
        own = self._own_term(ha, hb, own_a, own_b, grid)
        count, weight = count - own[0], weight - own[1]
        u = torch.log1p((ba * degree).amax(1))  # (R,)
        v = torch.log1p((bb * degree).amax(1))  # (C,)
        has_a, has_b = ba.amax(1), bb.amax(1)
        if grid:
            u, v = u[:, None], v[None, :]
            has = has_a[:, None] * has_b[None, :]
        else:
            has = has_a * has_b
        count = count.clamp(min=0)
        out = [
            count.log1p(),
            weight.clamp(min=0),
            (u + v).expand_as(count),
            (u * v).expand_as(count),
        ]
        return torch.stack([*out, has.expand_as(count)], -1)

    def _own_term(self, ha, hb, own_a, own_b, grid: bool):
        """The interolog (B, A) of a pair of two homologous training proteins: its own label."""
        index, _, _, keys = self._matrices()
        if grid:
            ia, ib = own_a[:, None].expand(-1, len(own_b)), own_b[None, :].expand(len(own_a), -1)
        else:
            ia, ib = own_a, own_b
        ok = (ia >= 0) & (ib >= 0)
        ia, ib = ia.clamp(min=0), ib.clamp(min=0)
        rows_a = torch.arange(len(own_a))[:, None] if grid else torch.arange(len(own_a))
        rows_b = torch.arange(len(own_b))[None, :] if grid else torch.arange(len(own_b))
        ident_a, ident_b = ha[rows_a, ib], hb[rows_b, ia]  # A's identity to B, B's to A
        known = torch.isin(ib * max(len(index), 1) + ia, keys)  # (B, A) a positive pair
        term = ok & (ident_a > 0) & (ident_b > 0) & known
        return term.float(), term.float() * ident_a * ident_b

    def save_assets(self, directory: Path) -> None:
        """Keep the training sequences and positives, so scoring aligns against them."""
        from ppi.utils.files import atomic_write_text

        directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            directory / SEQUENCES, "".join(f"{k}\t{s}\n" for k, s in sorted(self.train.items()))
        )
        atomic_write_text(
            directory / POSITIVES, "".join(f"{a}\t{b}\n" for a, b in sorted(self.positives))
        )

    def load_assets(self, directory: Path) -> None:
        """Read what :meth:`save_assets` wrote."""
        from ppi.errors import WeightsError

        for name in (SEQUENCES, POSITIVES):
            if not (directory / name).is_file():
                raise WeightsError(
                    f"{directory}: interolog evidence needs {name}, which is missing"
                )
        rows = [line.split("\t") for line in (directory / SEQUENCES).read_text().splitlines()]
        self.train = {k: s for k, s in rows}
        pos = [line.split("\t") for line in (directory / POSITIVES).read_text().splitlines()]
        self.positives = {(a, b) for a, b in pos}
        self.homologs, self._tables = {}, None


COMPOSITION = "composition.json"


@EVIDENCE.register("composition")
class CompositionEvidence:
    """The composition baseline's logit of pairs, fitted on the training pairs.

    The logit is linear in the symmetric pair features (sum, product and
    absolute difference of the two proteins' composition vectors), so it is
    kept as three weight vectors and a bias and computed here in torch, for a
    list of pairs or a whole block.
    """

    Config = CompositionEvidenceConfig
    dim = 1
    #: no interolog columns
    direct = ()
    #: rows of a block whose ``(rows, C, F)`` differences are held at once
    block_rows = 64

    def __init__(self, config: CompositionEvidenceConfig) -> None:
        self.config = config
        self.features_name = "aa20"
        self.weights = torch.zeros(3, 20, dtype=torch.float64)  # sum, product, |difference|
        self.bias = 0.0
        self._memo: dict[str, torch.Tensor] = {}

    def prepare(self, proteins: Mapping[str, str], run=None, accelerator=None) -> None:
        """Fit the composition baseline on the training pairs (``run``)."""
        if run is None:
            return
        from ppi.data.pairs import Pair
        from ppi.evaluation.baselines import CompositionBaseline

        train = [Pair(a, b, y) for a, b, y in run.train_pairs if a in proteins and b in proteins]
        if not train:
            return
        base = CompositionBaseline().fit(train, proteins)
        weights, self.bias = base.linear()
        self.features_name = base.settings[0]
        self.weights = torch.from_numpy(weights).view(3, -1)
        self._memo = {}

    def _vectors(self, seqs: list[str]) -> torch.Tensor:
        """Each sequence's composition vector of the chosen feature set ``(N, F)``."""
        from ppi.evaluation.baselines import FEATURE_SETS, protein_features

        cols = FEATURE_SETS[self.features_name]
        for s in set(seqs) - set(self._memo):
            self._memo[s] = torch.from_numpy(protein_features(s)[cols])
        if not seqs:
            return torch.zeros(0, len(cols), dtype=torch.float64)
        return torch.stack([self._memo[s] for s in seqs])

    def features(self, seqs_a: list[str], seqs_b: list[str], grid: bool = False) -> torch.Tensor:
        """The logit of aligned pairs ``(P, 1)``, or with ``grid`` ``(R, C, 1)``.

        Computed in float64 with both orders of the product averaged, so a
        pair scores the same whichever protein comes first.
        """
        fa, fb = self._vectors(seqs_a), self._vectors(seqs_b)  # (R, F), (C, F)
        add, mul, diff = self.weights
        if not grid:
            out = fa @ add + fb @ add + (fa * fb) @ mul + (fa - fb).abs() @ diff  # (P,)
            return (out + self.bias).float()[:, None]
        out = (fa @ add)[:, None] + (fb @ add)[None, :]  # (R, C)
        out = out + ((fa * mul) @ fb.T + ((fb * mul) @ fa.T).T) / 2
        for i in range(0, len(fa), self.block_rows):
            part = (fa[i : i + self.block_rows, None] - fb[None]).abs()  # (r, C, F)
            out[i : i + self.block_rows] += part @ diff
        return (out + self.bias).float()[..., None]

    def save_assets(self, directory: Path) -> None:
        """Keep the chosen feature set, the weights and the bias."""
        import json

        from ppi.utils.files import atomic_write_text

        directory.mkdir(parents=True, exist_ok=True)
        body = {"features": self.features_name, "bias": self.bias}
        body["weights"] = self.weights.tolist()
        atomic_write_text(directory / COMPOSITION, json.dumps(body) + "\n")

    def load_assets(self, directory: Path) -> None:
        """Read what :meth:`save_assets` wrote."""
        import json

        from ppi.errors import WeightsError

        path = directory / COMPOSITION
        if not path.is_file():
            raise WeightsError(f"{directory}: composition evidence needs {COMPOSITION}, missing")
        body = json.loads(path.read_text())
        self.features_name, self.bias = body["features"], float(body["bias"])
        self.weights = torch.tensor(body["weights"], dtype=torch.float64)
        self._memo = {}


PRIOR = "evidence_prior.json"


@dataclass(frozen=True)
class EvidencePrior:
    """A logistic regression on the pair evidence alone, added to the pair logit.

    Fitted after training on the training pairs' evidence (standardised), it
    adds ``weight * sum_j coef_j (e_j - mean_j) / scale_j`` to the logit: zero
    for a pair whose evidence is the training average. ``weight`` is chosen on
    the validation set (:func:`ppi.training.loop`); the network alone
    underuses evidence that is rare within one species, such as interologs
    (RESULTS.md).

    A second regression, on the pair's own interolog columns alone
    (``direct``), is added at the strength it was fitted with, whatever
    ``weight`` is: the validation pairs of one species hold a handful of
    interologs, too few to weigh them, while the training pairs hold hundreds.

    Attributes:
        mean, scale: per evidence column, of the training pairs.
        coef: per evidence column, on the standardised numbers.
        weight: the first regression's share of the logit (0 = off).
        valid: validation AUPR per weight tried, for the record.
        direct: per evidence column, the interolog regression's coefficients
            on the standardised numbers (0 outside its columns; empty = none).
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    weight: float = 0.0
    valid: tuple[tuple[float, float], ...] = ()
    direct: tuple[float, ...] = ()

    @property
    def active(self) -> bool:
        """Whether the prior adds anything to a logit."""
        return bool(self.weight) or any(self.direct)

    def logit(self, evidence: torch.Tensor, shown: torch.Tensor | None = None) -> torch.Tensor:
        """The prior's logit of evidence ``(..., E)`` -> ``(...)``; ``shown`` masks columns."""
        mean, scale, coef = (
            torch.tensor(v, dtype=evidence.dtype, device=evidence.device)
            for v in (self.mean, self.scale, self.coef)
        )
        coef = self.weight * coef
        if self.direct:
            coef = coef + torch.tensor(self.direct, dtype=coef.dtype, device=coef.device)
        if shown is not None:
            coef = coef * shown.to(coef)
        return ((evidence - mean) / scale) @ coef

    def with_weight(self, weight: float, valid=()) -> EvidencePrior:
        """The same regressions with another weight of the first."""
        return EvidencePrior(
            self.mean, self.scale, self.coef, float(weight), tuple(valid), self.direct
        )

    def save(self, directory: Path) -> None:
        """Write it as JSON into a model folder."""
        import json

        from ppi.utils.files import atomic_write_text

        body = {"mean": self.mean, "scale": self.scale, "coef": self.coef, "weight": self.weight}
        body["valid_aupr_by_weight"] = [list(v) for v in self.valid]
        body["direct_coef"] = self.direct
        atomic_write_text(directory / PRIOR, json.dumps(body, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> EvidencePrior | None:
        """The prior of a model folder, or None for one saved without it."""
        import json

        path = directory / PRIOR
        if not path.is_file():
            return None
        body = json.loads(path.read_text())
        valid = tuple(tuple(v) for v in body.get("valid_aupr_by_weight", ()))
        fields = (tuple(float(x) for x in body[k]) for k in ("mean", "scale", "coef"))
        direct = tuple(float(x) for x in body.get("direct_coef", ()))  # older folders: none
        return cls(*fields, float(body["weight"]), valid, direct)


def fit_evidence_prior(
    evidence: torch.Tensor, labels: torch.Tensor, direct: Sequence[int] = ()
) -> EvidencePrior | None:
    """L2 logistic regressions (C=1) on standardised evidence ``(P, E)``; None with one class.

    The first is on every column; with ``direct`` (column indices) the second
    is on those columns alone (:attr:`EvidencePrior.direct`). Weight 0.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x, y = evidence.double().cpu().numpy(), labels.cpu().numpy().astype(int)
    if len(np.unique(y)) < 2:
        return None
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 0, scale, 1.0)  # a constant column gets no weight either way
    z = (x - mean) / scale

    def coef(columns) -> np.ndarray:
        return LogisticRegression(C=1.0, max_iter=2000).fit(z[:, columns], y).coef_[0]

    own = np.zeros(x.shape[1])
    cols = sorted(set(direct))
    if cols and z[:, cols].std(0).max() > 0:  # no interolog among the training pairs: none
        own[cols] = coef(cols)
    return EvidencePrior(
        tuple(mean.tolist()),
        tuple(scale.tolist()),
        tuple(coef(slice(None)).tolist()),
        direct=tuple(own.tolist()) if cols else (),
    )
