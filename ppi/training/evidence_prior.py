"""The evidence prior of a trained pair model: fitted on the training pairs, weighed on validation.

:class:`ppi.fusion.evidence.EvidencePrior` is a logistic regression on the
pair evidence alone (interologs and the homologs' partner counts), added to
the network's logit. The regression is fitted on the training pairs'
evidence, which is computed as for unseen proteins (never a protein's own
sequence), and its weight is the one of :data:`PRIOR_WEIGHTS` that gives the
best validation score; with 0 the model is the network alone.

With ``interologs`` a second regression, on the pair's own interolog numbers
alone, is fitted on the training pairs too and added at that fitted strength,
before the weight is chosen: a validation set of one species holds too few
interologs to weigh them (2 to 5 pairs on the benchmarks of RESULTS.md),
while across species they are the evidence that carries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from ppi.data.pairs import Pair
from ppi.evaluation.predict import selection_metric
from ppi.fusion.evidence import EvidencePrior, fit_evidence_prior

#: weights of the evidence prior tried on the validation set (0: the network alone)
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


def choose_evidence_prior(
    pair,
    train: Sequence[Pair],
    proteins: Mapping[str, str],
    score_valid: Callable[[], tuple[np.ndarray, np.ndarray]],
    interologs: bool = True,
) -> EvidencePrior | None:
    """Fit the prior of ``pair`` (a :class:`~ppi.fusion.pair_stage.PairStage`) and set it.

    ``score_valid()`` returns the validation labels and probabilities of the
    model as it stands; it is called once per weight tried. ``interologs``
    adds the interolog regression at its fitted strength (module docstring).
    Returns the prior set on ``pair`` (None when there is nothing to fit: no
    evidence, one class).
    """
    if not pair.evidence or not train:
        return None
    with torch.no_grad():
        evidence = torch.cat(
            [
                pair.pair_evidence(
                    [proteins[p.a] for p in chunk], [proteins[p.b] for p in chunk]
                ).cpu()
                for chunk in (train[i : i + 4096] for i in range(0, len(train), 4096))
            ]
        )  # (P, E)
    labels = torch.tensor([float(p.label) for p in train])
    prior = fit_evidence_prior(evidence, labels, pair.direct_columns() if interologs else ())
    if prior is None:
        return None
    tried = []
    for weight in PRIOR_WEIGHTS:
        pair.prior = prior.with_weight(weight)
        labels, probs = score_valid()
        tried.append((weight, selection_metric("pair", labels, probs)[0]))
    best = max(tried, key=lambda t: t[1])  # the first, so the smallest weight, of a tie
    pair.prior = prior.with_weight(best[0], tried)
    return pair.prior
