"""Proteome-scale screening: every pair among N proteins, or N against M, streamed in blocks.

Proteins are cut into blocks of ``block`` proteins. All-against-all visits the
blocks ``(I, J)`` with ``I <= J`` (the upper triangle; inside a diagonal block
only ``i < j`` counts), N against M visits every block of rows against every
block of columns. A block is scored at once by the pair stage's block entry
point (:meth:`ppi.fusion.pair_stage.PairStage.block`), then:

* pairs at or above the threshold are appended to the process's hits file;
* each protein's running top-k partners are merged with the block's;
* a histogram of all probabilities is updated;
* the process's part (top-k tables, histogram, blocks done and where their
  hits end) is saved atomically, so a killed run loses at most one block.

One process or several (``accelerate launch``): the blocks not yet done by any
part in the folder are dealt to the processes (:meth:`Plan.deal`), each keeps a
part of its own (:mod:`ppi.inference.screen_parts`), and the main process
merges the parts into the outputs, in block order, so they do not depend on
how many processes scored them. With a retrieval prefilter
(:mod:`ppi.inference.prefilter`) a block scores only its candidate pairs.

Memory is ``O(N k + block^2)`` per process; no ``N x N`` matrix is ever held.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ppi.errors import InputError
from ppi.inference.screen_parts import BINS, Part, done_blocks, finish, merge_top, part_paths


@dataclass
class Plan:
    """Which proteins pair with which.

    Attributes:
        ids: every protein, rows first, then the columns (N against M).
        rows: how many of ``ids`` are rows.
        all_vs_all: pair the rows among themselves (``ids`` holds only rows).
        block: proteins per block.
    """

    ids: list[str]
    rows: int
    all_vs_all: bool
    block: int

    @property
    def total(self) -> int:
        """Pairs to score."""
        n = self.rows
        return n * (n - 1) // 2 if self.all_vs_all else n * (len(self.ids) - n)

    def blocks(self) -> list[tuple[range, range]]:
        """The blocks in the order they are scored, as index ranges into ``ids``."""
        cut = self.block
        row_blocks = [range(i, min(i + cut, self.rows)) for i in range(0, self.rows, cut)]
        if self.all_vs_all:
            return [(a, b) for i, a in enumerate(row_blocks) for b in row_blocks[i:]]
        n = len(self.ids)
        col_blocks = [range(j, min(j + cut, n)) for j in range(self.rows, n, cut)]
        return [(a, b) for a in row_blocks for b in col_blocks]

    def pairs_in(self, block: tuple[range, range]) -> int:
        """Pairs a block holds (a diagonal block: each unordered pair once)."""
        rows, cols = block
        if self.all_vs_all and rows == cols:
            return len(rows) * (len(rows) - 1) // 2
        return len(rows) * len(cols)

    @staticmethod
    def deal(costs: list[int], todo: list[int], processes: int) -> list[list[int]]:
        """Share the blocks ``todo`` among processes, balanced by cost, the same way everywhere.

        Largest first, each to the process with the least so far (the lowest
        rank on a tie); each process then scores its blocks in block order.
        """
        load, shares = [0] * processes, [[] for _ in range(processes)]
        for b in sorted(todo, key=lambda b: (-costs[b], b)):
            rank = min(range(processes), key=lambda r: (load[r], r))
            shares[rank].append(b)
            load[rank] += costs[b]
        return [sorted(share) for share in shares]


class Screen:
    """Score a :class:`Plan` with a pair model and write the results to a folder.

    Args:
        model: a trained pair model (eval mode).
        plan: the proteins and blocks.
        z: every protein's latent tokens in ``plan.ids`` order ``(N, M, D)``.
        top_k: partners kept per protein.
        threshold: probability at or above which a pair is written to ``hits.tsv``.
        seqs: the sequences in ``plan.ids`` order, for the pair stage's evidence
            providers (interologs).
        candidates: the pairs a retrieval prefilter kept
            (:class:`ppi.inference.prefilter.Candidates`); None scores every pair.
        autocast: a dtype to run the pair stage in (``torch.bfloat16`` on a GPU).
    """

    def __init__(
        self,
        model,
        plan: Plan,
        z: torch.Tensor,
        top_k: int,
        threshold: float,
        seqs: list[str] | None = None,
        candidates=None,
        autocast: torch.dtype | None = None,
    ):
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"--threshold: expected a probability in [0, 1], got {threshold}")
        if top_k < 1:
            raise InputError(f"--top-k: expected at least 1 partner, got {top_k}")
        self.model, self.plan, self.z, self.seqs = model, plan, z, seqs
        self.top_k, self.threshold = top_k, threshold
        self.candidates, self.autocast = candidates, autocast
        self.sides = model.pair.sides(z, seqs)

    def costs(self) -> list[int]:
        """Pairs each block will score (its candidates under a prefilter)."""
        blocks = self.plan.blocks()
        if self.candidates is None:
            return [self.plan.pairs_in(b) for b in blocks]
        return [self.candidates.count(rows, cols) for rows, cols in blocks]

    def run(self, out, dist) -> dict | None:
        """Score this process's share of the blocks not yet done; the main process merges.

        Args:
            out: the output folder.
            dist: the processes (an Accelerate ``PartialState``).

        Returns:
            the summary on the main process, None on the others.
        """
        blocks, costs = self.plan.blocks(), self.costs()
        done = done_blocks(out)
        dist.wait_for_everyone()  # every process has read the parts before any writes
        todo = [b for b in range(len(blocks)) if b not in done]
        mine = Plan.deal(costs, todo, dist.num_processes)[dist.process_index]
        print(  # every process says its share (a log line would come from the main one only)
            f"ppi screen: process {dist.process_index} of {dist.num_processes}: {len(mine)} "
            f"blocks to score ({len(done)} of {len(blocks)} done before)",
            file=sys.stderr,
        )
        state_path, hits_path = part_paths(out, dist.process_index)
        part = Part.resume(state_path, hits_path, len(self.plan.ids), self.top_k)
        bar = tqdm(
            total=sum(costs[b] for b in mine),
            desc="screening pairs",
            unit="pair",
            unit_scale=True,
            disable=None if dist.is_main_process else True,
        )
        with open(hits_path, "ab") as hits:
            for b in mine:
                start = time.perf_counter()
                lines = self._block(part, *blocks[b])
                written = hits.write(lines.encode())
                hits.flush()
                part.add(b, written, costs[b], time.perf_counter() - start)
                part.save(state_path)
                bar.update(costs[b])
        bar.close()
        dist.wait_for_everyone()
        if not dist.is_main_process:
            return None
        return finish(out, self.plan, self.top_k, self.threshold, len(blocks))

    def _block(self, part: Part, rows: range, cols: range) -> str:
        """Score one block into the part; returns its hit lines."""
        only = None
        if self.candidates is not None:
            only = self.candidates.mask(rows, cols)
            if not only.any():
                return ""
        probs, valid = self.score_block(rows, cols, only)
        return self._update(part, rows, cols, probs, valid)

    @torch.no_grad()
    def score_block(
        self, rows: range, cols: range, only: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities of a block and which of its pairs count.

        Shapes:
            only ``(R, C)`` -> ``(R, C)`` probabilities and a bool mask ``(R, C)``.
        """
        diagonal = self.plan.all_vs_all and rows == cols
        r = self.sides.take(slice(rows.start, rows.stop))
        c = None if diagonal else self.sides.take(slice(cols.start, cols.stop))
        device = self.z.device
        with torch.autocast(device.type, self.autocast, enabled=self.autocast is not None):
            logits = self.model.pair.block(r, c, None if only is None else only.to(device))
        valid = torch.ones(logits.shape, dtype=torch.bool) if only is None else only.cpu()
        if diagonal:
            valid &= torch.ones_like(valid).triu(1)  # each unordered pair once, no self-pairs
        return logits.float().sigmoid().cpu(), valid

    def _update(self, part: Part, rows: range, cols: range, probs, valid) -> str:
        """Merge a block into the part; returns its hit lines."""
        kept = probs[valid]
        part.hist += torch.histc(kept, BINS, 0.0, 1.0).long()
        masked = probs.masked_fill(~valid, -1.0)  # (R, C)
        if self.plan.all_vs_all and rows == cols:
            masked = torch.maximum(masked, masked.T).fill_diagonal_(-1.0)  # both directions
            merge_top(part, rows, cols, masked)
        else:
            merge_top(part, rows, cols, masked)
            merge_top(part, cols, rows, masked.T)
        hit = valid & (probs >= self.threshold)  # (R, C)
        where, values = torch.nonzero(hit).tolist(), probs[hit].tolist()  # both row-major
        part.hits += len(values)
        ids, pairs = self.plan.ids, zip(where, values, strict=True)
        return "".join(f"{ids[rows[i]]}\t{ids[cols[j]]}\t{p:.6f}\n" for (i, j), p in pairs)
