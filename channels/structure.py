"""The structure channel: each protein's Cα graph, encoded by an E(3)-invariant GNN.

Structures come from a folder (matched by accession) or a mapping table
(``channels.structure.folder`` / ``mapping``), are parsed once to Cα
coordinates aligned to the protein's sequence, turned into a radius/kNN graph
and cached (``$PPI_CACHE/structures``). A protein's tokens are a pooled token
followed by one token per residue with a Cα; a protein without a usable
structure gets one learned "no structure" token. A bad file does not stop a
run: it is skipped, logged and listed in :attr:`StructureChannel.skipped`; a
training run with no folder or mapping, or a structure for none of its
proteins, is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ppi.backbones.embedding import FrozenEmbedder, shared_backbone
from ppi.channels._gnn import StructureEncoder
from ppi.channels._graphs import GraphCache, build_edges
from ppi.channels.base import Channel, ChannelContext, Proteins, RunData, Tokens
from ppi.channels.configs import CHANNELS, StructureConfig
from ppi.data.structure_sources import StructureLocator
from ppi.data.structures import align_structure, read_structure
from ppi.errors import ConfigError, InputError
from ppi.utils.cache import file_digest
from ppi.utils.files import atomic_write_text

log = logging.getLogger("ppi")
AMINO = "ACDEFGHIKLMNPQRSTVWY"


@CHANNELS.register("structure")
class StructureChannel(Channel):
    """Cα graph tokens: a pooled token plus one token per resolved residue."""

    Config = StructureConfig
    uses_ids = True

    def __init__(self, config: StructureConfig, context: ChannelContext) -> None:
        super().__init__(config, context)
        self.locate = StructureLocator(config.folder, config.mapping, config.chain)
        self.backbone = None
        in_dim = len(AMINO) + 1 + int(config.confidence)
        if config.node_embedding:
            self.backbone = shared_backbone(context.backbone)
            if self.backbone.trainable:
                raise ConfigError(
                    "channels.structure.node_embedding=true: expected backbone.finetune=frozen "
                    f"(a fixed embedding per residue), got {context.backbone.finetune}"
                )
            in_dim += self.backbone.dim
        self.encoder = StructureEncoder(in_dim, context.dim, config.layers, config.rbf_bins)
        self.missing = nn.Parameter(torch.randn(context.dim) * 0.02)
        self.graphs: dict[str, dict[str, torch.Tensor]] = {}
        self.skipped: dict[str, str] = {}
        self._seen: set[str] = set()

    def identity(self) -> str:
        """Files, chains and graph settings decide the tokens (with the weights)."""
        c = self.config
        table = file_digest(self.locate.table_path) if self.locate.table_path else ""
        ident = f"structure:{c.folder}:{table}:{c.chain}:{c.radius}:{c.k}:{c.min_identity}"
        return ident + (f":{self.backbone.identity()}" if self.backbone is not None else "")

    def frozen_state_prefixes(self) -> list[str]:
        """The frozen backbone of ``node_embedding`` is loaded from its source."""
        return ["backbone."] if self.backbone is not None else []

    def save_assets(self, directory: Path) -> None:
        """Record what was skipped and how well the rest matched their sequences.

        ``skipped.tsv``: each skipped protein and why; ``coverage.tsv``: each
        used structure's coverage of its sequence and identity over the aligned part.
        """
        rows = ["id\treason"] + [f"{p}\t{r}" for p, r in sorted(self.skipped.items())]
        atomic_write_text(directory / "skipped.tsv", "\n".join(rows) + "\n")
        rows = ["id\tcoverage\tidentity"] + [
            f"{_pid(key)}\t{float(g['coverage']):.4f}\t{float(g['identity']):.4f}"
            for key, g in sorted(self.graphs.items())
        ]
        atomic_write_text(directory / "coverage.tsv", "\n".join(rows) + "\n")

    def _graph_cache(self) -> GraphCache:
        c = self.config
        ident = f"structure-graph-v2 radius={c.radius} k={c.k} min_identity={c.min_identity}"
        return GraphCache(ident, self.context.cache_dir)

    def prepare(
        self, proteins: dict[str, str], accelerator: Any = None, run: RunData | None = None
    ) -> None:
        """Parse, align and graph each protein's structure (cached); list what was skipped.

        When training (``run`` given) the channel needs a folder or mapping
        and at least one protein with a structure; with none it would learn
        only its "no structure" token.
        """
        if run is not None and self.locate.folder is None and self.locate.table_path is None:
            raise ConfigError(
                "channels.structure.folder: expected a folder of structure files (or "
                "channels.structure.mapping, a table of id and path), got none; "
                "ppi fetch-structures downloads them"
            )
        todo = {p: s for p, s in proteins.items() if _key(p, s) not in self._seen}
        if not todo:
            return
        if accelerator is not None:
            with accelerator.main_process_first():
                self._load(todo)
        else:
            self._load(todo)
        if run is not None and not any(_key(p, s) in self.graphs for p, s in proteins.items()):
            raise self._none_found(len(proteins))

    def _none_found(self, n: int) -> InputError:
        """The error of a training run where none of its ``n`` proteins has a structure."""
        given = [("mapping", self.locate.table_path), ("folder", self.locate.folder)]
        where = " and ".join(f"channels.structure.{k}={v}" for k, v in given if v is not None)
        unusable = (
            f", {len(self.skipped)} unusable (see the warnings above)" if self.skipped else ""
        )
        return InputError(
            f"{where}: expected a structure for some of the run's {n} proteins, got none"
            f"{unusable}; a structure is found by protein id (<id>.pdb, <id>.cif, "
            "AF-<id>-F1-model_v4.pdb or a mapping row)"
        )

    def _load(self, proteins: dict[str, str]) -> None:
        cache, found, bad = self._graph_cache(), 0, {}
        for pid, seq in tqdm(proteins.items(), desc="structures", unit="protein", disable=None):
            self._seen.add(_key(pid, seq))
            source = self.locate(pid)
            if source is None:
                continue
            try:
                graph = self._graph(cache, source, seq, pid)
            except InputError as exc:
                bad[pid] = str(exc)
                continue
            self.graphs[_key(pid, seq)] = graph
            found += 1
        self.skipped.update(bad)
        covered = [float(g["coverage"]) for k, g in self.graphs.items() if _pid(k) in proteins]
        log.info(
            "structure: %d of %d proteins with a structure (mean coverage of their "
            "sequence %.2f), %d skipped",
            found,
            len(proteins),
            sum(covered) / max(len(covered), 1),
            len(bad),
        )
        for pid, reason in list(bad.items())[:20]:
            log.warning("structure: skipped %s: %s", pid, reason)
        if self.backbone is not None:
            self._embed([s for p, s in proteins.items() if _key(p, s) in self.graphs])

    def _graph(self, cache: GraphCache, source, seq: str, pid: str) -> dict[str, torch.Tensor]:
        key = f"{file_digest(source.path)}\t{source.chain}\t{seq}"
        if key in cache:
            return cache.get_graph(key)
        aligned = align_structure(
            read_structure(source.path, source.chain), seq, self.config.min_identity, pid
        )
        coords = torch.from_numpy(aligned.coords)
        edge_index, dist = build_edges(coords, self.config.radius, self.config.k)
        graph = {
            "positions": torch.from_numpy(aligned.positions),
            "confidence": torch.from_numpy(aligned.confidence),
            "edge_index": edge_index,
            "dist": dist,
            "coverage": torch.tensor(aligned.coverage),
            "identity": torch.tensor(aligned.identity),
        }
        cache.put_graph(key, graph)
        return graph

    @torch.no_grad()
    def _embed(self, seqs: list[str]) -> None:
        embedder = FrozenEmbedder(self.backbone, self.context.cache_dir)
        embedder.fill(seqs)
        for key, graph in self.graphs.items():
            seq = key.split("\t", 1)[1]
            if "embedding" not in graph and not embedder.missing([seq]):
                graph["embedding"] = embedder.get(seq)[graph["positions"]].float()

    def _node_features(self, graph: dict[str, torch.Tensor], seq: str) -> torch.Tensor:
        pos = graph["positions"]
        idx = torch.tensor([AMINO.find(seq[p]) for p in pos.tolist()])  # -1 -> the extra slot
        feats = [nn.functional.one_hot(idx % (len(AMINO) + 1), len(AMINO) + 1).float()]
        if self.config.confidence:
            feats.append(graph["confidence"].float().unsqueeze(-1) / 100.0)
        if self.backbone is not None:
            feats.append(graph["embedding"].float())
        return torch.cat(feats, -1)  # (N, F)

    def drop(self, part: Tokens, keep: torch.Tensor) -> Tokens:
        """Dropped proteins look structure-less: only the "no structure" token is shown.

        Shapes:
            part ``(B, 1 + N, D)``; keep ``(B, 1)``.
        """
        hidden = ~keep[:, 0]  # (B,)
        tokens = part.tokens.clone()
        tokens[hidden, 0] = self.missing.to(tokens.dtype)
        mask = part.mask & keep  # (B, 1 + N)
        mask[:, 0] = True
        return Tokens(tokens, mask, part.positions)

    def forward(self, batch: Proteins) -> Tokens:
        """A pooled token then per-residue tokens; one learned token without a structure.

        Shapes:
            returns tokens ``(B, 1 + N, D)``, mask ``(B, 1 + N)`` and positions
            ``(B, 1 + N)`` (the sequence position of each residue token, -1 for
            the pooled or "no structure" token); N = most residues in the batch.
        """
        self.prepare(dict(zip(batch.ids, batch.seqs, strict=True)))
        device = self.missing.device
        keys = [_key(p, s) for p, s in zip(batch.ids, batch.seqs, strict=True)]
        have = [i for i, k in enumerate(keys) if k in self.graphs]
        sizes = [len(self.graphs[keys[i]]["positions"]) for i in have]
        b, n = len(batch), max(sizes, default=0)
        tokens = self.missing.expand(b, 1 + n, -1).clone()  # (B, 1 + N, D)
        mask = torch.zeros(b, 1 + n, dtype=torch.bool, device=device)
        mask[:, 0] = True
        positions = torch.full((b, 1 + n), -1, dtype=torch.long, device=device)  # (B, 1 + N)
        if have:
            nodes, pooled, pos = self._encode([keys[i] for i in have], device)
            rows = torch.tensor(have, device=device)
            tokens[rows, 0] = pooled
            for j, (i, size) in enumerate(zip(have, sizes, strict=True)):
                tokens[i, 1 : 1 + size] = nodes[j][:size]
                mask[i, 1 : 1 + size] = True
                positions[i, 1 : 1 + size] = pos[j]
        return Tokens(tokens, mask, positions)

    def _encode(self, keys: list[str], device: torch.device):
        xs, pos, edges, dists, owner, offset = [], [], [], [], [], 0
        for j, key in enumerate(keys):
            graph = self.graphs[key]
            xs.append(self._node_features(graph, key.split("\t", 1)[1]))
            pos.append(graph["positions"])
            edges.append(graph["edge_index"] + offset)
            dists.append(graph["dist"])
            owner.append(torch.full((len(graph["positions"]),), j))
            offset += len(graph["positions"])
        nodes, pooled = self.encoder(
            torch.cat(xs).to(device),
            torch.cat(pos).to(device),
            torch.cat(edges, 1).to(device),
            torch.cat(dists).float().to(device),
            torch.cat(owner).to(device),
            len(keys),
        )  # (sum N, D), (P, D)
        split = [len(p) for p in pos]
        return nodes.split(split), pooled, [p.to(device) for p in pos]


def _key(pid: str, seq: str) -> str:
    return f"{pid}\t{seq}"


def _pid(key: str) -> str:
    return key.split("\t", 1)[0]
