"""Evidence rows of pairs already computed, kept while the providers' state stands.

The evidence of a pair (:meth:`ppi.fusion.pair_stage.PairStage.pair_evidence`)
depends only on the two sequences and on what the providers learned from the
training split. A training run asks for the same training pairs every epoch
and once more when it fits the evidence prior, and the members of an ensemble
(``train.members``) ask for them again over the same split: on the 55,000
D-SCRIPT yeast pairs that was about a quarter of a member's time. An
:class:`EvidenceMemo` computes each pair's row once and hands back the same
numbers after.

A memo is bound to one state of the providers, named by :func:`state_key`
(the providers' configs and the training pairs' sequences and labels): a
stage prepared on other training data binds it to another key and the rows
of the old state are dropped, never handed out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import torch

#: rows kept at most; past it new pairs are computed and not kept (about 0.9 KB a row)
MAX_ROWS = 4_000_000


def state_key(providers: Mapping[str, Any], proteins: Mapping[str, str], run: Any) -> str:
    """A digest of what fixes the providers' numbers: their configs and ``run``'s training pairs."""
    from ppi.homologs.align import seq_key

    digest = hashlib.sha256()
    for name, provider in sorted(providers.items()):
        digest.update(f"{name}={provider.config!r}\n".encode())
    keys = {i: seq_key(proteins[i]) for i in run.train_ids if i in proteins}
    for a, b, label in sorted(run.train_pairs):
        digest.update(f"{keys.get(a)}\t{keys.get(b)}\t{label}\n".encode())
    return digest.hexdigest()


class EvidenceMemo:
    """Evidence rows by ``(sequence A, sequence B)``, for the state named by :attr:`key`."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.rows: dict[tuple[str, str], torch.Tensor] = {}

    def bind(self, key: str) -> None:
        """Serve the providers' state ``key``; the rows of any other state are dropped."""
        if key != self.key:
            self.key, self.rows = key, {}

    def __len__(self) -> int:
        return len(self.rows)

    def get(
        self,
        seqs_a: list[str],
        seqs_b: list[str],
        compute: Callable[[list[str], list[str]], torch.Tensor],
    ) -> torch.Tensor:
        """The rows of aligned pairs ``(P, E)``; ``compute(a, b)`` is called on the new ones only.

        Shapes:
            returns ``(P, E)`` on the CPU, what ``compute`` returns for the same pairs.
        """
        pairs = list(zip(seqs_a, seqs_b, strict=True))
        new = list(dict.fromkeys(p for p in pairs if p not in self.rows))
        fresh: dict[tuple[str, str], torch.Tensor] = {}
        if new:
            rows = compute([a for a, _ in new], [b for _, b in new]).cpu()  # (n, E)
            fresh = dict(zip(new, rows.unbind(0), strict=True))
            if len(self.rows) + len(fresh) <= MAX_ROWS:
                self.rows.update(fresh)
        if not pairs:
            return compute([], [])
        return torch.stack([fresh[p] if p in fresh else self.rows[p] for p in pairs])  # (P, E)
