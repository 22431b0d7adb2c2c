"""The annotation channel: what UniProt knows about a protein, as a few tokens.

Each protein's stored terms (GO BP/MF/CC, keywords, domains, locations, EC)
are looked up by accession in an annotation store (``ppi annotations build``
or ``ppi fetch-uniprot``), mapped through ``id_map`` when the dataset names
proteins otherwise (STRING ids). Per namespace the term embeddings are pooled
by learned attention into one token; a protein without any annotation gets a
learned "no annotation" token instead. The vocabulary is fitted on the
training proteins and saved with the model.

For the pair task GO:0005515 ("protein binding") and IPI evidence
("inferred from physical interaction") are excluded unless
``include_leaky=true``: they record the very interactions to be predicted.
What was excluded is logged and kept in the model's ``vocabulary.json``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ppi.channels._annotation_vocab import LeakFilter, Vocabulary, fit_vocabulary
from ppi.channels.base import Channel, ChannelContext, Proteins, RunData, Tokens
from ppi.channels.configs import CHANNELS, AnnotationConfig
from ppi.data.annotation_store import AnnotationStore
from ppi.data.annotations import NAMESPACES
from ppi.data.examples import resolve
from ppi.data.go_ontology import Ontology, read_obo
from ppi.data.id_map import IdMap, read_id_map, unmapped_report
from ppi.errors import ConfigError, InputError
from ppi.utils.cache import digest, file_digest

log = logging.getLogger("ppi")


@CHANNELS.register("annotation")
class AnnotationChannel(Channel):
    """Per-namespace attention-weighted bags of term embeddings, plus a 'no annotation' token."""

    Config = AnnotationConfig
    uses_ids = True

    def __init__(self, config: AnnotationConfig, context: ChannelContext) -> None:
        super().__init__(config, context)
        unknown = sorted(set(config.namespaces) - set(NAMESPACES))
        if unknown:
            raise ConfigError(
                f"channels.annotation.namespaces: unknown '{unknown[0]}' "
                f"(choices: {', '.join(NAMESPACES)})"
            )
        if not config.store:
            raise ConfigError(
                "channels.annotation.store: the annotation channel needs a store "
                "(build one with `ppi annotations build` or `ppi fetch-uniprot`)"
            )
        dim, spaces = context.dim, len(config.namespaces)
        self.query = nn.Parameter(torch.randn(spaces, dim) * dim**-0.5)
        self.namespace_embed = nn.Parameter(torch.randn(spaces, dim) * 0.02)
        self.empty = nn.Parameter(torch.randn(dim) * 0.02)
        self.norm = nn.LayerNorm(dim)
        self.embed: nn.Embedding | None = None
        self.vocab: Vocabulary | None = None
        self._terms: dict[str, list[list[int]]] = {}
        self._store: AnnotationStore | None = None
        self._id_map: IdMap | None = None
        self._ontology: Ontology | None = None

    # -- data ---------------------------------------------------------------------------
    def _sources(self) -> tuple[AnnotationStore, IdMap, Ontology | None]:
        if self._store is None:
            self._store = AnnotationStore(self.config.store)
            self._id_map = read_id_map(self.config.id_map) if self.config.id_map else IdMap({})
            self._ontology = read_obo(self.config.ontology) if self.config.ontology else None
        return self._store, self._id_map, self._ontology

    def _lookup(self, ids: list[str]) -> dict[str, list]:
        """Stored annotations per id (ids that map to no accession or have none: empty)."""
        store, id_map, _ = self._sources()
        mapped, missing = id_map.map_ids(ids)
        if missing:
            log.info("annotation: %s", unmapped_report(missing, len(ids), "protein ids"))
        found = store.annotations(mapped.values())
        return {pid: found.get(mapped[pid], []) if pid in mapped else [] for pid in ids}

    def prepare(
        self, proteins: dict[str, str], accelerator: Any = None, run: RunData | None = None
    ) -> None:
        """Fit the vocabulary on the training proteins (``run``), then encode every protein."""
        if run is not None:
            self._fit(run)
        if self.vocab is None:
            raise InputError("annotation channel: no vocabulary (train a model or load one)")
        todo = [pid for pid in proteins if pid not in self._terms]
        _, _, ontology = self._sources()
        for pid, anns in self._lookup(todo).items():
            self._terms[pid] = self.vocab.encode(anns, ontology)
        covered = sum(1 for pid in proteins if any(self._terms[pid]))
        log.info("annotation: %d of %d proteins have known terms", covered, len(proteins))

    def _fit(self, run: RunData) -> None:
        cfg = self.config
        leak = LeakFilter(
            bool(run.train_pairs) and not cfg.include_leaky, cfg.leaky_terms, cfg.leaky_evidence
        )
        train = self._lookup(sorted(run.train_ids))
        _, _, ontology = self._sources()
        vocab = fit_vocabulary(train, cfg.namespaces, leak, cfg.min_freq, ontology)
        if not len(vocab):
            annotated = sum(1 for a in train.values() if a)
            raise InputError(
                f"{cfg.store}: no term is carried by {cfg.min_freq} training proteins "
                f"({annotated} of {len(train)} have annotations); check "
                "channels.annotation.id_map or lower channels.annotation.min_freq"
            )
        excluded = ", ".join(f"{k} x{v}" for k, v in sorted(vocab.excluded.items())) or "nothing"
        state = "excluded" if leak.active else "allowed (include_leaky or single task)"
        log.info(
            "annotation: vocabulary of %d terms; leaky annotations %s: %s",
            len(vocab),
            state,
            excluded,
        )
        self._set_vocab(vocab)
        self._terms.clear()

    def _set_vocab(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        device = self.empty.device
        self.embed = nn.Embedding(len(vocab) + 1, self.context.dim, padding_idx=0).to(device)
        nn.init.normal_(self.embed.weight, std=self.context.dim**-0.5)
        with torch.no_grad():
            self.embed.weight[0].zero_()

    def identity(self) -> str:
        """The store's version, the id map and the ontology (tokens depend on them)."""
        store, _, _ = self._sources()
        extra = [file_digest(resolve(p)) for p in (self.config.id_map, self.config.ontology) if p]
        return digest("annotation", store.version, *extra)

    def save_assets(self, directory: Path) -> None:
        """Keep the vocabulary (and what the leak filter excluded) with the model."""
        if self.vocab is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self.vocab.save(directory)

    def load_assets(self, directory: Path) -> None:
        """Read the vocabulary and size the term embeddings for it."""
        self._set_vocab(Vocabulary.load(directory))

    # -- tokens -------------------------------------------------------------------------
    def _indices(self, ids: list[str]) -> torch.Tensor:
        missing = {pid: "" for pid in ids if pid not in self._terms}
        if missing:
            self.prepare(missing)
        per = [self._terms[pid] for pid in ids]
        width = max(1, min(self.config.max_terms, max(len(t) for p in per for t in p)))
        idx = torch.zeros(len(ids), len(self.config.namespaces), width, dtype=torch.long)
        for b, parts in enumerate(per):
            for s, terms in enumerate(parts):
                kept = terms[:width]
                idx[b, s, : len(kept)] = torch.tensor(kept, dtype=torch.long)
        return idx.to(self.empty.device)  # (B, S, T)

    def drop(self, part: Tokens, keep: torch.Tensor) -> Tokens:
        """Dropped proteins look unannotated: namespace tokens hidden, the empty token shown.

        Shapes:
            part ``(B, S + 1, D)``; keep ``(B, 1)``.
        """
        mask = part.mask & keep  # (B, S + 1)
        mask[:, -1] |= ~keep[:, 0]
        part.mask = mask
        return part

    def forward(self, batch: Proteins) -> Tokens:
        """One token per namespace (masked when the protein has no term there) and one empty token.

        Shapes:
            returns tokens ``(B, S + 1, D)`` and mask ``(B, S + 1)``, S = namespaces;
            the last token is real only for proteins without any known term.
        """
        if self.embed is None:
            raise InputError("annotation channel: no vocabulary (train a model or load one)")
        idx = self._indices(batch.ids)  # (B, S, T)
        present = idx != 0  # (B, S, T)
        emb = self.embed(idx)  # (B, S, T, D)
        scores = (emb * self.query[None, :, None, :]).sum(-1) / math.sqrt(
            emb.shape[-1]
        )  # (B, S, T)
        scores = scores.masked_fill(~present, float("-inf"))
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # (B, S, T); empty rows -> 0
        bags = (weights.unsqueeze(-1) * emb).sum(2)  # (B, S, D)
        tokens = self.norm(bags + self.namespace_embed)  # (B, S, D)
        has = present.any(-1)  # (B, S)
        empty = self.empty.expand(len(batch), 1, -1)  # (B, 1, D)
        mask = torch.cat([has, ~has.any(-1, keepdim=True)], dim=1)  # (B, S + 1)
        return Tokens(torch.cat([tokens, empty], dim=1), mask)  # (B, S + 1, D)
