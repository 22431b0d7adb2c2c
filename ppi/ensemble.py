"""Several trained pair models read as one: their probabilities averaged pair by pair.

On proteins outside training the models of different seeds disagree by up to
0.05 test AUPR on one split, and the average of their probabilities beats
their mean (RESULTS.md, "the seeds' average"). ``ppi ensemble`` writes such a
model as a folder: ``ensemble.json`` plus a copy of each member's model folder
(``member-0/``, ``member-1/``, ...), so the folder stands alone.
:func:`load_model` reads it, or a plain model folder, and ``ppi score``,
``screen``, ``evaluate``, ``ablate`` and ``distill`` take either.

An ensemble's representation of a protein is its members' stacked
``(K, M, D)``; its logit is the log-odds of the members' mean probability.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ppi import __version__
from ppi.channels import Proteins
from ppi.errors import InputError, WeightsError
from ppi.model import PPIModel, memo_encode, pairs_logits
from ppi.utils.cache import digest
from ppi.utils.files import atomic_write_text

MANIFEST = "ensemble.json"


def is_ensemble(directory: str | Path) -> bool:
    """Whether ``directory`` is an ensemble folder (it holds ``ensemble.json``)."""
    return (Path(directory) / MANIFEST).is_file()


def load_model(directory: str | Path, map_location: str = "cpu") -> PPIModel | EnsembleModel:
    """A model folder or an ensemble folder, loaded strictly."""
    if is_ensemble(directory):
        return EnsembleModel.from_pretrained(directory, map_location)
    return PPIModel.from_pretrained(directory, map_location)


def mean_probability_logit(logits: torch.Tensor) -> torch.Tensor:
    """Log-odds of the mean probability over the first dimension.

    Shapes:
        ``(K, ...)`` -> ``(...)``.
    """
    return torch.logit(logits.float().sigmoid().mean(0)).to(logits.dtype)


@dataclass
class EnsembleSides:
    """The members' :class:`ppi.fusion.pair_stage.Sides`, one per member."""

    parts: list[Any]

    def __len__(self) -> int:
        return len(self.parts[0])

    def take(self, rows: slice | torch.Tensor) -> EnsembleSides:
        """Every member's parts of the same proteins."""
        return EnsembleSides([p.take(rows) for p in self.parts])


class EnsemblePair:
    """The pair entry points of :class:`ppi.fusion.pair_stage.PairStage` over the members.

    Each takes the members' stacked representations and returns the log-odds
    of the members' mean probability.
    """

    def __init__(self, members: Sequence[PPIModel]) -> None:
        self.members = list(members)

    def pairs(
        self, za: torch.Tensor, zb: torch.Tensor, seqs_a: list[str], seqs_b: list[str]
    ) -> torch.Tensor:
        """Logits of a list of pairs.

        Shapes:
            za, zb ``(P, K, M, D)`` -> ``(P,)``.
        """
        per = [m.pair.pairs(za[:, k], zb[:, k], seqs_a, seqs_b) for k, m in enumerate(self.members)]
        return mean_probability_logit(torch.stack(per))  # (K, P) -> (P,)

    def sides(self, z: torch.Tensor, seqs: list[str] | None = None) -> EnsembleSides:
        """Each member's precomputed parts of the pair block.

        Shapes:
            z ``(N, K, M, D)``.
        """
        return EnsembleSides([m.pair.sides(z[:, k], seqs) for k, m in enumerate(self.members)])

    @torch.no_grad()
    def block(
        self,
        rows: EnsembleSides,
        cols: EnsembleSides | None = None,
        only: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits of every (row, column) pair, as :meth:`PairStage.block`.

        Shapes:
            rows ``R`` proteins, cols ``C`` -> ``(R, C)``.
        """
        per = [
            m.pair.block(rows.parts[k], None if cols is None else cols.parts[k], only)
            for k, m in enumerate(self.members)
        ]
        return mean_probability_logit(torch.stack(per))  # (K, R, C) -> (R, C)


class EnsembleModel(nn.Module):
    """Pair models whose probabilities are averaged; used where a :class:`PPIModel` is.

    Args:
        members: trained pair models (at least two).
    """

    def __init__(self, members: Sequence[PPIModel]) -> None:
        super().__init__()
        if len(members) < 2:
            raise InputError(f"an ensemble needs at least two models, got {len(members)}")
        single = [m for m in members if m.task != "pair"]
        if single:
            raise InputError(f"an ensemble averages pair models; got a {single[0].task} model")
        self.members = nn.ModuleList(members)
        self.pair = EnsemblePair(members)
        self.outputs, self.class_names, self.multi_label = 1, (), False

    @property
    def config(self):
        """The first member's config (data settings for ``ppi evaluate``)."""
        return self.members[0].config

    @property
    def task(self) -> str:
        """Always ``pair``."""
        return "pair"

    @property
    def uses_ids(self) -> bool:
        """Whether any member reads per-protein data by id."""
        return any(m.uses_ids for m in self.members)

    def sources(self) -> list[str]:
        """Channels and evidence providers of any member, for :meth:`hide`."""
        return list(dict.fromkeys(s for m in self.members for s in m.sources()))

    @contextmanager
    def hide(self, names: Sequence[str]) -> Iterator[None]:
        """Hide the named sources in every member that has them (see :meth:`PPIModel.hide`)."""
        unknown = [n for n in names if n not in self.sources()]
        if unknown:
            raise InputError(
                f"'{unknown[0]}' is not a channel or evidence provider of this ensemble "
                f"(choices: {', '.join(self.sources())})"
            )
        with ExitStack() as stack:
            for m in self.members:
                stack.enter_context(m.hide([n for n in names if n in m.sources()]))
            yield

    def prepare_channels(self, proteins: dict[str, str], accelerator: Any = None) -> None:
        """Let every member's channels and providers look up these proteins."""
        for m in self.members:
            m.prepare_channels(proteins, accelerator)

    def encode(self, batch: Proteins, max_tokens: int = 65536) -> torch.Tensor:
        """The members' fused tokens, stacked.

        Shapes:
            returns ``(B, K, M, D)``.
        """
        return torch.stack([m.encode(batch, max_tokens) for m in self.members], 1)

    def forward(self, ids: list[str], seqs: list[str], pairs: torch.Tensor) -> torch.Tensor:
        """Logits of the pairs ``(P, 2)`` of these proteins -> ``(P,)``."""
        z = self.encode(Proteins(list(ids), list(seqs)))  # (B, K, M, D)
        return pairs_logits(self.pair, z, list(seqs), pairs)

    @torch.no_grad()
    def memo_forward(
        self,
        ids: list[str],
        seqs: list[str],
        pairs: torch.Tensor,
        memo: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """:meth:`forward`, encoding only proteins not yet in ``memo``."""
        z = memo_encode(self.encode, ids, seqs, memo)  # (B, K, M, D)
        return pairs_logits(self.pair, z, list(seqs), pairs)

    def identity(self) -> str:
        """Names what the stacked representations depend on: every member's identity."""
        return digest("ppi-ensemble", *(m.identity() for m in self.members))

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> EnsembleModel:
        """Load an ensemble folder written by :func:`write_ensemble`."""
        directory = Path(directory)
        manifest = directory / MANIFEST
        try:
            names = json.loads(manifest.read_text())["members"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise TypeError("members is not a list of folder names")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WeightsError(
                f"{manifest}: expected JSON with a 'members' list of folder names ({exc})"
            ) from None
        model = cls([PPIModel.from_pretrained(directory / n, map_location) for n in names])
        model.source = directory
        return model


def write_ensemble(models: Sequence[str | Path], out: str | Path) -> Path:
    """Copy the model folders into ``out`` as one ensemble; returns ``out``.

    Each given folder is loaded first (a run directory stands for its
    ``model/``), so a folder that is not a pair model is refused before
    anything is written; the ensemble is assembled beside ``out`` and renamed
    into place.
    """
    from ppi.inference.score import model_dir

    out = Path(out)
    folders = [model_dir(Path(m)) for m in models]
    nested = [f for f in folders if is_ensemble(f)]
    if nested:
        raise InputError(f"{nested[0]}: already an ensemble; give its members instead")
    EnsembleModel([PPIModel.from_pretrained(f) for f in folders])  # refuses what cannot join
    if out.exists():
        raise InputError(f"--out {out}: exists; give a new folder")
    _check_sources(models, folders, out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = []
    for k, folder in enumerate(folders):
        names.append(f"member-{k}")
        shutil.copytree(folder, tmp / names[-1], ignore=shutil.ignore_patterns("evaluation"))
    manifest = {
        "ppi_version": __version__,
        "combine": "mean probability",
        "members": names,
        "sources": [str(f) for f in folders],
    }
    atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2))
    tmp.rename(out)
    return out


def _check_sources(models: Sequence[str | Path], folders: Sequence[Path], out: Path) -> None:
    """Each model once, and ``out`` outside every one of them (it would copy itself)."""
    seen: dict[Path, str | Path] = {}
    for given, folder in zip(models, folders, strict=True):
        real = folder.resolve()
        if real in seen:
            raise InputError(
                f"{folder}: the same model given twice ({seen[real]} and {given}); "
                "expected each model once"
            )
        seen[real] = given
        if out.resolve().is_relative_to(real):
            raise InputError(
                f"--out {out}: inside the model folder {folder}; expected a folder outside "
                "every model"
            )
