"""Proteome-scale screening: every pair among N proteins, or N against M, streamed in blocks.

Proteins are cut into blocks of ``block`` proteins. All-against-all visits the
blocks ``(I, J)`` with ``I <= J`` (the upper triangle; inside a diagonal block
only ``i < j`` counts), N against M visits every block of rows against every
block of columns. A block is scored at once by the pair stage's block entry
point (:meth:`ppi.fusion.pair_stage.PairStage.block`), then:

* pairs at or above the threshold are appended to ``hits.tsv.partial``;
* each protein's running top-k partners are merged with the block's;
* a histogram of all probabilities is updated;
* the state (top-k tables, histogram, blocks done, bytes of hits written) is
  saved atomically, so a killed run starts again after its last whole block.

Memory is ``O(N k + block^2)``; no ``N x N`` matrix is ever held.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from tqdm.auto import tqdm

from ppi.errors import InputError
from ppi.utils.cache import digest
from ppi.utils.files import atomic_save_tensors

STATE = "state.safetensors"
HITS = "hits.tsv"
TOP = "top_partners.tsv"
SUMMARY = "summary.json"
HISTOGRAM = "score_histogram.png"
BINS = 50


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


@dataclass
class State:
    """What a screen has accumulated; saved after every block.

    Attributes:
        top_p: best probabilities per protein ``(N, k)``, -1 where empty.
        top_i: partner indices ``(N, k)``, -1 where empty.
        hist: counts of probabilities in ``BINS`` bins over [0, 1].
        done: blocks finished.
        hit_bytes: bytes of ``hits.tsv.partial`` that belong to finished blocks.
        hits: pairs at or above the threshold so far.
        seconds: time spent scoring so far (over every run).
    """

    top_p: torch.Tensor
    top_i: torch.Tensor
    hist: torch.Tensor = field(default_factory=lambda: torch.zeros(BINS, dtype=torch.long))
    done: int = 0
    hit_bytes: int = 0
    hits: int = 0
    seconds: float = 0.0

    @classmethod
    def empty(cls, n: int, k: int) -> State:
        """A state before any block."""
        return cls(torch.full((n, k), -1.0), torch.full((n, k), -1, dtype=torch.long))

    def save(self, path: Path, fingerprint: str) -> None:
        """Write the state atomically."""
        counters = torch.tensor([self.done, self.hit_bytes, self.hits], dtype=torch.long)
        atomic_save_tensors(
            {
                "top_p": self.top_p,
                "top_i": self.top_i,
                "hist": self.hist,
                "counters": counters,
                "seconds": torch.tensor([self.seconds], dtype=torch.float64),
                "fingerprint": torch.tensor(list(bytes.fromhex(fingerprint)), dtype=torch.uint8),
            },
            path,
        )

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> State:
        """Read a saved state; a state of another screen is an error."""
        t = load_file(path)
        if bytes(t["fingerprint"].tolist()).hex() != fingerprint:
            raise InputError(
                f"{path}: this folder holds an unfinished screen of other proteins, model or "
                "settings; expected the same inputs to resume, or choose another --out"
            )
        done, hit_bytes, hits = t["counters"].tolist()
        return cls(t["top_p"], t["top_i"], t["hist"], done, hit_bytes, hits, t["seconds"].item())


class Screen:
    """Score a :class:`Plan` with a pair model and write the results to a folder.

    Args:
        model: a trained pair model (eval mode).
        plan: the proteins and blocks.
        z: every protein's latent tokens in ``plan.ids`` order ``(N, M, D)``.
        top_k: partners kept per protein.
        threshold: probability at or above which a pair is written to ``hits.tsv``.
        identity: names the model and the sequences (part of the resume fingerprint).
        seqs: the sequences in ``plan.ids`` order, for the pair stage's evidence
            providers (interologs).
    """

    def __init__(
        self,
        model,
        plan: Plan,
        z: torch.Tensor,
        top_k: int,
        threshold: float,
        identity,
        seqs: list[str] | None = None,
    ):
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"--threshold: expected a probability in [0, 1], got {threshold}")
        if top_k < 1:
            raise InputError(f"--top-k: expected at least 1 partner, got {top_k}")
        self.model, self.plan, self.z, self.seqs = model, plan, z, seqs
        self.top_k, self.threshold = top_k, threshold
        settings = f"{plan.rows}:{plan.all_vs_all}:{plan.block}:{top_k}:{threshold}"
        self.fingerprint = digest(identity, *plan.ids, settings)
        self.sides = model.pair.sides(z, seqs)

    def run(self, out: Path) -> dict:
        """Score every block not yet done, then write the outputs; returns the summary."""
        out.mkdir(parents=True, exist_ok=True)
        state = self._resume(out)
        blocks = self.plan.blocks()
        partial = out / f"{HITS}.partial"
        bar = tqdm(
            total=self.plan.total,
            desc="screening pairs",
            unit="pair",
            unit_scale=True,
            disable=None,
        )
        bar.update(sum(self._count(b) for b in blocks[: state.done]))
        with open(partial, "ab") as hits:
            for rows, cols in blocks[state.done :]:
                start = time.perf_counter()
                probs, valid = self.score_block(rows, cols)
                lines = self._update(state, rows, cols, probs, valid)
                state.hit_bytes += hits.write(lines.encode())
                hits.flush()
                state.done += 1
                state.seconds += time.perf_counter() - start
                state.save(out / STATE, self.fingerprint)
                bar.update(self._count((rows, cols)))
        bar.close()
        return self._finish(out, state)

    def _resume(self, out: Path) -> State:
        partial = out / f"{HITS}.partial"
        if (out / STATE).is_file():
            state = State.load(out / STATE, self.fingerprint)
        else:
            state = State.empty(len(self.plan.ids), self.top_k)
        with open(partial, "ab") as handle:
            handle.truncate(state.hit_bytes)  # drop lines of a block that did not finish
        return state

    def _count(self, block: tuple[range, range]) -> int:
        rows, cols = block
        if self.plan.all_vs_all and rows == cols:
            return len(rows) * (len(rows) - 1) // 2
        return len(rows) * len(cols)

    @torch.no_grad()
    def score_block(self, rows: range, cols: range) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities of a block and which of its pairs count.

        Shapes:
            returns ``(R, C)`` probabilities and a bool mask ``(R, C)``.
        """
        diagonal = self.plan.all_vs_all and rows == cols
        r = self.sides.take(slice(rows.start, rows.stop))
        c = None if diagonal else self.sides.take(slice(cols.start, cols.stop))
        logits = self.model.pair.block(r, c)  # (R, C)
        valid = torch.ones(logits.shape, dtype=torch.bool)
        if diagonal:
            valid = torch.ones_like(valid).triu(1)  # each unordered pair once, no self-pairs
        return logits.float().sigmoid().cpu(), valid

    def _update(self, state: State, rows: range, cols: range, probs, valid) -> str:
        """Merge a block into the state; returns its hit lines."""
        kept = probs[valid]
        state.hist += torch.histc(kept, BINS, 0.0, 1.0).long()
        masked = probs.masked_fill(~valid, -1.0)  # (R, C)
        if self.plan.all_vs_all and rows == cols:
            masked = torch.maximum(masked, masked.T).fill_diagonal_(-1.0)  # both directions
            _merge_top(state, rows, cols, masked)
        else:
            _merge_top(state, rows, cols, masked)
            _merge_top(state, cols, rows, masked.T)
        hit = valid & (probs >= self.threshold)  # (R, C)
        where, values = torch.nonzero(hit).tolist(), probs[hit].tolist()  # both row-major
        state.hits += len(values)
        ids, pairs = self.plan.ids, zip(where, values, strict=True)
        return "".join(f"{ids[rows[i]]}\t{ids[cols[j]]}\t{p:.6f}\n" for (i, j), p in pairs)

    def _finish(self, out: Path, state: State) -> dict:
        from ppi.utils.files import atomic_write_text

        atomic_write_text(out / TOP, "".join(self._top_lines(state)))
        summary = {
            "pairs": self.plan.total,
            "proteins": len(self.plan.ids),
            "mode": "all-vs-all" if self.plan.all_vs_all else "rows-vs-columns",
            "hits": state.hits,
            "threshold": self.threshold,
            "top_k": self.top_k,
            "seconds": round(state.seconds, 3),
            "pairs_per_second": round(self.plan.total / max(state.seconds, 1e-9), 1),
            "histogram": {"bins": BINS, "counts": state.hist.tolist()},
        }
        atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
        plot_histogram(state.hist, self.threshold, out / HISTOGRAM)
        (out / STATE).unlink()
        (out / f"{HITS}.partial").replace(out / HITS)
        return summary

    def _top_lines(self, state: State) -> Iterator[str]:
        yield "id\trank\tpartner\tprobability\n"
        ids = self.plan.ids
        for n, (ps, js) in enumerate(zip(state.top_p.tolist(), state.top_i.tolist(), strict=True)):
            for rank, (p, j) in enumerate(zip(ps, js, strict=True), start=1):
                if j >= 0:
                    yield f"{ids[n]}\t{rank}\t{ids[j]}\t{p:.6f}\n"


def _merge_top(state: State, rows: range, cols: range, probs: torch.Tensor) -> None:
    """Merge a block's best partners of each row protein into the running top-k.

    Shapes:
        probs ``(R, C)`` with -1 where a pair does not count.
    """
    k = min(state.top_p.shape[1], probs.shape[1])
    best_p, best_j = probs.topk(k, dim=1)  # (R, k)
    best_j = torch.where(best_p >= 0, best_j + cols.start, -1)  # (R, k) global indices
    sl = slice(rows.start, rows.stop)
    cand_p = torch.cat([state.top_p[sl], best_p], 1)  # (R, 2k)
    cand_i = torch.cat([state.top_i[sl], best_j], 1)  # (R, 2k)
    keep_p, pos = cand_p.topk(state.top_p.shape[1], dim=1)  # (R, k)
    state.top_p[sl], state.top_i[sl] = keep_p, cand_i.gather(1, pos)


def plot_histogram(hist: torch.Tensor, threshold: float, path: Path) -> None:
    """A bar chart of how the screened pairs' probabilities spread, with the threshold."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ppi.utils.files import atomic_write

    fig = Figure(figsize=(6, 3.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    edges = torch.linspace(0, 1, len(hist) + 1)
    ax.bar(edges[:-1].tolist(), hist.tolist(), width=1 / len(hist), align="edge", color="#4477aa")
    ax.axvline(threshold, color="#cc3311", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_yscale("log")
    ax.set_xlabel("interaction probability")
    ax.set_ylabel("pairs")
    ax.set_title(f"{int(hist.sum()):,} screened pairs")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    atomic_write(path, buf.getvalue())
